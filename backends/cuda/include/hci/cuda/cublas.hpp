// cuBLAS, found at run time with dlopen as the driver is: matrix products of tensors on CUDA
// devices (float16, bfloat16, float32, float64; batched) run as cublasGemmStridedBatchedEx on
// the device's stream.
//
// Where it looks: HCI_CUBLAS_PATH alone when set, otherwise libcublas.so.13, .12, .11, then
// libcublas.so. Without it, matrix products run on the host over copies of their operands.
// float32 products accumulate in float32 without TF32 (cuBLAS's default math mode), 16-bit
// ones in float32, as on the CPU; the order of the sums is cuBLAS's own, so results agree with
// the CPU's to rounding, not bit for bit.
#pragma once

#include <hci/cuda/driver.hpp>
#include <hci/kernel.hpp>

#include <string>

HCI_BEGIN_NAMESPACE

namespace cuda {

namespace cublas_types {
using Status = int;
using Handle = struct cublasContext*;
inline constexpr Status kSuccess = 0;
inline constexpr int kOpN = 0, kOpT = 1;
inline constexpr int kR32F = 0, kR64F = 1, kR16F = 2, kR16BF = 14;  // cudaDataType
inline constexpr int kCompute32F = 68, kCompute64F = 70;            // cublasComputeType_t
inline constexpr int kGemmDefault = -1;
inline constexpr int kMajorVersion = 0, kMinorVersion = 1, kPatchLevel = 2;  // libraryPropertyType
}  // namespace cublas_types

// X(name in the library, result, parameters...)
#define HCI_CUBLAS_FUNCTIONS(X)                                                                              \
  X(cublasCreate_v2, Status, Handle*)                                                                        \
  X(cublasDestroy_v2, Status, Handle)                                                                        \
  X(cublasSetStream_v2, Status, Handle, driver_types::Stream)                                                \
  X(cublasGetProperty, Status, int, int*)                                                                    \
  X(cublasGemmStridedBatchedEx, Status, Handle, int, int, int, int, int, const void*, const void*, int, int, \
    long long, const void*, int, int, long long, const void*, void*, int, int, long long, int, int, int)

struct CublasApi {
  using Status = cublas_types::Status;
  using Handle = cublas_types::Handle;
#define HCI_CUBLAS_POINTER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  HCI_CUBLAS_FUNCTIONS(HCI_CUBLAS_POINTER)
#undef HCI_CUBLAS_POINTER
  const char* (*cublasGetStatusName)(Status) = nullptr;  // cuBLAS 11.4 and later
  std::string name = "cuBLAS";                           // or "rocBLAS", adapted to this API (rocm/rocblas.hpp)
  std::string path, version;                             // as dlopen was given it; "12.8.4"
};

struct CublasLibrary {
  const CublasApi* api = nullptr;
  std::string reason;
};
// The search's outcome, made once per process.
HCI_RUNTIME_DECL const CublasLibrary& cublas();

// A cuBLAS handle of one device (whose context is current where it is made and used), on the
// stream given.
class CublasHandle {
 public:
  CublasHandle(const CublasApi& api, driver_types::Stream stream);
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  ~CublasHandle() { api_.cublasDestroy_v2(handle_); }

  // Runs a matrix product kernel (root OpKind::Matmul) whose buffers are in this device's
  // memory, and returns true; false where cuBLAS does not take it (an integer or bool dtype, an
  // operand or output that is not a matrix with one unit stride). Throws hci::Error naming
  // cuBLAS's status.
  bool matmul(const Kernel& k);

 private:
  const CublasApi& api_;
  cublas_types::Handle handle_ = nullptr;
};

}  // namespace cuda

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>
#include <hci/shared_library.hpp>

#include <climits>
#include <cstdlib>
#include <memory>
#include <optional>

HCI_BEGIN_NAMESPACE

namespace cuda::detail {

inline std::unique_ptr<CublasApi> try_cublas(const std::string& path, std::string& reason) {
  void* handle = hci::detail::open_shared_library(path, reason);
  if (!handle) return nullptr;
  auto api = std::make_unique<CublasApi>();
  api->path = path;
  if (const char* missing = HCI_RESOLVE_ALL(HCI_CUBLAS_FUNCTIONS, handle, *api)) {
    reason = path + " lacks " + missing + " (not cuBLAS, or older than 11)";
    return nullptr;
  }
  hci::detail::resolve_symbol(handle, "cublasGetStatusName", api->cublasGetStatusName);
  int major = 0, minor = 0, patch = 0;
  api->cublasGetProperty(cublas_types::kMajorVersion, &major);
  api->cublasGetProperty(cublas_types::kMinorVersion, &minor);
  api->cublasGetProperty(cublas_types::kPatchLevel, &patch);
  api->version = hci::detail::format("{}.{}.{}", major, minor, patch);
  return api;
}

inline void check_cublas(const CublasApi& api, cublas_types::Status status, const char* what) {
  if (status == cublas_types::kSuccess) return;
  const char* name = api.cublasGetStatusName ? api.cublasGetStatusName(status) : nullptr;
  hci::detail::throw_error("{}: {}: {}", api.name, what, name ? name : hci::detail::format("status {}", status));
}

// How cuBLAS reads one matrix of a batch (column-major, so a row-major matrix is read as its
// transpose): op N over `ld` for rows of unit stride, op T for columns of unit stride.
struct CublasMatrix {
  int op = cublas_types::kOpN;
  int ld = 1;
};
// For a rows x cols matrix with these strides, read as its transpose (cuBLAS computes C^T = B^T A^T).
inline std::optional<CublasMatrix> cublas_matrix(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  if (rows > INT_MAX || cols > INT_MAX) return std::nullopt;
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= cols) && row_stride <= INT_MAX)
    return CublasMatrix{cublas_types::kOpN, int(std::max<int64_t>({1, cols, rows == 1 ? cols : row_stride}))};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= rows) && col_stride <= INT_MAX)
    return CublasMatrix{cublas_types::kOpT, int(std::max<int64_t>({1, rows, cols == 1 ? rows : col_stride}))};
  return std::nullopt;
}

}  // namespace cuda::detail

