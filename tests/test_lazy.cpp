// The lazy graph's contract: when evaluation happens, what fuses, and that laziness never
// changes a result (in-place writes, borrowed memory, rounding, reduction order, long chains,
// threads).
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>

namespace {

// Eager mode (HCI_EAGER=1) runs this suite too, and the values it reads must be the same, so
// tests do the same work in both modes and only the checks on kernel counts depend on it.
bool eager() { return hci::detail::eager_mode(); }

// Records every kernel launched while it lives.
struct KernelLog {
  std::vector<hci::Kernel> kernels;
  KernelLog() {
    hci::set_launch_hook([this](const hci::Kernel& k) { kernels.push_back(k); });
  }
  ~KernelLog() { hci::set_launch_hook(nullptr); }
  KernelLog(const KernelLog&) = delete;
  KernelLog& operator=(const KernelLog&) = delete;
};

std::vector<float> values(const hci::Tensor& t) { return t.to_vector<float>(); }

}  // namespace

TEST_CASE("ops are recorded and evaluated when observed", "[lazy]") {
  const hci::Tensor x = hci::arange(6).to(hci::kFloat32);
  hci::eval(x);
  const hci::Tensor y = x * 2 + 1;
  CHECK(y.is_evaluated() == eager());
  CHECK(values(y) == std::vector<float>{1, 3, 5, 7, 9, 11});
  CHECK(y.is_evaluated());
  const hci::Tensor z = y.exp();
  hci::eval(z);
  CHECK(z.is_evaluated());
}

TEST_CASE("an elementwise chain with its views fuses into one kernel", "[lazy][fusion]") {
  const hci::Tensor a = hci::rand({64, 32}), b = hci::rand({32, 64}), c = hci::rand({64}), d = hci::rand({64, 32});
  hci::eval(a, b, c, d);
  KernelLog log;
  const hci::Tensor y = hci::relu(a * b.t() + c.reshape({64, 1})) * 0.5 + hci::exp(-d);
  hci::eval(y);
  if (!eager()) {
    REQUIRE(log.kernels.size() == 1);
    const hci::Kernel& k = log.kernels[0];
    CHECK(k.params.buffers.size() == 5);  // the output and four inputs
    CHECK(k.flops > 0);
    CHECK(k.bytes == Approx(5.0 * 64 * 32 * 4 - (64 * 32 - 64) * 4));  // c is read once per row
  }
  // Reference, element by element.
  const auto av = values(a), bv = values(b), cv = values(c), dv = values(d), yv = values(y);
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 32; ++j) {
      const float t = av[i * 32 + j] * bv[j * 64 + i] + cv[i];
      CHECK(yv[i * 32 + j] == Approx((t > 0 ? t : 0) * 0.5f + std::exp(-dv[i * 32 + j])).epsilon(1e-6));
    }
}

TEST_CASE("an elementwise producer fuses into the reduction that consumes it", "[lazy][fusion]") {
  const hci::Tensor x = hci::rand({100, 300});
  hci::eval(x);
  KernelLog log;
  const hci::Tensor s = (x * 2 + 1).sum({1});
  hci::eval(s);
  if (!eager()) {
    REQUIRE(log.kernels.size() == 1);
    CHECK(log.kernels[0].structure.is_reduction());
  }
  const auto xv = values(x), sv = values(s);
  for (int i = 0; i < 100; ++i) {
    double row = 0;
    for (int j = 0; j < 300; ++j) row += xv[i * 300 + j] * 2.0f + 1.0f;
    CHECK(sv[i] == Approx(row).epsilon(1e-5));
  }
}

TEST_CASE("scalars are parameters: x * lr compiles to one structure for every lr", "[lazy][kernel]") {
  const hci::Tensor x = hci::rand({1000}), y = hci::rand({37});
  hci::eval(x, y);
  KernelLog log;
  hci::eval(x * 0.1);
  hci::eval(x * 0.2);
  hci::eval(y * 3.0);  // other sizes too
  REQUIRE(log.kernels.size() == 3);
  CHECK(log.kernels[0].hash == log.kernels[1].hash);
  CHECK(log.kernels[0].hash == log.kernels[2].hash);
  CHECK(log.kernels[0].params.scalars[0].f != log.kernels[1].params.scalars[0].f);
  hci::eval(x + 0.1);
  CHECK(log.kernels[3].hash != log.kernels[0].hash);
}

