// JIT kernels on an NVIDIA GPU beside a device-to-device copy in the same run: the fused chain
// relu(a*b+c)*0.5 + exp(-d) and a sum, over 256M float32 elements resident on the device, timed
// with CUDA events around each launch (the reduction's host part, combining its 64K block values,
// is left out), after a check that the GPU computes what the CPU does, bit for bit. Bandwidth counts each input read
// and each output written once; the copy counts bytes read plus bytes written. And a matrix product through hci
// beside the same cuBLAS call made directly, and as the JIT's tiled kernel that runs it without
// cuBLAS. Skipped where no CUDA driver or device is found.
#include <hci/cuda/backend.hpp>
#include <hci/cuda/cublas.hpp>
#include <hci/cuda/kernel_runner.hpp>
#include <hci/hci.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {

constexpr int64_t kN = int64_t(1) << 28;  // 256M float32

struct Setup {
  hci::cuda::Gpu gpu;
  hci::cuda::KernelModules modules{gpu};
  hci::Tensor a = hci::rand({kN}), b = hci::rand({kN}), c = hci::rand({kN}), d = hci::rand({kN});
  hci::Tensor chain_result, sum_result;  // by the CPU
  hci::Kernel chain, sum;                // as scheduled for the CPU, over host buffers
  Setup() {
    hci::eval(a, b, c, d);
    hci::Kernel* capture = &chain;
    hci::set_launch_hook([&](const hci::Kernel& k) { *capture = k; });
    chain_result = hci::relu(a * b + c) * 0.5 + hci::exp(-d);
    hci::eval(chain_result);
    capture = &sum;
    sum_result = a.sum();
    hci::eval(sum_result);
    hci::set_launch_hook(nullptr);
  }
};

// The setup, or null and why not.
Setup* setup(std::string* why = nullptr) {
  static std::string reason;
  static std::unique_ptr<Setup> s = []() -> std::unique_ptr<Setup> {
    if (!hci::cuda::driver().api) {
      reason = "no CUDA driver: " + hci::cuda::driver().reason;
      return nullptr;
    }
    try {
      return std::make_unique<Setup>();
    } catch (const hci::Error& e) {
      reason = e.what();
      return nullptr;
    }
  }();
  if (why) *why = reason;
  return s.get();
}

// Runs a captured kernel on the GPU as the executor runs it, into an output of its own that must
// equal the CPU's bit for bit; the runner keeps the launch resident for timing.
std::unique_ptr<hci::cuda::KernelRunner> run_checked(const hci::Kernel& k, const hci::Tensor& expected,
                                                     unsigned max_blocks) {
  const size_t bytes = size_t(expected.numel()) * hci::element_size(expected.dtype());
  std::vector<std::byte> out(bytes);
  hci::Kernel on_gpu = k;
  on_gpu.params.buffers[0].data = out.data();
  auto runner = std::make_unique<hci::cuda::KernelRunner>(setup()->modules, max_blocks);
  hci::jit::run_with(on_gpu, *runner, 16);
  HCI_CHECK(std::memcmp(out.data(), expected.const_data_ptr<float>(), bytes) == 0,
            "the GPU's result differs from the CPU's");
  return runner;
}

// Times `launch` with events around it, as the iteration's manual time.
template <class Launch>
void time_launches(benchmark::State& state, const hci::cuda::Gpu& gpu, Launch launch) {
  const auto& api = gpu.api();
  hci::cuda::driver_types::Event begin = nullptr, end = nullptr;
  hci::cuda::check(api.cuEventCreate(&begin, 0), "cuEventCreate");
  hci::cuda::check(api.cuEventCreate(&end, 0), "cuEventCreate");
  launch();  // warm-up: module load, first touch
  gpu.synchronize();
  for (auto _ : state) {
    api.cuEventRecord(begin, nullptr);
    launch();
    api.cuEventRecord(end, nullptr);
    hci::cuda::check(api.cuEventSynchronize(end), "cuEventSynchronize");
    float ms = 0;
    api.cuEventElapsedTime(&ms, begin, end);
    state.SetIterationTime(double(ms) / 1000);
  }
  api.cuEventDestroy_v2(begin);
  api.cuEventDestroy_v2(end);
}

