// The generic math library (hci::math) against long double references, and the tensor path against it.
#include <hci/hci.hpp>
#include <hci/math.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

enum class Fn { Exp, Expm1, Log, Tanh, Sigmoid, Exp2, Log2, Log1p, Sin, Cos, Tan, Erf };
constexpr Fn kAllFns[] = {Fn::Exp,  Fn::Expm1, Fn::Log, Fn::Tanh, Fn::Sigmoid, Fn::Exp2,
                          Fn::Log2, Fn::Log1p, Fn::Sin, Fn::Cos,  Fn::Tan,     Fn::Erf};

const char* name(Fn f) {
  switch (f) {
    case Fn::Exp: return "exp";
    case Fn::Expm1: return "expm1";
    case Fn::Log: return "log";
    case Fn::Tanh: return "tanh";
    case Fn::Sigmoid: return "sigmoid";
    case Fn::Exp2: return "exp2";
    case Fn::Log2: return "log2";
    case Fn::Log1p: return "log1p";
    case Fn::Sin: return "sin";
    case Fn::Cos: return "cos";
    case Fn::Tan: return "tan";
    case Fn::Erf: return "erf";
  }
  return "?";
}

// Trig functions as executors run them: the generic function, and the large-argument reduction
// for the elements that need it.
template <hci::math::TrigFn F, class T>
T trig(T x) {
  return hci::math::needs_large_reduction(x) ? hci::math::trig_large<F>(x) : hci::math::trig<F>(x);
}

template <class T>
T call(Fn f, T x) {
  using hci::math::TrigFn;
  switch (f) {
    case Fn::Exp: return hci::math::exp(x);
    case Fn::Expm1: return hci::math::expm1(x);
    case Fn::Log: return hci::math::log(x);
    case Fn::Tanh: return hci::math::tanh(x);
    case Fn::Sigmoid: return hci::math::sigmoid(x);
    case Fn::Exp2: return hci::math::exp2(x);
    case Fn::Log2: return hci::math::log2(x);
    case Fn::Log1p: return hci::math::log1p(x);
    case Fn::Sin: return trig<TrigFn::Sin>(x);
    case Fn::Cos: return trig<TrigFn::Cos>(x);
    case Fn::Tan: return trig<TrigFn::Tan>(x);
    case Fn::Erf: return hci::math::erf(x);
  }
  return x;
}

// glibc's long double functions: 11 more bits than double, so their own error is a few
// thousandths of a double ulp at most.
long double reference(Fn f, long double x) {
  switch (f) {
    case Fn::Exp: return std::exp(x);
    case Fn::Expm1: return std::expm1(x);
    case Fn::Log: return std::log(x);
    case Fn::Tanh: return std::tanh(x);
    case Fn::Sigmoid: return 1.0L / (1.0L + std::exp(-x));
    case Fn::Exp2: return std::exp2(x);
    case Fn::Log2: return std::log2(x);
    case Fn::Log1p: return std::log1p(x);
    case Fn::Sin: return std::sin(x);
    case Fn::Cos: return std::cos(x);
    case Fn::Tan: return std::tan(x);
    case Fn::Erf: return std::erf(x);
  }
  return x;
}

// The spacing of T's values at `exact` (fixed below the smallest normal: subnormal results
// are measured in units of the smallest subnormal).
template <class T>
long double ulp_at(long double exact) {
  constexpr int digits = std::numeric_limits<T>::digits;
  constexpr int min_exponent = std::numeric_limits<T>::min_exponent - 1;
  const int e = exact == 0 ? min_exponent : std::max(std::ilogb(exact), min_exponent);
  return std::ldexp(1.0L, e - (digits - 1));
}

// |got - exact| in ulps of T at the exact value. Overflow is all or nothing: `got` must be
// infinite exactly when the correctly rounded result is.
template <class T>
double ulp_error(T got, long double exact) {
  constexpr double kWrong = std::numeric_limits<double>::infinity();
  if (std::isnan(got) || std::isnan(exact)) return std::isnan(got) && std::isnan(exact) ? 0 : kWrong;
  const T rounded = static_cast<T>(exact);
  if (std::isinf(rounded) || std::isinf(got)) return got == rounded ? 0 : kWrong;
  return double(std::fabs(static_cast<long double>(got) - exact) / ulp_at<T>(exact));
}

template <class T>
struct MaxError {
  double ulps = 0;
  T at = 0;
  size_t count = 0;
  void add(T x, T got, long double exact) {
    const double e = ulp_error(got, exact);
    ++count;
    if (!(e <= ulps)) {
      ulps = e;
      at = x;
    }
  }
};