HCI_RUNTIME_DEF const cuda::CublasLibrary& cuda::cublas() {
  static const CublasLibrary library = [] {
    CublasLibrary result;
    const char* chosen = std::getenv("HCI_CUBLAS_PATH");
    if (chosen && *chosen) {
      result.api = detail::try_cublas(chosen, result.reason).release();
      if (!result.api) result.reason = "HCI_CUBLAS_PATH: " + result.reason;
      return result;
    }
    for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}) {
      std::string reason;
      result.api = detail::try_cublas(name, reason).release();
      if (result.api) return result;
      if (result.reason.empty()) result.reason = reason;
    }
    return result;
  }();
  return library;
}

HCI_RUNTIME_DEF cuda::CublasHandle::CublasHandle(const CublasApi& api, driver_types::Stream stream) : api_(api) {
  detail::check_cublas(api_, api_.cublasCreate_v2(&handle_), "cublasCreate");
  if (const cublas_types::Status status = api_.cublasSetStream_v2(handle_, stream); status != cublas_types::kSuccess) {
    api_.cublasDestroy_v2(handle_);
    detail::check_cublas(api_, status, "cublasSetStream");
  }
}

HCI_RUNTIME_DEF bool cuda::CublasHandle::matmul(const Kernel& k) {
  using namespace cublas_types;
  const auto& ops = k.structure.ops;
  const KernelOp& root = ops.back();
  const BufferParam& out = k.params.buffers[0];
  const BufferParam& lhs = k.params.buffers[size_t(ops[size_t(root.args[0])].args[0])];
  const BufferParam& rhs = k.params.buffers[size_t(ops[size_t(root.args[1])].args[0])];
  int type = 0, compute = kCompute32F;
  switch (out.dtype) {
    case kFloat16: type = kR16F; break;
    case kBFloat16: type = kR16BF; break;
    case kFloat32: type = kR32F; break;
    case kFloat64: type = kR64F, compute = kCompute64F; break;
    default: return false;
  }
  const Dims& sizes = k.params.sizes;
  const size_t r = sizes.size() - 3;  // batch dims first, then M, N, K
  const int64_t m = sizes[r], n = sizes[r + 1], depth = sizes[r + 2];
  if (m == 0 || n == 0) return true;
  if (depth == 0 || depth > INT_MAX) return false;  // for k = 0 cuBLAS leaves C alone: the host writes zeros
  // C^T = B^T A^T in cuBLAS's column-major terms: its "A" is our rhs, its "B" our lhs.
  const auto a = detail::cublas_matrix(depth, n, rhs.strides[r + 2], rhs.strides[r + 1]);
  const auto b = detail::cublas_matrix(m, depth, lhs.strides[r], lhs.strides[r + 2]);
  const auto c = detail::cublas_matrix(m, n, out.strides[r], out.strides[r + 1]);
  if (!a || !b || !c || c->op != kOpN) return false;
  // The innermost batch dim is cuBLAS's batch; the others are looped over here.
  const int64_t batch = r > 0 ? sizes[r - 1] : 1;
  if (batch > INT_MAX) return false;
  auto batch_stride = [&](const BufferParam& p) { return r > 0 ? p.strides[r - 1] : 0; };
  int64_t outer = 1;
  for (size_t d = 0; d + 1 < r; ++d) outer *= sizes[d];
  const float one32 = 1, zero32 = 0;
  const double one64 = 1, zero64 = 0;
  const void* one = compute == kCompute64F ? static_cast<const void*>(&one64) : &one32;
  const void* zero = compute == kCompute64F ? static_cast<const void*>(&zero64) : &zero32;
  const int64_t element = int64_t(element_size(out.dtype));
  for (int64_t index = 0; index < outer; ++index) {
    int64_t offsets[3] = {out.offset, lhs.offset, rhs.offset}, rest = index;
    for (size_t d = r - (r > 0 ? 1 : 0); d-- > 0;) {
      const int64_t i = rest % sizes[d];
      rest /= sizes[d];
      offsets[0] += i * out.strides[d];
      offsets[1] += i * lhs.strides[d];
      offsets[2] += i * rhs.strides[d];
    }
    auto at = [&](const BufferParam& p, int64_t offset) { return static_cast<char*>(p.data) + offset * element; };
    detail::check_cublas(api_,
                         api_.cublasGemmStridedBatchedEx(
                             handle_, a->op, b->op, int(n), int(m), int(depth), one, at(rhs, offsets[2]), type, a->ld,
                             batch_stride(rhs), at(lhs, offsets[1]), type, b->ld, batch_stride(lhs), zero,
                             at(out, offsets[0]), type, c->ld, batch_stride(out), int(batch), compute, kGemmDefault),
                         "cublasGemmStridedBatchedEx");
  }
  return true;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
