// float16 and bfloat16 over any float32 value type: rounding a float to their precision, and
// their bits to and from floats. Select-based, without branches or half-precision hardware, so
// the interpreter's loops vectorise and JIT kernels need neither F16C nor a conversion libcall.
// Each agrees bit for bit with the scalar conversions of <hci/half.hpp>, NaN included.
#pragma once

#include <hci/math/value.hpp>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace math {

// x rounded to the nearest float16 (ties to even), as a float; NaN becomes the quiet NaN of x's
// sign, as a float16 NaN read back does.
template <class V>
HCI_ALWAYS_INLINE V round_to_float16(const V& x) {
  const V a = abs_(x);
  const auto bits = to_bits(select(is_nan(x), V(0.0f), a));  // NaN bits could overflow below
  // Normal float16s keep 10 of float's 23 mantissa bits: add just under half of the dropped
  // part, plus the kept part's lowest bit, so ties go to even; carries move up the exponent.
  const V normal = from_bits<V>((bits + int32_t(0xfff) + ((bits >> 13) & int32_t(1))) & int32_t(~0x1fff));
  // Below 2^-14 float16 steps by 2^-24: round the exact multiple a * 2^24 to an integer.
  const V subnormal = rint_small(a * V(0x1p24f)) * V(0x1p-24f);
  V r = select(a < V(0x1p-14f), subnormal, select(normal < V(65536.0f), normal, infinity<V>()));
  r = select(is_nan(x), quiet_nan<V>(), r);
  return copysign_(r, x);
}

// x rounded to the nearest bfloat16 (ties to even): the top 16 bits of a float. NaN stays NaN,
// quieted, with its sign and the top of its payload.
template <class V>
HCI_ALWAYS_INLINE V round_to_bfloat16(const V& x) {
  const auto high = int32_t(~0xffff);
  const auto bits = to_bits(select(is_nan(x), V(0.0f), x));  // NaN bits could overflow below
  const V rounded = from_bits<V>((bits + int32_t(0x7fff) + ((bits >> 16) & int32_t(1))) & high);
  return select(is_nan(x), from_bits<V>((to_bits(x) & high) | int32_t(0x400000)), rounded);
}

// The float of float16 bits h (in the low 16 bits of an int32 value).
template <class V>
HCI_ALWAYS_INLINE V float16_bits_to_float(const bits_t<V>& h) {
  const auto magnitude = h & int32_t(0x7fff);
  const auto exponent = magnitude >> 10;
  // Normal: rebias the exponent by 127 - 15; infinities and NaNs: the float exponent's all ones.
  const auto normal = (magnitude << 13) + int32_t(112 << 23);
  const auto special = (magnitude << 13) | int32_t(0x7f800000);
  const V big = from_bits<V>(select_bits<V>(exponent == int32_t(31), special, normal));
  // Subnormal (and zero): the mantissa counts steps of 2^-24, exactly.
  const V small = to_float<V>(magnitude) * V(0x1p-24f);
  const V r = select(exponent == int32_t(0), small, big);
  return select((h & int32_t(0x8000)) != int32_t(0), -r, r);  // negation flips just the sign bit
}

// The float16 bits (low 16 bits of an int32 value) of x rounded to float16.
template <class V>
HCI_ALWAYS_INLINE bits_t<V> float_to_float16_bits(const V& x) {
  const V r = round_to_float16(x);
  const V a = abs_(r);
  const auto sign = (to_bits(r) >> 16) & int32_t(0x8000);
  const auto normal = (to_bits(a) >> 13) - int32_t(112 << 10);
  const auto tiny = a < V(0x1p-14f);
  const auto subnormal = to_int(select(tiny, a, V(0.0f)) * V(0x1p24f));  // an exact integer below 2^10
  auto h = select_bits<V>(tiny, subnormal, normal);
  h = select_bits<V>(is_inf(a), bits_t<V>(int32_t(0x7c00)), h);
  h = select_bits<V>(is_nan(a), bits_t<V>(int32_t(0x7e00)), h);
  return h | sign;
}

// The float of bfloat16 bits, and the bfloat16 bits of x rounded to bfloat16.
template <class V>
HCI_ALWAYS_INLINE V bfloat16_bits_to_float(const bits_t<V>& b) {
  const V magnitude = from_bits<V>((b & int32_t(0x7fff)) << 16);
  return select((b & int32_t(0x8000)) != int32_t(0), -magnitude, magnitude);
}
template <class V>
HCI_ALWAYS_INLINE bits_t<V> float_to_bfloat16_bits(const V& x) {
  return (to_bits(round_to_bfloat16(x)) >> 16) & int32_t(0xffff);
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