// n values evenly spaced in [lo, hi].
template <class T>
void add_grid(std::vector<T>& out, long double lo, long double hi, int n) {
  for (int i = 0; i < n; ++i) out.push_back(T(lo + (hi - lo) * i / (n - 1)));
}

// n values evenly spaced in bit pattern between two same-sign values: every binade gets
// its share, so this sweeps magnitudes logarithmically (subnormals included).
template <class T>
void add_bit_sweep(std::vector<T>& out, T a, T b, int n) {
  using Bits = typename hci::math::FloatTraits<T>::Bits;
  const Bits lo = std::min(std::bit_cast<Bits>(a), std::bit_cast<Bits>(b));
  const Bits hi = std::max(std::bit_cast<Bits>(a), std::bit_cast<Bits>(b));
  for (int i = 0; i < n; ++i) out.push_back(std::bit_cast<T>(Bits(lo + (hi - lo) / (n - 1) * i)));
}

// Every value of T in [lo, hi], for ranges where an exhaustive check is affordable.
template <class T>
void add_all(std::vector<T>& out, T lo, T hi) {
  for (T x = lo; x <= hi; x = std::nextafter(x, std::numeric_limits<T>::infinity())) out.push_back(x);
}

// k values of T on either side of x, and x.
template <class T>
void add_around(std::vector<T>& out, T x, int k) {
  T down = x, up = x;
  out.push_back(x);
  for (int i = 0; i < k; ++i) {
    down = std::nextafter(down, -std::numeric_limits<T>::infinity());
    up = std::nextafter(up, std::numeric_limits<T>::infinity());
    out.push_back(down);
    out.push_back(up);
  }
}

template <class T>
void add_random(std::vector<T>& out, T lo, T hi, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<T> dist(lo, hi);
  for (int i = 0; i < n; ++i) out.push_back(dist(rng));
}

