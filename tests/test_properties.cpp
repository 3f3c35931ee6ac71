// Property tests over random shapes: broadcasting, elementwise ops through views, type
// promotion and reductions, each against a plain reference loop.
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <random>

namespace {

// Row-major index of `index` (a multi-index of `shape`) into a tensor of shape `of`, broadcast.
int64_t broadcast_offset(const hci::Dims& index, const hci::Dims& of) {
  int64_t offset = 0;
  const size_t lead = index.size() - of.size();
  for (size_t d = 0; d < of.size(); ++d) offset = offset * of[d] + (of[d] == 1 ? 0 : index[lead + d]);
  return offset;
}

hci::Dims unravel(int64_t linear, const hci::Dims& shape) {
  hci::Dims index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
  return index;
}

}  // namespace

TEST_CASE("broadcasting agrees with a reference loop on random shapes", "[properties][broadcast]") {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> rank_of(0, 4), size_of(1, 4), coin(0, 2);
  for (int trial = 0; trial < 300; ++trial) {
    hci::Dims out(size_t(rank_of(rng)));
    for (auto& s : out) s = size_of(rng);
    // Each operand drops some leading dims and sets some dims to 1.
    auto operand_shape = [&] {
      hci::Dims s(out.begin() + std::uniform_int_distribution<int>(0, int(out.size()))(rng), out.end());
      for (auto& d : s)
        if (coin(rng) == 0) d = 1;
      return s;
    };
    const hci::Dims sa = operand_shape(), sb = operand_shape();
    INFO("shapes " << hci::detail::shape_str(sa) << " and " << hci::detail::shape_str(sb));
    const hci::Tensor a = hci::randn(sa), b = hci::randn(sb).to(hci::kFloat64);
    const bool transpose = a.dim() >= 2 && coin(rng) == 0;  // strided operand too
    const hci::Tensor a_view = transpose ? a.transpose(0, 1).contiguous().transpose(0, 1) : a;
    const hci::Tensor c = a_view * 2 - b;
    const hci::Dims expected_shape = hci::detail::broadcast_shapes(sa, sb, "test");
    REQUIRE(c.sizes().vec() == expected_shape);
    // A 0-dim float64 operand does not widen a float32 tensor with dims (PyTorch's rule).
    const bool narrow = a.dim() > 0 && b.dim() == 0;
    CHECK(c.dtype() == (narrow ? hci::kFloat32 : hci::kFloat64));
    const auto av = a.to_vector<float>();
    const auto bv = b.to_vector<double>();
    const auto cv = c.to_vector<double>();
    for (int64_t i = 0; i < c.numel(); ++i) {
      const hci::Dims index = unravel(i, expected_shape);
      const float a2 = av[broadcast_offset(index, sa)] * 2;
      const double bi = bv[broadcast_offset(index, sb)];
      const double want = narrow ? double(a2 - float(bi)) : double(a2) - bi;
      REQUIRE(cv[i] == want);
    }
    // Reductions over a random subset of dims agree with summing the reference.
    if (c.dim() > 0) {
      const int64_t dim = std::uniform_int_distribution<int64_t>(0, c.dim() - 1)(rng);
      const auto s = hci::sum(c, {dim}, true).to_vector<double>();
      hci::Dims reduced_shape = expected_shape;
      reduced_shape[size_t(dim)] = 1;
      std::vector<double> ref(size_t(hci::detail::numel(reduced_shape)), 0.0);
      for (int64_t i = 0; i < c.numel(); ++i)
        ref[size_t(broadcast_offset(unravel(i, expected_shape), reduced_shape))] += cv[i];
      const double tolerance = narrow ? 1e-6 : 1e-12;  // float32 sums round at each step
      for (size_t i = 0; i < ref.size(); ++i) CHECK(s[i] == Approx(ref[i]).epsilon(tolerance).margin(tolerance));
    }
  }
}

TEST_CASE("incompatible shapes are an error naming both", "[properties][broadcast][errors]") {
  CHECK_THROWS_WITH(hci::ones({2, 3}) * hci::ones({2}), Catch::Contains("[2, 3]") && Catch::Contains("[2]"));
  CHECK_THROWS_WITH(hci::where(hci::ones({3}) > 0, hci::ones({4}), 1.0), Catch::Contains("[3]"));
}

TEST_CASE("type promotion is symmetric and agrees with promote_types for tensors", "[properties][dtype]") {
  for (int i = 0; i < hci::kNumDTypes; ++i)
    for (int j = 0; j < hci::kNumDTypes; ++j) {
      const auto a = hci::DType(i), b = hci::DType(j);
      INFO(hci::dtype_name(a) << " + " << hci::dtype_name(b));
      CHECK(hci::promote_types(a, b) == hci::promote_types(b, a));
      const hci::Tensor x = hci::ones({2}, a), y = hci::ones({2}, b);
      CHECK(hci::maximum(x, y).dtype() == hci::promote_types(a, b));
      CHECK((x == y).dtype() == hci::kBool);
      CHECK((x == y).to_vector<bool>() == std::vector<bool>{true, true});
    }
}
