// The suite's NVIDIA references: cuBLAS and the driver's copies called directly, on the stream hci
// uses, timed to completion like hci's cases.
#include "suite.hpp"

#include <hci/cuda/backend.hpp>
#include <hci/cuda/cublas.hpp>
#include <hci/cuda/kernel_runner.hpp>

#include <fmt/format.h>

#include <chrono>

namespace hci_bench {

namespace {

namespace types = hci::cuda::driver_types;

types::Stream stream_of(int gpu) {
  return static_cast<types::Stream>(hci::cuda::as_pointer(hci::cuda::stream_handle(gpu)));
}

// Pinned host memory from the driver.
class PinnedMemory {
 public:
  PinnedMemory(const hci::cuda::DriverApi& api, size_t bytes) : api_(api) {
    hci::cuda::check(api.cuMemHostAlloc(&data_, bytes, types::kMemHostAllocPortable), "cuMemHostAlloc");
  }
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;
  ~PinnedMemory() { api_.cuMemFreeHost(data_); }
  void* data() const { return data_; }

 private:
  const hci::cuda::DriverApi& api_;
  void* data_ = nullptr;
};

template <class Run>
void time_to_completion(benchmark::State& state, Run run) {
  run();  // warm-up: handles, first touch
  const EnergyScope energy(state);
  for (auto _ : state) run();
}

void add_matmul(Suite& suite, int gpu, const Scale& scale) {
  const hci::Device device = hci::Device::cuda(gpu);
  for (hci::DType dtype : scale.matmul_dtypes())
    for (int64_t size : scale.matmul_sizes(dtype))
      suite.add(case_name(device, "matmul", hci::dtype_name(dtype), size) + "/cublas", [=](benchmark::State& state) {
        namespace blas_types = hci::cuda::cublas_types;
        const hci::cuda::CublasLibrary& library = hci::cuda::cublas();
        HCI_CHECK(library.api, "no cuBLAS: {}", library.reason);
        const hci::cuda::CublasApi& blas = *library.api;
        const hci::cuda::Gpu context(gpu);
        const hci::cuda::DriverApi& api = context.api();
        const size_t bytes = size_t(size * size) * hci::element_size(dtype);
        const hci::cuda::DeviceMemory a(api, bytes), b(api, bytes), c(api, bytes);
        // 0x3c3c...: small normal numbers in each type
        hci::cuda::check(api.cuMemsetD8_v2(a.address(), 0x3c, bytes), "cuMemsetD8");
        hci::cuda::check(api.cuMemsetD8_v2(b.address(), 0x3c, bytes), "cuMemsetD8");
        blas_types::Handle handle = nullptr;
        HCI_CHECK(blas.cublasCreate_v2(&handle) == blas_types::kSuccess, "cublasCreate failed");
        blas.cublasSetStream_v2(handle, stream_of(gpu));
        const float one = 1, zero = 0;
        const int n = int(size);
        const int type = dtype == hci::kFloat32    ? blas_types::kR32F
                         : dtype == hci::kBFloat16 ? blas_types::kR16BF
                                                   : blas_types::kR16F;
        time_to_completion(state, [&] {
          const int status = blas.cublasGemmStridedBatchedEx(
              handle, blas_types::kOpN, blas_types::kOpN, n, n, n, &one, hci::cuda::as_pointer(b.address()), type, n, 0,
              hci::cuda::as_pointer(a.address()), type, n, 0, &zero, hci::cuda::as_pointer(c.address()), type, n, 0, 1,
              blas_types::kCompute32F, blas_types::kGemmDefault);
          HCI_CHECK(status == blas_types::kSuccess, "cublasGemmStridedBatchedEx failed with status {}", status);
          hci::cuda::check(api.cuStreamSynchronize(stream_of(gpu)), "cuStreamSynchronize");
        });
        blas.cublasDestroy_v2(handle);
        state.SetItemsProcessed(state.iterations() * 2 * size * size * size);
      });
}

// The driver's copies between the device and host memory, pinned and pageable (a buffer from
// hci's CPU allocator, written once): what Tensor::to can reach from each.
void add_transfers(Suite& suite, int gpu, const Scale& scale) {
  const hci::Device device = hci::Device::cuda(gpu);
  for (int64_t bytes : scale.transfer_bytes())
    for (const char* what : {"to_device", "to_device_pinned", "to_host", "to_host_pinned"})
      suite.add(case_name(device, "transfer", what, bytes) + "/driver", [=](benchmark::State& state) {
        const std::string direction = what;
        const bool to_device = direction.starts_with("to_device"), pinned = direction.ends_with("pinned");
        const hci::cuda::Gpu context(gpu);
        const hci::cuda::DriverApi& api = context.api();
        const PinnedMemory pinned_memory(api, pinned ? size_t(bytes) : 1);
        const hci::Tensor pageable = input("pageable", [&] { return hci::zeros({pinned ? 1 : bytes}, hci::kUInt8); });
        void* host = pinned ? pinned_memory.data() : pageable.data_ptr<uint8_t>();
        const hci::cuda::DeviceMemory on_device(api, size_t(bytes));
        time_to_completion(state, [&] {
          if (to_device)
            hci::cuda::check(api.cuMemcpyHtoD_v2(on_device.address(), host, size_t(bytes)), "cuMemcpyHtoD");
          else
            hci::cuda::check(api.cuMemcpyDtoH_v2(host, on_device.address(), size_t(bytes)), "cuMemcpyDtoH");
        });
        state.SetBytesProcessed(state.iterations() * bytes);
      });
}

}  // namespace

void add_cuda_references(Suite& suite, int gpu, const Scale& scale) {
  add_matmul(suite, gpu, scale);
  add_transfers(suite, gpu, scale);
}

double cuda_copy_bandwidth(int gpu, bool quick) {
  const hci::cuda::Gpu context(gpu);
  const hci::cuda::DriverApi& api = context.api();
  const size_t bytes = quick ? size_t(1) << 22 : size_t(1) << 30;
  const hci::cuda::DeviceMemory from(api, bytes), to(api, bytes);
  hci::cuda::check(api.cuMemsetD8_v2(from.address(), 1, bytes), "cuMemsetD8");
  double best = 0;
  for (int pass = 0; pass < 6; ++pass) {  // the first is a warm-up
    hci::cuda::check(api.cuCtxSynchronize(), "cuCtxSynchronize");
    const auto start = std::chrono::steady_clock::now();
    hci::cuda::check(api.cuMemcpyDtoD_v2(to.address(), from.address(), bytes), "cuMemcpyDtoD");
    hci::cuda::check(api.cuCtxSynchronize(), "cuCtxSynchronize");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pass > 0) best = std::max(best, 2.0 * double(bytes) / seconds);
  }
  return best;
}

}  // namespace hci_bench
