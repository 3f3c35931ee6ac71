// DType, Device, TensorOptions, Half/BFloat16 conversions, Scalar, type promotion and error messages.
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using Catch::Matchers::Contains;
using hci::DType;

// The message of the hci::Error that f throws; a failed check (and "") when it throws none.
// Other exception types escape and fail the test, which is what we want.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const hci::Error& e) {
    return e.what();
  }
  FAIL_CHECK("expected an hci::Error");
  return "";
}

constexpr DType kAllDTypes[] = {hci::kBool,  hci::kUInt8,   hci::kInt8,     hci::kInt16,   hci::kInt32,
                                hci::kInt64, hci::kFloat16, hci::kBFloat16, hci::kFloat32, hci::kFloat64};

}  // namespace

// ---------------------------------------------------------------------------------------------
// DType

TEST_CASE("dtype names, sizes and categories", "[dtype]") {
  // The expected properties are those of PyTorch's dtypes (torch.float16.is_signed etc.) and,
  // for sizes, of the C++ types the dtypes store.
  struct Expected {
    DType dtype;
    const char* name;
    size_t size;
    bool floating, integral, is_signed;
  };
  const Expected table[] = {
      {hci::kBool, "bool", sizeof(bool), false, false, false},
      {hci::kUInt8, "uint8", sizeof(uint8_t), false, true, false},
      {hci::kInt8, "int8", sizeof(int8_t), false, true, true},
      {hci::kInt16, "int16", sizeof(int16_t), false, true, true},
      {hci::kInt32, "int32", sizeof(int32_t), false, true, true},
      {hci::kInt64, "int64", sizeof(int64_t), false, true, true},
      {hci::kFloat16, "float16", 2, true, false, true},
      {hci::kBFloat16, "bfloat16", 2, true, false, true},
      {hci::kFloat32, "float32", sizeof(float), true, false, true},
      {hci::kFloat64, "float64", sizeof(double), true, false, true},
  };
  STATIC_REQUIRE(std::size(table) == hci::kNumDTypes);
  for (const Expected& e : table) {
    INFO(e.name);
    CHECK(hci::dtype_name(e.dtype) == e.name);
    CHECK(fmt::format("{}", e.dtype) == e.name);
    CHECK(hci::element_size(e.dtype) == e.size);
    CHECK(hci::is_floating_point(e.dtype) == e.floating);
    CHECK(hci::is_integral(e.dtype) == e.integral);
    // bool counts as integral only when asked, as c10::isIntegralType(t, includeBool).
    CHECK(hci::is_integral(e.dtype, true) == (e.integral || e.dtype == hci::kBool));
    CHECK(hci::is_signed(e.dtype) == e.is_signed);
  }
}

TEST_CASE("dtype_v maps each C++ element type to its dtype and visit_dtype maps back", "[dtype]") {
  STATIC_REQUIRE(hci::dtype_v<bool> == hci::kBool);
  STATIC_REQUIRE(hci::dtype_v<uint8_t> == hci::kUInt8);
  STATIC_REQUIRE(hci::dtype_v<int8_t> == hci::kInt8);
  STATIC_REQUIRE(hci::dtype_v<int16_t> == hci::kInt16);
  STATIC_REQUIRE(hci::dtype_v<int32_t> == hci::kInt32);
  STATIC_REQUIRE(hci::dtype_v<int64_t> == hci::kInt64);
  STATIC_REQUIRE(hci::dtype_v<hci::Half> == hci::kFloat16);
  STATIC_REQUIRE(hci::dtype_v<hci::BFloat16> == hci::kBFloat16);
  STATIC_REQUIRE(hci::dtype_v<float> == hci::kFloat32);
  STATIC_REQUIRE(hci::dtype_v<double> == hci::kFloat64);
  STATIC_REQUIRE(hci::dtype_v<const float> == hci::kFloat32);  // cv-qualifiers do not matter
  STATIC_REQUIRE(hci::Element<int32_t>);
  STATIC_REQUIRE(!hci::Element<uint32_t>);  // no uint32 dtype, as in PyTorch 1.x
  STATIC_REQUIRE(!hci::Element<long double>);

  for (DType t : kAllDTypes) {
    INFO(hci::dtype_name(t));
    CHECK(hci::visit_dtype(t, [](auto zero) { return hci::dtype_v<decltype(zero)>; }) == t);
    CHECK(hci::visit_dtype(t, [](auto zero) { return sizeof(zero); }) == hci::element_size(t));
  }
}

// ---------------------------------------------------------------------------------------------
// Device

