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

// A cuBLAS handle on the stream hci uses for `gpu`.
class CublasHandle {
 public:
  CublasHandle(const hci::cuda::CublasApi& blas, int gpu) : blas_(blas) {
    HCI_CHECK(blas.cublasCreate_v2(&handle_) == hci::cuda::cublas_types::kSuccess, "cublasCreate failed");
    blas.cublasSetStream_v2(handle_, stream_of(gpu));
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  ~CublasHandle() { blas_.cublasDestroy_v2(handle_); }
  hci::cuda::cublas_types::Handle get() const { return handle_; }

 private:
  const hci::cuda::CublasApi& blas_;
  hci::cuda::cublas_types::Handle handle_ = nullptr;
};

// The device address of a GPU tensor's data.
const void* device_data(const hci::Tensor& t) {
  if (t.dtype() == hci::kBFloat16) return t.const_data_ptr<hci::BFloat16>();
  if (t.dtype() == hci::kFloat16) return t.const_data_ptr<hci::Half>();
  return t.const_data_ptr<float>();
}

// The product hci's cases make, as one cuBLAS call on the same inputs (products run at different
// speeds on different data: the GPU's power, and so its clock, depends on the bits it multiplies).
void add_matmul(Suite& suite, int gpu, const Scale& scale) {
  const hci::Device device = hci::Device::cuda(gpu);
  for (hci::DType dtype : scale.matmul_dtypes())
    for (int64_t size : scale.matmul_sizes(dtype))
      suite.add(case_name(device, "matmul", hci::dtype_name(dtype), size) + "/cublas", [=](benchmark::State& state) {
        namespace blas_types = hci::cuda::cublas_types;
        const hci::cuda::CublasLibrary& library = hci::cuda::cublas();
        HCI_CHECK(library.api, "no cuBLAS: {}", library.reason);
        const hci::cuda::CublasApi& blas = *library.api;
        const hci::Tensor a = random_on("a", {size, size}, device, dtype),
                          b = random_on("b", {size, size}, device, dtype);
        const hci::cuda::Gpu context(gpu);
        const hci::cuda::DriverApi& api = context.api();
        const hci::cuda::DeviceMemory c(api, size_t(size * size) * hci::element_size(dtype));
        const CublasHandle handle(blas, gpu);
        const float one = 1, zero = 0;
        const int n = int(size);
        const int type = dtype == hci::kFloat32    ? blas_types::kR32F
                         : dtype == hci::kBFloat16 ? blas_types::kR16BF
                                                   : blas_types::kR16F;
        timed(state, [&] {  // row-major a b as column-major b a
          const int status = blas.cublasGemmStridedBatchedEx(handle.get(), blas_types::kOpN, blas_types::kOpN, n, n, n,
                                                             &one, device_data(b), type, n, 0, device_data(a), type, n,
                                                             0, &zero, hci::cuda::as_pointer(c.address()), type, n, 0,
                                                             1, blas_types::kCompute32F, blas_types::kGemmDefault);
          HCI_CHECK(status == blas_types::kSuccess, "cublasGemmStridedBatchedEx failed with status {}", status);
          hci::cuda::check(api.cuStreamSynchronize(stream_of(gpu)), "cuStreamSynchronize");
        });
        state.SetItemsProcessed(state.iterations() * 2 * size * size * size);
      });
}

// The driver's copies between the device and host memory, pinned (by hci's pin_memory, which has
// the driver lock the pages) and pageable: what Tensor::to can reach from each.
void add_transfers(Suite& suite, int gpu, const Scale& scale) {
  const hci::Device device = hci::Device::cuda(gpu);
  for (int64_t bytes : scale.transfer_bytes())
    for (const char* what : {"to_device", "to_device_pinned", "to_host", "to_host_pinned"})
      suite.add(case_name(device, "transfer", what, bytes) + "/driver", [=](benchmark::State& state) {
        const std::string direction = what;
        const bool to_device = direction.starts_with("to_device"), pinned = direction.ends_with("pinned");
        const hci::Tensor host = input(fmt::format("host {} {}", pinned ? "pinned" : "pageable", bytes / 4), [&] {
          return pinned ? hci::rand({bytes / 4}).pin_memory() : hci::rand({bytes / 4});
        });
        void* memory = host.data_ptr<float>();
        const hci::cuda::Gpu context(gpu);
        const hci::cuda::DriverApi& api = context.api();
        const hci::cuda::DeviceMemory on_device(api, size_t(bytes));
        timed(state, [&] {
          if (to_device)
            hci::cuda::check(api.cuMemcpyHtoD_v2(on_device.address(), memory, size_t(bytes)), "cuMemcpyHtoD");
          else
            hci::cuda::check(api.cuMemcpyDtoH_v2(memory, on_device.address(), size_t(bytes)), "cuMemcpyDtoH");
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
