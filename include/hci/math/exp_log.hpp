// Exponentials and logarithms, and the functions built on them (tanh, sigmoid, silu).
#pragma once

#include <hci/math/coefficients.hpp>
#include <hci/math/value.hpp>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace math {

// 1/3, 1/5, ..., 1/(2 terms + 1): the series of atanh(s)/s - 1 in s^2.
template <class T, int Terms>
constexpr std::array<T, Terms> inverse_odd_numbers() {
  std::array<T, Terms> c{};
  for (int k = 1; k <= Terms; ++k) c[k - 1] = T(1.0 / (2 * k + 1));
  return c;
}

// ln(2)^k / k! for k = 0..Degree: the Taylor series of 2^r.
template <class T, int Degree>
constexpr std::array<T, Degree + 1> exp2_series() {
  std::array<T, Degree + 1> c{};
  double term = 1;
  for (int k = 0; k <= Degree; ++k) {
    c[k] = T(term);
    term = term * 0.6931471805599453 / (k + 1);
  }
  return c;
}

template <class T>
struct Ln2 {  // ln 2 = hi + lo, hi with few enough bits that n * hi is exact
  static constexpr T hi = sizeof(T) == 4 ? T(0.693359375) : T(6.93147180369123816490e-01);
  static constexpr T lo = sizeof(T) == 4 ? T(-2.12194440e-4) : T(1.90821492927058770002e-10);
};

// x clamped to [low, high], NaN to high: a min and a max instruction, and an argument the
// integer steps after it can take.
template <class V>
HCI_ALWAYS_INLINE V clamp_argument(const V& x, scalar_t<V> low, scalar_t<V> high) {
  const V below = select(x < V(high), x, V(high));
  return select(below > V(low), below, V(low));
}

template <class V>
HCI_ALWAYS_INLINE V exp(const V& x) {
  using T = scalar_t<V>;
  constexpr bool single = sizeof(T) == 4;
  const T log2e = T(1.4426950408889634);
  // Beyond these, e^x rounds to infinity or 0, and so does the computation below: the
  // arguments between the last finite or nonzero result and the bounds give n one past the
  // range with the series' value on the overflowing or underflowing side of 1.
  const V xc = single ? clamp_argument(x, T(-120), T(100)) : clamp_argument(x, T(-800), T(750));
  const V n = rint_small(xc * V(log2e));
  V r = xc - n * V(Ln2<T>::hi);
  r = r - n * V(Ln2<T>::lo);
  // e^r on |r| <= ln2/2: a fitted polynomial of degree 6 for float, the Taylor series of degree
  // 13 for double.
  static constexpr auto c = [] {
    if constexpr (single)
      return coefficients::kExpFloat;
    else
      return inverse_factorials<T, 0, 13>();
  }();
  return select(is_nan(x), x, scale_by_pow2(horner(r, c), n));
}

// e^(hi + lo) for double, |lo| much smaller than |hi|: the reduced argument and e^r - 1 are
// carried in two terms, so the result is within about 0.1 ulp before its final rounding and
// exact results (integer powers in pow) come out exact.
template <class V>
HCI_ALWAYS_INLINE V exp_extended(const V& hi, const V& lo) {
  const double max_arg = 709.782712893384, min_arg = -745.1332191019412;
  const V xc = clamp_argument(hi, min_arg, max_arg);
  const V n = rint_small(xc * V(1.4426950408889634));
  const auto [rh, r_err] = two_sum(xc - n * V(Ln2<double>::hi), -(n * V(Ln2<double>::lo)));
  const V rl = r_err + lo;
  // e^rh - 1 = rh + rh^2 (1/2! + rh/3! + ...), its two terms summed exactly.
  static constexpr auto c = inverse_factorials<double, 2, 13>();
  const auto [s, s_lo] = two_sum(rh, rh * rh * horner(rh, c));
  const auto [p, p_lo] = two_sum(V(1.0), s);
  V result = scale_by_pow2(p + (p_lo + s_lo + rl * (V(1.0) + s)), n);
  result = select(hi > V(max_arg), infinity<V>(), result);
  return select(hi < V(min_arg), V(0.0), result);
}

