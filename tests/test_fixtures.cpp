// Every op of the core against PyTorch's results (tests/fixtures/ops.txt), with contiguous and
// strided inputs; and the dtype promotion table.
#include "fixture_reader.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <iomanip>
#include <map>

namespace {

using Inputs = std::vector<hci::detail::Operand>;

const hci::Tensor& tensor(const hci::detail::Operand& x) { return std::get<hci::Tensor>(x); }

std::optional<hci::Tensor> optional_tensor(const hci::detail::Operand& x) {
  return std::holds_alternative<hci::Tensor>(x) ? std::optional<hci::Tensor>(tensor(x)) : std::nullopt;
}

// clamp(x, lo, hi), clamp_min(x, lo) and clamp_max(x, hi), the bounds numbers or tensors.
hci::Tensor clamp(const std::string& op, const Inputs& x) {
  const bool has_min = op != "clamp_max", has_max = op != "clamp_min";
  const hci::detail::Operand* lo = has_min ? &x[1] : nullptr;
  const hci::detail::Operand* hi = has_max ? &x[has_min ? 2 : 1] : nullptr;
  if (std::holds_alternative<hci::Tensor>(lo ? *lo : *hi))
    return hci::clamp(tensor(x[0]), lo ? optional_tensor(*lo) : std::nullopt, hi ? optional_tensor(*hi) : std::nullopt);
  auto scalar = [](const hci::detail::Operand* o) {
    return o ? std::optional<hci::Scalar>(std::get<hci::Scalar>(*o)) : std::nullopt;
  };
  return hci::clamp(tensor(x[0]), scalar(lo), scalar(hi));
}

hci::Tensor run(const fixtures::Case& c, const Inputs& in) {
  using Fn = std::function<hci::Tensor(const Inputs&)>;
  using InPlace = std::function<void(hci::Tensor&, const Inputs&)>;
  auto binary = [](auto tt, auto ts, auto st) {
    return Fn([=](const Inputs& x) {
      if (std::holds_alternative<hci::Scalar>(x[0])) return st(std::get<hci::Scalar>(x[0]), tensor(x[1]));
      if (std::holds_alternative<hci::Scalar>(x[1])) return ts(tensor(x[0]), std::get<hci::Scalar>(x[1]));
      return tt(tensor(x[0]), tensor(x[1]));
    });
  };
#define UNARY(name, kind) {#name, Fn([](const Inputs& x) { return hci::name(tensor(x[0])); })},
#define BINARY(name, kind)                                                                   \
  {#name, binary([](const hci::Tensor& a, const hci::Tensor& b) { return hci::name(a, b); }, \
                 [](const hci::Tensor& a, hci::Scalar b) { return hci::name(a, b); },        \
                 [](hci::Scalar a, const hci::Tensor& b) { return hci::name(a, b); })},
  static const std::map<std::string, Fn> ops = {
      HCI_UNARY_OPS(UNARY)
          HCI_BINARY_OPS(BINARY){"where", Fn([](const Inputs& x) { return hci::where(tensor(x[0]), x[1], x[2]); })},
  };
#undef UNARY
#undef BINARY
#define UNARY(name, kind) {#name "_", InPlace([](hci::Tensor& t, const Inputs&) { t.name##_(); })},
#define BINARY(name, kind)                                  \
  {#name "_", InPlace([](hci::Tensor& t, const Inputs& x) { \
     if (std::holds_alternative<hci::Scalar>(x[1]))         \
       t.name##_(std::get<hci::Scalar>(x[1]));              \
     else                                                   \
       t.name##_(tensor(x[1]));                             \
   })},
  static const std::map<std::string, InPlace> in_place = {
      HCI_UNARY_OPS(UNARY) HCI_BINARY_OPS(BINARY){"clamp_", InPlace([](hci::Tensor& t, const Inputs& x) {
                                                    t.clamp_(std::get<hci::Scalar>(x[1]), std::get<hci::Scalar>(x[2]));
                                                  })},
  };