TEST_CASE("a subexpression with two consumers is computed once", "[lazy][fusion]") {
  const hci::Tensor a = hci::rand({256});
  hci::eval(a);
  KernelLog log;
  const hci::Tensor c = [&] {
    const hci::Tensor b = hci::exp(a);
    return b + b * 2;
  }();
  hci::eval(c);
  if (!eager()) CHECK(log.kernels.size() == 2);  // exp(a) once, then the sum reading it twice
  const auto av = values(a), cv = values(c);
  for (size_t i = 0; i < av.size(); ++i) CHECK(cv[i] == Approx(3 * std::exp(av[i])).epsilon(1e-6));
}

TEST_CASE("a pending read keeps the value it was recorded with", "[lazy][inplace]") {
  hci::Tensor a = hci::ones({4});
  const hci::Tensor b = a * 2;
  a.add_(1);
  CHECK(values(b) == std::vector<float>{2, 2, 2, 2});
  CHECK(values(a) == std::vector<float>{2, 2, 2, 2});

  SECTION("through views of the written tensor") {
    hci::Tensor base = hci::arange(6).to(hci::kFloat32);
    const hci::Tensor head = base.slice(0, 0, 3) * 10;
    base.slice(0, 1, 6).fill_(0);
    CHECK(values(head) == std::vector<float>{0, 10, 20});
    CHECK(values(base) == std::vector<float>{0, 0, 0, 0, 0, 0});
  }
  SECTION("when the written tensor was itself lazy") {
    hci::Tensor x = hci::ones({3}) * 5;
    const hci::Tensor y = x + 1;
    x.mul_(2);
    CHECK(values(y) == std::vector<float>{6, 6, 6});
    CHECK(values(x) == std::vector<float>{10, 10, 10});
  }
  SECTION("a writable data_ptr counts as a write") {
    hci::Tensor x = hci::full({2}, 3.0);
    const hci::Tensor y = x * x;
    const uint64_t before = x.version();
    x.data_ptr<float>()[0] = 100;
    CHECK(x.version() > before);
    CHECK(values(y) == std::vector<float>{9, 9});
    CHECK(values(x) == std::vector<float>{100, 3});
  }
  SECTION("an accessor is a writable view on the host") {
    hci::Tensor m = hci::zeros({2, 3});
    const hci::Tensor before = m + 1;
    auto acc = m.accessor<float, 2>();
    acc[1][2] = 7;
    CHECK(values(m) == std::vector<float>{0, 0, 0, 0, 0, 7});
    CHECK(values(before) == std::vector<float>{1, 1, 1, 1, 1, 1});
  }
}

TEST_CASE("in-place ops raise PyTorch's overlap errors", "[inplace][errors]") {
  hci::Tensor a = hci::arange(8).to(hci::kFloat32);
  CHECK_THROWS_WITH(a.slice(0, 1).add_(a.slice(0, 0, 7)), Catch::Contains("refer to a single memory location"));
  hci::Tensor e = hci::ones({1}).expand({4});
  CHECK_THROWS_WITH(e.add_(1), Catch::Contains("more than one element of the written-to tensor"));
  hci::Tensor sq = hci::rand({3, 3});
  CHECK_THROWS_AS(sq.copy_(sq.t()), hci::Error);
  a.add_(a);  // full overlap is fine
  CHECK(values(a) == std::vector<float>{0, 2, 4, 6, 8, 10, 12, 14});
  a.slice(0, 0, 4).add_(a.slice(0, 4, 8));  // disjoint parts of one buffer are fine
  CHECK(values(a) == std::vector<float>{8, 12, 16, 20, 8, 10, 12, 14});
  // A computed input that read the written memory is computed before the write.
  a.slice(0, 1).add_(a.slice(0, 0, 7) * 0);
  CHECK(values(a) == std::vector<float>{8, 12, 16, 20, 8, 10, 12, 14});
}

TEST_CASE("in-place ops check dtypes and shapes", "[inplace][errors]") {
  hci::Tensor i = hci::ones({3}, hci::kInt64);
  CHECK_THROWS_WITH(i.div_(2), Catch::Contains("result type float32 can't be cast to the desired output type int64"));
  CHECK_THROWS_WITH(i.add_(1.5), Catch::Contains("can't be cast"));
  i.add_(2);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{3, 3, 3});
  hci::Tensor f = hci::ones({2});
  CHECK_THROWS_WITH(f.add_(hci::ones({2, 2})), Catch::Contains("doesn't match the broadcast shape"));
  f.copy_(hci::from_vector<int64_t>({7, 9}));  // copy_ converts any dtype
  CHECK(values(f) == std::vector<float>{7, 9});
  f.zero_();
  CHECK(values(f) == std::vector<float>{0, 0});
}

