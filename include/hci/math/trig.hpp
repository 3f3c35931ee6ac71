// sin, cos and tan. Float arguments compute in double, where the reduction below is exact
// enough to give nearly correctly rounded float results.
//
// The argument is reduced to x = n pi/2 + r, |r| <= pi/4, by Cody and Waite's method (pi/2 in
// three parts, n * part exact) while |x| < kMediumLimit. Beyond it, the generic functions are
// wrong and the reduction needs the bits of 2/pi around x's exponent (Payne and Hanek): the
// scalar reduce_large below. Executors run the generic function over all elements, then
// recompute the rare elements for which needs_large_reduction holds, so the common path has
// no table lookup and stays vectorisable.
#pragma once

#include <hci/math/coefficients.hpp>
#include <hci/math/value.hpp>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace math {

inline constexpr double kMediumLimit = 1.5e6;  // below 2^20 * pi/2, so n < 2^20

// r = hi + lo, and the quadrant n mod 4.
template <class V>
struct TrigReduced {
  V hi, lo, quadrant;
};

template <class V>
HCI_ALWAYS_INLINE TrigReduced<V> reduce_medium(const V& x) {
  namespace k = coefficients;
  const V n = rint_small(x * V(0.63661977236758138));  // 2/pi
  const V t = x - n * V(k::kHalfPi1);                  // both exact
  const auto [hi, e] = two_sum(t, -(n * V(k::kHalfPi2)));
  const V lo = e - n * V(k::kHalfPi3);
  const V r = hi + lo;
  return {r, lo - (r - hi), n - V(4.0) * floor_(n * V(0.25))};
}

// sin and cos of hi + lo for |hi| <= pi/4 + a little, by their Taylor series.
template <class V>
HCI_ALWAYS_INLINE V sin_kernel(const V& hi, const V& lo) {
  static constexpr auto inv = inverse_factorials<double, 3, 19>();
  static constexpr std::array<double, 9> c = {-inv[0], inv[2],   -inv[4], inv[6],  -inv[8],
                                              inv[10], -inv[12], inv[14], -inv[16]};
  const V z = hi * hi;
  return hi + (hi * z * horner(z, c) + lo * (V(1.0) - z * V(0.5)));
}
template <class V>
HCI_ALWAYS_INLINE V cos_kernel(const V& hi, const V& lo) {
  static constexpr auto inv = inverse_factorials<double, 2, 20>();
  static constexpr std::array<double, 10> c = {-inv[0], inv[2],   -inv[4], inv[6],   -inv[8],
                                               inv[10], -inv[12], inv[14], -inv[16], inv[18]};
  const V z = hi * hi;
  return V(1.0) + (z * horner(z, c) - lo * hi);
}

enum class TrigFn { Sin, Cos, Tan };

template <TrigFn F, class V>
HCI_ALWAYS_INLINE V trig_of_reduced(const TrigReduced<V>& r) {
  const V s = sin_kernel(r.hi, r.lo), c = cos_kernel(r.hi, r.lo);
  const auto odd = (r.quadrant == V(1.0)) | (r.quadrant == V(3.0));
  if constexpr (F == TrigFn::Sin)
    return select(r.quadrant >= V(2.0), -V(1.0), V(1.0)) * select(odd, c, s);
  else if constexpr (F == TrigFn::Cos)
    return select((r.quadrant == V(1.0)) | (r.quadrant == V(2.0)), -V(1.0), V(1.0)) * select(odd, s, c);
  else
    return select(odd, -c / s, s / c);
}

// F(x) in double for |x| < kMediumLimit; NaN for infinities and NaN.
template <TrigFn F, class V>
HCI_ALWAYS_INLINE V trig_medium(const V& x) {
  V result = trig_of_reduced<F>(reduce_medium(x));
  if constexpr (F != TrigFn::Cos) result = select(abs_(x) < V(0x1p-27), x, result);  // keeps -0, and tiny x exact
  return select(is_finite(x), result, quiet_nan<V>());
}

template <TrigFn F, class V>
HCI_ALWAYS_INLINE V trig(const V& x) {
  using T = scalar_t<V>;
  if constexpr (sizeof(T) == 4)
    return narrow<V>(trig_medium<F>(widen(x)));
  else
    return trig_medium<F>(x);
}

