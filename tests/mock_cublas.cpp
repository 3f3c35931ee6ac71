// A test double of cuBLAS over the mock CUDA driver (tests/mock_cuda.cpp, which it links, so that
// it shares the copy hci loaded): handles bound to streams, and cublasGemmStridedBatchedEx queued
// on the handle's stream and computed on the host when the stream runs, for float16, bfloat16,
// float32 and float64 (accumulating in double: the tests compare with tolerances). Loaded by hci
// through HCI_CUBLAS_PATH. hci_mock_cublas_gemms() counts the products queued.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
int hci_mock_cuda_enqueue(void* stream, int (*run)(void*), void* context);
void* hci_mock_cuda_host_address(uint64_t address);
}

namespace {

constexpr int kSuccess = 0, kNotInitialized = 1, kInvalidValue = 7, kExecutionFailed = 13, kNotSupported = 15;
constexpr int kR32F = 0, kR64F = 1, kR16F = 2, kR16BF = 14, kCompute32F = 68, kCompute64F = 70;

struct Handle {
  void* stream = nullptr;
};

long gemms = 0;

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31, exponent = h >> 10 & 0x1f, mantissa = h & 0x3ff;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | mantissa << 13;
  } else if (exponent != 0) {
    bits = sign | (exponent + 112) << 23 | mantissa << 13;
  } else {  // zero or subnormal: mantissa * 2^-24
    float magnitude = float(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
uint16_t float_to_half(float f) {  // rounding to nearest even
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const auto sign = uint16_t(x >> 16 & 0x8000);
  x &= 0x7fffffff;
  if (x > 0x7f800000) return uint16_t(sign | 0x7e00);   // NaN
  if (x >= 0x477ff000) return uint16_t(sign | 0x7c00);  // 65520 and above round to infinity
  if (x < 0x38800000) {                                 // below 2^-14: subnormal steps of 2^-24
    float magnitude;
    std::memcpy(&magnitude, &x, sizeof magnitude);
    return uint16_t(sign | uint16_t(std::nearbyint(double(magnitude) * 16777216.0)));
  }
  uint32_t h = ((x >> 23) - 112) << 10 | (x & 0x7fffff) >> 13;
  const uint32_t rest = x & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // a carry into the exponent is right
  return uint16_t(sign | h);
}
float bfloat_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
uint16_t float_to_bfloat(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if (f != f) return uint16_t(bits >> 16 | 0x40);
  return uint16_t((bits + 0x7fff + (bits >> 16 & 1)) >> 16);
}

double read(const char* base, int64_t index, int type) {
  switch (type) {
    case kR64F: {
      double v;
      std::memcpy(&v, base + index * 8, 8);
      return v;
    }
    case kR32F: {
      float v;
      std::memcpy(&v, base + index * 4, 4);
      return v;
    }
    default: {
      uint16_t v;
      std::memcpy(&v, base + index * 2, 2);
      return type == kR16F ? half_to_float(v) : bfloat_to_float(v);
    }
  }
}
void write(char* base, int64_t index, int type, double value) {
  if (type == kR64F) {
    std::memcpy(base + index * 8, &value, 8);
  } else if (type == kR32F) {
    const float v = float(value);
    std::memcpy(base + index * 4, &v, 4);
  } else {
    const uint16_t v = type == kR16F ? float_to_half(float(value)) : float_to_bfloat(float(value));
    std::memcpy(base + index * 2, &v, 2);
  }
}

// One queued cublasGemmStridedBatchedEx, in cuBLAS's column-major terms.
struct Gemm {
  int op_a, op_b, m, n, k, type, lda, ldb, ldc, batches;
  double alpha, beta;
  uint64_t a, b, c;  // device addresses
  long long stride_a, stride_b, stride_c;

  static int run(void* context) {
    const Gemm* g = static_cast<const Gemm*>(context);
    g->compute();
    delete g;
    return kSuccess;
  }
  void compute() const {
    const auto* a_host = static_cast<const char*>(hci_mock_cuda_host_address(a));
    const auto* b_host = static_cast<const char*>(hci_mock_cuda_host_address(b));
    auto* c_host = static_cast<char*>(hci_mock_cuda_host_address(c));
    for (int batch = 0; batch < batches; ++batch)
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double sum = 0;
          for (int p = 0; p < k; ++p) {
            const int64_t at_a = op_a == 0 ? i + int64_t(p) * lda : p + int64_t(i) * lda;
            const int64_t at_b = op_b == 0 ? p + int64_t(j) * ldb : j + int64_t(p) * ldb;
            sum += read(a_host, batch * stride_a + at_a, type) * read(b_host, batch * stride_b + at_b, type);
          }
          const int64_t at_c = batch * stride_c + i + int64_t(j) * ldc;
          write(c_host, at_c, type, alpha * sum + (beta == 0 ? 0 : beta * read(c_host, at_c, type)));
        }
  }
};

}  // namespace

