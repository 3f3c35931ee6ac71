// The CUDA driver API, found at run time with dlopen: hci has no link-time dependency on CUDA,
// so one binary runs on machines with and without an NVIDIA driver.
//
// Where it looks: HCI_CUDA_PATH alone when set, otherwise `libcuda.so.1` (the driver's soname;
// the toolkit's stub `libcuda.so` is not it). The library is accepted when every entry point
// below resolves and cuInit succeeds; otherwise driver() says why in one line (no driver, the
// toolkit's stub, no device). The handle is opened RTLD_LOCAL and never closed. Entry points
// are taken by the versioned names cuda.h maps the plain ones to (cuMemAlloc is cuMemAlloc_v2).
//
// HIP's module API mirrors this one call for call, so the ROCm backend is the CUDA backend over
// HIP adapted to this shape (rocm/hip.hpp): DriverApi is what both backends drive.
#pragma once

#include <hci/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

HCI_BEGIN_NAMESPACE

namespace cuda {

// The driver's types, as cuda.h declares them.
namespace driver_types {
using Result = int;
using Device = int;
using DevicePtr = uint64_t;
using Context = struct CUctx_st*;
using Module = struct CUmod_st*;
using Function = struct CUfunc_st*;
using Stream = struct CUstream_st*;
using Event = struct CUevent_st*;

inline constexpr Result kSuccess = 0;
inline constexpr Result kErrorStubLibrary = 34;
inline constexpr Result kErrorOutOfMemory = 2;
inline constexpr Result kErrorNoDevice = 100;
inline constexpr Result kErrorNotReady = 600;
inline constexpr unsigned kStreamNonBlocking = 1;
inline constexpr unsigned kEventDisableTiming = 2;
inline constexpr unsigned kMemHostAllocPortable = 1;  // pinned for every context, not only the current one
inline constexpr int kAttributeMultiprocessorCount = 16;
inline constexpr int kAttributeComputeCapabilityMajor = 75;
inline constexpr int kAttributeComputeCapabilityMinor = 76;
inline constexpr int kJitErrorLogBuffer = 5;
inline constexpr int kJitErrorLogBufferSizeBytes = 6;
}  // namespace driver_types

// X(name in the library, result, parameters...)
#define HCI_CUDA_FUNCTIONS(X)                                                                                       \
  X(cuInit, Result, unsigned)                                                                                       \
  X(cuDriverGetVersion, Result, int*)                                                                               \
  X(cuGetErrorName, Result, Result, const char**)                                                                   \
  X(cuGetErrorString, Result, Result, const char**)                                                                 \
  X(cuDeviceGetCount, Result, int*)                                                                                 \
  X(cuDeviceGet, Result, Device*, int)                                                                              \
  X(cuDeviceGetName, Result, char*, int, Device)                                                                    \
  X(cuDeviceGetAttribute, Result, int*, int, Device)                                                                \
  X(cuDeviceTotalMem_v2, Result, size_t*, Device)                                                                   \
  X(cuDevicePrimaryCtxRetain, Result, Context*, Device)                                                             \
  X(cuDevicePrimaryCtxRelease_v2, Result, Device)                                                                   \
  X(cuCtxSetCurrent, Result, Context)                                                                               \
  X(cuCtxSynchronize, Result)                                                                                       \
  X(cuMemGetInfo_v2, Result, size_t*, size_t*)                                                                      \
  X(cuMemAlloc_v2, Result, DevicePtr*, size_t)                                                                      \
  X(cuMemFree_v2, Result, DevicePtr)                                                                                \
  X(cuMemcpyHtoD_v2, Result, DevicePtr, const void*, size_t)                                                        \
  X(cuMemcpyDtoH_v2, Result, void*, DevicePtr, size_t)                                                              \
  X(cuMemcpyDtoD_v2, Result, DevicePtr, DevicePtr, size_t)                                                          \
  X(cuMemsetD8_v2, Result, DevicePtr, unsigned char, size_t)                                                        \
  X(cuModuleLoadDataEx, Result, Module*, const void*, unsigned, int*, void**)                                       \
  X(cuModuleGetFunction, Result, Function*, Module, const char*)                                                    \
  X(cuModuleUnload, Result, Module)                                                                                 \
  X(cuLaunchKernel, Result, Function, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, Stream, \
    void**, void**)                                                                                                 \
  X(cuEventCreate, Result, Event*, unsigned)                                                                        \
  X(cuEventRecord, Result, Event, Stream)                                                                           \
  X(cuEventSynchronize, Result, Event)                                                                              \
  X(cuEventElapsedTime, Result, float*, Event, Event)                                                               \
  X(cuEventDestroy_v2, Result, Event)                                                                               \
  X(cuEventQuery, Result, Event)                                                                                    \
  X(cuStreamCreate, Result, Stream*, unsigned)                                                                      \
  X(cuStreamDestroy_v2, Result, Stream)                                                                             \
  X(cuStreamSynchronize, Result, Stream)                                                                            \
  X(cuMemcpyHtoDAsync_v2, Result, DevicePtr, const void*, size_t, Stream)                                           \
  X(cuMemcpyDtoHAsync_v2, Result, void*, DevicePtr, size_t, Stream)                                                 \
  X(cuMemcpyDtoDAsync_v2, Result, DevicePtr, DevicePtr, size_t, Stream)                                             \
  X(cuMemcpyPeerAsync, Result, DevicePtr, Context, DevicePtr, Context, size_t, Stream)                              \
  X(cuMemHostAlloc, Result, void**, size_t, unsigned)                                                               \
  X(cuMemFreeHost, Result, void*)                                                                                   \
  X(cuStreamWaitEvent, Result, Stream, Event, unsigned)                                                             \
  X(cuOccupancyMaxPotentialBlockSize, Result, int*, int*, Function, size_t (*)(int), size_t, int)

// A device address (or a size the driver takes in a pointer's place) as a pointer, which the
// host never dereferences: the one integer-to-pointer cast the backend makes.
inline void* as_pointer(uint64_t value) {
  return reinterpret_cast<void*>(uintptr_t(value));  // NOLINT(performance-no-int-to-ptr)
}

// The resolved entry points of one driver library.
struct DriverApi {
  using Result = driver_types::Result;
  using Device = driver_types::Device;
  using DevicePtr = driver_types::DevicePtr;
  using Context = driver_types::Context;
  using Module = driver_types::Module;
  using Function = driver_types::Function;
  using Stream = driver_types::Stream;
  using Event = driver_types::Event;
#define HCI_CUDA_POINTER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  HCI_CUDA_FUNCTIONS(HCI_CUDA_POINTER)
#undef HCI_CUDA_POINTER
  // HIP's alone: the device's processor as HIP names it ("gfx90a:sramecc+:xnack-"), which
  // decides the code the JIT makes for it. Null for CUDA, whose devices are named by their
  // compute capability.
  Result (*amd_processor_name)(char*, int, Device) = nullptr;
  std::string runtime = "CUDA";  // or "HIP": names the API in messages
  int version = 0;               // as cuDriverGetVersion gives it: 13000 is CUDA 13.0
  std::string path;              // as dlopen was given it
  bool is_hip() const { return amd_processor_name != nullptr; }
};

// The outcome of the search, made once per process: the API, or null and why in one line.
struct DriverLibrary {
  const DriverApi* api = nullptr;
  std::string reason;
};
HCI_RUNTIME_DECL const DriverLibrary& driver();

// Throws hci::Error for a failed call: "what: CUDA_ERROR_NAME (the driver's description)". With
// HIP's API, the CUDA calls `what` names are named as HIP names them (cuMemAlloc: hipMemAlloc).
HCI_RUNTIME_DECL void check(const DriverApi& api, driver_types::Result result, const std::string& what);
// The same for the CUDA driver.
HCI_RUNTIME_DECL void check(driver_types::Result result, const char* what);

}  // namespace cuda

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>
#include <hci/shared_library.hpp>