#undef UNARY
#undef BINARY
  if (c.op == "to") return tensor(in[0]).to(fixtures::parse_dtype(c.args[0]));
  if (c.op.starts_with("clamp") && c.op.back() != '_') return clamp(c.op, in);
  const std::string& op = c.op;
  if (op == "sum" || op == "mean" || op == "amax" || op == "amin" || op == "prod" || op == "all" || op == "any") {
    const hci::Dims dims = fixtures::parse_list(c.args[0]);
    const bool keepdim = c.args[1] == "1";
    const hci::Tensor& x = tensor(in[0]);
    if (op == "sum") return hci::sum(x, dims, keepdim);
    if (op == "mean") return hci::mean(x, dims, keepdim);
    if (op == "amax") return hci::amax(x, dims, keepdim);
    if (op == "amin") return hci::amin(x, dims, keepdim);
    if (op == "prod") return hci::prod(x, dims, keepdim);
    if (op == "all") return hci::all(x, dims, keepdim);
    return hci::any(x, dims, keepdim);
  }
  if (op == "var" || op == "std") {
    const hci::Dims dims = fixtures::parse_list(c.args[0]);
    const double correction = std::stod(c.args[1]);
    const bool keepdim = c.args[2] == "1";
    return op == "var" ? hci::var(tensor(in[0]), dims, correction, keepdim)
                       : hci::std(tensor(in[0]), dims, correction, keepdim);
  }
  if (op == "norm")
    return hci::norm(tensor(in[0]), std::strtod(c.args[0].c_str(), nullptr), fixtures::parse_list(c.args[1]),
                     c.args[2] == "1");
  if (op == "argmax" || op == "argmin") {
    const std::optional<int64_t> dim =
        c.args[0] == "none" ? std::nullopt : std::optional<int64_t>(std::stoll(c.args[0]));
    const bool keepdim = c.args[1] == "1";
    return op == "argmax" ? hci::argmax(tensor(in[0]), dim, keepdim) : hci::argmin(tensor(in[0]), dim, keepdim);
  }
  if (op == "cumsum") return hci::cumsum(tensor(in[0]), std::stoll(c.args[0]));
  if (op == "cat" || op == "stack") {
    std::vector<hci::Tensor> parts;
    for (const auto& x : in) parts.push_back(tensor(x));
    return op == "cat" ? hci::cat(parts, std::stoll(c.args[0])) : hci::stack(parts, std::stoll(c.args[0]));
  }
  if (op == "index_select") return hci::index_select(tensor(in[0]), std::stoll(c.args[0]), tensor(in[1]));
  if (op == "gather") return hci::gather(tensor(in[0]), std::stoll(c.args[0]), tensor(in[1]));
  if (op == "masked_fill") return hci::masked_fill(tensor(in[0]), tensor(in[1]), std::get<hci::Scalar>(in[2]));
  if (op == "masked_fill_") {
    hci::Tensor t = tensor(in[0]).clone();
    return t.masked_fill_(tensor(in[1]), std::get<hci::Scalar>(in[2]));
  }
  if (op == "scatter_add") return hci::scatter_add(tensor(in[0]), std::stoll(c.args[0]), tensor(in[1]), tensor(in[2]));
  if (op == "index_put") {  // inputs: the tensor, the values, then the indices
    std::vector<hci::Tensor> indices;
    for (size_t i = 2; i < in.size(); ++i) indices.push_back(tensor(in[i]));
    return hci::index_put(tensor(in[0]), indices, tensor(in[1]), c.args[0] == "1");
  }
  if (op == "nonzero") return hci::nonzero(tensor(in[0]));
  if (op == "equal") return hci::full({}, hci::equal(tensor(in[0]), tensor(in[1])), hci::kBool);
  if (op == "allclose") return hci::full({}, hci::allclose(tensor(in[0]), tensor(in[1])), hci::kBool);
  if (op.starts_with("sort_")) {
    auto [values, indices] = hci::sort(tensor(in[0]), std::stoll(c.args[0]), c.args[1] == "1");
    return op == "sort_values" ? values : indices;
  }
  if (op.starts_with("topk_")) {
    auto [values, indices] = hci::topk(tensor(in[0]), std::stoll(c.args[0]), std::stoll(c.args[1]), c.args[2] == "1");
    return op == "topk_values" ? values : indices;
  }
  if (op == "softmax") return hci::softmax(tensor(in[0]), std::stoll(c.args[0]));
  if (op == "log_softmax") return hci::log_softmax(tensor(in[0]), std::stoll(c.args[0]));
  if (op == "matmul") return hci::matmul(tensor(in[0]), tensor(in[1]));
  if (op == "mm") return hci::mm(tensor(in[0]), tensor(in[1]));
  if (op == "bmm") return hci::bmm(tensor(in[0]), tensor(in[1]));
  if (c.op.back() == '_') {  // in place, on a copy of the first input
    hci::Tensor t = tensor(in[0]).clone();
    in_place.at(c.op)(t, in);
    return t;
  }
  return ops.at(c.op)(in);
}

