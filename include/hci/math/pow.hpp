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

// floor(log2(v)) for a finite double v > 0 (subnormals too), as an integer of V's bits type.
template <class V>
HCI_ALWAYS_INLINE bits_t<V> exponent_of(const V& v) {
  using B = bits_t<V>;
  const B biased = to_bits(v) >> B(52);  // the sign bit is clear
  return select_bits<V>(biased == B(0), (to_bits(v * V(0x1p54)) >> B(52)) - B(1023 + 54), biased - B(1023));
}

// v * 2^k for 0 <= k <= 2100, rounded once.
template <class V>
HCI_ALWAYS_INLINE V ldexp_(const V& v, const bits_t<V>& k) {
  using B = bits_t<V>;
  V r = v;
  B n = k;
  for (int i = 0; i < 2; ++i) {
    const auto big = n > B(1000);
    r = select(big, r * V(0x1p1000), r);
    n = select_bits<V>(big, n - B(1000), n);
  }
  return r * from_bits<V>((n + B(1023)) << B(52));
}

// One step of C's fmod for finite doubles r >= ay > 0: up to 26 bits of the quotient r / ay
// removed, with the product formed exactly. The result is in [0, r), and below ay at last.
template <class V>
HCI_ALWAYS_INLINE V fmod_step(const V& r, const V& ay) {
  using B = bits_t<V>;
  const B shift = exponent_of(r) - exponent_of(ay) - B(26);
  const V s = ldexp_(ay, select_bits<V>(shift > B(0), shift, B(0)));  // r / s < 2^28
  const V q = trunc_(r / s);                                          // never too small; at most one too large
  // q * s = p + p_lo exactly; the product's halves are formed 2^64 lower, where splitting a huge
  // s cannot overflow.
  const V down = select(s > V(0x1p900), V(0x1p-64), V(1.0));
  const auto [p_down, p_lo_down] = two_prod(q, s * down);
  const V p = p_down / down, p_lo = p_lo_down / down;
  const V rest = (r - p) - p_lo;  // exact: the true value is representable
  return select(rest < V(0.0), rest + s, rest);
}

// Where fmod is NaN: a NaN operand, an infinite x, or y = 0.
template <class V>
HCI_ALWAYS_INLINE auto fmod_is_nan(const V& x, const V& y) {
  return is_nan(x) | is_nan(y) | !is_finite(x) | (y == V(scalar_t<V>(0)));
}

// C's fmod: x - trunc(x / y) * y, exactly. Scalars only: the loop's trip count depends on the
// exponents (vector executors run fmod_step while any lane needs it).
template <class T>
inline T fmod(T x, T y) {
  if constexpr (sizeof(T) == 4) {
    return T(fmod(double(x), double(y)));  // exact: the remainder is a float
  } else {
    if (fmod_is_nan(x, y)) return quiet_nan<T>();
    const T ay = abs_(y);
    T r = abs_(x);
    if (!(r >= ay)) return x;  // also for an infinite y
    while (r >= ay) r = fmod_step(r, ay);
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
