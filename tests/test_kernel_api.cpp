// Portable kernels (hci::kernel, hci::launch): the lambda traced and compiled must compute what
// the same lambda computes on plain values, bit for bit; loads, stores, select, if_, loop, atomic
// adds and the math library; bad launches and bad indices are hci::Errors.
#include "jit_support.hpp"

#include <hci/hci.hpp>
#include <hci/launch.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

using hci::Buffer;
using jit_test::bits_of;
using jit_test::require_jit;
using jit_test::Tensor;

const auto saxpy = hci::kernel<Buffer<float>, Buffer<float>, float>(
    [](auto i, auto x, auto y, auto a) { y.store(i, a * x.load(i) + y.load(i)); });

// Per element: a chain of the math library, a choice and a conditional store.
const auto activation =
    hci::kernel<Buffer<double>, Buffer<double>, Buffer<int64_t>>([](auto i, auto x, auto out, auto flags) {
      const auto v = x.load(i);
      const auto smooth = hci::math::tanh(v) * hci::math::exp(v * -0.5) + hci::math::sigmoid(v);
      out.store(i, hci::select(v < 0.0, smooth * 0.25, smooth));
      hci::if_(v > 1.0, [&] { flags.store(i, int64_t(1)); });
    });

// A loop carrying a value: each output sums a row of 7.
const auto row_sums = hci::kernel<Buffer<float>, Buffer<float>>([](auto i, auto x, auto out) {
  out.store(i, hci::loop(0, 7, 0.0f, [&](auto j, auto total) { return total + x.load(i * 7 + j); }));
});

// Atomic adds from every index into few places: a histogram of x mod 5, and a total.
const auto histogram =
    hci::kernel<Buffer<int32_t>, Buffer<int64_t>, Buffer<double>>([](auto i, auto x, auto counts, auto total) {
      const auto v = x.load(i);
      counts.atomic_add(v - v / 5 * 5, int64_t(1));  // operands of int32 widen before indexing
      total.atomic_add(0, 0.5);
    });

Tensor values(int64_t n, hci::DType t) { return (hci::arange(n, hci::kFloat64) * 0.37 - 11).to(t).contiguous(); }

TEST_CASE("a traced kernel computes what the plain lambda computes", "[kernel]") {
  require_jit();
  for (int64_t n : {int64_t(1), int64_t(100), int64_t(100003)}) {
    INFO("n = " << n);
    const Tensor x = values(n, hci::kFloat32);
    Tensor y1 = hci::full({n}, 1.5, hci::kFloat32).contiguous(), y2 = y1.clone();
    hci::eval(x, y1, y2);
    hci::jit::reset_stats();
    hci::launch(saxpy, n, x, y1, 2.0f);
    CHECK(hci::jit::stats().launches == 1);
    saxpy.reference(n, x, y2, 2.0f);
    CHECK(bits_of(y1) == bits_of(y2));
    const std::vector<float> xs = x.to_vector<float>(), ys = y1.to_vector<float>();
    for (size_t k = 0; k < xs.size(); k += 997) CHECK(ys[k] == 2.0f * xs[k] + 1.5f);

    const Tensor d = values(n, hci::kFloat64);
    Tensor out1 = hci::zeros({n}, hci::kFloat64).contiguous(), out2 = out1.clone();
    Tensor flags1 = hci::zeros({n}, hci::kInt64).contiguous(), flags2 = flags1.clone();
    hci::launch(activation, n, d, out1, flags1);
    activation.reference(n, d, out2, flags2);
    CHECK(bits_of(out1) == bits_of(out2));
    CHECK(bits_of(flags1) == bits_of(flags2));
    CHECK(flags1.sum().item<int64_t>() == (d > 1.0).sum().item<int64_t>());
  }
}

TEST_CASE("kernels loop, choose and add atomically", "[kernel]") {
  require_jit();
  const Tensor x = values(7 * 301, hci::kFloat32);
  Tensor sums = hci::zeros({301}, hci::kFloat32).contiguous(), sums_plain = sums.clone();
  hci::launch(row_sums, 301, x, sums);
  row_sums.reference(301, x, sums_plain);
  CHECK(bits_of(sums) == bits_of(sums_plain));
  const std::vector<float> xs = x.to_vector<float>(), got = sums.to_vector<float>();
  for (size_t r = 0; r < got.size(); r += 50) {
    float total = 0;
    for (size_t j = 0; j < 7; ++j) total += xs[r * 7 + j];
    CHECK(got[r] == total);
  }

  const int64_t n = 200000;
  const Tensor ints = hci::arange(n, hci::kInt32).contiguous();
  Tensor counts = hci::zeros({5}, hci::kInt64).contiguous(), total = hci::zeros({1}, hci::kFloat64).contiguous();
  hci::launch(histogram, n, ints, counts, total);  // on every thread of the pool at once
  CHECK(counts.to_vector<int64_t>() == std::vector<int64_t>(5, n / 5));
  CHECK(total.item<double>() == 0.5 * n);
}