TEST_CASE("devices parse, print and compare", "[device]") {
  const hci::Device cpu("cpu");
  CHECK(cpu.type() == hci::DeviceType::CPU);
  CHECK(cpu.index() == 0);
  CHECK(cpu.is_cpu());
  CHECK(cpu.str() == "cpu");
  CHECK(cpu == hci::Device::cpu());
  CHECK(cpu == hci::Device());

  const hci::Device cuda1("cuda:1");
  CHECK(cuda1.type() == hci::DeviceType::CUDA);
  CHECK(cuda1.index() == 1);
  CHECK(!cuda1.is_cpu());
  CHECK(cuda1.str() == "cuda:1");
  CHECK(cuda1 == hci::Device::cuda(1));
  CHECK(cuda1 != hci::Device::cuda(0));
  CHECK(fmt::format("{}", cuda1) == "cuda:1");

  const hci::Device rocm0("rocm:0");
  CHECK(rocm0.type() == hci::DeviceType::ROCm);
  CHECK(rocm0.index() == 0);
  CHECK(rocm0.str() == "rocm:0");
  CHECK(rocm0 == hci::Device::rocm(0));
  CHECK(rocm0 == hci::Device::rocm());
  // Same index, different type: different devices.
  CHECK(rocm0 != hci::Device::cuda(0));
  CHECK(hci::Device::cuda(0) != hci::Device::cpu());

  // An omitted index means 0, and the string overloads agree with string_view.
  CHECK(hci::Device("cuda") == hci::Device::cuda(0));
  CHECK(hci::Device(std::string("rocm:3")) == hci::Device::rocm(3));
  CHECK(hci::Device("cuda:12").index() == 12);

  // Printing and parsing round-trip for every device a user can name.
  for (const char* spec : {"cpu", "cuda:0", "cuda:1", "cuda:15", "rocm:0", "rocm:7"}) {
    INFO(spec);
    CHECK(hci::Device(spec).str() == spec);
    CHECK(hci::Device(hci::Device(spec).str()) == hci::Device(spec));
  }
}

TEST_CASE("a device with a nonzero CPU index round-trips through str()", "[device]") {
  // PyTorch prints this device as "cpu:1"; printing "cpu" would parse back as another device.
  const hci::Device d("cpu:1");
  CHECK(d.index() == 1);
  CHECK(d.str() == "cpu:1");
  CHECK(hci::Device(d.str()) == d);
}

TEST_CASE("bad device specs throw hci::Error naming the input", "[device][error]") {
  for (const char* spec : {"gpu", "cuda:", "cuda:-1", "cuda:x", "", "CUDA", " cuda", "cuda:1:2", "cuda:0x1",
                           "cuda:1234567", "cpu:", ":0"}) {
    INFO("spec \"" << spec << "\"");
    const std::string message = error_message([&] { (void)hci::Device(spec); });
    // Quoted, so an empty or whitespace spec is still visible in the message.
    CHECK_THAT(message, Contains(fmt::format("\"{}\"", spec)));
    CHECK_THAT(message, Contains("Device"));
  }
  CHECK_THAT(error_message([] { (void)hci::Device("gpu"); }), Contains("unknown device type"));
  CHECK_THAT(error_message([] { (void)hci::Device("cuda:x"); }), Contains("bad index"));
}

TEST_CASE("using a device with no backend throws hci::Error saying so", "[device][error]") {
  const hci::Device unregistered(hci::DeviceType::PrivateUse, 0);  // no backend until one is registered
  const auto options = hci::TensorOptions().device(unregistered);
  // zeros is lazy: it may fail when made or when its value is first needed, never silently.
  std::string message = error_message([&] { (void)hci::zeros({2}, options).to_vector<float>(); });
  CHECK_THAT(message, Contains("no backend"));
  CHECK_THAT(message, Contains("privateuse"));

  message = error_message([&] { (void)hci::empty({2}, options); });
  CHECK_THAT(message, Contains("no backend"));
  message = error_message([] { (void)hci::ones({3}).to(hci::Device(hci::DeviceType::PrivateUse, 1)); });
  CHECK_THAT(message, Contains("no backend"));
  CHECK_THAT(message, Contains("privateuse"));

  // The CPU backend exists but has one device.
  message = error_message([] { (void)hci::empty({2}, hci::device(hci::Device("cpu:3"))); });
  CHECK_THAT(message, Contains("cpu"));
  CHECK_THAT(message, Contains("out of range"));
}

// ---------------------------------------------------------------------------------------------
// TensorOptions

