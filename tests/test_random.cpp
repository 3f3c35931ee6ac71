// Random numbers: Philox4x32-10 against its published known-answer vectors, reproducibility
// under manual_seed, independence from threads and evaluation order, and the distributions.
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <cmath>

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors", "[random]") {
  using W = std::array<uint32_t, 4>;
  CHECK(hci::detail::philox4x32_10({0, 0, 0, 0}, {0, 0}) == W{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(hci::detail::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
        W{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(hci::detail::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
        W{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("manual_seed makes draws reproducible; consecutive draws differ", "[random]") {
  hci::manual_seed(7);
  const auto a = hci::rand({1000}).to_vector<float>();
  const auto b = hci::rand({1000}).to_vector<float>();
  hci::manual_seed(7);
  const auto a2 = hci::rand({1000}).to_vector<float>();
  CHECK(a == a2);
  CHECK(a != b);
  hci::manual_seed(8);
  CHECK(hci::rand({1000}).to_vector<float>() != a);
}

TEST_CASE("a draw does not depend on the number of threads", "[random][threads]") {
  const int threads = hci::get_num_threads();
  hci::set_num_threads(1);
  hci::manual_seed(3);
  const auto one = hci::randn({100000}).to_vector<float>();
  hci::set_num_threads(4);
  hci::manual_seed(3);
  const auto four = hci::randn({100000}).to_vector<float>();
  hci::set_num_threads(threads);
  CHECK(one == four);
}

TEST_CASE("rand is uniform on [0, 1) and randn is standard normal", "[random]") {
  hci::manual_seed(11);
  for (hci::DType t : {hci::kFloat32, hci::kFloat64, hci::kFloat16, hci::kBFloat16}) {
    INFO(hci::dtype_name(t));
    const hci::Tensor u = hci::rand({200000}, t);
    CHECK(u.dtype() == t);
    const auto v = u.to_vector<double>();
    double mean = 0, var = 0;
    for (double x : v) {
      REQUIRE(x >= 0);
      REQUIRE(x <= 1);  // rounding to a narrow dtype may reach 1
      mean += x;
    }
    mean /= double(v.size());
    for (double x : v) var += (x - mean) * (x - mean);
    var /= double(v.size());
    CHECK(mean == Approx(0.5).margin(0.005));
    CHECK(var == Approx(1.0 / 12).margin(0.002));
  }
  const auto n = hci::randn({400000}, hci::kFloat64).to_vector<double>();
  double mean = 0, m2 = 0, m4 = 0;
  for (double x : n) mean += x;
  mean /= double(n.size());
  for (double x : n) {
    m2 += (x - mean) * (x - mean);
    m4 += std::pow(x - mean, 4);
  }
  m2 /= double(n.size());
  m4 /= double(n.size());
  CHECK(mean == Approx(0).margin(0.01));
  CHECK(m2 == Approx(1).margin(0.01));
  CHECK(m4 / (m2 * m2) == Approx(3).margin(0.05));  // kurtosis of a normal
  CHECK_THROWS_WITH(hci::rand({2}, hci::kInt32), Catch::Contains("floating-point"));
}
