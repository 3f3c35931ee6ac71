// The value-type contract of hci's math library and the building blocks every function uses.
//
// Every function in <hci/math/...> uses only arithmetic, comparisons, selects and bit casts of
// its value type, never libm, so the interpreter (plain values) and the JIT (symbolic values
// traced into IR, see jit/symbolic.hpp) compute the very same operations in the same order and
// agree bit for bit. A value type V provides + - * / and comparisons yielding a mask (masks
// combine with & | !), and a specialisation of ValueTraits<V> naming its scalar type, its bits
// type (an integer value type with + - & | ~ << >> and comparisons) and its double-precision
// twin, with the conversions between them.
#pragma once

#include <hci/precise_fp.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace math {

// Constants of a float format. Bits is the scalar integer type of the same width.
template <class T>
struct FloatTraits;
template <>
struct FloatTraits<float> {
  using Bits = int32_t;
  static constexpr int kMantissaBits = 23, kBias = 127;
  static constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr float kSplitter = 4097.0f;        // 2^12 + 1: splits a float into two 12-bit halves
};
template <>
struct FloatTraits<double> {
  using Bits = int64_t;
  static constexpr int kMantissaBits = 52, kBias = 1023;
  static constexpr double kRoundMagic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kSplitter = 134217729.0;           // 2^27 + 1
};

template <class V>
struct ValueTraits;

// Plain floats and doubles as value types; masks are bool.
template <class T>
  requires std::is_floating_point_v<T>
struct ValueTraits<T> {
  using Scalar = T;
  using Bits = typename FloatTraits<T>::Bits;
  using Wide = double;
  using Unsigned = std::make_unsigned_t<Bits>;
  static HCI_ALWAYS_INLINE T select(bool mask, T a, T b) { return mask ? a : b; }
  static HCI_ALWAYS_INLINE Bits select_bits(bool mask, Bits a, Bits b) { return mask ? a : b; }
  // Not std::bit_cast: it must inline under any flags.
  static HCI_ALWAYS_INLINE Bits to_bits(T x) { return __builtin_bit_cast(Bits, x); }
  static HCI_ALWAYS_INLINE T from_bits(Bits b) { return __builtin_bit_cast(T, b); }
  static HCI_ALWAYS_INLINE Bits to_int(T x) { return Bits(x); }  // x integral and in range
  static HCI_ALWAYS_INLINE T to_float(Bits n) { return T(n); }
  static HCI_ALWAYS_INLINE double widen(T x) { return double(x); }
  static HCI_ALWAYS_INLINE T narrow(double x) { return T(x); }
  // A bit test rather than x != x, which a user's -ffast-math would fold away.
  static HCI_ALWAYS_INLINE bool is_nan(T x) {
    return (to_bits(x) & std::numeric_limits<Bits>::max()) > (to_bits(std::numeric_limits<T>::infinity()));
  }
  static HCI_ALWAYS_INLINE T copysign(T magnitude, T sign) {
    const Bits sign_bit = std::numeric_limits<Bits>::min();
    return from_bits((to_bits(magnitude) & Bits(~sign_bit)) | (to_bits(sign) & sign_bit));
  }
  // Integer operations C++'s operators on the signed bits type lack, for integer algorithms such
  // as the Payne-Hanek reduction: a logical right shift, wrapping sums and products, an unsigned
  // comparison, the high half of the unsigned product, and the count of leading zero bits (all
  // of them for zero).
  static HCI_ALWAYS_INLINE Bits shift_right_logical(Bits a, Bits n) { return Bits(Unsigned(a) >> n); }
  // Left shifts, sums and products modulo 2^bits (signed overflow is undefined in C++; IR's shl,
  // add and mul wrap).
  static HCI_ALWAYS_INLINE Bits shift_left(Bits a, Bits n) { return Bits(Unsigned(a) << n); }
  static HCI_ALWAYS_INLINE Bits wrapping_add(Bits a, Bits b) { return Bits(Unsigned(a) + Unsigned(b)); }
  static HCI_ALWAYS_INLINE Bits wrapping_multiply(Bits a, Bits b) { return Bits(Unsigned(a) * Unsigned(b)); }
  static HCI_ALWAYS_INLINE bool unsigned_less(Bits a, Bits b) { return Unsigned(a) < Unsigned(b); }
  static HCI_ALWAYS_INLINE Bits multiply_high(Bits a, Bits b) {
    __extension__ using Wider = std::conditional_t < sizeof(Bits) == 8, unsigned __int128, uint64_t > ;
    return Bits((Wider(Unsigned(a)) * Unsigned(b)) >> (8 * sizeof(Bits)));
  }
  static HCI_ALWAYS_INLINE Bits leading_zeros(Bits a) {
    return a == 0 ? Bits(8 * sizeof(Bits)) : Bits(std::countl_zero(Unsigned(a)));
  }
  static HCI_ALWAYS_INLINE T sqrt(T x) {
    if constexpr (sizeof(T) == 4)
      return __builtin_sqrtf(x);
    else
      return __builtin_sqrt(x);
  }
};