// The inputs each accuracy check runs over: dense grids and logarithmic sweeps of the range
// where the function's result is neither saturated nor trivially exact, random samples, the
// points where an implementation switches method, and the worst inputs found by exhaustive
// (float) or long random (double) searches while these bounds were measured.
template <class T>
std::vector<T> inputs(Fn f) {
  constexpr bool single = sizeof(T) == 4;
  const int n = single ? 100000 : 60000;
  const T tiny = T(single ? 1e-30 : 1e-300);
  std::vector<T> x;
  switch (f) {
    case Fn::Exp: {
      const T lo = single ? T(-104) : T(-746), hi = single ? T(89) : T(710);
      add_grid(x, lo, hi, 2 * n);
      add_bit_sweep(x, lo, -tiny, n);
      add_bit_sweep(x, tiny, hi, n);
      add_grid(x, T(-1), T(1), n);
      add_random(x, lo, hi, n, 1);
      // Subnormal results: every float in a stretch of them, the double range sampled.
      if constexpr (single)
        add_all(x, T(-100.5), T(-99.5));
      else
        add_grid(x, T(-745.2), T(-708.3), n);
      // Either side of the last finite and the last nonzero result, and out past the bounds the
      // argument is clamped to, where results must come out infinite or zero.
      add_around(x, single ? T(88.72283935546875) : T(709.782712893384), 2000);
      add_around(x, single ? T(-103.97208404541016) : T(-745.1332191019412), 2000);
      add_grid(x, single ? T(-130) : T(-820), lo, n / 10);
      add_grid(x, hi, single ? T(110) : T(770), n / 10);
      if constexpr (single)
        x.insert(x.end(), {-59.9542465f, -5.89075232f, 4.50562525f, 26.68647f});
      else
        x.insert(x.end(), {3.8129558065786568, 3.8134925333626093, 660.9170875560319});
      break;
    }
    case Fn::Expm1: {
      const T hi = single ? T(89) : T(710);
      add_grid(x, T(-30), hi, n);
      add_grid(x, T(-1), T(1), 2 * n);  // where the result is not close to exp(x) or -1
      add_bit_sweep(x, T(-30), -tiny, n);
      add_bit_sweep(x, tiny, hi, n);
      add_around(x, T(0.34657359027997264), 1000);  // the switch from the series to exp(x) - 1
      add_around(x, T(-0.34657359027997264), 1000);
      if constexpr (single)
        x.insert(x.end(), {0.346742153f, 0.351629525f, -0.348989189f});
      else
        x.insert(x.end(), {0.360058127624512, 0.36984788772692934, -0.34700761388002938});
      break;
    }
    case Fn::Log: {
      add_bit_sweep(x, std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::max(), 3 * n);
      add_grid(x, T(0.5), T(2), n);
      add_random(x, T(0), T(1e6), n, 2);
      // Around 1, where log(x) is small and errors in x - 1 would show.
      if constexpr (single)
        add_all(x, T(0.995), T(1.01));
      else
        add_grid(x, T(0.99), T(1.01), 2 * n);
      add_around(x, T(1.4142135623730951), 1000);  // the mantissa range switch
      if constexpr (single)
        x.insert(x.end(), {1.00386178f, 1.47286248f});
      else
        x.insert(x.end(), {1.0009769069818517, 1.000121856078976, 1.0157317329248017});
      break;
    }
    case Fn::Tanh: {
      add_grid(x, T(-10), T(10), 2 * n);
      add_bit_sweep(x, T(-25), -tiny, n);
      add_bit_sweep(x, tiny, T(25), n);
      add_random(x, T(-3), T(3), n, 3);
      add_around(x, T(9), 1000);  // the float cut-off to +-1
      add_around(x, T(-19.5), 1000);
      if constexpr (single)
        x.insert(x.end(), {0.173381105f, 0.173403859f});
      else
        x.insert(x.end(), {0.1788715346933486, 0.18195685921453791});
      break;
    }
    case Fn::Sigmoid: {
      // Down to where exp(-x) still fits in T (see the test on the far negative tail).
      const T lo = single ? T(-88.72) : T(-709.78);
      add_grid(x, lo, T(40), 2 * n);
      add_bit_sweep(x, lo, -tiny, n);
      add_bit_sweep(x, tiny, T(40), n);
      add_random(x, T(-20), T(20), n, 4);
      if constexpr (single)
        x.insert(x.end(), {-16.635704f, -16.6362438f, 7.85921097f});
      else
        x.insert(x.end(), {-36.741105909948892, -36.738806012922346});
      break;
    }
    case Fn::Exp2: {
      const T lo = single ? T(-151) : T(-1076), hi = single ? T(129) : T(1025);
      add_grid(x, lo, hi, 2 * n);
      add_bit_sweep(x, lo, -tiny, n);
      add_bit_sweep(x, tiny, hi, n);
      add_grid(x, T(-1), T(1), n);
      break;
    }
    case Fn::Log2:
      add_bit_sweep(x, std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::max(), 3 * n);
      add_grid(x, T(0.5), T(2), n);
      add_random(x, T(0), T(1e6), n, 5);
      break;
    case Fn::Log1p:
      add_bit_sweep(x, T(-1), -std::numeric_limits<T>::denorm_min(), 2 * n);
      add_bit_sweep(x, std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::max(), 2 * n);
      add_grid(x, T(-0.99), T(3), n);
      break;
    case Fn::Sin:
    case Fn::Cos:
    case Fn::Tan: {
      const T huge = single ? T(3e38) : T(1e308);
      add_grid(x, T(-10), T(10), 2 * n);
      add_bit_sweep(x, tiny, huge, 2 * n);
      add_bit_sweep(x, -huge, -tiny, n);
      add_random(x, T(-2e6), T(2e6), n, 6);
      for (int k = 1; k < 2000; k += 7) add_around(x, T(k * 1.5707963267948966), 20);  // results near 0
      add_around(x, T(hci::math::kMediumLimit), 100);                           // the switch to the large reduction
      if constexpr (!single) x.push_back(std::ldexp(6381956970095103.0, 797));  // closest to a multiple of pi/2
      break;
    }
    case Fn::Erf:
      add_grid(x, T(-7), T(7), 2 * n);
      add_bit_sweep(x, tiny, T(7), n);
      for (T edge : {T(1), T(2), T(3.5), T(6)}) add_around(x, edge, 1000);  // the switches between fits
      break;
  }
  return x;
}

template <class T>
MaxError<T> measure(Fn f, const std::vector<T>& x) {
  MaxError<T> e;
  for (T v : x) e.add(v, call(f, v), reference(f, v));
  return e;
}

// The bounds asserted, in ulps: the measured maxima rounded up a little. Float maxima are
// exhaustive over every float of each function's useful range (exp 1.24, expm1 4.26, log 1.97,
// tanh 3.29, sigmoid 2.48); double maxima come from about 10^8 random samples concentrated
// where the float errors peak (exp 1.18, expm1 4.49, log 2.00, tanh 3.45, sigmoid 2.46), so
// their bounds keep a slightly wider margin. The largest errors come from exp(x) - 1 just
// above ln2/2 in expm1 (cancellation), the rounding of s = (m - 1) / (m + 1) in log near 1,
// and the division of two rounded terms in tanh and sigmoid.
template <class T>
double bound(Fn f) {
  constexpr bool single = sizeof(T) == 4;
  switch (f) {
    case Fn::Exp: return 1.25;
    case Fn::Expm1: return single ? 4.35 : 4.6;
    case Fn::Log: return single ? 2.0 : 2.1;
    case Fn::Tanh: return single ? 3.4 : 3.5;
    case Fn::Sigmoid: return 2.5;
    case Fn::Exp2: return single ? 1.15 : 1.1;
    // Float log2, log1p, trig and erf compute in double: correctly rounded but for double rounding.
    case Fn::Log2: return single ? 0.51 : 0.6;
    case Fn::Log1p: return single ? 0.51 : 0.9;
    case Fn::Sin:
    case Fn::Cos: return single ? 0.51 : 1.4;
    case Fn::Tan: return single ? 0.51 : 2.55;
    case Fn::Erf: return single ? 0.51 : 1.65;
  }
  return 0;
}