template <class V>
HCI_ALWAYS_INLINE V sin(const V& x) {
  return trig<TrigFn::Sin>(x);
}
template <class V>
HCI_ALWAYS_INLINE V cos(const V& x) {
  return trig<TrigFn::Cos>(x);
}
template <class V>
HCI_ALWAYS_INLINE V tan(const V& x) {
  return trig<TrigFn::Tan>(x);
}

// The elements the generic functions get wrong.
template <class T>
inline bool needs_large_reduction(T x) {
  return is_finite(x) && !(abs_(double(x)) < kMediumLimit);
}

// Payne-Hanek reduction of a finite double |x| >= kMediumLimit, with 64-bit integer arithmetic
// on 192 bits of 2/pi starting just above x's exponent.
inline TrigReduced<double> reduce_large(double x) {
  __extension__ using U128 = unsigned __int128;
  __extension__ using I128 = __int128;
  const uint64_t bits = uint64_t(to_bits(x));
  const int exponent = int((bits >> 52) & 0x7ff) - 1075;  // |x| = m * 2^exponent
  const uint64_t m = (bits & ((uint64_t(1) << 52) - 1)) | (uint64_t(1) << 52);
  // Bits of 2/pi of weight above 2^(1 - exponent) only add multiples of 4 to x * 2/pi.
  const int first = std::max(1, exponent - 1);  // the window is bits first .. first + 191
  const int word = (first - 1) / 64, shift = (first - 1) % 64;
  uint64_t w[3];
  for (int i = 0; i < 3; ++i) {
    const uint64_t a = coefficients::kTwoOverPiBits[word + i], b = coefficients::kTwoOverPiBits[word + i + 1];
    w[i] = shift ? (a << shift) | (b >> (64 - shift)) : a;
  }
  // product = m * window, four words, least significant first.
  uint64_t product[4];
  U128 carry = 0;
  for (int i = 0; i < 3; ++i) {
    const U128 p = U128(m) * w[2 - i] + carry;
    product[i] = uint64_t(p);
    carry = p >> 64;
  }
  product[3] = uint64_t(carry);
  auto bits_at = [&](int position) {  // 64 bits of the product from bit `position` up
    const int i = position / 64, s = position % 64;
    const uint64_t lo = i < 4 ? product[i] >> s : 0;
    const uint64_t hi = s && i + 1 < 4 ? product[i + 1] << (64 - s) : 0;
    return lo | hi;
  };
  // x * 2/pi = product * 2^-point: the integer part's low bits are the quadrant.
  const int point = first + 191 - exponent;
  uint64_t quadrant = bits_at(point) & 3;
  const U128 fraction = U128(bits_at(point - 64)) << 64 | bits_at(point - 128);
  // As a signed number, the fraction is in [-1/2, 1/2) of a quadrant; the upper half rounds up.
  const bool negative = I128(fraction) < 0;
  if (negative) quadrant = (quadrant + 1) & 3;
  const U128 magnitude = negative ? U128(0) - fraction : fraction;  // at most 2^127
  const double g_hi = double(magnitude);
  const double g_lo = double(I128(magnitude - U128(g_hi)));  // the conversion's rounding error
  const double f_hi = negative ? -g_hi : g_hi, f_lo = negative ? -g_lo : g_lo;
  const double scale = 0x1p-128;
  const auto [p, p_lo] = two_prod(f_hi * scale, coefficients::kHalfPiHi);
  const double lo = p_lo + f_hi * scale * coefficients::kHalfPiLo + f_lo * scale * coefficients::kHalfPiHi;
  const double r = p + lo;
  const double r_lo = lo - (r - p);
  const double sign = x < 0 ? -1.0 : 1.0;  // sin and tan are odd, cos is even: reduce |x|, restore after
  return {sign * r, sign * r_lo, double(sign < 0 ? (4 - quadrant) & 3 : quadrant)};
}

template <TrigFn F, class T>
inline T trig_large(T x) {
  return T(trig_of_reduced<F>(reduce_large(double(x))));
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
