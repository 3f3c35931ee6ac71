// The value-type contract of hci's math library and the building blocks every function uses.
//
// Every function in <hci/math/...> uses only arithmetic, comparisons, selects and bit casts of
// its value type, never libm, so the interpreter (plain and SIMD values) and the JIT (symbolic
// values traced into IR) compute the very same operations in the same order and agree bit for
// bit. A value type V provides: + - * / on V, comparisons yielding a mask, and the free
// functions select(mask, V, V), abs_(V), sqrt_(V), to_bits(V) / from_bits<V>(int), is_nan(V),
// and widen(V) / narrow<V>(wide) between float and double values.
#pragma once

#include <hci/precise_fp.hpp>

#include <array>
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
  static constexpr float kSplitter = 4097.0f;        // 2^12 + 1: splits a float into two 12-bit halves
};
template <>
struct FloatTraits<double> {
  using Bits = int64_t;
  static constexpr int kMantissaBits = 52, kBias = 1023;
  static constexpr double kRoundMagic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kSplitter = 134217729.0;           // 2^27 + 1
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
template <class T>
HCI_ALWAYS_INLINE double widen(T x) {
  return double(x);
}
template <class V>
HCI_ALWAYS_INLINE V narrow(double x) {
  return V(x);
}

template <class T>
inline constexpr typename FloatTraits<T>::Bits kExponentMask = typename FloatTraits<T>::Bits(
    ((typename FloatTraits<T>::Bits(1) << (8 * sizeof(T) - 1 - FloatTraits<T>::kMantissaBits)) - 1)
    << FloatTraits<T>::kMantissaBits);

// Bit tests rather than x != x, which a user's -ffast-math would fold away.
template <class T>
HCI_ALWAYS_INLINE bool is_nan(T x) {
  return (to_bits(x) & std::numeric_limits<typename FloatTraits<T>::Bits>::max()) > kExponentMask<T>;
}
template <class T>
HCI_ALWAYS_INLINE bool is_inf(T x) {
  return (to_bits(x) & std::numeric_limits<typename FloatTraits<T>::Bits>::max()) == kExponentMask<T>;
}
template <class T>
HCI_ALWAYS_INLINE bool is_finite(T x) {
  return (to_bits(x) & std::numeric_limits<typename FloatTraits<T>::Bits>::max()) < kExponentMask<T>;
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

template <class V>
HCI_ALWAYS_INLINE V infinity() {
  return V(std::numeric_limits<decltype(+V())>::infinity());
}
template <class V>
HCI_ALWAYS_INLINE V quiet_nan() {
  return V(std::numeric_limits<decltype(+V())>::quiet_NaN());
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

// x * 2^n for integral n whose halves stay in the normal exponent range; rounds once, so
// results in the subnormal range are correctly rounded.
template <class V>
HCI_ALWAYS_INLINE V scale_by_pow2(V x, V n) {
  using T = decltype(+n);
  const V n_half = rint_small(n * V(T(0.5)) - V(T(0.25)));
  return x * pow2_int(n_half) * pow2_int(n - n_half);
}

// Rounding to integers. Values of magnitude 2^mantissa bits and beyond (and infinities, NaN)
// are integers already; the sign of x is kept, so -0.5 floors to -1 and ceils to -0.
template <class V>
HCI_ALWAYS_INLINE V round_half_even(V x) {
  using T = decltype(+x);
  const V two_m = V(T(std::uint64_t(1) << FloatTraits<T>::kMantissaBits));
  const V a = abs_(x);
  return select(a < two_m, copysign_((a + two_m) - two_m, x), x);  // |x| + 2^m lands on the integer grid
}
template <class V>
HCI_ALWAYS_INLINE V floor_(V x) {
  using T = decltype(+x);
  const V r = round_half_even(x);
  return copysign_(select(r > x, r - V(T(1)), r), x);
}
template <class V>
HCI_ALWAYS_INLINE V ceil_(V x) {
  using T = decltype(+x);
  const V r = round_half_even(x);
  return copysign_(select(r < x, r + V(T(1)), r), x);
}
template <class V>
HCI_ALWAYS_INLINE V trunc_(V x) {
  using T = decltype(+x);
  return select(x < V(T(0)), ceil_(x), floor_(x));
}

// Error-free transformations: a + b = s + e and a * b = p + e exactly (barring overflow).
// The product splits each factor in halves (Dekker), so it needs no fused multiply-add.
template <class V>
HCI_ALWAYS_INLINE std::pair<V, V> two_sum(V a, V b) {
  const V s = a + b;
  const V bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
template <class V>
HCI_ALWAYS_INLINE std::pair<V, V> split(V a) {
  using T = decltype(+a);
  const V c = V(FloatTraits<T>::kSplitter) * a;
  const V hi = c - (c - a);
  return {hi, a - hi};
}
template <class V>
HCI_ALWAYS_INLINE std::pair<V, V> two_prod(V a, V b) {
  const V p = a * b;
  const auto [ah, al] = split(a);
  const auto [bh, bl] = split(b);
  return {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