#include <cctype>
#include <cstdlib>
#include <memory>

HCI_BEGIN_NAMESPACE

namespace cuda::detail {

// The driver's name and description of a result, as "NAME (description)".
inline std::string describe(const DriverApi& api, driver_types::Result result) {
  const char* name = nullptr;
  const char* text = nullptr;
  api.cuGetErrorName(result, &name);
  api.cuGetErrorString(result, &text);
  std::string named = name ? name : "error " + std::to_string(result);
  if (!text || named == text) return named;  // HIP's descriptions can be its names again
  return hci::detail::format("{} ({})", named, text);
}

inline std::unique_ptr<DriverApi> try_driver(const std::string& path, std::string& reason) {
  void* handle = hci::detail::open_shared_library(path, reason);
  if (!handle) return nullptr;
  auto api = std::make_unique<DriverApi>();
  api->path = path;
  if (const char* missing = HCI_RESOLVE_ALL(HCI_CUDA_FUNCTIONS, handle, *api)) {
    reason = path + " lacks " + missing + " (not a CUDA driver, or too old)";
    return nullptr;
  }
  if (const driver_types::Result r = api->cuInit(0); r != driver_types::kSuccess) {
    reason = path + ": cuInit failed: " + describe(*api, r);
    if (r == driver_types::kErrorStubLibrary) reason += "; this is the toolkit's stub, not a driver";
    return nullptr;
  }
  api->cuDriverGetVersion(&api->version);
  return api;  // the handle stays open for the life of the process
}

}  // namespace cuda::detail

HCI_RUNTIME_DEF const cuda::DriverLibrary& cuda::driver() {
  static const DriverLibrary library = [] {
    DriverLibrary result;
    const char* path = std::getenv("HCI_CUDA_PATH");
    const bool chosen = path && *path;
    result.api = detail::try_driver(chosen ? path : "libcuda.so.1", result.reason).release();
    if (!result.api && chosen) result.reason = "HCI_CUDA_PATH: " + result.reason;
    return result;
  }();
  return library;
}

HCI_RUNTIME_DEF void cuda::check(const DriverApi& api, driver_types::Result result, const std::string& what) {
  if (result == driver_types::kSuccess) return;
  std::string named = what;
  if (api.is_hip())  // cuX, at the start of a word, is hipX
    for (size_t at = named.find("cu"); at != std::string::npos; at = named.find("cu", at + 1))
      if ((at == 0 || named[at - 1] == ' ') && at + 2 < named.size() && std::isupper(uint8_t(named[at + 2])))
        named.replace(at, 2, "hip");
  throw Error(hci::detail::format("{}: {}", named, detail::describe(api, result)));
}

HCI_RUNTIME_DEF void cuda::check(driver_types::Result result, const char* what) { check(*driver().api, result, what); }

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
