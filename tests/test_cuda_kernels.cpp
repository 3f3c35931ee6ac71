// The JIT's GPU kernels run on an NVIDIA GPU through the CUDA driver (or, where HCI_TEST_GPU is
// "rocm", on an AMD GPU through HIP's runtime) and agree with the
// interpreter bit for bit: the kernels of random programs (every op family and dtype,
// broadcasting, non-contiguous views, reductions over random axes), reductions over the outer
// dim and over rows of several blocks, softmax and log_softmax rows, each launched with grids
// of one block, a few blocks and as many as the range needs.
//
// Skipped (code 77) where no driver or device is found, unless HCI_TEST_REQUIRE_GPU is set.
// A GPU machine may have no LLVM: the PTX then comes from the kernel cache, which the same test
// fills on a machine with LLVM when HCI_TEST_GPU_PREPARE is set (it then compiles every kernel's
// PTX instead of running it; scripts/gpu_check.sh does both). Where HCI_CUDA_PATH names the mock
// driver (tests/mock_cuda.cpp), or HCI_HIP_PATH the mock HIP runtime over it, the kernels run as
// their host-emulated twins.
#include "jit_support.hpp"
#include "mock_cuda_control.hpp"

#include <hci/cuda/kernel_runner.hpp>
#include <hci/hci.hpp>
#include <hci/rocm/hip.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace jit_test;

constexpr int kPrograms = 160;
constexpr unsigned kGridLimits[] = {1, 5, 0};  // blocks at most; 0: as many as the range needs

// A storage element as double (exact for every dtype but 64-bit integers beyond 2^53).
double element(const std::byte* at, DType t) {
  return hci::visit_dtype(t, [&](auto zero) {
    decltype(zero) value;
    std::memcpy(&value, at, sizeof value);
    return double(value);
  });
}

std::string describe(const hci::Kernel& k) {
  std::string text = fmt::format("sizes {} layouts", hci::detail::shape_str(k.params.sizes));
  for (hci::Layout l : k.structure.layouts) text += fmt::format(" {}", int(l));
  text += "; ops";
  for (const hci::KernelOp& op : k.structure.ops)
    text += fmt::format(" {}:{}", hci::op_name(op.op), hci::dtype_name(op.dtype));
  return text;
}

// The kernel run by the interpreter and on the GPU, each into its own copy of the output's
// storage (poisoned first, so that an element written by one and not the other shows), compared
// element by element: bits equal, or both NaN (IEEE 754 leaves a NaN's sign and payload open,
// and GPUs make other NaNs than x86).
struct Checker {
  explicit Checker(hci::cuda::KernelModules& m) : modules(m) {}
  hci::cuda::KernelModules& modules;
  hci::cpu::ThreadPool pool{2};
  int kernels = 0, launches = 0, differing = 0;
  std::set<uint64_t> structures;
  std::vector<std::string> failures;

  void check(const hci::Kernel& k) {
    const hci::BufferParam& out = k.params.buffers[0];
    const size_t size = hci::element_size(out.dtype);
    size_t bytes = size;  // the output's storage up to the last element the kernel writes
    int64_t last = out.offset;
    for (size_t d = 0; d < k.params.sizes.size(); ++d) {
      if (k.params.sizes[d] == 0) return;
      last += (k.params.sizes[d] - 1) * std::max<int64_t>(out.strides[d], 0);
    }
    bytes += size_t(last) * size;
    std::vector<std::byte> expected(bytes, std::byte{0x5a});
    hci::Kernel reference = k;
    reference.params.buffers[0].data = expected.data();
    hci::cpu::interp::run_kernel(reference, pool);
    ++kernels;
    structures.insert(k.structure.hash());
    for (unsigned max_blocks : kGridLimits) {
      std::vector<std::byte> got(bytes, std::byte{0x5a});
      hci::Kernel on_gpu = k;
      on_gpu.params.buffers[0].data = got.data();
      hci::cuda::KernelRunner runner(modules, max_blocks);
      hci::jit::run_with(on_gpu, runner, 2);
      ++launches;
      for (size_t at = 0; at < bytes; at += size) {
        const double want = element(expected.data() + at, out.dtype), have = element(got.data() + at, out.dtype);
        if (std::memcmp(expected.data() + at, got.data() + at, size) == 0 || (std::isnan(want) && std::isnan(have)))
          continue;
        ++differing;
        if (failures.size() < 20)
          failures.push_back(fmt::format("{}; grid limit {}: element {} is {} on the GPU, {} interpreted", describe(k),
                                         max_blocks, at / size, have, want));
        break;
      }
    }
  }
};

