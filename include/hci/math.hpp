// The math library, written once as generic C++ over a value type.
//
// Every function here uses only arithmetic, comparisons, selects and bit casts of its value
// type, never libm, so the interpreter (plain and SIMD values) and the JIT (symbolic values
// traced into IR) compute the very same operations in the same order and agree bit for bit.
// A value type V provides: + - * / on V, comparisons yielding a mask, and the free functions
// select(mask, V, V), abs_(V), sqrt_(V), to_bits(V) / from_bits<V>(int), is_nan(V).
#pragma once

#include <hci/precise_fp.hpp>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace math {

// Plain floats and doubles as value types.
template <class T>
struct FloatTraits;
template <>
struct FloatTraits<float> {
  using Bits = int32_t;
  static constexpr int kMantissaBits = 23, kBias = 127;
  static constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
};
template <>
struct FloatTraits<double> {
  using Bits = int64_t;
  static constexpr int kMantissaBits = 52, kBias = 1023;
  static constexpr double kRoundMagic = 6755399441055744.0;  // 1.5 * 2^52
};

template <class T>
HCI_ALWAYS_INLINE T select(bool mask, T a, T b) {
  return mask ? a : b;
}
template <class T>
HCI_ALWAYS_INLINE auto to_bits(T x) {
  return __builtin_bit_cast(typename FloatTraits<T>::Bits, x);  // not std::bit_cast: it must inline under any flags
}
template <class T>
HCI_ALWAYS_INLINE T from_bits(typename FloatTraits<T>::Bits b) {
  return __builtin_bit_cast(T, b);
}
// Bit tests rather than x != x, which a user's -ffast-math would fold away.
template <class T>
HCI_ALWAYS_INLINE bool is_nan(T x) {
  using B = typename FloatTraits<T>::Bits;
  constexpr B exponent_mask = B(((B(1) << (8 * sizeof(T) - 1 - FloatTraits<T>::kMantissaBits)) - 1))
                              << FloatTraits<T>::kMantissaBits;
  const B magnitude = to_bits(x) & std::numeric_limits<B>::max();
  return magnitude > exponent_mask;
}
template <class T>
HCI_ALWAYS_INLINE T abs_(T x) {
  return from_bits<T>(to_bits(x) & std::numeric_limits<typename FloatTraits<T>::Bits>::max());
}
template <class T>
HCI_ALWAYS_INLINE T sqrt_(T x) {
  if constexpr (sizeof(T) == 4)
    return __builtin_sqrtf(x);
  else
    return __builtin_sqrt(x);
}
template <class T>
HCI_ALWAYS_INLINE T copysign_(T magnitude, T sign) {
  using B = typename FloatTraits<T>::Bits;
  const B sign_bit = std::numeric_limits<B>::min();
  return from_bits<T>((to_bits(magnitude) & ~sign_bit) | (to_bits(sign) & sign_bit));
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

// 1/3, 1/5, ..., 1/(2 terms + 1): the series of atanh(s)/s - 1 in s^2.
template <class T, int Terms>
constexpr std::array<T, Terms> inverse_odd_numbers() {
  std::array<T, Terms> c{};
  for (int k = 1; k <= Terms; ++k) c[k - 1] = T(1.0 / (2 * k + 1));
  return c;
}

// c[0] + x (c[1] + x (... + x c[N-1])), innermost first, written out in full so that loops
// over it vectorise.
template <class V, class T, size_t N, size_t... I>
HCI_ALWAYS_INLINE V horner_unrolled(V x, const std::array<T, N>& c, std::index_sequence<I...>) {
  V p = V(c[N - 1]);
  ((p = V(c[N - 2 - I]) + x * p), ...);
  return p;
}
template <class V, class T, size_t N>
HCI_ALWAYS_INLINE V horner(V x, const std::array<T, N>& c) {
  return horner_unrolled(x, c, std::make_index_sequence<N - 1>{});
}

// Round to nearest even for |x| < 2^(mantissa bits - 1), by the magic-number addition.
template <class V>
HCI_ALWAYS_INLINE V rint_small(V x) {
  using T = decltype(+x);
  const V magic = V(FloatTraits<T>::kRoundMagic);
  return (x + magic) - magic;
}

// 2^n for integral-valued n in the normal exponent range, built from bits.
template <class V>
HCI_ALWAYS_INLINE V pow2_int(V n) {
  using T = decltype(+n);
  using B = typename FloatTraits<T>::Bits;
  return from_bits<T>(B(B(n) + FloatTraits<T>::kBias) << FloatTraits<T>::kMantissaBits);
}

template <class V>
HCI_ALWAYS_INLINE V exp(V x) {
  using T = decltype(+x);
  constexpr bool single = sizeof(T) == 4;
  const T log2e = T(1.4426950408889634), ln2_hi = single ? T(0.693359375) : T(6.93147180369123816490e-01);
  const T ln2_lo = single ? T(-2.12194440e-4) : T(1.90821492927058770002e-10);
  const T max_arg = single ? T(88.72283935546875) : T(709.782712893384);
  const T min_arg = single ? T(-103.97208404541016) : T(-745.1332191019412);
  const V xc = select(x > V(max_arg), V(max_arg), select(x < V(min_arg), V(min_arg), x));
  const V n = rint_small(xc * V(log2e));
  V r = xc - n * V(ln2_hi);
  r = r - n * V(ln2_lo);
  // Taylor series of e^r on |r| <= ln2/2, to the degree each precision needs.
  static constexpr auto c = inverse_factorials<T, 0, single ? 7 : 13>();
  const V p = horner(r, c);
  // Scale in two steps so results down in the subnormal range stay exact.
  const V n_half = rint_small(n * V(T(0.5)) - V(T(0.25)));
  V result = p * pow2_int(n_half) * pow2_int(n - n_half);
  result = select(x > V(max_arg), V(std::numeric_limits<T>::infinity()), result);
  result = select(x < V(min_arg), V(T(0)), result);
  return select(is_nan(x), x, result);
}

// e^y - 1, accurate near zero.
template <class V>
HCI_ALWAYS_INLINE V expm1(V y) {
  using T = decltype(+y);
  static constexpr auto c = inverse_factorials<T, 1, sizeof(T) == 4 ? 8 : 15>();
  const V p = horner(y, c) * y;
  return select(abs_(y) < V(T(0.34657359027997264)), p, exp(y) - V(T(1)));
}

template <class V>
HCI_ALWAYS_INLINE V log(V x) {
  using T = decltype(+x);
  using B = typename FloatTraits<T>::Bits;
  constexpr bool single = sizeof(T) == 4;
  constexpr int mbits = FloatTraits<T>::kMantissaBits;
  const T ln2_hi = single ? T(0.693359375) : T(6.93147180369123816490e-01);
  const T ln2_lo = single ? T(-2.12194440e-4) : T(1.90821492927058770002e-10);
  const T min_normal = std::numeric_limits<T>::min();
  // Bring subnormals into the normal range.
  const bool tiny = x < V(min_normal);
  const V xs = select(tiny, x * V(single ? T(16777216.0) : T(18014398509481984.0)), x);
  const V e_adjust = select(tiny, V(single ? T(-24) : T(-54)), V(T(0)));
  const B bits = to_bits(xs);
  V e = V(T((bits >> mbits) - FloatTraits<T>::kBias)) + e_adjust;
  V m = from_bits<T>((bits & ((B(1) << mbits) - 1)) | (B(FloatTraits<T>::kBias) << mbits));  // [1, 2)
  const bool big = m > V(T(1.4142135623730951));
  m = select(big, m * V(T(0.5)), m);
  e = select(big, e + V(T(1)), e);
  // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716
  const V s = (m - V(T(1))) / (m + V(T(1)));
  const V z = s * s;
  static constexpr auto c = inverse_odd_numbers<T, single ? 5 : 11>();
  const V p = horner(z, c);
  const V two_s = s + s;
  const V log_m = two_s + two_s * (z * p);
  V result = e * V(ln2_hi) + (log_m + e * V(ln2_lo));
  result = select(x == V(std::numeric_limits<T>::infinity()), x, result);
  result = select(x == V(T(0)), V(-std::numeric_limits<T>::infinity()), result);
  result = select((x < V(T(0))) | is_nan(x), V(std::numeric_limits<T>::quiet_NaN()), result);
  return result;
}

template <class V>
HCI_ALWAYS_INLINE V tanh(V x) {
  using T = decltype(+x);
  const V a = abs_(x);
  const V em = expm1(a + a);
  V t = em / (em + V(T(2)));
  t = select(a > V(sizeof(T) == 4 ? T(9) : T(19.5)), V(T(1)), t);
  return copysign_(t, x);
}

template <class V>
HCI_ALWAYS_INLINE V sigmoid(V x) {
  using T = decltype(+x);
  return V(T(1)) / (V(T(1)) + exp(-x));
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