bool skipped(benchmark::State& state) {
  std::string why;
  if (setup(&why)) return false;
  state.SkipWithError(why.c_str());
  return true;
}

// Runs a benchmark's body, reporting an hci::Error (no code for a kernel, a driver failure) as
// the benchmark's error.
template <class Body>
void guarded(benchmark::State& state, Body body) {
  if (skipped(state)) return;
  try {
    body();
  } catch (const hci::Error& e) {
    state.SkipWithError(e.what());
  }
}

void BM_cuda_copy_reference(benchmark::State& state) {
  guarded(state, [&] {
    const hci::cuda::Gpu& gpu = setup()->gpu;
    hci::cuda::DeviceMemory from(gpu.api(), kN * 4), to(gpu.api(), kN * 4);
    hci::cuda::check(gpu.api().cuMemsetD8_v2(from.address(), 1, from.bytes()), "cuMemsetD8");
    time_launches(state, gpu, [&] {
      hci::cuda::check(gpu.api().cuMemcpyDtoD_v2(to.address(), from.address(), from.bytes()), "cuMemcpyDtoD");
    });
    state.SetBytesProcessed(state.iterations() * kN * 8);
  });
}

void BM_cuda_chain_hci(benchmark::State& state) {
  guarded(state, [&] {
    const auto runner = run_checked(setup()->chain, setup()->chain_result, unsigned(state.range(0)));
    time_launches(state, setup()->gpu, [&] { runner->last()->launch(); });
    state.SetBytesProcessed(state.iterations() * kN * 20);
    state.counters["blocks"] = runner->last()->blocks();
  });
}

// The reduction's kernel alone: its blocks' values, which the host then combines (not timed).
void BM_cuda_sum_hci(benchmark::State& state) {
  guarded(state, [&] {
    const auto runner = run_checked(setup()->sum, setup()->sum_result, unsigned(state.range(0)));
    time_launches(state, setup()->gpu, [&] { runner->last()->launch(); });
    state.SetBytesProcessed(state.iterations() * kN * 4);
    state.counters["blocks"] = runner->last()->blocks();
  });
}

// The matrices' size: 8192, or HCI_BENCH_MATMUL_N (a smaller one for a smoke run on the mock).
const int64_t kMatmulN = [] {
  const char* n = std::getenv("HCI_BENCH_MATMUL_N");
  return n && *n ? int64_t(std::atoll(n)) : int64_t(8192);
}();

// Wall-clock time of `run`, which returns once the device is done, as the iteration's manual time.
template <class Run>
void time_to_completion(benchmark::State& state, Run run) {
  run();  // warm-up: handles, the allocator's first blocks
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    run();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * 2 * kMatmulN * kMatmulN * kMatmulN);  // FLOPs
}

// A kMatmulN square matrix product of float32 (arg 0) or bfloat16 (arg 1) through hci: recorded,
// scheduled and run through cuBLAS on cuda:0's stream, timed until the device is done.
void BM_cuda_matmul_hci(benchmark::State& state) {
  guarded(state, [&] {
    HCI_CHECK(hci::cuda::cublas().api, "no cuBLAS: {}", hci::cuda::cublas().reason);
    const hci::Device gpu = hci::Device::cuda(0);
    const hci::DType dtype = state.range(0) ? hci::kBFloat16 : hci::kFloat32;
    const hci::Tensor a = hci::rand({kMatmulN, kMatmulN}).to(dtype).to(gpu);
    const hci::Tensor b = hci::rand({kMatmulN, kMatmulN}).to(dtype).to(gpu);
    hci::eval(a, b);
    time_to_completion(state, [&] {
      const hci::Tensor c = hci::matmul(a, b);
      hci::eval(c);
      hci::synchronize(gpu);
    });
  });
}