TEST_CASE("TensorOptions set dtype and device, and factories honour them", "[options]") {
  const hci::TensorOptions defaults;
  CHECK(defaults.dtype() == hci::kFloat32);  // PyTorch's default dtype
  CHECK(defaults.device() == hci::Device::cpu());

  const auto o = hci::TensorOptions().dtype(hci::kInt16).device(hci::Device::cuda(2));
  CHECK(o.dtype() == hci::kInt16);
  CHECK(o.device() == hci::Device::cuda(2));
  // Setters return modified copies; the original is unchanged.
  const auto base = hci::TensorOptions();
  const auto changed = base.dtype(hci::kInt8);
  CHECK(base.dtype() == hci::kFloat32);
  CHECK(changed.dtype() == hci::kInt8);
  CHECK(hci::dtype(hci::kInt32).dtype() == hci::kInt32);
  CHECK(hci::dtype(hci::kInt32).device() == hci::Device::cpu());
  CHECK(hci::device(hci::Device::rocm(1)).device() == hci::Device::rocm(1));
  CHECK(hci::device(hci::Device::rocm(1)).dtype() == hci::kFloat32);

  const hci::Tensor z = hci::zeros({2, 3}, hci::dtype(hci::kInt32));
  CHECK(z.dtype() == hci::kInt32);
  CHECK(z.device() == hci::Device::cpu());
  CHECK(z.sizes().vec() == hci::Dims{2, 3});
  CHECK(z.to_vector<int32_t>() == std::vector<int32_t>(6, 0));
  CHECK(z.options().dtype() == hci::kInt32);
  CHECK(z.options().device() == hci::Device::cpu());

  // A bare DType converts to TensorOptions, as in LibTorch.
  CHECK(hci::ones({4}, hci::kFloat64).dtype() == hci::kFloat64);
  CHECK(hci::ones({4}, hci::TensorOptions().dtype(hci::kUInt8).device(hci::Device::cpu())).dtype() == hci::kUInt8);

  for (DType t : kAllDTypes) {
    INFO(hci::dtype_name(t));
    const hci::Tensor ones = hci::ones({5}, hci::dtype(t));
    CHECK(ones.dtype() == t);
    CHECK(ones.element_size() == hci::element_size(t));
    CHECK(ones.is_floating_point() == hci::is_floating_point(t));
    CHECK(ones.to_vector<double>() == std::vector<double>(5, 1.0));
    const hci::Tensor like = hci::zeros_like(ones);
    CHECK(like.dtype() == t);
    CHECK(like.to_vector<double>() == std::vector<double>(5, 0.0));
    // A float fill of an integer dtype truncates toward zero, as torch.full(..., 2.75, dtype=int).
    const double want = t == hci::kBool ? 1.0 : hci::is_floating_point(t) ? 2.75 : 2.0;
    CHECK(hci::full({3}, 2.75, hci::dtype(t)).to_vector<double>() == std::vector<double>(3, want));
  }
}

// ---------------------------------------------------------------------------------------------
// Half and BFloat16

namespace {

// The value of a binary16 bit pattern from the IEEE 754 definition, computed in double.
double half_value(uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double v = exponent == 0 ? std::ldexp(double(mantissa), -24)
             : exponent == 31
                 ? (mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity())
                 : std::ldexp(double(1024 + mantissa), exponent - 25);
  return sign ? -v : v;
}

double bfloat16_value(uint16_t b) {
  const int sign = b >> 15, exponent = (b >> 7) & 0xff, mantissa = b & 0x7f;
  double v = exponent == 0 ? std::ldexp(double(mantissa), -133)
             : exponent == 255
                 ? (mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity())
                 : std::ldexp(double(128 + mantissa), exponent - 134);
  return sign ? -v : v;
}

bool is_half_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool is_bfloat16_nan(uint16_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; }

// Round-to-nearest-even of a finite float into a format with `digits` significand bits,
// smallest normal exponent `emin` and largest finite value `max`, done in double (exact
// here) with std::nearbyint under the default rounding mode. Independent of hci's bit tricks.
double round_to_format(float x, int digits, int emin, double max) {
  const double a = std::fabs(double(x));
  if (a == 0) return double(x);
  const int e = std::max(std::ilogb(a), emin);
  const double q = std::nearbyint(std::ldexp(a, digits - 1 - e));
  double r = std::ldexp(q, e - (digits - 1));
  // Past max, IEEE rounds to infinity exactly when the unbounded-exponent result exceeds max.
  if (r > max) r = std::numeric_limits<double>::infinity();
  return std::signbit(x) ? -r : r;
}

}  // namespace