// Arithmetic, comparisons, casts, rounding and max/min are exact; transcendental functions and
// float sums are held to a tolerance of a few units in the last place of their dtype, relative
// to the result (or to 1 for gelu, whose negative tail cancels in 1 + erf).
double tolerance(const fixtures::Case& c, hci::DType dtype) {
  static const std::vector<std::string> approximate = {
      "exp", "log",  "tanh",   "sigmoid", "exp2", "log2", "log1p",   "expm1",      "rsqrt", "sin",
      "cos", "tan",  "erf",    "gelu",    "silu", "pow",  "sum",     "mean",       "prod",  "var",
      "std", "norm", "cumsum", "matmul",  "mm",   "bmm",  "softmax", "log_softmax"};
  const std::string op = c.op.back() == '_' ? c.op.substr(0, c.op.size() - 1) : c.op;
  if (std::find(approximate.begin(), approximate.end(), op) == approximate.end()) return 0;
  // Sums of many terms (reductions, scans, products) round at every step.
  static const std::vector<std::string> sums = {"sum",  "mean",   "prod",   "var", "std",
                                                "norm", "cumsum", "matmul", "mm",  "bmm"};
  const bool sum = std::find(sums.begin(), sums.end(), op) != sums.end();
  switch (dtype) {
    case hci::kFloat16: return 2e-3;
    case hci::kBFloat16: return 1.6e-2;
    case hci::kFloat32: return sum ? 2e-5 : 5e-7;
    case hci::kFloat64: return sum ? 1e-13 : 5e-16;
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
    INFO("element " << i << ": got " << std::setprecision(17) << got[i] << ", PyTorch " << want);
    if (std::isnan(want)) {
      CHECK(std::isnan(got[i]));
    } else if (tol == 0 || std::isinf(want)) {
      CHECK(got[i] == want);
    } else {
      // gelu cancels in 1 + erf, products in their sums, log_softmax in (x - max) - log(sum):
      // their errors are relative to 1.
      const bool absolute =
          c.op.starts_with("gelu") || c.op == "matmul" || c.op == "mm" || c.op == "bmm" || c.op == "log_softmax";
      const double scale = std::max(std::abs(want), absolute ? 1.0 : 1e-30);
      CHECK(std::abs(got[i] - want) <= tol * scale + 1e-300);
    }
  }
}

}  // namespace

TEST_CASE("core ops match PyTorch on contiguous and strided inputs", "[fixtures]") {
  const auto cases = fixtures::read(HCI_FIXTURE_DIR "/ops.txt");
  REQUIRE(cases.size() > 1000);
  for (const auto& c : cases) {
    check_case(c, false);
    check_case(c, true);
  }
}

TEST_CASE("library ops match PyTorch on contiguous and strided inputs", "[fixtures]") {
  const auto cases = fixtures::read(HCI_FIXTURE_DIR "/library.txt");
  REQUIRE(cases.size() > 600);
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