// Runs random programs and the cases they reach rarely, calling `each` with every kernel the GPU
// takes before the CPU runs it.
void run_programs(const std::function<void(const hci::Kernel&)>& each) {
  hci::set_launch_hook([&](const hci::Kernel& k) {
    if (hci::jit::gpu_takes(k)) each(k);
  });
  std::mt19937_64 rng(20261129);
  for (int g = 0; g < kPrograms; ++g) {
    const Program p = random_program(rng);
    for (const hci::Dims& shape : {p.shape, other_sizes(p.shape, rng)}) {
      std::vector<Tensor> inputs;
      for (size_t i = 0; i < p.inputs.size(); ++i)
        inputs.push_back(make_input(input_shape(p.inputs[i], shape), p.inputs[i].dtype, p.inputs[i].view, g * 16 + i));
      hci::eval(run(p, inputs));
    }
  }
  // Reductions over the outer dim and over rows of several blocks, softmax rows: long and odd.
  // Each result is built in a statement of its own, so that its producers (temporaries that die
  // with the statement) fuse into its kernel.
  const Tensor m = hci::arange(6001 * 3, hci::kFloat64).reshape({6001, 3});
  const Tensor wide = hci::arange(3 * 70001, hci::kFloat32).reshape({3, 70001}) * 0.001f;
  std::vector<Tensor> results;
  results.push_back((hci::exp(m * 0.001) * 2).amax({0}));
  results.push_back(m.to(hci::kFloat32).sum({0}));
  results.push_back(wide.sum({1}));
  results.push_back(wide.mean({1}));
  results.push_back(hci::sin(wide).amin({1}));
  results.push_back((m.to(hci::kFloat32) * 0.5f).softmax(1));
  results.push_back(m.log_softmax(0));
  results.push_back(wide.softmax(1));
  results.push_back(wide.to(hci::kBFloat16).log_softmax(1));
  // The benchmarks' kernels (bench_cuda.cpp), at another size.
  const Tensor a = hci::rand({1001}), b = hci::rand({1001}), c = hci::rand({1001}), d = hci::rand({1001});
  hci::eval(a, b, c, d);
  results.push_back(hci::relu(a * b + c) * 0.5 + hci::exp(-d));
  results.push_back(a.sum());
  hci::eval(results);
  hci::set_launch_hook(nullptr);
}

// Runs matrix products of every dtype (jit_test::matmul_cases), calling `each` with each product's
// kernel, over the operands' memory, before the CPU computes it; then `check(kernel, result)`.
void run_products(const std::function<void(const hci::Kernel&)>& each,
                  const std::function<void(const hci::Kernel&, const Tensor&)>& check) {
  for (const DType dtype : kDTypes)
    for (const auto& [x, y] : matmul_cases(dtype)) {
      hci::Kernel product;
      hci::set_launch_hook([&](const hci::Kernel& k) {
        if (k.structure.root() != hci::OpKind::Matmul) return;
        product = k;
        each(k);
      });
      const Tensor want = hci::matmul(x, y);
      hci::eval(want);
      hci::set_launch_hook(nullptr);
      REQUIRE(product.structure.root() == hci::OpKind::Matmul);
      check(product, want);
    }
}

// The GPUs under test: AMD's through HIP where HCI_TEST_GPU is "rocm", else NVIDIA's.
bool testing_amd() {
  const char* gpu = std::getenv("HCI_TEST_GPU");
  return gpu && std::string(gpu) == "rocm";
}
const hci::cuda::DriverLibrary& tested_driver() { return testing_amd() ? hci::rocm::hip() : hci::cuda::driver(); }

// The driver of the GPUs under test; without one the test is skipped, or fails where
// HCI_TEST_REQUIRE_GPU says there must be one.
const hci::cuda::DriverLibrary& require_gpu() {
  const hci::cuda::DriverLibrary& driver = tested_driver();
  if (!driver.api) {
    if (std::getenv("HCI_TEST_REQUIRE_GPU")) FAIL("a GPU is required here, but " << driver.reason);
    WARN("skipped: no GPU driver: " << driver.reason);
    std::exit(77);
  }
  if (mock_cuda::emulate_launches()) require_jit();
  return driver;
}

TEST_CASE("JIT kernels run on a GPU as the interpreter runs them", "[cuda]") {
  const hci::cuda::DriverLibrary& driver = tested_driver();
  if (!driver.api && std::getenv("HCI_TEST_GPU_PREPARE")) {
    require_jit();
    // Every kernel the host JIT compiles is also compiled for the target, as HCI_JIT_TARGETS has
    // it do, into the kernel cache: the code each GPU kernel runs, transposed twins included.
    const hci::jit::GpuTarget target = hci::jit::GpuTarget::parse(std::getenv("HCI_TEST_GPU_PREPARE"));
    hci::jit::set_gpu_targets({target});
    run_programs([](const hci::Kernel&) {});
    hci::jit::set_gpu_targets({});
    const hci::jit::Stats stats = hci::jit::stats();
    CHECK(stats.gpu_failures == 0);
    WARN("no GPU here (" << driver.reason << "); the code of " << stats.gpu_compiled << " kernels for " << target.name()
                         << " is in " << hci::jit::cache_directory());
    return;
  }
  require_gpu();
  hci::cuda::Gpu gpu(driver, 0);
  hci::cuda::KernelModules modules(gpu);
  Checker checker(modules);
  run_programs([&](const hci::Kernel& k) { checker.check(k); });
  for (const std::string& failure : checker.failures) FAIL_CHECK(failure);
  CHECK(checker.differing == 0);
  CHECK(checker.structures.size() >= 250);
  WARN(gpu.name() << " (" << gpu.target().name() << ", driver " << driver.api->version << "): " << checker.kernels
                  << " kernels of " << checker.structures.size() << " structures, " << checker.launches << " launches, "
                  << checker.differing << " differing from the interpreter");
}