TEST_CASE("from_blob borrows memory under a documented contract", "[lazy][from_blob]") {
  std::vector<float> host = {1, 2, 3, 4, 5, 6};
  int deletions = 0;
  {
    hci::Tensor t = hci::from_blob(host.data(), {2, 3}, hci::kFloat32, [&](void* p) {
      CHECK(p == host.data());
      ++deletions;
    });
    const hci::Tensor doubled = t * 2;
    // The owner writes through data_ptr(): pending readers are computed first.
    t.data_ptr<float>()[0] = 10;
    CHECK(host[0] == 10);
    CHECK(values(doubled)[0] == 2);
    t.add_(1);  // hci's own in-place ops write the borrowed memory
    CHECK(host[5] == 7);
    hci::Tensor view = t.t();
    t = hci::Tensor();
    CHECK(deletions == 0);  // a view still refers to it
    CHECK(values(view) == std::vector<float>{11, 5, 3, 6, 4, 7});
  }
  CHECK(deletions == 1);

  SECTION("strided") {
    const hci::Tensor s = hci::from_blob(host.data(), {3}, {2}, hci::kFloat32);
    CHECK(values(s) == std::vector<float>{host[0], host[2], host[4]});
  }
  SECTION("read-only through a const pointer") {
    const std::vector<float> frozen = {1, 2};
    hci::Tensor r = hci::from_blob(static_cast<const void*>(frozen.data()), {2}, hci::kFloat32);
    CHECK(values(r + 1) == std::vector<float>{2, 3});
    CHECK(*r.const_data_ptr<float>() == 1);
    CHECK_THROWS_WITH(r.add_(1), Catch::Contains("read-only"));
    CHECK_THROWS_WITH(r.data_ptr<float>(), Catch::Contains("read-only"));
    CHECK(frozen[0] == 1);
  }
  SECTION("bad arguments") {
    CHECK_THROWS_AS(hci::from_blob(static_cast<void*>(nullptr), {2}, hci::kFloat32), hci::Error);
    CHECK_THROWS_AS(hci::from_blob(host.data(), {2}, {1, 1}, hci::kFloat32), hci::Error);
  }
}

TEST_CASE("float16 and bfloat16 round after every op, fused or not", "[lazy][rounding]") {
  for (hci::DType t : {hci::kFloat16, hci::kBFloat16}) {
    const hci::Tensor x = hci::rand({4096}).to(t);
    hci::eval(x);
    const hci::Tensor fused = ((x * 3.3 + 0.7) / 3.3 - x).exp();
    hci::Tensor step = x * 3.3;
    hci::eval(step);
    step = step + 0.7;
    hci::eval(step);
    step = step / 3.3;
    hci::eval(step);
    step = step - x;
    hci::eval(step);
    step = step.exp();
    const auto a = fused.to_vector<float>(), b = step.to_vector<float>();
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    // and the rounding did happen: float32 gives different values
    const auto wide = ((x.to(hci::kFloat32) * 3.3 + 0.7) / 3.3 - x.to(hci::kFloat32)).exp().to_vector<float>();
    CHECK(std::memcmp(a.data(), wide.data(), a.size() * sizeof(float)) != 0);
  }
}

TEST_CASE("reductions combine in one order whatever the threads and the fusion", "[lazy][reduce]") {
  const hci::Tensor x = hci::randn({1 << 20});
  hci::eval(x);
  const int threads = hci::get_num_threads();
  hci::set_num_threads(1);
  const float one = (x * 1.5).sum().item<float>();
  const auto rows_one = (x * 1.5).reshape({1024, 1024}).sum({1}).to_vector<float>();
  hci::set_num_threads(3);
  const float three = (x * 1.5).sum().item<float>();
  const auto rows_three = (x * 1.5).reshape({1024, 1024}).sum({1}).to_vector<float>();
  hci::set_num_threads(threads);
  const hci::Tensor scaled = x * 1.5;
  hci::eval(scaled);
  const float unfused = scaled.sum().item<float>();
  CHECK(std::memcmp(&one, &three, sizeof(float)) == 0);
  CHECK(std::memcmp(&one, &unfused, sizeof(float)) == 0);
  CHECK(rows_one == rows_three);
  double reference = 0;
  for (float v : scaled.to_vector<float>()) reference += v;
  CHECK(one == Approx(reference).epsilon(1e-5));
}

