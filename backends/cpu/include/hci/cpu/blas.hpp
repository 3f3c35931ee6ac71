// A CBLAS found at run time with dlopen: never linked, so one binary runs with OpenBLAS, BLIS,
// MKL, any libcblas, the reference BLAS, or none (the built-in kernel in gemm.hpp then serves).
//
// Looked up in this order: HCI_BLAS=0 disables it; HCI_BLAS_PATH names a library; otherwise
// the optimised libraries are tried before the reference libblas.so.3. A library hci loads
// itself runs with as many threads as hci's pool (hci's pool waits while it runs, so the two
// never compete); one the process had already loaded keeps its own thread settings.
#pragma once

#include <hci/config.hpp>

#include <atomic>
#include <string>

HCI_BEGIN_NAMESPACE

namespace cpu {

enum CblasOrder { kCblasRowMajor = 101 };
enum CblasTranspose { kCblasNoTrans = 111, kCblasTrans = 112 };

struct Blas {
  using Sgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                         const float* b, int ldb, float beta, float* c, int ldc);
  using Dgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const double* a,
                         int lda, const double* b, int ldb, double beta, double* c, int ldc);
  Sgemm sgemm = nullptr;
  Dgemm dgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;  // set only for a library hci loaded itself
  std::string path;                        // the library in use, empty when none
  std::string reason;                      // why none is in use

  bool available() const { return sgemm != nullptr; }
};

// The BLAS found, looked up once; compiled with the runtime.
HCI_RUNTIME_DECL const Blas& blas();

// Whether float32 and float64 matmul go to the BLAS found (the default) or to the built-in
// kernel, which gives the same bits on every machine with the same vector instructions.
inline std::atomic<bool>& blas_enabled() {
  static std::atomic<bool> enabled{true};
  return enabled;
}
inline void set_blas_enabled(bool enabled) { blas_enabled().store(enabled); }

}  // namespace cpu

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <dlfcn.h>

#include <cstdlib>
#include <string_view>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace cpu {

namespace detail {

// Fills b from the library at handle; false when it lacks the CBLAS entry points.
inline bool bind_blas(void* handle, bool loaded_here, Blas& b) {
  b.sgemm = reinterpret_cast<Blas::Sgemm>(dlsym(handle, "cblas_sgemm"));
  b.dgemm = reinterpret_cast<Blas::Dgemm>(dlsym(handle, "cblas_dgemm"));
  if (!b.sgemm || !b.dgemm) {
    b.sgemm = nullptr;
    b.dgemm = nullptr;
    return false;
  }
  if (loaded_here)
    for (const char* name : {"openblas_set_num_threads", "bli_thread_set_num_threads", "MKL_Set_Num_Threads"})
      if (auto* f = reinterpret_cast<void (*)(int)>(dlsym(handle, name))) {
        b.set_num_threads = f;
        break;
      }
  return true;
}

inline Blas load_blas() {
  Blas b;
  const char* enabled = std::getenv("HCI_BLAS");
  if (enabled && (std::string_view(enabled) == "0" || std::string_view(enabled) == "off")) {
    b.reason = "disabled by HCI_BLAS=" + std::string(enabled);
    return b;
  }
  std::vector<std::string> candidates;
  if (const char* path = std::getenv("HCI_BLAS_PATH"); path && *path) {
    candidates = {path};
  } else {
    candidates = {"libopenblas.so.0", "libopenblas.so", "libblis.so.4", "libblis.so",   "libmkl_rt.so.2",
                  "libmkl_rt.so",     "libcblas.so.3",  "libcblas.so",  "libblas.so.3", "libblas.so"};
  }
  std::string tried;
  for (const std::string& name : candidates) {
    void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    const bool loaded_here = handle == nullptr;
    if (loaded_here) handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += (tried.empty() ? "" : ", ") + name;
      continue;
    }
    if (bind_blas(handle, loaded_here, b)) {  // the handle stays open for the life of the process
      b.path = name;
      return b;
    }
    tried += (tried.empty() ? "" : ", ") + name + " (no cblas_sgemm)";
    dlclose(handle);
  }
  b.reason = "no CBLAS library found (tried " + tried + ")";
  return b;
}

}  // namespace detail

HCI_RUNTIME_DEF const Blas& blas() {
  static const Blas b = detail::load_blas();
  return b;
}

}  // namespace cpu

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
