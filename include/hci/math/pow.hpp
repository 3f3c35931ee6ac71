// pow, and the remainders fmod (C's) and remainder (the divisor's sign, as Python's %).
#pragma once

#include <hci/math/exp_log.hpp>

#include <algorithm>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace math {

// x^y with C's special cases (pow(x, 0) = 1 and pow(1, y) = 1 even for NaN; a negative base
// needs an integer exponent; signed zeros and infinities as Annex F says). Double computes
// e^(y log|x|) with log|x| and the product carried in two terms, so large exponents keep their
// precision; float computes in double.
template <class V>
HCI_ALWAYS_INLINE V pow(const V& x, const V& y) {
  using T = scalar_t<V>;
  if constexpr (sizeof(T) == 4) {
    return narrow<V>(pow(widen(x), widen(y)));
  } else {
    const V one(1.0), zero(0.0), inf = infinity<V>();
    const V ax = abs_(x);
    const auto ordinary = (ax > zero) & (ax < inf);
    const auto [lh, ll] = log_extended(select(ordinary, ax, one));
    const auto [ph, ph_lo] = two_prod(y, lh);
    // Past exp's range ph alone decides, and its error terms may have overflowed.
    const V pl = select(abs_(ph) < V(1000.0), ph_lo + y * ll, zero);
    V r = exp_extended(ph, pl);
    const auto y_integer = floor_(y) == y;
    const auto y_odd = y_integer & (abs_(y) < V(0x1p53)) & (floor_(y * V(0.5)) * V(2.0) != y);
    r = select(ax == zero, select(y < zero, inf, zero), r);
    r = select(ax == inf, select(y < zero, zero, inf), r);
    r = select(y == inf, select(ax < one, zero, select(ax == one, one, inf)), r);
    r = select(y == -inf, select(ax < one, inf, select(ax == one, one, zero)), r);
    r = select((to_bits(x) < 0) & y_odd, -r, r);
    r = select((x < zero) & (x > -inf) & (abs_(y) < inf) & !y_integer, quiet_nan<V>(), r);
    r = select(is_nan(x) | is_nan(y), quiet_nan<V>(), r);
    return select((y == zero) | (x == one), one, r);
  }
}

// floor(log2(v)) for finite v > 0.
inline int exponent_of(double v) {
  const int biased = int((uint64_t(to_bits(v)) >> 52) & 0x7ff);
  return biased ? biased - 1023 : exponent_of(v * 0x1p54) - 54;
}

inline double ldexp_(double v, int k) {
  for (; k > 1000; k -= 1000) v *= 0x1p1000;
  return v * pow2_int(double(k));
}

// C's fmod: x - trunc(x / y) * y, exactly. Scalars only (a loop whose trip count depends on the
// exponents): each step removes up to 26 bits of the quotient, with the product formed exactly.
template <class T>
inline T fmod(T x, T y) {
  if constexpr (sizeof(T) == 4) {
    return T(fmod(double(x), double(y)));  // exact: the remainder is a float
  } else {
    if (is_nan(x) || is_nan(y) || !is_finite(x) || y == 0) return quiet_nan<T>();
    const T ay = abs_(y);
    T r = abs_(x);
    if (!(r >= ay)) return x;  // also for an infinite y
    while (r >= ay) {
      const T s = ldexp_(ay, std::max(0, exponent_of(r) - exponent_of(ay) - 26));  // r / s < 2^28
      const T q = trunc_(r / s);  // never too small; at most one too large
      // q * s = p + p_lo exactly; the product's halves are formed 2^64 lower, where splitting
      // a huge s cannot overflow.
      const T down = s > 0x1p900 ? 0x1p-64 : 1.0;
      const auto [p_down, p_lo_down] = two_prod(q, s * down);
      const T p = p_down / down, p_lo = p_lo_down / down;
      T rest = (r - p) - p_lo;  // exact: the true value is representable
      if (rest < 0) rest += s;
      r = rest;
    }
    return copysign_(r, x);
  }
}

// PyTorch's remainder for floats: fmod, moved to the divisor's sign.
template <class T>
inline T remainder(T x, T y) {
  T mod = fmod(x, y);
  if (mod != T(0) && ((y < T(0)) != (mod < T(0)))) mod += y;
  return mod;
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