template <class V>
using scalar_t = typename ValueTraits<V>::Scalar;
template <class V>
using bits_t = typename ValueTraits<V>::Bits;
template <class V>
using wide_t = typename ValueTraits<V>::Wide;

template <class V, class M>
HCI_ALWAYS_INLINE V select(const M& mask, const V& a, const V& b) {
  return ValueTraits<V>::select(mask, a, b);
}
// select on values of V's bits type.
template <class V, class M>
HCI_ALWAYS_INLINE bits_t<V> select_bits(const M& mask, const bits_t<V>& a, const bits_t<V>& b) {
  return ValueTraits<V>::select_bits(mask, a, b);
}
template <class V>
HCI_ALWAYS_INLINE bits_t<V> to_bits(const V& x) {
  return ValueTraits<V>::to_bits(x);
}
template <class V>
HCI_ALWAYS_INLINE V from_bits(const bits_t<V>& b) {
  return ValueTraits<V>::from_bits(b);
}
// An integral-valued x as an integer of its bits type, and back.
template <class V>
HCI_ALWAYS_INLINE bits_t<V> to_int(const V& x) {
  return ValueTraits<V>::to_int(x);
}
template <class V>
HCI_ALWAYS_INLINE V to_float(const bits_t<V>& n) {
  return ValueTraits<V>::to_float(n);
}
// float <-> double, for functions that compute float results in double.
template <class V>
HCI_ALWAYS_INLINE wide_t<V> widen(const V& x) {
  return ValueTraits<V>::widen(x);
}
template <class V>
HCI_ALWAYS_INLINE V narrow(const wide_t<V>& x) {
  return ValueTraits<V>::narrow(x);
}
template <class V>
HCI_ALWAYS_INLINE V sqrt_(const V& x) {
  return ValueTraits<V>::sqrt(x);
}

template <class T>
inline constexpr typename FloatTraits<T>::Bits kExponentMask = typename FloatTraits<T>::Bits(
    ((typename FloatTraits<T>::Bits(1) << (8 * sizeof(T) - 1 - FloatTraits<T>::kMantissaBits)) - 1)
    << FloatTraits<T>::kMantissaBits);
template <class T>
inline constexpr typename FloatTraits<T>::Bits kMagnitudeMask =
    std::numeric_limits<typename FloatTraits<T>::Bits>::max();

// Bit tests rather than x != x, which a user's -ffast-math would fold away.
template <class V>
HCI_ALWAYS_INLINE auto is_nan(const V& x) {
  return ValueTraits<V>::is_nan(x);
}
template <class V>
HCI_ALWAYS_INLINE auto is_inf(const V& x) {
  return (to_bits(x) & kMagnitudeMask<scalar_t<V>>) == kExponentMask<scalar_t<V>>;
}
template <class V>
HCI_ALWAYS_INLINE auto is_finite(const V& x) {
  return (to_bits(x) & kMagnitudeMask<scalar_t<V>>) < kExponentMask<scalar_t<V>>;
}
template <class V>
HCI_ALWAYS_INLINE V abs_(const V& x) {
  return from_bits<V>(to_bits(x) & kMagnitudeMask<scalar_t<V>>);
}
// magnitude's bits with sign's sign bit: exact, a bit operation for every value type.
template <class V>
HCI_ALWAYS_INLINE V copysign_(const V& magnitude, const V& sign) {
  return ValueTraits<V>::copysign(magnitude, sign);
}

template <class V>
HCI_ALWAYS_INLINE V infinity() {
  return V(std::numeric_limits<scalar_t<V>>::infinity());
}
template <class V>
HCI_ALWAYS_INLINE V quiet_nan() {
  return V(std::numeric_limits<scalar_t<V>>::quiet_NaN());
}