extern "C" {

long hci_mock_cublas_gemms() { return gemms; }

int cublasCreate_v2(Handle** handle) {
  if (!handle) return kInvalidValue;
  *handle = new Handle;
  return kSuccess;
}
int cublasDestroy_v2(Handle* handle) {
  if (!handle) return kNotInitialized;
  delete handle;
  return kSuccess;
}
int cublasSetStream_v2(Handle* handle, void* stream) {
  if (!handle) return kNotInitialized;
  handle->stream = stream;
  return kSuccess;
}
int cublasGetProperty(int property, int* value) {
  static const int version[] = {12, 8, 4};
  if (property < 0 || property > 2 || !value) return kInvalidValue;
  *value = version[property];
  return kSuccess;
}
const char* cublasGetStatusName(int status) {
  switch (status) {
    case kSuccess: return "CUBLAS_STATUS_SUCCESS";
    case kNotInitialized: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case kInvalidValue: return "CUBLAS_STATUS_INVALID_VALUE";
    case kExecutionFailed: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case kNotSupported: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}
int cublasGemmStridedBatchedEx(Handle* handle, int op_a, int op_b, int m, int n, int k, const void* alpha,
                               const void* a, int a_type, int lda, long long stride_a, const void* b, int b_type,
                               int ldb, long long stride_b, const void* beta, void* c, int c_type, int ldc,
                               long long stride_c, int batches, int compute, int) {
  if (!handle) return kNotInitialized;
  if (m < 0 || n < 0 || k < 0 || batches < 0 || op_a < 0 || op_a > 1 || op_b < 0 || op_b > 1) return kInvalidValue;
  if (lda < (op_a == 0 ? m : k) || ldb < (op_b == 0 ? k : n) || ldc < m || lda < 1 || ldb < 1 || ldc < 1)
    return kInvalidValue;
  if (a_type != b_type || a_type != c_type) return kNotSupported;
  const bool wide = compute == kCompute64F;
  if (wide != (a_type == kR64F) || (!wide && compute != kCompute32F)) return kNotSupported;
  if (a_type != kR16F && a_type != kR16BF && a_type != kR32F && a_type != kR64F) return kNotSupported;
  auto scalar = [&](const void* p) {
    if (wide) return *static_cast<const double*>(p);
    return double(*static_cast<const float*>(p));
  };
  auto* g = new Gemm{op_a,
                     op_b,
                     m,
                     n,
                     k,
                     a_type,
                     lda,
                     ldb,
                     ldc,
                     batches,
                     scalar(alpha),
                     scalar(beta),
                     uint64_t(reinterpret_cast<uintptr_t>(a)),
                     uint64_t(reinterpret_cast<uintptr_t>(b)),
                     uint64_t(reinterpret_cast<uintptr_t>(c)),
                     stride_a,
                     stride_b,
                     stride_c};
  if (hci_mock_cuda_enqueue(handle->stream, &Gemm::run, g) != 0) {
    delete g;
    return kExecutionFailed;
  }
  ++gemms;
  return kSuccess;
}

}  // extern "C"