template <class T>
void check_accuracy() {
  for (Fn f : kAllFns) {
    const std::vector<T> x = inputs<T>(f);
    const MaxError<T> e = measure(f, x);
    INFO(name(f) << (sizeof(T) == 4 ? " float" : " double") << ": max error " << e.ulps << " ulp at " << std::hexfloat
                 << e.at << std::defaultfloat << " (" << e.at << ") over " << e.count << " inputs");
    CHECK(e.ulps <= bound<T>(f));
  }
}

template <class T>
bool same_bits(T a, T b) {
  return std::bit_cast<typename hci::math::FloatTraits<T>::Bits>(a) ==
         std::bit_cast<typename hci::math::FloatTraits<T>::Bits>(b);
}

template <class T>
bool is_negative_zero(T x) {
  return x == 0 && std::signbit(x);
}
template <class T>
bool is_positive_zero(T x) {
  return x == 0 && !std::signbit(x);
}

}  // namespace

TEST_CASE("math functions are accurate to a few ulps in float", "[math][accuracy]") { check_accuracy<float>(); }

TEST_CASE("math functions are accurate to a few ulps in double", "[math][accuracy]") { check_accuracy<double>(); }

TEMPLATE_TEST_CASE("math functions propagate NaN and handle infinities and zeros", "[math][special]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T neg_nan = -nan;
  for (Fn f : kAllFns) {
    INFO(name(f));
    CHECK(std::isnan(call(f, nan)));
    CHECK(std::isnan(call(f, neg_nan)));
  }

  CHECK(hci::math::exp(inf) == inf);
  CHECK(is_positive_zero(hci::math::exp(-inf)));
  CHECK(hci::math::exp(T(0)) == T(1));
  CHECK(hci::math::exp(-T(0)) == T(1));
  CHECK(ulp_error(hci::math::exp(T(1)), std::exp(1.0L)) <= bound<T>(Fn::Exp));

  CHECK(hci::math::expm1(inf) == inf);
  CHECK(hci::math::expm1(-inf) == T(-1));
  CHECK(is_positive_zero(hci::math::expm1(T(0))));
  CHECK(is_negative_zero(hci::math::expm1(-T(0))));
  CHECK(hci::math::expm1(T(-200)) == T(-1));
  // Tiny arguments: expm1(x) = x to within rounding (the reason expm1 exists).
  const T tiny = std::numeric_limits<T>::min() * T(4);
  CHECK(hci::math::expm1(tiny) == tiny);
  CHECK(hci::math::expm1(-tiny) == -tiny);

  CHECK(hci::math::log(inf) == inf);
  CHECK(hci::math::log(T(0)) == -inf);
  CHECK(hci::math::log(-T(0)) == -inf);  // IEEE 754: log(-0) is -inf, not NaN
  CHECK(is_positive_zero(hci::math::log(T(1))));
  CHECK(std::isnan(hci::math::log(T(-1))));
  CHECK(std::isnan(hci::math::log(-std::numeric_limits<T>::denorm_min())));
  CHECK(std::isnan(hci::math::log(-inf)));
  CHECK(std::isnan(hci::math::log(-std::numeric_limits<T>::max())));

  CHECK(is_positive_zero(hci::math::tanh(T(0))));
  CHECK(is_negative_zero(hci::math::tanh(-T(0))));
  // 1 - tanh(x) is about 2 e^(-2x): below half an ulp of 1 from x = 9.01 (float), 19.06 (double).
  const T saturated = sizeof(T) == 4 ? T(9.02) : T(19.1);
  for (T big : {saturated, T(20), T(50), T(1e6), std::numeric_limits<T>::max(), inf}) {
    INFO("tanh(+-" << big << ")");
    CHECK(hci::math::tanh(big) == T(1));
    CHECK(hci::math::tanh(-big) == T(-1));
  }
  // Subnormal and tiny arguments: tanh(x) = x.
  for (T small : {std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::min(), T(1e-20)}) {
    CHECK(hci::math::tanh(small) == small);
    CHECK(hci::math::tanh(-small) == -small);
  }

  CHECK(hci::math::sigmoid(T(0)) == T(0.5));
  CHECK(hci::math::sigmoid(-T(0)) == T(0.5));
  CHECK(hci::math::sigmoid(inf) == T(1));
  CHECK(is_positive_zero(hci::math::sigmoid(-inf)));
  CHECK(hci::math::sigmoid(T(100)) == T(1));
}