// 2^x: the integer part exactly, the fraction r in [-1/2, 1/2] by its Taylor series.
template <class V>
HCI_ALWAYS_INLINE V exp2(const V& x) {
  using T = scalar_t<V>;
  constexpr bool single = sizeof(T) == 4;
  const T hi = single ? T(129) : T(1025), lo = single ? T(-151) : T(-1076);
  const V xc = clamp_argument(x, lo, hi);
  const V n = rint_small(xc);
  static constexpr auto c = exp2_series<T, single ? 7 : 14>();
  const V result = scale_by_pow2(horner(xc - n, c), n);
  return select(is_nan(x), x, result);
}

// e^y - 1, accurate near zero.
template <class V>
HCI_ALWAYS_INLINE V expm1(const V& y) {
  using T = scalar_t<V>;
  static constexpr auto c = inverse_factorials<T, 1, sizeof(T) == 4 ? 8 : 15>();
  const V p = horner(y, c) * y;
  return select(abs_(y) < V(T(0.34657359027997264)), p, exp(y) - V(T(1)));
}

// x = 2^e * m with m in [sqrt(1/2), sqrt(2)), for finite x > 0 (subnormals included).
template <class V>
struct LogReduced {
  V e, m;
};
template <class V>
HCI_ALWAYS_INLINE LogReduced<V> log_reduce(const V& x) {
  using T = scalar_t<V>;
  using B = typename FloatTraits<T>::Bits;
  constexpr bool single = sizeof(T) == 4;
  constexpr int mbits = FloatTraits<T>::kMantissaBits;
  // Bring subnormals into the normal range.
  const auto tiny = x < V(std::numeric_limits<T>::min());
  const V xs = select(tiny, x * V(single ? T(16777216.0) : T(18014398509481984.0)), x);
  const V e_adjust = select(tiny, V(single ? T(-24) : T(-54)), V(T(0)));
  const auto bits = to_bits(xs);
  V e = to_float<V>((bits >> mbits) - B(FloatTraits<T>::kBias)) + e_adjust;
  V m = from_bits<V>((bits & ((B(1) << mbits) - 1)) | (B(FloatTraits<T>::kBias) << mbits));  // [1, 2)
  const auto big = m > V(T(1.4142135623730951));
  return {select(big, e + V(T(1)), e), select(big, m * V(T(0.5)), m)};
}

// log(m) for m in [sqrt(1/2), sqrt(2)): 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716.
template <class V>
HCI_ALWAYS_INLINE V log_mantissa(const V& m) {
  using T = scalar_t<V>;
  const V s = (m - V(T(1))) / (m + V(T(1)));
  const V z = s * s;
  static constexpr auto c = inverse_odd_numbers<T, sizeof(T) == 4 ? 5 : 11>();
  const V two_s = s + s;
  return two_s + two_s * (z * horner(z, c));
}

// The results of log-like functions outside (0, inf): inf stays, 0 gives -inf, below 0 or NaN
// gives NaN.
template <class V>
HCI_ALWAYS_INLINE V log_special(const V& x, const V& result) {
  using T = scalar_t<V>;
  V r = select(x == infinity<V>(), x, result);
  r = select(x == V(T(0)), -infinity<V>(), r);
  return select((x < V(T(0))) | is_nan(x), quiet_nan<V>(), r);
}

template <class V>
HCI_ALWAYS_INLINE V log(const V& x) {
  using T = scalar_t<V>;
  const auto [e, m] = log_reduce(x);
  return log_special(x, e * V(Ln2<T>::hi) + (log_mantissa(m) + e * V(Ln2<T>::lo)));
}

