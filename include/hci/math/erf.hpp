// The error function and GELU.
#pragma once

#include <hci/math/coefficients.hpp>
#include <hci/math/exp_log.hpp>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

namespace math {

// e^(-a^2) without the rounding error of a^2 magnified by the exponential: a = ah + (a - ah)
// with ah's square exact, e^(-a^2) = e^(-ah^2) e^((ah - a)(ah + a)).
template <class V>
HCI_ALWAYS_INLINE V exp_minus_square(const V& a) {
  using T = scalar_t<V>;
  using B = typename FloatTraits<T>::Bits;
  constexpr int dropped = sizeof(T) == 4 ? 12 : 27;  // keeps half the significand's bits
  const V ah = from_bits<V>(to_bits(a) & ~((B(1) << dropped) - 1));
  return exp(-(ah * ah)) * exp((ah - a) * (ah + a));
}

// |x| < 1: x P(x^2). Beyond: 1 - e^(-x^2) Q(|x| - c) with Q fitted to erfc(x) e^(x^2) on a few
// intervals; erf rounds to +-1 past 6. Float computes in double.
template <class V>
HCI_ALWAYS_INLINE V erf(const V& x) {
  using T = scalar_t<V>;
  namespace k = coefficients;
  const V a = abs_(x);
  if constexpr (sizeof(T) == 4) return narrow<V>(erf(widen(x)));
  const V small = x * horner(x * x, k::kErfSmall);
  const V q = select(a < V(2.0), horner(a - V(1.5), k::kErfcScaled0),
                     select(a < V(3.5), horner(a - V(2.75), k::kErfcScaled1), horner(a - V(4.75), k::kErfcScaled2)));
  const V large = copysign_(V(1.0) - exp_minus_square(a) * q, x);
  const V result = select(a < V(1.0), small, select(a < V(6.0), large, copysign_(V(1.0), x)));
  return select(is_nan(x), x, result);
}

// GELU with the exact erf form, as PyTorch's default: x * 0.5 * (1 + erf(x / sqrt(2))).
template <class V>
HCI_ALWAYS_INLINE V gelu(const V& x) {
  using T = scalar_t<V>;
  return x * V(T(0.5)) * (V(T(1)) + erf(x * V(T(0.70710678118654752440))));
}

}  // namespace math

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