TEST_CASE("exp overflows and underflows at the float thresholds", "[math][special]") {
  // The largest float whose exp rounds to a finite value, found from the reference.
  float x_max = 88.0f;
  while (std::isfinite(float(std::exp(static_cast<long double>(std::nextafter(x_max, 100.0f))))))
    x_max = std::nextafter(x_max, 100.0f);
  INFO("largest float with a finite exp: " << std::hexfloat << x_max);
  CHECK(std::isfinite(hci::math::exp(x_max)));
  CHECK(hci::math::exp(x_max) > FLT_MAX / 2);
  CHECK(std::isinf(hci::math::exp(std::nextafter(x_max, 100.0f))));
  CHECK(std::isfinite(hci::math::exp(88.72f)));
  CHECK(std::isinf(hci::math::exp(89.0f)));
  CHECK(std::isinf(hci::math::exp(1e30f)));

  // e^-104 is below half the smallest subnormal: zero. e^-100 is about 26.5 subnormal ulps.
  CHECK(is_positive_zero(hci::math::exp(-104.0f)));
  CHECK(is_positive_zero(hci::math::exp(-1e30f)));
  const float e100 = hci::math::exp(-100.0f);
  CHECK(std::fpclassify(e100) == FP_SUBNORMAL);
  CHECK(ulp_error(e100, std::exp(-100.0L)) <= 0.5);  // correctly rounded here
  // Every float from -104 to the smallest normal result: subnormal results are within one ulp.
  std::vector<float> x;
  add_all(x, -104.0f, -87.0f);
  const MaxError<float> e = measure(Fn::Exp, x);
  INFO("max error " << e.ulps << " at " << e.at);
  CHECK(e.ulps <= 1.0);
}

TEST_CASE("exp overflows and underflows at the double thresholds", "[math][special]") {
  CHECK(std::isfinite(hci::math::exp(709.78)));
  CHECK(std::isinf(hci::math::exp(709.79)));
  CHECK(is_positive_zero(hci::math::exp(-745.2)));
  CHECK(hci::math::exp(-745.0) > 0);  // e^-745 is 0.57 of the smallest subnormal
  CHECK(std::fpclassify(hci::math::exp(-710.0)) == FP_SUBNORMAL);
  std::vector<double> x;
  add_around(x, 709.782712893384, 2000);    // ln(DBL_MAX)
  add_around(x, -708.3964185322641, 2000);  // ln(DBL_MIN): where results turn subnormal
  add_around(x, -744.4400719213812, 2000);  // ln(denorm_min)
  add_around(x, -745.1332191019411, 2000);  // ln(denorm_min / 2): where results round to 0
  const MaxError<double> e = measure(Fn::Exp, x);
  INFO("max error " << e.ulps << " at " << std::hexfloat << e.at);
  CHECK(e.ulps <= bound<double>(Fn::Exp));
}

TEMPLATE_TEST_CASE("fmod and remainder are exact for any pair of exponents", "[math][special]", float, double) {
  // Random bit patterns cover quotients from 0 to 2^2000; glibc's fmod is exact.
  using T = TestType;
  using Bits = typename hci::math::FloatTraits<T>::Bits;
  std::mt19937_64 rng(7);
  size_t wrong = 0;
  for (int i = 0; i < 200000; ++i) {
    const T x = std::bit_cast<T>(Bits(rng())), y = std::bit_cast<T>(Bits(rng()));
    const T got = hci::math::fmod(x, y), want = std::fmod(x, y);
    if (!(same_bits(got, want) || (std::isnan(got) && std::isnan(want)))) {
      if (wrong++ == 0) FAIL_CHECK("fmod(" << std::hexfloat << x << ", " << y << ") = " << got << ", want " << want);
    }
    const T r = hci::math::remainder(x, y);
    if (!std::isnan(want) && want != 0 && (want < 0) != (y < 0)) CHECK(r == T(want + y));
  }
  CHECK(wrong == 0);
  CHECK(hci::math::remainder(T(-5), T(3)) == T(1));
  CHECK(hci::math::remainder(T(5), T(-3)) == T(-1));
  CHECK(std::isnan(hci::math::fmod(T(1), T(0))));
  CHECK(hci::math::fmod(T(-7), std::numeric_limits<T>::infinity()) == T(-7));
}