// log(x) as hi + lo with about 2^-70 relative error, for finite x > 0: what pow needs so that
// y * log(x) keeps its precision when y is large.
template <class V>
HCI_ALWAYS_INLINE std::pair<V, V> log_extended(const V& x) {
  using T = scalar_t<V>;
  const auto [e, m] = log_reduce(x);
  // s = f / d with f = m - 1 exact and d = 1 + m held as two terms; the quotient's rounding
  // error is recovered from the exact residual f - s * d.
  const V f = m - V(T(1));
  const auto [d, d_lo] = two_sum(V(T(1)), m);
  const V s = f / d;
  const auto [p, p_lo] = two_prod(s, d);
  const V s_lo = (((f - p) - p_lo) - s * d_lo) / d;
  const V z = s * s;
  static constexpr auto c = inverse_odd_numbers<T, sizeof(T) == 4 ? 5 : 11>();
  const V hi = s + s;
  // 2 atanh(s + s_lo) = 2 s + 2 s_lo + 2 s z P(z) + 2 s_lo z (the tail's change with s_lo).
  const V lo = (s_lo + s_lo) * (V(T(1)) + z) + hi * (z * horner(z, c));
  // e ln2 + hi + lo, with e * ln2_hi exact.
  const auto [sum, sum_lo] = two_sum(e * V(Ln2<T>::hi), hi);
  const V tail = sum_lo + lo + e * V(Ln2<T>::lo);
  const V result = sum + tail;
  return {result, tail - (result - sum)};
}

// log2 and log1p carry log(x) in two terms (double; float computes in double), which keeps
// them within about 0.6 ulp.
template <class V>
HCI_ALWAYS_INLINE V log2(const V& x) {
  using T = scalar_t<V>;
  if constexpr (sizeof(T) == 4) {
    return narrow<V>(log2(widen(x)));
  } else {
    const auto ordinary = (x > V(0.0)) & (x < infinity<V>());
    const auto [lh, ll] = log_extended(select(ordinary, x, V(1.0)));
    // log2(e) = 1.4426950408889634 + 2.0355273740931033e-17
    const auto [p, p_lo] = two_prod(lh, V(1.4426950408889634));
    return log_special(x, p + (p_lo + (lh * V(2.0355273740931033e-17) + ll * V(1.4426950408889634))));
  }
}

// log(1 + x), accurate near zero: log(u) for u = 1 + x rounded, plus the rounding's share
// (x - (u - 1)) / u.
template <class V>
HCI_ALWAYS_INLINE V log1p(const V& x) {
  using T = scalar_t<V>;
  if constexpr (sizeof(T) == 4) {
    return narrow<V>(log1p(widen(x)));
  } else {
    const V u = x + V(1.0);
    const auto ordinary = (u > V(0.0)) & (u < infinity<V>());
    const auto [lh, ll] = log_extended(select(ordinary, u, V(1.0)));
    const V correction = (x - (u - V(1.0))) / u;
    const V result = select(u == V(1.0), x, lh + (ll + correction));
    return select(ordinary | (u == V(1.0)), result, log_special(u, x));
  }
}

template <class V>
HCI_ALWAYS_INLINE V tanh(const V& x) {
  using T = scalar_t<V>;
  const V a = abs_(x);
  const V em = expm1(a + a);
  V t = em / (em + V(T(2)));
  t = select(a > V(sizeof(T) == 4 ? T(9) : T(19.5)), V(T(1)), t);
  return copysign_(t, x);
}

template <class V>
HCI_ALWAYS_INLINE V sigmoid(const V& x) {
  using T = scalar_t<V>;
  return V(T(1)) / (V(T(1)) + exp(-x));
}

// x * sigmoid(x), written as PyTorch's x / (1 + e^-x).
template <class V>
HCI_ALWAYS_INLINE V silu(const V& x) {
  using T = scalar_t<V>;
  return x / (V(T(1)) + exp(-x));
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