// 1/first!, ..., 1/last!, each rounded once from double.
template <class T, int First, int Last>
constexpr std::array<T, Last - First + 1> inverse_factorials() {
  std::array<T, Last - First + 1> c{};
  double factorial = 1;
  for (int k = 1; k <= Last; ++k) {
    factorial *= k;
    if (k >= First) c[k - First] = T(1.0 / factorial);
  }
  if (First == 0) c[0] = T(1);
  return c;
}

// c[0] + x (c[1] + x (... + x c[N-1])), innermost first, written out in full so that loops
// over it vectorise.
template <class V, class T, size_t N, size_t... I>
HCI_ALWAYS_INLINE V horner_unrolled(const V& x, const std::array<T, N>& c, std::index_sequence<I...>) {
  V p = V(c[N - 1]);
  ((p = V(c[N - 2 - I]) + x * p), ...);
  return p;
}
template <class V, class T, size_t N>
HCI_ALWAYS_INLINE V horner(const V& x, const std::array<T, N>& c) {
  return horner_unrolled(x, c, std::make_index_sequence<N - 1>{});
}

// Round to nearest even for |x| < 2^(mantissa bits - 1), by the magic-number addition.
template <class V>
HCI_ALWAYS_INLINE V rint_small(const V& x) {
  using T = scalar_t<V>;
  const V magic = V(FloatTraits<T>::kRoundMagic);
  return (x + magic) - magic;
}

// x * 2^n for x in [1/2, 2) and integral n whose halves stay in the normal exponent range;
// rounds once, so results in the subnormal range are correctly rounded. x * 2^floor(n/2) is
// exact, made by adding to x's exponent; the other half multiplies.
template <class V>
HCI_ALWAYS_INLINE V scale_by_pow2(const V& x, const V& n) {
  using T = scalar_t<V>;
  using B = bits_t<V>;
  using Traits = ValueTraits<V>;
  const B mantissa_bits = B(FloatTraits<T>::kMantissaBits);
  const B whole = to_int(n), half = whole >> B(1);
  const V x_half = from_bits<V>(Traits::wrapping_add(to_bits(x), Traits::shift_left(half, mantissa_bits)));
  return x_half * from_bits<V>((whole - half + B(FloatTraits<T>::kBias)) << mantissa_bits);
}

// Rounding to integers. Values of magnitude 2^mantissa bits and beyond (and infinities, NaN)
// are integers already; the sign of x is kept, so -0.5 floors to -1 and ceils to -0.
template <class V>
HCI_ALWAYS_INLINE V round_half_even(const V& x) {
  using T = scalar_t<V>;
  const V two_m = V(T(std::uint64_t(1) << FloatTraits<T>::kMantissaBits));
  const V a = abs_(x);
  return select(a < two_m, copysign_((a + two_m) - two_m, x), x);  // |x| + 2^m lands on the integer grid
}
template <class V>
HCI_ALWAYS_INLINE V floor_(const V& x) {
  using T = scalar_t<V>;
  const V r = round_half_even(x);
  return copysign_(select(r > x, r - V(T(1)), r), x);
}
template <class V>
HCI_ALWAYS_INLINE V ceil_(const V& x) {
  using T = scalar_t<V>;
  const V r = round_half_even(x);
  return copysign_(select(r < x, r + V(T(1)), r), x);
}
template <class V>
HCI_ALWAYS_INLINE V trunc_(const V& x) {
  using T = scalar_t<V>;
  return select(x < V(T(0)), ceil_(x), floor_(x));
}

// Error-free transformations: a + b = s + e and a * b = p + e exactly (barring overflow).
// The product splits each factor in halves (Dekker), so it needs no fused multiply-add.
template <class V>
HCI_ALWAYS_INLINE std::pair<V, V> two_sum(const V& a, const V& b) {
  const V s = a + b;
  const V bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
template <class V>
HCI_ALWAYS_INLINE std::pair<V, V> split(const V& a) {
  using T = scalar_t<V>;
  const V c = V(FloatTraits<T>::kSplitter) * a;
  const V hi = c - (c - a);
  return {hi, a - hi};
}
template <class V>
HCI_ALWAYS_INLINE std::pair<V, V> two_prod(const V& a, const V& b) {
  const V p = a * b;
  const auto [ah, al] = split(a);
  const auto [bh, bl] = split(b);
  return {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