TEMPLATE_TEST_CASE("pow is accurate and follows C's special cases", "[math][special]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<double> base(0, 50), exponent(-40, 40);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const T x = T(base(rng)), y = T(exponent(rng));
    worst = std::max(worst, ulp_error(hci::math::pow(x, y), std::pow(static_cast<long double>(x), (long double)y)));
  }
  INFO("max error " << worst << " ulp");
  CHECK(worst <= (sizeof(T) == 4 ? 0.51 : 1.5));
  // Integer powers that are exact come out exact.
  for (int b = -9; b <= 9; ++b)
    for (int e = 0; e <= (sizeof(T) == 4 ? 7 : 15); ++e)
      CHECK(hci::math::pow(T(b), T(e)) == T(std::pow(double(b), double(e))));
  CHECK(hci::math::pow(T(10), T(-2)) == T(0.01));
  // Annex F: these hold for NaN operands too.
  CHECK(hci::math::pow(nan, T(0)) == T(1));
  CHECK(hci::math::pow(T(1), nan) == T(1));
  CHECK(hci::math::pow(T(-1), inf) == T(1));
  CHECK(std::isnan(hci::math::pow(T(-8), T(1) / T(3))));
  CHECK(is_negative_zero(hci::math::pow(-T(0), T(3))));
  CHECK(hci::math::pow(-T(0), T(-3)) == -inf);
  CHECK(hci::math::pow(-T(0), T(-2)) == inf);
  CHECK(hci::math::pow(-inf, T(3)) == -inf);
  CHECK(is_negative_zero(hci::math::pow(-inf, T(-3))));
  CHECK(hci::math::pow(T(0.5), inf) == T(0));
  CHECK(hci::math::pow(T(0.5), -inf) == inf);
  CHECK(hci::math::pow(T(2), T(1e6)) == inf);
  CHECK(hci::math::pow(T(2), T(-1e6)) == T(0));
}

TEMPLATE_TEST_CASE("rounding to integers is exact and keeps the sign", "[math][special]", float, double) {
  using T = TestType;
  using Bits = typename hci::math::FloatTraits<T>::Bits;
  std::mt19937_64 rng(9);
  for (int i = 0; i < 100000; ++i) {
    const T x = std::bit_cast<T>(Bits(rng()));
    if (std::isnan(x)) continue;
    INFO(std::hexfloat << x);
    REQUIRE(same_bits(hci::math::floor_(x), std::floor(x)));
    REQUIRE(same_bits(hci::math::ceil_(x), std::ceil(x)));
    REQUIRE(same_bits(hci::math::trunc_(x), std::trunc(x)));
    REQUIRE(same_bits(hci::math::round_half_even(x), std::nearbyint(x)));
  }
  for (T x : {T(0.5), T(1.5), T(2.5), T(-0.5), T(-2.5), T(4194304.5), T(-0.3), T(0.49999997)}) {
    INFO(x);
    CHECK(same_bits(hci::math::round_half_even(x), std::nearbyint(x)));
    CHECK(same_bits(hci::math::floor_(x), std::floor(x)));
    CHECK(same_bits(hci::math::ceil_(x), std::ceil(x)));
  }
}

TEMPLATE_TEST_CASE("log of subnormals is accurate", "[math][special]", float, double) {
  using T = TestType;
  std::vector<T> x;
  add_bit_sweep(x, std::numeric_limits<T>::denorm_min(), std::numeric_limits<T>::min(), 100000);
  add_around(x, std::numeric_limits<T>::min(), 100);
  const MaxError<T> e = measure(Fn::Log, x);
  INFO("max error " << e.ulps << " at " << e.at);
  CHECK(e.ulps <= bound<T>(Fn::Log));
  CHECK(hci::math::log(std::numeric_limits<T>::denorm_min()) ==
        T(std::log(static_cast<long double>(std::numeric_limits<T>::denorm_min()))));
}