TEST_CASE("without the JIT a launch runs the plain lambda", "[kernel]") {
  const Tensor x = values(5000, hci::kFloat32);
  Tensor y1 = hci::ones({5000}, hci::kFloat32).contiguous(), y2 = y1.clone();
  hci::jit::set_enabled(false);
  hci::launch(saxpy, 5000, x, y1, -3.0f);
  hci::jit::set_enabled(true);
  saxpy.reference(5000, x, y2, -3.0f);
  CHECK(bits_of(y1) == bits_of(y2));
}

TEST_CASE("bad launches and bad indices are errors", "[kernel]") {
  const Tensor x = values(10, hci::kFloat32);
  Tensor y = hci::zeros({10}, hci::kFloat32).contiguous();
  CHECK_THROWS_WITH(hci::launch(saxpy, 10, x.to(hci::kFloat64), y, 1.0f),
                    Catch::Contains("kernel argument 1 is a float64 tensor, and the kernel reads float32"));
  CHECK_THROWS_WITH(hci::launch(saxpy, 5, x, hci::zeros({10, 2}, hci::kFloat32).t(), 1.0f),
                    Catch::Contains("kernel argument 2 is not contiguous"));
  CHECK_THROWS_WITH(hci::launch(saxpy, -1, x, y, 1.0f), Catch::Contains("cannot run over -1 indices"));
  CHECK_NOTHROW(hci::launch(saxpy, 0, x, y, 1.0f));
  for (bool compiled : {true, false}) {
    INFO("compiled " << compiled);
    hci::jit::set_enabled(compiled);
    CHECK_THROWS_WITH(hci::launch(saxpy, 11, x, y, 1.0f), Catch::Contains("outside") || Catch::Contains("element 10"));
  }
  hci::jit::set_enabled(true);
  CHECK_THROWS_WITH(saxpy.reference(11, x, y, 1.0f), Catch::Contains("indexed element 10 of a buffer of 10"));
}

TEST_CASE("a compiled kernel's integer division by zero is an error", "[kernel]") {
  require_jit();  // the plain lambda would trap, as C++'s division does
  const auto divide =
      hci::kernel<Buffer<int64_t>>([](auto i, auto a) { a.store(i, a.load(i) / (a.load(i) - int64_t(3))); });
  Tensor a = hci::arange(5).contiguous();
  CHECK_THROWS_WITH(hci::launch(divide, 5, a), Catch::Contains("a kernel divided an integer by zero"));
  Tensor b = hci::arange(3).contiguous();
  hci::launch(divide, 3, b);
  CHECK(b.to_vector<int64_t>() == std::vector<int64_t>{0, 0, -2});
}

TEST_CASE("masks compare as bools do: false < true", "[kernel]") {
  require_jit();
  const auto order = hci::kernel<Buffer<double>, Buffer<int64_t>>([](auto i, auto x, auto out) {
    const auto a = x.load(i) > 0.0, b = x.load(i) > 1.0;
    out.store(i, hci::select(a < b, int64_t(1), int64_t(0)) + hci::select(a > b, int64_t(10), int64_t(0)) +
                     hci::select(a <= b, int64_t(100), int64_t(0)) + hci::select(a >= b, int64_t(1000), int64_t(0)));
  });
  const Tensor x = hci::from_vector(std::vector<double>{-1, 0.5, 2});
  Tensor traced = hci::zeros({3}, hci::kInt64).contiguous(), plain = traced.clone();
  hci::launch(order, 3, x, traced);
  order.reference(3, x, plain);
  CHECK(traced.to_vector<int64_t>() == std::vector<int64_t>{1100, 1010, 1100});
  CHECK(plain.to_vector<int64_t>() == traced.to_vector<int64_t>());
}

// A lambda of the wrong shape is not a kernel body (hci::kernel would not compile with it).
static_assert(hci::KernelBody<decltype([](auto, auto, auto) {}), Buffer<float>, float>);
static_assert(!hci::KernelBody<decltype([](auto, auto) {}), Buffer<float>, float>);
static_assert(!hci::KernelBody<decltype([](int64_t i, float* x) { x[i] = 0; }), Buffer<float>>);

TEST_CASE("a kernel's IR is the same text each time", "[kernel]") {
  CHECK(saxpy.ir() == saxpy.ir());
  CHECK_THAT(saxpy.ir(), Catch::Contains("define i32 @hci_kernel(i64 %start, i64 %end, ptr"));
}

}  // namespace