// The same product as one cuBLAS call made directly on the same stream, timed alike: what
// BM_cuda_matmul_hci costs beyond it is hci's.
void BM_cuda_matmul_cublas(benchmark::State& state) {
  guarded(state, [&] {
    namespace types = hci::cuda::cublas_types;
    const hci::cuda::CublasLibrary& library = hci::cuda::cublas();
    HCI_CHECK(library.api, "no cuBLAS: {}", library.reason);
    const hci::cuda::CublasApi& blas = *library.api;
    const hci::cuda::DriverApi& api = setup()->gpu.api();
    const auto stream =
        static_cast<hci::cuda::driver_types::Stream>(hci::cuda::as_pointer(hci::cuda::stream_handle(0)));
    const bool bf16 = state.range(0) != 0;
    const size_t bytes = size_t(kMatmulN * kMatmulN) * (bf16 ? 2 : 4);
    const hci::cuda::DeviceMemory a(api, bytes), b(api, bytes), c(api, bytes);
    hci::cuda::check(api.cuMemsetD8_v2(a.address(), 0x3c, bytes), "cuMemsetD8");  // 0.0115 in both types
    hci::cuda::check(api.cuMemsetD8_v2(b.address(), 0x3c, bytes), "cuMemsetD8");
    types::Handle handle = nullptr;
    HCI_CHECK(blas.cublasCreate_v2(&handle) == types::kSuccess, "cublasCreate failed");
    blas.cublasSetStream_v2(handle, stream);
    const float one = 1, zero = 0;
    const int n = int(kMatmulN), type = bf16 ? types::kR16BF : types::kR32F;
    time_to_completion(state, [&] {
      const int status = blas.cublasGemmStridedBatchedEx(
          handle, types::kOpN, types::kOpN, n, n, n, &one, hci::cuda::as_pointer(b.address()), type, n, 0,
          hci::cuda::as_pointer(a.address()), type, n, 0, &zero, hci::cuda::as_pointer(c.address()), type, n, 0, 1,
          types::kCompute32F, types::kGemmDefault);
      HCI_CHECK(status == types::kSuccess, "cublasGemmStridedBatchedEx failed with status {}", status);
      hci::cuda::check(api.cuStreamSynchronize(stream), "cuStreamSynchronize");
    });
    blas.cublasDestroy_v2(handle);
  });
}

// The JIT's tiled kernel, which runs matrix products where there is no cuBLAS, for the same
// product (of zeros), resident on the device and timed with events like the kernels above.
void BM_cuda_matmul_tiled(benchmark::State& state) {
  guarded(state, [&] {
    const hci::DType dtype = state.range(0) ? hci::kBFloat16 : hci::kFloat32;
    hci::Kernel k;  // the structure of a product of two contiguous matrices, for kMatmulN below
    hci::set_launch_hook([&](const hci::Kernel& captured) {
      if (captured.structure.root() == hci::OpKind::Matmul) k = captured;
    });
    const hci::Tensor x = hci::rand({64, 64}).to(dtype), y = hci::rand({64, 64}).to(dtype);
    hci::eval(x, y);
    hci::eval(hci::matmul(x, y));
    hci::set_launch_hook(nullptr);
    const int64_t n = kMatmulN;
    const size_t bytes = size_t(n * n) * hci::element_size(dtype);
    std::vector<std::byte> a(bytes), b(bytes), c(bytes);
    const hci::KernelOp& root = k.structure.ops.back();
    k.params.sizes = {n, n, n};
    k.params.buffers[0] = {c.data(), dtype, 0, {n, 1, 0}};
    k.params.buffers[size_t(k.structure.ops[size_t(root.args[0])].args[0])] = {a.data(), dtype, 0, {n, 0, 1}};
    k.params.buffers[size_t(k.structure.ops[size_t(root.args[1])].args[0])] = {b.data(), dtype, 0, {0, 1, n}};
    hci::cuda::KernelRunner runner(setup()->modules);
    hci::jit::run_with(k, runner, 16);
    time_launches(state, setup()->gpu, [&] { runner.last()->launch(); });
    state.SetItemsProcessed(state.iterations() * 2 * n * n * n);  // FLOPs
  });
}

}  // namespace

BENCHMARK(BM_cuda_matmul_tiled)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_matmul_hci)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_matmul_cublas)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_copy_reference)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_chain_hci)->Arg(0)->Arg(132 * 8)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cuda_sum_hci)->Arg(0)->Arg(132 * 8)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