TEMPLATE_TEST_CASE("sigmoid of large negative arguments underflows to zero as PyTorch's does", "[math][special]", float,
                   double) {
  // Below -ln(max) exp(-x) overflows, so 1 / (1 + exp(-x)) is 0 although e^x would still be
  // a subnormal. PyTorch's CPU sigmoid behaves the same (torch.sigmoid(tensor(-100.)) is 0);
  // the absolute error stays below the smallest normal.
  using T = TestType;
  std::vector<T> x;
  add_grid(x, sizeof(T) == 4 ? T(-110) : T(-750), sizeof(T) == 4 ? T(-85) : T(-700), 20000);
  for (T v : x) {
    const T got = hci::math::sigmoid(v);
    if (!(got >= 0 &&
          std::fabs(static_cast<long double>(got) - reference(Fn::Sigmoid, v)) < std::numeric_limits<T>::min())) {
      FAIL_CHECK("sigmoid(" << v << ") = " << got);
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The tensor path: the interpreter must compute exactly what hci::math computes, bit for bit,
// so that the JIT (which traces the same hci::math code) can be held to the same results.

namespace {

hci::Tensor call_tensor(Fn f, const hci::Tensor& x) {
  switch (f) {
    case Fn::Exp: return hci::exp(x);
    case Fn::Expm1: return hci::expm1(x);
    case Fn::Log: return hci::log(x);
    case Fn::Tanh: return hci::tanh(x);
    case Fn::Sigmoid: return hci::sigmoid(x);
    case Fn::Exp2: return hci::exp2(x);
    case Fn::Log2: return hci::log2(x);
    case Fn::Log1p: return hci::log1p(x);
    case Fn::Sin: return hci::sin(x);
    case Fn::Cos: return hci::cos(x);
    case Fn::Tan: return hci::tan(x);
    case Fn::Erf: return hci::erf(x);
  }
  FAIL("no tensor op for " << name(f));
  return x;
}

// Inputs for the agreement checks: the accuracy inputs of f plus every special value.
template <class T>
std::vector<T> agreement_inputs(Fn f) {
  std::vector<T> x = inputs<T>(f);
  using L = std::numeric_limits<T>;
  for (T v : {T(0), L::infinity(), L::quiet_NaN(), L::denorm_min(), L::min(), L::max(), T(1), T(-1), T(1e-30), T(88.72),
              T(89), T(-104), T(-100), T(709.78), T(-745.2), T(9), T(19.5)}) {
    x.push_back(v);
    x.push_back(-v);
  }
  // A NaN with a payload: exp passes its argument's NaN through.
  x.push_back(
      std::bit_cast<T>(typename hci::math::FloatTraits<T>::Bits(sizeof(T) == 4 ? 0x7fc12345 : 0x7ff8123456789abcLL)));
  return x;
}

template <class T>
void check_tensor_agreement() {
  for (Fn f : kAllFns) {
    INFO(name(f) << (sizeof(T) == 4 ? " float32" : " float64"));
    const std::vector<T> x = agreement_inputs<T>(f);
    const std::vector<T> got = call_tensor(f, hci::from_vector(x)).template to_vector<T>();
    REQUIRE(got.size() == x.size());
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!same_bits(got[i], call(f, x[i])) && mismatches++ == 0) first = i;
    }
    INFO(mismatches << " of " << x.size() << " differ; first at x = " << std::hexfloat << x[first] << ": tensor "
                    << got[first] << ", hci::math " << call(f, x[first]));
    CHECK(mismatches == 0);
  }
}

}  // namespace

TEST_CASE("tensor math functions are bit-identical to hci::math in float32", "[math][tensor]") {
  check_tensor_agreement<float>();
}

TEST_CASE("tensor math functions are bit-identical to hci::math in float64", "[math][tensor]") {
  check_tensor_agreement<double>();
}

TEST_CASE("fused chains and strided inputs agree with hci::math bit for bit", "[math][tensor]") {
  // A chain of elementwise ops runs as one kernel, chunk by chunk on several threads; a strided
  // view is read through index arithmetic. Neither may change a bit.
  std::vector<float> x;
  add_grid(x, -30.0L, 30.0L, 200001);
  const hci::Tensor t = hci::from_vector(x);
  const std::vector<float> chain = hci::sigmoid(hci::tanh(hci::exp(hci::log(hci::exp(t))))).to_vector<float>();
  size_t mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = hci::math::sigmoid(hci::math::tanh(hci::math::exp(hci::math::log(hci::math::exp(x[i])))));
    mismatches += !same_bits(chain[i], want);
  }
  CHECK(mismatches == 0);

  // Every other element of a 2-D view, transposed.
  const hci::Tensor grid = t.narrow(0, 0, 200000).reshape({400, 500});
  const hci::Tensor view = grid.slice(1, 0, std::nullopt, 2).t();
  REQUIRE(!view.is_contiguous());
  const std::vector<float> strided = hci::tanh(view).to_vector<float>();
  mismatches = 0;
  for (int64_t j = 0; j < 250; ++j)
    for (int64_t i = 0; i < 400; ++i)
      mismatches += !same_bits(strided[size_t(j * 400 + i)], hci::math::tanh(x[size_t(i * 500 + 2 * j)]));
  CHECK(mismatches == 0);
}