TEST_CASE("reducing the outer dim walks rows but combines in the same order", "[lazy][reduce]") {
  // A column reduction of a row-major matrix runs row by row; it must give the bits of the same
  // reduction over a contiguous copy of the transpose (reduced along rows), blocks and all.
  const hci::Tensor x = hci::randn({10000, 300}) + 0.5;
  hci::eval(x);
  const hci::Tensor xt = x.t().contiguous();
  CHECK(x.sum({0}).to_vector<float>() == xt.sum({1}).to_vector<float>());
  CHECK(x.mean({0}).to_vector<float>() == xt.mean({1}).to_vector<float>());
  CHECK(x.amax({0}).to_vector<float>() == xt.amax({1}).to_vector<float>());
  CHECK((x * 1e-3 + 1).prod({0}).to_vector<float>() == (xt * 1e-3 + 1).prod({1}).to_vector<float>());
  CHECK((x > 0).all({0}).to_vector<bool>() == (xt > 0).all({1}).to_vector<bool>());
  const hci::Tensor ints = (x * 100).to(hci::kInt32);
  CHECK(ints.sum({0}).to_vector<int64_t>() == ints.t().contiguous().sum({1}).to_vector<int64_t>());
}

TEST_CASE("prod, argmax and cumsum give one answer whatever the threads", "[lazy][reduce]") {
  // Long enough that the pool splits single outputs into blocks.
  const int64_t n = 1 << 19;
  const hci::Tensor x = hci::randn({n});
  hci::eval(x);
  const std::vector<float> xv = x.to_vector<float>();
  const int64_t planted = 300001;  // the maximum, and a NaN later that argmax must prefer
  const int threads = hci::get_num_threads();
  std::vector<std::vector<float>> runs;
  for (int t : {1, 3}) {
    hci::set_num_threads(t);
    hci::Tensor y = x.clone();
    y.narrow(0, planted, 1).fill_(100);
    const float prod =
        hci::where(y > 0, 1.0, -1.0).prod().item<float>() * (y == 100).to(hci::kFloat32).sum().item<float>();
    const auto arg = float(y.argmax().item<int64_t>());
    y.narrow(0, n - 5, 1).fill_(std::numeric_limits<float>::quiet_NaN());
    const auto nan_arg = float(y.argmax().item<int64_t>());
    const auto running = hci::cumsum(y.narrow(0, 0, n - 10), 0).to_vector<float>();
    std::vector<float> run = {prod, arg, nan_arg};
    run.insert(run.end(), running.begin(), running.end());
    runs.push_back(run);
  }
  hci::set_num_threads(threads);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0][1] == float(planted));
  CHECK(runs[0][2] == float(n - 5));
  // References: the product of signs (exact), and the running sum (kept in double, rounded per output).
  double product = 1, running = 0;
  for (int64_t i = 0; i < n; ++i) product *= (i == planted || xv[size_t(i)] > 0) ? 1 : -1;
  CHECK(runs[0][0] == float(product));
  size_t mismatches = 0;
  for (int64_t i = 0; i < n - 10; ++i) {
    running += i == planted ? 100.0 : double(xv[size_t(i)]);
    mismatches += runs[0][size_t(3 + i)] != float(running);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("a failed evaluation can be read again and fails the same way", "[lazy][errors]") {
  // An index out of range is found while a kernel runs: the tensor stays pending, and each
  // later read raises the error again rather than crashing or returning garbage.
  const hci::Tensor x = hci::arange(4);
  const hci::Tensor bad = x.index_select(0, hci::from_vector(std::vector<int64_t>{7}));
  const hci::Tensor joined = hci::cat({x, bad});
  for (int attempt = 0; attempt < 2; ++attempt)
    CHECK_THROWS_WITH(joined.to_vector<int64_t>(), Catch::Contains("index 7 is out of bounds"));
  CHECK(hci::cat({x, x * 2}).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 0, 2, 4, 6});
}

TEST_CASE("long chains neither overflow the stack nor grow without bound", "[lazy][graph]") {
  hci::Tensor x = hci::zeros({16});
  const int64_t start = hci::memory_stats().allocated_bytes;
  for (int i = 0; i < 200000; ++i) x = x + 1;
  CHECK(values(x)[0] == 200000);
  CHECK(hci::memory_stats().allocated_bytes - start < (int64_t(1) << 20));

  // Every intermediate kept alive, then dropped at once.
  std::vector<hci::Tensor> kept;
  hci::Tensor y = hci::ones({2});
  for (int i = 0; i < 50000; ++i) kept.push_back(y = y * 1.0001);
  CHECK(values(y)[0] == Approx(std::pow(1.0001, 50000)).epsilon(1e-3));
  kept.clear();
}