// Every one of the 65536 bit patterns of T converts to float exactly (value_of is the format's
// definition) and back to the same bits; NaN stays NaN both ways (payloads need not survive).
template <class T, class ValueOf, class IsNan>
void check_every_bit_pattern(const char* name, ValueOf value_of, IsNan is_nan_bits) {
  int failures = 0;  // counted rather than CHECKed one by one: 65536 CHECKs would dominate the run time
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const uint16_t h = uint16_t(bits);
    const float f = T::from_bits(h);
    const double want = value_of(h);
    const bool ok = std::isnan(want) ? std::isnan(f) && is_nan_bits(T(f).bits)
                                     : double(f) == want && std::signbit(f) == bool(h & 0x8000) && T(f).bits == h;
    if (!ok && ++failures <= 10)
      FAIL_CHECK(name << " bits 0x" << std::hex << bits << ": float " << f << ", expected " << want << ", back 0x"
                      << T(f).bits);
  }
  CHECK(failures == 0);
}

TEST_CASE("Half: every bit pattern converts to its IEEE value and back to the same bits", "[half]") {
  check_every_bit_pattern<hci::Half>("half", half_value, is_half_nan);
}

TEST_CASE("BFloat16: every bit pattern converts to its value and back to the same bits", "[half]") {
  check_every_bit_pattern<hci::BFloat16>("bfloat16", bfloat16_value, is_bfloat16_nan);
}

TEST_CASE("Half and BFloat16 conversions are usable at compile time", "[half]") {
  // 1.0 and -2.0 by the IEEE definitions of the two formats.
  STATIC_REQUIRE(hci::Half(1.0f).bits == 0x3c00);
  STATIC_REQUIRE(hci::Half(-2.0f).bits == 0xc000);
  STATIC_REQUIRE(float(hci::Half::from_bits(0x3c00)) == 1.0f);
  STATIC_REQUIRE(hci::BFloat16(1.0f).bits == 0x3f80);
  STATIC_REQUIRE(float(hci::BFloat16::from_bits(0xc000)) == -2.0f);
}

TEST_CASE("float to Half and BFloat16 rounds as numpy and torch do", "[half][fixtures]") {
  // tests/fixtures/half_bits.txt holds numpy's float16 and torch's bfloat16 of each float32:
  // random values over the whole range, every kind of halfway case, the overflow thresholds,
  // subnormal boundaries and NaNs (see generate_numerics.py).
  std::ifstream file(HCI_FIXTURE_DIR "/half_bits.txt");
  REQUIRE(file);
  std::string line;
  int count = 0, ties = 0, failures = 0;
  std::vector<float> values;
  std::vector<uint16_t> want_half, want_bf16;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    uint32_t f_bits = 0, h_bits = 0, b_bits = 0;
    in >> std::hex >> f_bits >> h_bits >> b_bits;
    REQUIRE(in);
    const float f = std::bit_cast<float>(f_bits);
    const uint16_t half = hci::Half(f).bits, bf16 = hci::BFloat16(f).bits;
    if (std::isnan(f)) {
      if ((!is_half_nan(half) || !is_bfloat16_nan(bf16)) && ++failures <= 10)
        FAIL_CHECK("NaN 0x" << std::hex << f_bits << " lost");
    } else {
      if (half != h_bits && ++failures <= 10)
        FAIL_CHECK("float16 of " << f << " (0x" << std::hex << f_bits << "): 0x" << half << ", numpy 0x" << h_bits);
      if (bf16 != b_bits && ++failures <= 10)
        FAIL_CHECK("bfloat16 of " << f << " (0x" << std::hex << f_bits << "): 0x" << bf16 << ", torch 0x" << b_bits);
      ties += (f_bits & 0xffff) == 0x8000;
      values.push_back(f);
      want_half.push_back(uint16_t(h_bits));
      want_bf16.push_back(uint16_t(b_bits));
    }
    ++count;
  }
  CHECK(failures == 0);
  CHECK(count > 5000);
  CHECK(ties > 300);  // the fixture really exercises bfloat16's ties

  // Casting tensors rounds the same way (the interpreter's path, not the Half constructor).
  const hci::Tensor x = hci::from_vector(values);
  const std::vector<hci::Half> as_half = x.to(hci::kFloat16).to_vector<hci::Half>();
  const std::vector<hci::BFloat16> as_bf16 = x.to(hci::kBFloat16).to_vector<hci::BFloat16>();
  int half_mismatches = 0, bf16_mismatches = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    half_mismatches += as_half[i].bits != want_half[i];
    bf16_mismatches += as_bf16[i].bits != want_bf16[i];
  }
  CHECK(half_mismatches == 0);
  CHECK(bf16_mismatches == 0);
}