TEST_CASE("float16, bfloat16 and integer tensors compute in float32 and round once", "[math][tensor]") {
  // Eager PyTorch's rule: a half-precision op computes in float and rounds its result. Checked
  // over every float16 and bfloat16 bit pattern.
  std::vector<hci::Half> halves;
  std::vector<hci::BFloat16> bf16s;
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    halves.push_back(hci::Half::from_bits(uint16_t(b)));
    bf16s.push_back(hci::BFloat16::from_bits(uint16_t(b)));
  }
  const hci::Tensor h = hci::from_vector(halves), bf = hci::from_vector(bf16s);
  for (Fn f : kAllFns) {
    INFO(name(f));
    const hci::Tensor rh = call_tensor(f, h), rb = call_tensor(f, bf);
    CHECK(rh.dtype() == hci::kFloat16);
    CHECK(rb.dtype() == hci::kBFloat16);
    const std::vector<hci::Half> got_h = rh.to_vector<hci::Half>();
    const std::vector<hci::BFloat16> got_b = rb.to_vector<hci::BFloat16>();
    size_t mismatches = 0;
    for (size_t i = 0; i < halves.size(); ++i) {
      const float want_h = call(f, float(halves[i])), want_b = call(f, float(bf16s[i]));
      // NaN payloads are free; anything else must be the rounding of the float result.
      const bool ok_h = std::isnan(want_h) ? std::isnan(float(got_h[i])) : got_h[i].bits == hci::Half(want_h).bits;
      const bool ok_b = std::isnan(want_b) ? std::isnan(float(got_b[i])) : got_b[i].bits == hci::BFloat16(want_b).bits;
      mismatches += !ok_h + !ok_b;
    }
    CHECK(mismatches == 0);
  }

  const std::vector<int32_t> ints = {-100, -5, -1, 0, 1, 2, 7, 88, 89, 1000};
  const std::vector<float> got = hci::exp(hci::from_vector(ints)).to_vector<float>();
  for (size_t i = 0; i < ints.size(); ++i) {
    INFO("exp(" << ints[i] << ")");
    CHECK(same_bits(got[i], hci::math::exp(float(ints[i]))));
  }
}

TEST_CASE("the generic float16 and bfloat16 conversions equal the scalar ones bit for bit", "[math][half]") {
  namespace m = hci::math;
  namespace d = hci::detail;
  // Every 16-bit pattern both ways, and float bit patterns in steps of a prime (every exponent,
  // both signs, NaN payloads, and the rounding cases around each halfway point).
  size_t mismatches = 0;
  for (int32_t h = 0; h <= 0xffff; ++h) {
    const float want_h = d::half_bits_to_float(uint16_t(h)), want_b = d::bfloat16_bits_to_float(uint16_t(h));
    mismatches += std::bit_cast<uint32_t>(m::float16_bits_to_float<float>(h)) != std::bit_cast<uint32_t>(want_h);
    mismatches += std::bit_cast<uint32_t>(m::bfloat16_bits_to_float<float>(h)) != std::bit_cast<uint32_t>(want_b);
  }
  auto check = [&](uint32_t bits) {
    const float x = std::bit_cast<float>(bits);
    const uint16_t half = d::float_to_half_bits(x), bf16 = d::float_to_bfloat16_bits(x);
    mismatches += uint32_t(m::float_to_float16_bits(x)) != half;
    mismatches += uint32_t(m::float_to_bfloat16_bits(x)) != bf16;
    mismatches +=
        std::bit_cast<uint32_t>(m::round_to_float16(x)) != std::bit_cast<uint32_t>(d::half_bits_to_float(half));
    mismatches +=
        std::bit_cast<uint32_t>(m::round_to_bfloat16(x)) != std::bit_cast<uint32_t>(d::bfloat16_bits_to_float(bf16));
  };
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 1021) check(uint32_t(bits));
  for (uint32_t base : {0x38800000u, 0x33000000u, 0x477fe000u, 0x477ff000u, 0x7f7fffffu, 0x7f800000u, 0x7fffffffu})
    for (uint32_t delta = 0; delta < 0x4000; ++delta) {
      check(base - delta);
      check((base - delta) | 0x80000000u);
    }
  CHECK(mismatches == 0);
}

// Prints the measured maximum errors: `test_math "[.report]"`.
TEST_CASE("report the measured errors", "[.report]") {
  auto report = [](auto zero) {
    using T = decltype(zero);
    for (Fn f : kAllFns) {
      const MaxError<T> e = measure(f, inputs<T>(f));
      WARN(name(f) << (sizeof(T) == 4 ? " float " : " double") << ": " << e.ulps << " ulp at " << e.at << " ("
                   << e.count << " inputs; bound " << bound<T>(f) << ")");
    }
  };
  report(float{});
  report(double{});
}
