// A test double of rocBLAS for hci's ROCm backend, loaded through HCI_ROCBLAS_PATH: rocBLAS's
// entry points over the mock cuBLAS (tests/mock_cublas.cpp), which it links, so products are
// queued on the mock driver's streams and counted by hci_mock_cublas_gemms(). What is rocBLAS's
// own: its numbers for operations and types (translated back to cuBLAS's, anything else refused as
// rocblas_status_invalid_value), D written apart from C (hci passes C for both), status names and
// the version string. HCI_MOCK_ROCBLAS_CREATE_STATUS makes rocblas_create_handle fail with it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" {
int cublasCreate_v2(void** handle);
int cublasDestroy_v2(void* handle);
int cublasSetStream_v2(void* handle, void* stream);
int cublasGemmStridedBatchedEx(void* handle, int op_a, int op_b, int m, int n, int k, const void* alpha, const void* a,
                               int a_type, int lda, long long stride_a, const void* b, int b_type, int ldb,
                               long long stride_b, const void* beta, void* c, int c_type, int ldc, long long stride_c,
                               int batches, int compute, int algo);
}

namespace {

constexpr int kSuccess = 0, kInvalidValue = 11, kNotImplemented = 2, kHandleIsNullptr = 1;

int cublas_op(int op) { return op == 111 ? 0 : op == 112 ? 1 : -1; }
int cublas_type(int type) {
  switch (type) {
    case 150: return 2;   // f16
    case 151: return 0;   // f32
    case 152: return 1;   // f64
    case 168: return 14;  // bf16
    default: return -1;
  }
}
int cublas_compute(int type) { return type == 151 ? 68 : type == 152 ? 70 : -1; }

}  // namespace

extern "C" {

int rocblas_create_handle(void** handle) {
  if (const char* status = std::getenv("HCI_MOCK_ROCBLAS_CREATE_STATUS")) return std::atoi(status);
  return cublasCreate_v2(handle) == 0 ? kSuccess : kHandleIsNullptr;
}
int rocblas_destroy_handle(void* handle) { return cublasDestroy_v2(handle) == 0 ? kSuccess : kHandleIsNullptr; }
int rocblas_set_stream(void* handle, void* stream) {
  return cublasSetStream_v2(handle, stream) == 0 ? kSuccess : kHandleIsNullptr;
}
int rocblas_get_version_string(char* text, size_t length) {
  std::snprintf(text, length, "4.2.4.mock");
  return kSuccess;
}
const char* rocblas_status_to_string(int status) {
  switch (status) {
    case kSuccess: return "rocblas_status_success";
    case kHandleIsNullptr: return "rocblas_status_invalid_handle";
    case kNotImplemented: return "rocblas_status_not_implemented";
    case kInvalidValue: return "rocblas_status_invalid_value";
    default: return "rocblas_status_internal_error";
  }
}
int rocblas_gemm_strided_batched_ex(void* handle, int op_a, int op_b, int m, int n, int k, const void* alpha,
                                    const void* a, int a_type, int lda, int64_t stride_a, const void* b, int b_type,
                                    int ldb, int64_t stride_b, const void* beta, const void* c, int c_type, int ldc,
                                    int64_t stride_c, void* d, int d_type, int ldd, int64_t stride_d, int batches,
                                    int compute, int algo, int32_t solution, uint32_t flags) {
  if (c != d || c_type != d_type || ldc != ldd || stride_c != stride_d) return kNotImplemented;  // not needed by hci
  const int type = cublas_type(a_type);
  if (cublas_op(op_a) < 0 || cublas_op(op_b) < 0 || type < 0 || b_type != a_type || c_type != a_type ||
      cublas_compute(compute) < 0 || algo != 0 || solution != 0 || flags != 0)
    return kInvalidValue;
  return cublasGemmStridedBatchedEx(handle, cublas_op(op_a), cublas_op(op_b), m, n, k, alpha, a, type, lda, stride_a, b,
                                    type, ldb, stride_b, beta, d, type, ldd, stride_d, batches, cublas_compute(compute),
                                    -1) == 0
             ? kSuccess
             : kInvalidValue;
}

}  // extern "C"
