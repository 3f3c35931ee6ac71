// Every op of the core against PyTorch's results (tests/fixtures/ops.txt), with contiguous and
// strided inputs; and the dtype promotion table.
#include "fixture_reader.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>

namespace {

using Inputs = std::vector<hci::detail::Operand>;

hci::Tensor run(const fixtures::Case& c, const Inputs& in) {
  using Fn = std::function<hci::Tensor(const Inputs&)>;
  auto binary = [](auto tt, auto ts, auto st) {
    return Fn([=](const Inputs& x) {
      if (std::holds_alternative<hci::Scalar>(x[0]))
        return st(std::get<hci::Scalar>(x[0]), std::get<hci::Tensor>(x[1]));
      if (std::holds_alternative<hci::Scalar>(x[1]))
        return ts(std::get<hci::Tensor>(x[0]), std::get<hci::Scalar>(x[1]));
      return tt(std::get<hci::Tensor>(x[0]), std::get<hci::Tensor>(x[1]));
    });
  };
#define BINARY(name)                                                                         \
  {#name, binary([](const hci::Tensor& a, const hci::Tensor& b) { return hci::name(a, b); }, \
                 [](const hci::Tensor& a, hci::Scalar b) { return hci::name(a, b); },        \
                 [](hci::Scalar a, const hci::Tensor& b) { return hci::name(a, b); })}
#define UNARY(name) {#name, Fn([](const Inputs& x) { return hci::name(std::get<hci::Tensor>(x[0])); })}
  static const std::map<std::string, Fn> ops = {
      BINARY(add),
      BINARY(sub),
      BINARY(mul),
      BINARY(div),
      BINARY(maximum),
      BINARY(minimum),
      BINARY(eq),
      BINARY(ne),
      BINARY(lt),
      BINARY(le),
      BINARY(gt),
      BINARY(ge),
      UNARY(neg),
      UNARY(abs),
      UNARY(relu),
      UNARY(exp),
      UNARY(log),
      UNARY(sqrt),
      UNARY(tanh),
      UNARY(sigmoid),
      {"where", Fn([](const Inputs& x) { return hci::where(std::get<hci::Tensor>(x[0]), x[1], x[2]); })},
  };
#undef BINARY
#undef UNARY
  if (c.op == "to") return std::get<hci::Tensor>(in[0]).to(fixtures::parse_dtype(c.args[0]));
  if (c.op == "sum" || c.op == "mean" || c.op == "amax" || c.op == "amin") {
    const hci::Dims dims = fixtures::parse_list(c.args[0]);
    const bool keepdim = c.args[1] == "1";
    const hci::Tensor& x = std::get<hci::Tensor>(in[0]);
    if (c.op == "sum") return hci::sum(x, dims, keepdim);
    if (c.op == "mean") return hci::mean(x, dims, keepdim);
    if (c.op == "amax") return hci::amax(x, dims, keepdim);
    return hci::amin(x, dims, keepdim);
  }
  return ops.at(c.op)(in);
}

// Arithmetic, comparisons, casts and max/min are exact; transcendental functions and float
// sums are held to a tolerance of a few units in the last place of their dtype.
double tolerance(const fixtures::Case& c, hci::DType dtype) {
  static const std::vector<std::string> approximate = {"exp", "log", "tanh", "sigmoid", "sum", "mean"};
  if (std::find(approximate.begin(), approximate.end(), c.op) == approximate.end()) return 0;
  switch (dtype) {
    case hci::kFloat16: return 2e-3;
    case hci::kBFloat16: return 1.6e-2;
    case hci::kFloat32: return (c.op == "sum" || c.op == "mean") ? 2e-5 : 5e-7;
    case hci::kFloat64: return (c.op == "sum" || c.op == "mean") ? 1e-13 : 5e-16;
    default: return 0;
  }
}

void check_case(const fixtures::Case& c, bool strided) {
  INFO("fixture line " << c.line << ": " << c.op << (strided ? " (strided inputs)" : ""));
  Inputs in;
  for (const auto& x : c.inputs) {
    if (const auto* t = std::get_if<fixtures::TensorText>(&x))
      in.emplace_back(fixtures::make_tensor(*t, strided));
    else
      in.emplace_back(std::get<hci::Scalar>(x));
  }
  if (c.expect_error) {
    CHECK_THROWS_AS(run(c, in).to_vector<double>(), hci::Error);
    return;
  }
  const hci::Tensor out = run(c, in);
  REQUIRE(out.dtype() == c.expected.dtype);
  REQUIRE(out.sizes().vec() == c.expected.shape);
  const std::vector<double> got = out.to_vector<double>();
  const double tol = tolerance(c, out.dtype());
  for (size_t i = 0; i < got.size(); ++i) {
    const double want = c.expected.values[i];
    INFO("element " << i << ": got " << got[i] << ", PyTorch " << want);
    if (std::isnan(want)) {
      CHECK(std::isnan(got[i]));
    } else if (tol == 0 || std::isinf(want)) {
      CHECK(got[i] == want);
    } else {
      CHECK(std::abs(got[i] - want) <= tol * std::max(std::abs(want), 1e-30) + 1e-300);
    }
  }
}

}  // namespace

TEST_CASE("ops match PyTorch on contiguous and strided inputs", "[fixtures]") {
  const auto cases = fixtures::read(HCI_FIXTURE_DIR "/ops.txt");
  REQUIRE(cases.size() > 1000);
  for (const auto& c : cases) {
    check_case(c, false);
    check_case(c, true);
  }
}

TEST_CASE("promote_types matches torch.promote_types for every pair", "[fixtures][dtype]") {
  std::ifstream file(HCI_FIXTURE_DIR "/promote_types.txt");
  std::string a, b, want;
  int pairs = 0;
  while (file >> a) {
    if (a[0] == '#') {
      std::getline(file, a);
      continue;
    }
    file >> b >> want;
    INFO(a << " + " << b);
    CHECK(hci::dtype_name(hci::promote_types(fixtures::parse_dtype(a), fixtures::parse_dtype(b))) == want);
    ++pairs;
  }
  CHECK(pairs == hci::kNumDTypes * hci::kNumDTypes);
}