// The tiled kernel of matrix products (without a vendor BLAS), over each case's operands with
// grids of one block, a few, and one per tile: the CPU's result, bit for bit (the cases' sums are
// exact).
TEST_CASE("matrix products run on a GPU in tiles, as the CPU computes them", "[cuda][matmul]") {
  if (!tested_driver().api && std::getenv("HCI_TEST_GPU_PREPARE")) {
    require_jit();
    const hci::jit::GpuTarget target = hci::jit::GpuTarget::parse(std::getenv("HCI_TEST_GPU_PREPARE"));
    run_products([&](const hci::Kernel& k) { hci::jit::gpu_code(k.structure, target); },
                 [](const hci::Kernel&, const Tensor&) {});
    return;
  }
  hci::cuda::Gpu gpu(require_gpu(), 0);
  hci::cuda::KernelModules modules(gpu);
  std::vector<std::vector<std::byte>> results;
  int launches = 0;
  run_products(
      [&](const hci::Kernel& k) {
        results.clear();
        for (unsigned max_blocks : kGridLimits) {
          std::vector<std::byte> got(matmul_output_bytes(k), std::byte{0x5a});
          hci::Kernel on_gpu = k;
          on_gpu.params.buffers[0].data = got.data();
          hci::cuda::KernelRunner runner(modules, max_blocks);
          hci::jit::run_with(on_gpu, runner, 2);
          results.push_back(std::move(got));
        }
      },
      [&](const hci::Kernel& k, const Tensor& want) {
        INFO(describe(k));
        REQUIRE(results.size() == std::size(kGridLimits));
        for (std::vector<std::byte>& got : results)
          CHECK(hci::equal(hci::from_blob(got.data(), want.sizes(), want.strides(), want.dtype()), want));
        launches += int(results.size());
      });
  WARN(gpu.name() << ": " << launches << " launches of tiled matrix products");
}

TEST_CASE("GPU kernels report the driver's errors and their own failures as hci::Error", "[cuda]") {
  const hci::cuda::DriverLibrary& driver = tested_driver();
  if (!driver.api && std::getenv("HCI_TEST_GPU_PREPARE")) return;
  require_gpu();
  hci::cuda::Gpu gpu(driver, 0);
  CHECK_THROWS_WITH(hci::cuda::DeviceMemory(gpu.api(), size_t(1) << 62),
                    testing_amd() ? Catch::Contains("hipMemAlloc of") && Catch::Contains("hipErrorOutOfMemory")
                                  : Catch::Contains("cuMemAlloc of") && Catch::Contains("CUDA_ERROR_OUT_OF_MEMORY"));
  hci::Kernel k = multiply_add_kernel();
  k.structure.ops[0].op = hci::OpKind::Argsort;  // no GPU code
  hci::cuda::KernelModules modules(gpu);
  hci::cuda::KernelRunner runner(modules);
  CHECK_THROWS_WITH(hci::jit::run_with(k, runner, 1), Catch::Contains("has no GPU code"));

  // A thread that fails stores its status, which comes back as the interpreter's error: each
  // failing kernel runs on the GPU first (from the launch hook), then on the CPU.
  std::vector<std::string> gpu_errors;
  hci::set_launch_hook([&](const hci::Kernel& kernel) {
    if (!hci::jit::gpu_kernel_can_fail(kernel.structure)) return;
    try {
      hci::jit::run_with(kernel, runner, 1);
      gpu_errors.emplace_back("none");
    } catch (const hci::Error& e) {
      gpu_errors.emplace_back(e.what());
    }
  });
  const Tensor x = hci::arange(12, hci::kFloat32).reshape({4, 3});
  const Tensor n = hci::arange(12, hci::kInt64) - 5;
  hci::eval(x, n);
  CHECK_THROWS(x.index_select(0, hci::from_vector<int64_t>({1, 4, 0}, {3})).to_vector<float>());
  CHECK_THROWS(hci::fmod(n, n).to_vector<int64_t>());
  hci::set_launch_hook(nullptr);
  REQUIRE(gpu_errors.size() == 2);
  CHECK_THAT(gpu_errors[0], Catch::Contains("index 4 is out of bounds for a dim of size 4"));
  CHECK_THAT(gpu_errors[1], Catch::Contains("fmod: ZeroDivisionError"));
}

}  // namespace