TEST_CASE("the graph is evaluated past the depth cap", "[lazy][graph]") {
  if (eager()) return;
  hci::Tensor x = hci::zeros({4});
  hci::eval(x);
  for (int i = 0; i < hci::detail::kMaxLazyDepth + 5; ++i) x = x + 1;
  const hci::detail::Node& n = *x.impl().node;
  CHECK(n.depth.load() < hci::detail::kMaxLazyDepth);
}

TEST_CASE("integer edge cases have one documented behaviour", "[numerics]") {
  const hci::Tensor i8 = hci::from_vector<int8_t>({127, -128, 5});
  CHECK((i8 + int8_t(1)).dtype() == hci::kInt8);
  CHECK((i8 + hci::from_vector<int8_t>({1, -1, 1})).to_vector<int8_t>() == std::vector<int8_t>{-128, 127, 6});
  CHECK(hci::abs(hci::from_vector<int32_t>({INT32_MIN})).item<int32_t>() == INT32_MIN);
  CHECK((-hci::from_vector<int64_t>({INT64_MIN})).item<int64_t>() == INT64_MIN);
  // int / int is true division: by zero gives inf or nan, never a trap
  const auto q =
      (hci::from_vector<int32_t>({1, -1, 0, INT32_MIN}) / hci::from_vector<int32_t>({0, 0, 0, -1})).to_vector<float>();
  CHECK(q[0] == INFINITY);
  CHECK(q[1] == -INFINITY);
  CHECK(std::isnan(q[2]));
  CHECK(q[3] == 2147483648.0f);
  // float -> int: toward zero; NaN gives 0; beyond int64 saturates; then wraps to the width
  const hci::Tensor f = hci::from_vector<float>({-1.5f, 2.9f, NAN, 1e30f, -1e30f, 300.0f});
  CHECK(f.to(hci::kInt64).to_vector<int64_t>() == std::vector<int64_t>{-1, 2, 0, INT64_MAX, INT64_MIN, 300});
  CHECK(f.to(hci::kUInt8).to_vector<uint8_t>() == std::vector<uint8_t>{255, 2, 0, 255, 0, 44});
  CHECK(f.to(hci::kBool).to_vector<bool>() == std::vector<bool>{true, true, true, true, true, true});
}

TEST_CASE("errors found at evaluation name the op and where it was recorded", "[errors]") {
  // A borrowed buffer written behind hci's back (without data_ptr()) breaks the from_blob
  // contract; hci notices at evaluation and says which recorded op could not run.
  if (eager()) return;
  std::vector<float> host = {1, 2};
  hci::Tensor t = hci::from_blob(host.data(), {2}, hci::kFloat32);
  const hci::Tensor pending = t * 3;  // this line is named in the error
  const int line = __LINE__ - 1;
  t.impl().node->version.fetch_add(1);  // what an unannounced write would do to the version
  try {
    (void)pending.to_vector<float>();
    FAIL("expected an error");
  } catch (const hci::Error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("mul recorded at"));
    CHECK_THAT(message, Catch::Contains("test_lazy.cpp:" + std::to_string(line)));
  }
}

TEST_CASE("different tensors can be used from several threads", "[threads]") {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 50; ++i) {
        hci::Tensor x = hci::full({1000 + t}, float(t));
        x.add_(1);
        const float s = (x * 2).sum().item<float>();
        if (s != float(2 * (t + 1) * (1000 + t))) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
}

TEST_CASE("a subgraph shared by two threads is evaluated once", "[threads][lazy]") {
  const hci::Tensor x = hci::rand({1 << 16});
  hci::eval(x);
  std::atomic<int> exp_kernels{0};
  hci::set_launch_hook([&](const hci::Kernel& k) {
    for (const auto& op : k.structure.ops) exp_kernels += op.op == hci::OpKind::Exp;
  });
  const hci::Tensor shared = hci::exp(x);
  float a = 0, b = 0;
  std::thread t1([&] { a = (shared + 1).sum().item<float>(); });
  std::thread t2([&] { b = (shared * 2).sum().item<float>(); });
  t1.join();
  t2.join();
  hci::set_launch_hook(nullptr);
  if (!eager()) CHECK(exp_kernels == 1);
  CHECK(b == Approx(2 * (a - float(1 << 16))).epsilon(1e-5));
}