TEST_CASE("float to Half and BFloat16 round to nearest even at every halfway point", "[half]") {
  // For every pair of neighbouring finite values of the narrow format, the float32 midpoint
  // and its two float32 neighbours: below rounds down, above rounds up, the tie goes to the
  // even pattern. Covers all subnormal, normal and overflow (max -> inf) transitions.
  int failures = 0;
  for (uint32_t lo = 0; lo < 0x7c00; ++lo) {
    const uint16_t hi = uint16_t(lo + 1);
    for (uint16_t sign : {uint16_t(0), uint16_t(0x8000)}) {
      const double mid = (half_value(uint16_t(lo)) + half_value(hi == 0x7c00 ? 0x7c00 : hi)) / 2;
      // Between max (0x7bff) and infinity the rounding boundary is max + half an ulp: 65520.
      const float m = float(lo == 0x7bff ? 65520.0 : mid) * (sign ? -1.0f : 1.0f);
      const uint16_t even = (lo & 1) ? hi : uint16_t(lo);
      const uint16_t below = hci::Half(std::nextafter(m, 0.0f)).bits;
      const uint16_t tie = hci::Half(m).bits;
      const uint16_t above = hci::Half(std::nextafter(m, sign ? -1e30f : 1e30f)).bits;
      if (below != (lo | sign) || tie != (even | sign) || above != (hi | sign)) {
        if (++failures <= 10)
          FAIL_CHECK("float16 around the midpoint " << m << ": 0x" << std::hex << below << " 0x" << tie << " 0x"
                                                    << above << ", expected 0x" << (lo | sign) << " 0x" << (even | sign)
                                                    << " 0x" << (hi | sign));
      }
    }
  }
  for (uint32_t lo = 0; lo < 0x7f80; ++lo) {
    const uint32_t hi = lo + 1;
    for (uint32_t sign : {0u, 0x8000u}) {
      const uint32_t mid_bits = ((lo | sign) << 16) | 0x8000u;  // exactly halfway, in float32
      const uint32_t even = (lo & 1) ? hi : lo;
      const uint16_t below = hci::BFloat16(std::bit_cast<float>(mid_bits - 1)).bits;
      const uint16_t tie = hci::BFloat16(std::bit_cast<float>(mid_bits)).bits;
      const uint16_t above = hci::BFloat16(std::bit_cast<float>(mid_bits + 1)).bits;
      if (below != (lo | sign) || tie != (even | sign) || above != (hi | sign)) {
        if (++failures <= 10)
          FAIL_CHECK("bfloat16 around 0x" << std::hex << mid_bits << ": 0x" << below << " 0x" << tie << " 0x" << above);
      }
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("float to Half and BFloat16 agree with an independent rounding on random floats", "[half]") {
  std::mt19937 rng(42);
  // Bits uniform over the range where float16 is neither zero nor saturated, then over all floats.
  std::uniform_int_distribution<uint32_t> narrow(0x32000000u, 0x47800000u), any;
  int failures = 0;
  for (int i = 0; i < 400000; ++i) {
    const uint32_t bits = i % 2 ? narrow(rng) | (rng() & 0x80000000u) : any(rng);
    const float x = std::bit_cast<float>(bits);
    if (std::isnan(x)) continue;
    const double want_half = std::isinf(x) ? double(x) : round_to_format(x, 11, -14, 65504.0);
    const double want_bf16 = std::isinf(x) ? double(x) : round_to_format(x, 8, -126, bfloat16_value(0x7f7f));
    const float half = hci::Half(x), bf16 = hci::BFloat16(x);
    const bool ok = double(half) == want_half && std::signbit(half) == std::signbit(x) && double(bf16) == want_bf16 &&
                    std::signbit(bf16) == std::signbit(x);
    if (!ok && ++failures <= 10)
      FAIL_CHECK("0x" << std::hex << bits << ": half " << half << " (want " << want_half << "), bfloat16 " << bf16
                      << " (want " << want_bf16 << ")");
  }
  CHECK(failures == 0);
  // Beyond every finite value: infinity of the same sign; NaN stays NaN.
  CHECK(std::isinf(float(hci::Half(1e10f))));
  CHECK(float(hci::Half(-1e10f)) < 0);
  CHECK(std::isnan(float(hci::Half(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(float(hci::BFloat16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isinf(float(hci::BFloat16(std::numeric_limits<float>::max()))));
}

// ---------------------------------------------------------------------------------------------
// Scalar and type promotion

TEST_CASE("Scalar remembers its kind and takes PyTorch's wrapped-number dtype", "[scalar][promotion]") {
  using Kind = hci::Scalar::Kind;
  CHECK(hci::Scalar(true).kind() == Kind::Bool);
  CHECK(hci::Scalar(true).default_dtype() == hci::kBool);
  CHECK(hci::Scalar(3).kind() == Kind::Int);
  CHECK(hci::Scalar(int8_t(3)).kind() == Kind::Int);
  CHECK(hci::Scalar(uint16_t(3)).kind() == Kind::Int);
  CHECK(hci::Scalar(int64_t(3)).default_dtype() == hci::kInt64);
  CHECK(hci::Scalar(int8_t(3)).default_dtype() == hci::kInt64);  // a number's own width does not count
  CHECK(hci::Scalar(2.5).kind() == Kind::Float);
  CHECK(hci::Scalar(2.5f).kind() == Kind::Float);
  CHECK(hci::Scalar(2.5).default_dtype() == hci::kFloat32);  // not float64: torch's default dtype
  CHECK(hci::Scalar(hci::Half(1.5f)).kind() == Kind::Float);
  CHECK(hci::Scalar(hci::BFloat16(1.5f)).to_double() == 1.5);
  CHECK(hci::Scalar(2.5).is_floating_point());
  CHECK(!hci::Scalar(2).is_floating_point());

  // Integers keep all 64 bits; floats truncate toward zero when read as integers.
  const int64_t big = (int64_t(1) << 53) + 1;  // not representable in double
  CHECK(hci::Scalar(big).to_int64() == big);
  CHECK(hci::Scalar(std::numeric_limits<int64_t>::min()).to_int64() == std::numeric_limits<int64_t>::min());
  CHECK(hci::Scalar(2.75).to_int64() == 2);
  CHECK(hci::Scalar(-2.75).to_int64() == -2);
  CHECK(hci::Scalar(true).to_int64() == 1);
  CHECK(hci::Scalar(7).to_double() == 7.0);
}

namespace {

using hci::detail::Operand;

hci::Tensor dim_tensor(DType t) { return hci::from_vector(std::vector<double>{1, 2, 3}).to(t); }
hci::Tensor zero_dim(DType t, double v = 2) { return hci::full({}, v, hci::dtype(t)); }

// Calls the overload of op for the operand kinds at hand (tensor or number on either side).
template <class Op>
hci::Tensor apply(Op op, const Operand& a, const Operand& b) {
  if (const auto* s = std::get_if<hci::Scalar>(&a)) return op(*s, std::get<hci::Tensor>(b));
  if (const auto* s = std::get_if<hci::Scalar>(&b)) return op(std::get<hci::Tensor>(a), *s);
  return op(std::get<hci::Tensor>(a), std::get<hci::Tensor>(b));
}

}  // namespace

TEST_CASE("type promotion follows torch.result_type through ops", "[promotion]") {
  // Expected dtypes are PyTorch 1.13's (each verified with torch.result_type / the op itself):
  // tensors with dims decide first, then 0-dim tensors, then numbers; a later group changes the
  // result only when it brings a higher category (bool < integer < floating point).
  using Fn = std::function<hci::Tensor(const Operand&, const Operand&)>;
  const Fn add = [](const Operand& a, const Operand& b) {
    return apply([](const auto& x, const auto& y) { return hci::add(x, y); }, a, b);
  };
  const Fn sub = [](const Operand& a, const Operand& b) {
    return apply([](const auto& x, const auto& y) { return hci::sub(x, y); }, a, b);
  };
  const Fn mul = [](const Operand& a, const Operand& b) {
    return apply([](const auto& x, const auto& y) { return hci::mul(x, y); }, a, b);
  };
  const Fn div = [](const Operand& a, const Operand& b) {
    return apply([](const auto& x, const auto& y) { return hci::div(x, y); }, a, b);
  };
  using hci::kBFloat16, hci::kBool, hci::kFloat16, hci::kFloat32, hci::kFloat64, hci::kInt16, hci::kInt32, hci::kInt64,
      hci::kInt8, hci::kUInt8;
  struct Case {
    const char* what;
    Fn op;
    Operand a, b;
    DType want;
    bool true_division = false;  // the op's result differs from result_type(a, b)
  };
  const std::vector<Case> cases = {
      {"int32 tensor * 2.5", mul, dim_tensor(kInt32), 2.5, kFloat32},
      {"2.5 - int32 tensor", sub, 2.5, dim_tensor(kInt32), kFloat32},
      {"int32 / int32 (true division)", div, dim_tensor(kInt32), dim_tensor(kInt32), kFloat32, true},
      {"int64 / 2 (true division)", div, dim_tensor(kInt64), 2, kFloat32, true},
      {"bool / bool (true division)", div, dim_tensor(kBool), dim_tensor(kBool), kFloat32, true},
      {"int32 / 0-dim int64", div, dim_tensor(kInt32), zero_dim(kInt64), kFloat32, true},
      {"uint8 + int8", add, dim_tensor(kUInt8), dim_tensor(kInt8), kInt16},
      {"float16 + bfloat16", add, dim_tensor(kFloat16), dim_tensor(kBFloat16), kFloat32},
      {"float16 tensor + 0-dim float64", add, dim_tensor(kFloat16), zero_dim(kFloat64), kFloat16},
      {"int32 tensor + 0-dim float32", add, dim_tensor(kInt32), zero_dim(kFloat32), kFloat32},
      {"int32 tensor + 0-dim float16", add, dim_tensor(kInt32), zero_dim(kFloat16), kFloat16},
      // A higher category from a 0-dim tensor brings its own dtype, float64 included.
      {"int32 tensor + 0-dim float64", add, dim_tensor(kInt32), zero_dim(kFloat64), kFloat64},
      {"int8 tensor + 0-dim int64", add, dim_tensor(kInt8), zero_dim(kInt64), kInt8},
      {"0-dim int8 * 0-dim int16", mul, zero_dim(kInt8), zero_dim(kInt16), kInt16},
      {"0-dim float64 + 0-dim float16", add, zero_dim(kFloat64), zero_dim(kFloat16), kFloat64},
      {"0-dim int8 + 3", add, zero_dim(kInt8), 3, kInt8},
      {"0-dim int8 + 3.5", add, zero_dim(kInt8), 3.5, kFloat32},
      {"bool + bool", add, dim_tensor(kBool), dim_tensor(kBool), kBool},
      {"bool tensor + 1", add, dim_tensor(kBool), 1, kInt64},
      {"bool tensor + 1.5", add, dim_tensor(kBool), 1.5, kFloat32},
      {"bool tensor + true", add, dim_tensor(kBool), true, kBool},
      {"0-dim bool + int8 tensor", add, zero_dim(kBool), dim_tensor(kInt8), kInt8},
      {"bool tensor + 0-dim int32", add, dim_tensor(kBool), zero_dim(kInt32), kInt32},
      {"0-dim float32 + bool tensor", add, zero_dim(kFloat32), dim_tensor(kBool), kFloat32},
      {"uint8 tensor + true", add, dim_tensor(kUInt8), true, kUInt8},
      {"uint8 tensor + 5", add, dim_tensor(kUInt8), 5, kUInt8},
      {"uint8 tensor + 1.5", add, dim_tensor(kUInt8), 1.5, kFloat32},
      {"float64 tensor * 2.5", mul, dim_tensor(kFloat64), 2.5, kFloat64},
      {"bfloat16 tensor * 2.5", mul, dim_tensor(kBFloat16), 2.5, kBFloat16},
      {"int16 tensor * int64 tensor", mul, dim_tensor(kInt16), dim_tensor(kInt64), kInt64},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    if (!c.true_division) CHECK(hci::detail::result_type({&c.a, &c.b}) == c.want);
    const hci::Tensor out = c.op(c.a, c.b);
    CHECK(out.dtype() == c.want);
    CHECK_NOTHROW(out.to_vector<double>());
  }
}

TEST_CASE("promoted ops compute the promoted values", "[promotion]") {
  const hci::Tensor i32 = hci::from_vector(std::vector<int32_t>{1, 2, 3});
  CHECK((i32 * 2.5).to_vector<float>() == std::vector<float>{2.5f, 5.0f, 7.5f});
  CHECK((2.5 - i32).to_vector<float>() == std::vector<float>{1.5f, 0.5f, -0.5f});
  CHECK((i32 / hci::full({3}, 2, hci::kInt32)).to_vector<float>() == std::vector<float>{0.5f, 1.0f, 1.5f});
  CHECK((7 / hci::full({1}, 2, hci::kInt64)).to_vector<float>() == std::vector<float>{3.5f});

  // uint8 + int8 computes in int16: no wrap-around in either 8-bit type.
  const hci::Tensor u8 = hci::from_vector(std::vector<uint8_t>{200, 255, 0});
  const hci::Tensor i8 = hci::from_vector(std::vector<int8_t>{-100, 100, -128});
  CHECK((u8 + i8).to_vector<int16_t>() == std::vector<int16_t>{100, 355, -128});

  // bool + bool is logical or; bool + 1 counts in int64.
  const hci::Tensor mask = hci::from_vector(std::vector<bool>{true, false, true});
  const hci::Tensor other = hci::from_vector(std::vector<bool>{true, false, false});
  CHECK((mask + other).to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK((mask + 1).to_vector<int64_t>() == std::vector<int64_t>{2, 1, 2});

  // The 0-dim float64 operand is first rounded to float16, the common dtype, as PyTorch 1.13
  // does; adding the unrounded third would give a different result for some of these.
  std::vector<float> grid;
  for (int i = -2048; i < 2048; ++i) grid.push_back(float(i) / 512);
  const hci::Tensor h = hci::from_vector(grid).to(hci::kFloat16);
  const std::vector<float> got = (h + hci::full({}, 1.0 / 3.0, hci::kFloat64)).to_vector<float>();
  const float third_h = hci::Half(float(1.0 / 3.0));
  int mismatches = 0, unrounded_differs = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    const float x = hci::Half(grid[i]);
    mismatches += got[i] != float(hci::Half(x + third_h));
    unrounded_differs += got[i] != float(hci::Half(x + float(1.0 / 3.0)));
  }
  CHECK(mismatches == 0);
  CHECK(unrounded_differs > 0);

  // int64 == 2.5 compares in float32 and gives bool.
  const hci::Tensor cmp = hci::from_vector(std::vector<int64_t>{2, 3}) == 2.0;
  CHECK(cmp.dtype() == hci::kBool);
  CHECK(cmp.to_vector<bool>() == std::vector<bool>{true, false});
  CHECK((hci::from_vector(std::vector<int64_t>{2, 3}) < 2.5).to_vector<bool>() == std::vector<bool>{true, false});

  // Unary floating-point functions of integers and bools compute in float32.
  CHECK(hci::exp(hci::from_vector(std::vector<int32_t>{0, 1})).dtype() == hci::kFloat32);
  CHECK(hci::exp(mask).dtype() == hci::kFloat32);
  CHECK(hci::tanh(u8).dtype() == hci::kFloat32);
  CHECK(hci::exp(hci::from_vector(std::vector<int32_t>{0})).item<float>() == 1.0f);
  CHECK(hci::where(mask, i32, 2.5).dtype() == hci::kFloat32);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_CASE("hci::Error is a std::runtime_error with a precise message", "[error]") {
  STATIC_REQUIRE(std::is_base_of_v<std::runtime_error, hci::Error>);
  CHECK_THROWS_AS(hci::Device("gpu"), std::runtime_error);

  const hci::Tensor a = hci::ones({2, 3}), b = hci::ones({4});
  std::string message = error_message([&] { (void)(a + b); });
  CHECK_THAT(message, Contains("add"));
  CHECK_THAT(message, Contains("[2, 3]"));
  CHECK_THAT(message, Contains("[4]"));
  message = error_message([&] { (void)hci::mul(hci::ones({2, 3}), hci::ones({3, 2})); });
  CHECK_THAT(message, Contains("mul"));
  CHECK_THAT(message, Contains("[2, 3]"));
  CHECK_THAT(message, Contains("[3, 2]"));
  message = error_message([&] { (void)hci::maximum(hci::ones({5, 1, 3}), hci::ones({2, 4})); });
  CHECK_THAT(message, Contains("maximum"));
  CHECK_THAT(message, Contains("[5, 1, 3]"));
  CHECK_THAT(message, Contains("[2, 4]"));

  message = error_message([&] { (void)a.item<float>(); });
  CHECK_THAT(message, Contains("item"));
  CHECK_THAT(message, Contains("6 elements"));
  CHECK_THAT(message, Contains("[2, 3]"));
  CHECK_THAT(error_message([] { (void)hci::ones({0}).item<float>(); }), Contains("0 elements"));
  CHECK(hci::ones({1, 1}).item<float>() == 1.0f);  // one element of any shape is fine

  message = error_message([&] { (void)a.data_ptr<int32_t>(); });
  CHECK_THAT(message, Contains("data_ptr"));
  CHECK_THAT(message, Contains("float32"));
  CHECK_THAT(message, Contains("int32"));
  message = error_message([&] { (void)hci::ones({2}, hci::kFloat16).const_data_ptr<float>(); });
  CHECK_THAT(message, Contains("float16"));
  CHECK_THAT(message, Contains("float32"));
  CHECK(a.data_ptr<float>() != nullptr);

  // PyTorch refuses `-` on bools; the message says what to use instead.
  message = error_message([] { (void)(hci::ones({2}, hci::kBool) - hci::ones({2}, hci::kBool)); });
  CHECK_THAT(message, Contains("sub"));
  CHECK_THAT(message, Contains("logical_not"));
}
