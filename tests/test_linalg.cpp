// Matrix products against a float64 reference loop: odd sizes across the blocking edges of the
// built-in kernel, transposed and broadcast operands, every dtype; the BLAS and the built-in
// kernel side by side; and which BLAS is in use (HCI_TEST_EXPECT_BLAS, set by the ctest entries).
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>
#include <string>

namespace {

// out[b][i][j] = sum_k a[b][i][k] * b[b][k][j], in double, over contiguous copies.
std::vector<double> reference(const hci::Tensor& a, const hci::Tensor& b) {
  const auto av = a.contiguous().to_vector<double>(), bv = b.contiguous().to_vector<double>();
  const int64_t batches = a.size(0), m = a.size(1), depth = a.size(2), n = b.size(2);
  std::vector<double> out(size_t(batches * m * n));
  for (int64_t t = 0; t < batches; ++t)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = 0; k < depth; ++k)
          s += av[size_t((t * m + i) * depth + k)] * bv[size_t((t * depth + k) * n + j)];
        out[size_t((t * m + i) * n + j)] = s;
      }
  return out;
}

// Largest |got - want| relative to the sum of |a_ik b_kj| (the scale of the rounding errors).
double worst_error(const hci::Tensor& got, const hci::Tensor& a, const hci::Tensor& b) {
  const std::vector<double> want = reference(a, b), scale = reference(hci::abs(a), hci::abs(b));
  const std::vector<double> g = got.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - want[i]) / std::max(scale[i], 1e-300));
  return worst;
}

}  // namespace

TEST_CASE("the BLAS in use is the one the environment asks for", "[linalg][blas]") {
  const hci::cpu::Blas& blas = hci::cpu::blas();
  INFO("BLAS: " << (blas.available() ? blas.path : blas.reason));
  const char* expect = std::getenv("HCI_TEST_EXPECT_BLAS");
  if (!expect) return;
  if (std::string(expect) == "none")
    CHECK_FALSE(blas.available());
  else
    CHECK(blas.path.find(expect) != std::string::npos);
}

TEST_CASE("matmul agrees with a float64 reference across block edges, transposes and batches", "[linalg]") {
  std::mt19937 rng(11);
  // Sizes around the register tiles (up to 12 x 32), the packed depth (256) and beyond.
  const std::vector<int64_t> sizes = {1, 5, 12, 13, 31, 33, 97, 255, 257, 300};
  std::uniform_int_distribution<size_t> pick(0, sizes.size() - 1);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t batches = 1 + trial % 3, m = sizes[pick(rng)], depth = sizes[pick(rng)], n = sizes[pick(rng)];
    const bool transpose_a = trial % 2 == 1, transpose_b = trial % 4 >= 2;
    INFO("batches " << batches << ", " << m << " x " << depth << " times " << depth << " x " << n
                    << (transpose_a ? ", a transposed" : "") << (transpose_b ? ", b transposed" : ""));
    for (hci::DType dtype : {hci::kFloat32, hci::kFloat64}) {
      const hci::Tensor a =
          transpose_a ? hci::randn({batches, depth, m}, dtype).transpose(1, 2) : hci::randn({batches, m, depth}, dtype);
      const hci::Tensor b =
          transpose_b ? hci::randn({batches, n, depth}, dtype).transpose(1, 2) : hci::randn({batches, depth, n}, dtype);
      const hci::Tensor c = hci::matmul(a, b);
      REQUIRE(c.sizes().vec() == hci::Dims{batches, m, n});
      CHECK(worst_error(c, a, b) < (dtype == hci::kFloat32 ? 2e-6 : 4e-15) * std::sqrt(double(depth)));
    }
  }
}

TEST_CASE("matmul computes 16-bit floats in float32 and integers exactly", "[linalg]") {
  const hci::Tensor a = hci::randn({3, 37, 300}), b = hci::randn({3, 300, 41});
  for (hci::DType dtype : {hci::kFloat16, hci::kBFloat16}) {
    const hci::Tensor ah = a.to(dtype), bh = b.to(dtype);
    const hci::Tensor c = hci::matmul(ah, bh);
    CHECK(c.dtype() == dtype);
    // One rounding of a float32 sum: within a unit of the 16-bit type, relative to the scale.
    CHECK(worst_error(c, ah, bh) < (dtype == hci::kFloat16 ? 1e-3 : 8e-3));
  }
  auto integers = [](hci::IntList shape) { return hci::floor(hci::rand(shape) * 100 - 50).to(hci::kInt32); };
  const hci::Tensor ia = integers({2, 70, 90}), ib = integers({2, 90, 45});
  const std::vector<double> want = reference(ia, ib);
  const std::vector<int64_t> got = hci::matmul(ia, ib).to_vector<int64_t>();
  for (size_t i = 0; i < want.size(); ++i) REQUIRE(double(got[i]) == want[i]);
  // uint8 wraps around like PyTorch's: 200 * 2 = 400 = 144 mod 256.
  const hci::Tensor u = hci::full({1, 1}, 200, hci::kUInt8), two = hci::full({1, 1}, 2, hci::kUInt8);
  CHECK(hci::matmul(u, two).item<int64_t>() == 144);
}

TEST_CASE("matmul gives the same bits for any thread count", "[linalg][threads]") {
  // The built-in kernel splits rows and columns only; the BLAS paths are checked to do the same.
  const hci::Tensor a = hci::randn({300, 257}), b = hci::randn({257, 140});
  hci::eval(a, b);
  const int threads = hci::get_num_threads();
  std::vector<std::vector<float>> runs;
  for (int t : {1, 3}) {
    hci::set_num_threads(t);
    runs.push_back(hci::matmul(a, b).to_vector<float>());
  }
  hci::set_num_threads(threads);
  CHECK(runs[0] == runs[1]);
}

TEST_CASE("matmul reads lazy operands computed first, and records one kernel for itself", "[linalg][lazy]") {
  const hci::Tensor a = hci::randn({20, 30}), b = hci::randn({30, 10});
  hci::eval(a, b);
  std::vector<hci::OpKind> roots;
  hci::set_launch_hook([&](const hci::Kernel& k) { roots.push_back(k.structure.ops.back().op); });
  const hci::Tensor c = hci::matmul(a * 2, b.t().contiguous().t()) + 1;
  hci::eval(c);
  hci::set_launch_hook(nullptr);
  // a * 2 and the contiguous copy, then the product, then + 1.
  REQUIRE(roots.size() == 4);
  CHECK(roots[2] == hci::OpKind::Matmul);
  CHECK(worst_error(c.unsqueeze(0) - 1, (a * 2).unsqueeze(0), b.unsqueeze(0)) < 1e-6);
}
