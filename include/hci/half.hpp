// float16 and bfloat16 storage types with exact round-to-nearest-even conversions.
#pragma once

#include <hci/precise_fp.hpp>

#include <bit>
#include <cstdint>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace detail {

// Branch-free so loops over them vectorise; integer-only on the paths where a compiler's
// fast-math or flush-to-zero settings could otherwise change the bits.
constexpr uint16_t float_to_half_bits(float value) {
  uint32_t f = std::bit_cast<uint32_t>(value);
  const uint32_t sign = f & 0x80000000u;
  f ^= sign;
  uint16_t out = 0;
  if (f >= 0x47800000u) {  // >= 65536: infinity, or NaN (kept quiet)
    out = f > 0x7f800000u ? uint16_t(0x7e00) : uint16_t(0x7c00);
  } else if (f < 0x38800000u) {  // below the smallest normal half: round into a subnormal
    const uint32_t exponent = f >> 23;
    if (exponent < 102) {  // below half of the smallest subnormal: zero
      out = 0;
    } else {
      const uint32_t mantissa = (f & 0x7fffffu) | 0x800000u;
      const uint32_t shift = 126 - exponent;  // 14..24
      const uint32_t kept = mantissa >> shift;
      const uint32_t rest = mantissa & ((1u << shift) - 1);
      const uint32_t halfway = 1u << (shift - 1);
      out = uint16_t(kept + (rest > halfway || (rest == halfway && (kept & 1u))));
    }
  } else {
    const uint32_t odd = (f >> 13) & 1u;
    f += 0xc8000fffu + odd;  // rebias the exponent (-112 << 23) and round to nearest even
    out = uint16_t(f >> 13);
  }
  return uint16_t(out | (sign >> 16));
}

constexpr float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {                             // subnormal half: a normal float
    const int leading = std::countl_zero(mantissa) - 21;  // shifts to bring bit 10 up
    mantissa = (mantissa << leading) & 0x3ffu;
    bits = sign | (uint32_t(113 - leading) << 23) | (mantissa << 13);
  } else {
    bits = sign;
  }
  return std::bit_cast<float>(bits);
}

constexpr uint16_t float_to_bfloat16_bits(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) return uint16_t((f >> 16) | 0x40u);  // quiet NaN
  return uint16_t((f + 0x7fffu + ((f >> 16) & 1u)) >> 16);
}

constexpr float bfloat16_bits_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

}  // namespace detail

// IEEE binary16. Arithmetic happens in float; the value is rounded when stored.
struct Half {
  uint16_t bits = 0;
  constexpr Half() = default;
  constexpr Half(float value) : bits(detail::float_to_half_bits(value)) {}       // NOLINT: implicit like c10::Half
  constexpr operator float() const { return detail::half_bits_to_float(bits); }  // NOLINT
  static constexpr Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
};

// bfloat16: the top half of a float32.
struct BFloat16 {
  uint16_t bits = 0;
  constexpr BFloat16() = default;
  constexpr BFloat16(float value) : bits(detail::float_to_bfloat16_bits(value)) {}   // NOLINT
  constexpr operator float() const { return detail::bfloat16_bits_to_float(bits); }  // NOLINT
  static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
};

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
