// rocBLAS, found at run time with dlopen, and adapted to the shape of cuBLAS's API
// (cuda::CublasApi) as HIP is to the CUDA driver's: matrix products of tensors on ROCm devices
// (float16, bfloat16, float32, float64; batched) run as rocblas_gemm_strided_batched_ex on the
// device's stream, through the CUDA backend's cuBLAS code (cuda/cublas.hpp).
//
// Where it looks: HCI_ROCBLAS_PATH alone when set, otherwise the first of librocblas.so, its
// sonames (.4, .3, .0) and /opt/rocm/lib/librocblas.so that opens. Without it, matrix
// products run on the host over copies of their operands.
#pragma once

#include <hci/cuda/cublas.hpp>

HCI_BEGIN_NAMESPACE

namespace rocm {

// rocBLAS adapted to cuBLAS's API, or null and why in one line. Loaded once per process.
HCI_RUNTIME_DECL const cuda::CublasLibrary& rocblas();

}  // namespace rocm

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/shared_library.hpp>

#include <memory>

HCI_BEGIN_NAMESPACE

namespace rocm::detail {

using cuda::cublas_types::Handle;
using cuda::cublas_types::Status;

// X(name in the library, result, parameters...), as rocblas.h declares them.
#define HCI_ROCBLAS_FUNCTIONS(X)                                                                                    \
  X(rocblas_create_handle, Status, Handle*)                                                                         \
  X(rocblas_destroy_handle, Status, Handle)                                                                         \
  X(rocblas_set_stream, Status, Handle, cuda::driver_types::Stream)                                                 \
  X(rocblas_get_version_string, Status, char*, size_t)                                                              \
  X(rocblas_status_to_string, const char*, Status)                                                                  \
  X(rocblas_gemm_strided_batched_ex, Status, Handle, int, int, int, int, int, const void*, const void*, int, int,   \
    int64_t, const void*, int, int, int64_t, const void*, const void*, int, int, int64_t, void*, int, int, int64_t, \
    int, int, int, int32_t, uint32_t)

struct RocblasApi {
#define HCI_ROCBLAS_POINTER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  HCI_ROCBLAS_FUNCTIONS(HCI_ROCBLAS_POINTER)
#undef HCI_ROCBLAS_POINTER
};

inline const RocblasApi*& loaded_rocblas() {
  static const RocblasApi* api = nullptr;
  return api;
}
inline const RocblasApi& rb() { return *loaded_rocblas(); }

// rocBLAS's numbers for what hci passes in cuBLAS's: operations, element types (rocblas_datatype)
// and accumulation types; -1 for anything else, which rocBLAS refuses.
inline int rocblas_operation(int cublas_op) {
  return cublas_op == cuda::cublas_types::kOpN ? 111 : cublas_op == cuda::cublas_types::kOpT ? 112 : -1;
}
inline int rocblas_datatype(int cuda_type) {
  switch (cuda_type) {
    case cuda::cublas_types::kR16F: return 150;
    case cuda::cublas_types::kR32F: return 151;
    case cuda::cublas_types::kR64F: return 152;
    case cuda::cublas_types::kR16BF: return 168;
    default: return -1;
  }
}
inline int rocblas_compute(int cublas_compute) {
  return cublas_compute == cuda::cublas_types::kCompute32F   ? 151
         : cublas_compute == cuda::cublas_types::kCompute64F ? 152
                                                             : -1;
}

inline std::unique_ptr<cuda::CublasApi> adapt_rocblas() {
  auto api = std::make_unique<cuda::CublasApi>();
  api->cublasCreate_v2 = [](Handle* handle) { return rb().rocblas_create_handle(handle); };
  api->cublasDestroy_v2 = [](Handle handle) { return rb().rocblas_destroy_handle(handle); };
  api->cublasSetStream_v2 = [](Handle handle, cuda::driver_types::Stream stream) {
    return rb().rocblas_set_stream(handle, stream);
  };
  api->cublasGetProperty = [](int, int* value) {
    *value = 0;
    return Status(0);
  };
  api->cublasGetStatusName = [](Status status) { return rb().rocblas_status_to_string(status); };
  // C = alpha op(A) op(B) + beta C, written in place: rocBLAS's D is C.
  api->cublasGemmStridedBatchedEx = [](Handle handle, int op_a, int op_b, int m, int n, int k, const void* alpha,
                                       const void* a, int a_type, int lda, long long stride_a, const void* b,
                                       int b_type, int ldb, long long stride_b, const void* beta, void* c, int c_type,
                                       int ldc, long long stride_c, int batches, int compute, int) {
    return rb().rocblas_gemm_strided_batched_ex(
        handle, rocblas_operation(op_a), rocblas_operation(op_b), m, n, k, alpha, a, rocblas_datatype(a_type), lda,
        stride_a, b, rocblas_datatype(b_type), ldb, stride_b, beta, c, rocblas_datatype(c_type), ldc, stride_c, c,
        rocblas_datatype(c_type), ldc, stride_c, batches, rocblas_compute(compute), 0, 0, 0);
  };
  api->name = "rocBLAS";
  return api;
}

inline const cuda::CublasApi* try_rocblas(const std::string& path, void* handle, std::string& reason) {
  auto library = std::make_unique<RocblasApi>();
  if (const char* missing = HCI_RESOLVE_ALL(HCI_ROCBLAS_FUNCTIONS, handle, *library)) {
    reason = path + " lacks " + missing + " (not rocBLAS, or older than 4)";
    return nullptr;
  }
  loaded_rocblas() = library.release();  // as the handle, kept for the life of the process
  std::unique_ptr<cuda::CublasApi> api = adapt_rocblas();
  api->path = path;
  char version[64] = {};
  rb().rocblas_get_version_string(version, sizeof version);
  api->version = version;
  return api.release();
}

}  // namespace rocm::detail

HCI_RUNTIME_DEF const cuda::CublasLibrary& rocm::rocblas() {
  static const cuda::CublasLibrary library = hci::detail::load_vendor_library<cuda::CublasLibrary>(
      "HCI_ROCBLAS_PATH",
      {"librocblas.so", "librocblas.so.4", "librocblas.so.3", "librocblas.so.0", "/opt/rocm/lib/librocblas.so"},
      "no rocBLAS: librocblas.so is not installed (nor its sonames, nor in /opt/rocm/lib)", detail::try_rocblas);
  return library;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
