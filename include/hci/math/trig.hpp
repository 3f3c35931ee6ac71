// sin, cos and tan. Float arguments compute in double, where the reduction below is exact
// enough to give nearly correctly rounded float results.
//
// The argument is reduced to x = n pi/2 + r, |r| <= pi/4, by Cody and Waite's method (pi/2 in
// three parts, n * part exact) while |x| < kMediumLimit. Beyond it, the generic functions are
// wrong and the reduction needs the bits of 2/pi around x's exponent (Payne and Hanek):
// reduce_large below. Executors run the medium-range function over all elements, then recompute
// the rare elements for which needs_large_reduction holds one by one, so the common path has no
// table lookup and stays vectorisable.
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

// Payne-Hanek reduction of a finite |x| >= kMediumLimit, for double values (plain or symbolic),
// in 64-bit integer arithmetic on 192 bits of 2/pi starting just above x's exponent. Written in
// selects rather than branches and table indexing, so that the JIT traces the very same steps.
template <class V>
HCI_ALWAYS_INLINE TrigReduced<V> reduce_large(const V& x) {
  static_assert(sizeof(scalar_t<V>) == 8, "reduce_large takes doubles");
  using B = bits_t<V>;
  using Traits = ValueTraits<V>;
  auto pick = [](const auto& mask, const B& a, const B& b) { return select_bits<V>(mask, a, b); };
  auto shift_right = [](const B& a, const B& n) { return Traits::shift_right_logical(a, n); };
  auto shift_left = [](const B& a, const B& n) { return Traits::shift_left(a, n); };
  // 64 - n for n in [1, 63], and 0 for n = 0, whose shifted value the caller selects away.
  auto complement = [](const B& n) { return (B(64) - n) & B(63); };
  const B bits = to_bits(x);
  const B biased = shift_right(bits, B(52)) & B(0x7ff);  // |x| = m 2^(biased - 1075)
  const B m = (bits & B((int64_t(1) << 52) - 1)) | B(int64_t(1) << 52);
  // Bits of 2/pi of weight above 2^(1 - exponent) only add multiples of 4 to x * 2/pi: the window
  // is bits first .. first + 191 of 2/pi, first = max(1, exponent - 1) = skipped + 1.
  const B skipped = pick(biased > B(1077), biased - B(1077), B(0));
  const B word = shift_right(skipped, B(6)), shift = skipped & B(63);
  auto table = [&](const B& index) {
    B w = B(int64_t(coefficients::kTwoOverPiBits[0]));
    for (size_t k = 1; k < std::size(coefficients::kTwoOverPiBits); ++k)
      w = pick(index == B(int64_t(k)), B(int64_t(coefficients::kTwoOverPiBits[k])), w);
    return w;
  };
  B window[3] = {B(0), B(0), B(0)};
  for (int i = 0; i < 3; ++i) {
    const B a = table(word + B(i)), b = table(word + B(i + 1));
    window[i] = pick(shift == B(0), a, shift_left(a, shift) | shift_right(b, complement(shift)));
  }
  // product = m * window, four words, least significant first.
  B product[4] = {B(0), B(0), B(0), B(0)};
  B carry = B(0);
  for (int i = 0; i < 3; ++i) {
    const B low = Traits::wrapping_add(Traits::wrapping_multiply(window[2 - i], m), carry);
    carry = Traits::multiply_high(window[2 - i], m) + pick(Traits::unsigned_less(low, carry), B(1), B(0));
    product[i] = low;
  }
  product[3] = carry;
  auto bits_at = [&](const B& position) {  // 64 bits of the product from bit `position` up
    auto word_at = [&](const B& k) {       // 0 beyond the product
      B w = B(0);
      for (int j = 0; j < 4; ++j) w = pick(k == B(j), product[j], w);
      return w;
    };
    const B i = shift_right(position, B(6)), s = position & B(63);
    return shift_right(word_at(i), s) | pick(s == B(0), B(0), shift_left(word_at(i + B(1)), complement(s)));
  };
  // x * 2/pi = product * 2^-point, point = first + 191 - exponent: the integer part's low bits
  // are the quadrant.
  const B point = skipped + B(1267) - biased;
  B quadrant = bits_at(point) & B(3);
  const B fraction_hi = bits_at(point - B(64)), fraction_lo = bits_at(point - B(128));
  // As a signed number, the fraction is in [-1/2, 1/2) of a quadrant; the upper half rounds up.
  const auto negative = fraction_hi < B(0);
  quadrant = (quadrant + pick(negative, B(1), B(0))) & B(3);
  // Negated as a 128-bit two's complement number, ~x + 1.
  const B high = pick(negative, Traits::wrapping_add(~fraction_hi, pick(fraction_lo == B(0), B(1), B(0))), fraction_hi);
  const B low = pick(negative, Traits::wrapping_add(~fraction_lo, B(1)), fraction_lo);
  // The magnitude (at most 2^127) shifted left until its top bit is set, as top:next.
  const B zeros = pick(high == B(0), B(64) + Traits::leading_zeros(low), Traits::leading_zeros(high));
  const B s = zeros & B(63);
  const auto past_high = zeros >= B(64);
  const B top =
      pick(past_high, shift_left(low, s), shift_left(high, s) | pick(s == B(0), B(0), shift_right(low, complement(s))));
  const B next = pick(past_high, B(0), shift_left(low, s));
  // magnitude * 2^-128 = top:next * 2^(-128 - zeros), as 53 bits and the next 62 (the last 13 of
  // 128 are below the precision kept).
  const B top53 = shift_right(top, B(11));
  const B next62 = ((top & B(0x7ff)) << B(51)) | shift_right(next, B(13));
  const V g_hi = to_float<V>(top53) * from_bits<V>((B(1023 - 53) - zeros) << B(52));
  const V g_lo = to_float<V>(next62) * from_bits<V>((B(1023 - 115) - zeros) << B(52));
  const V f_hi = select(negative, -g_hi, g_hi), f_lo = select(negative, -g_lo, g_lo);
  const auto [p, p_lo] = two_prod(f_hi, V(coefficients::kHalfPiHi));
  const V lo = p_lo + f_hi * V(coefficients::kHalfPiLo) + f_lo * V(coefficients::kHalfPiHi);
  const V r = p + lo;
  const V r_lo = lo - (r - p);
  // sin and tan are odd, cos is even: |x| was reduced, the sign is restored here.
  const auto minus = x < V(0.0);
  const V sign = select(minus, V(-1.0), V(1.0));
  return {sign * r, sign * r_lo, to_float<V>(pick(minus, (B(4) - quadrant) & B(3), quadrant))};
}

template <TrigFn F, class T>
inline T trig_large(T x) {
  return T(trig_of_reduced<F>(reduce_large(double(x))));
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
