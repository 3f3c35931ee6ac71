// HIP's runtime (libamdhip64.so), found at run time with dlopen and adapted to the CUDA driver
// API's shape (cuda::DriverApi), which HIP's module API mirrors call for call: the ROCm backend is
// the CUDA backend driving this adapter. hci has no link-time dependency on ROCm.
//
// Where it looks: HCI_HIP_PATH alone when set; otherwise the first of libamdhip64.so, its
// sonames for ROCm 7, 6 and 5, and /opt/rocm/lib/libamdhip64.so that opens. That library is
// accepted when every entry point below resolves and hipInit succeeds; otherwise hip() says why
// in one line.
//
// What the adaptation changes: HIP has no context handle to make current per device, so a
// device's primary "context" is its ordinal plus one and making it current is hipSetDevice;
// HIP's module loader takes no options, so its error log stays empty; device attributes are
// renumbered to HIP's; and the device's processor (gfx90a), which picks the code the JIT makes,
// comes from hipGetDeviceProperties.
#pragma once

#include <hci/cuda/driver.hpp>

HCI_BEGIN_NAMESPACE

namespace rocm {

// HIP adapted to the CUDA driver API, or null and why in one line. Loaded once per process.
HCI_RUNTIME_DECL const cuda::DriverLibrary& hip();

}  // namespace rocm

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/shared_library.hpp>

#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace rocm::detail {

using cuda::driver_types::Device;
using cuda::driver_types::DevicePtr;
using cuda::driver_types::Event;
using cuda::driver_types::Function;
using cuda::driver_types::Module;
using cuda::driver_types::Result;
using cuda::driver_types::Stream;

// X(name in the library, result, parameters...), as hip_runtime_api.h declares them (HIP's
// handle types are opaque pointers, as CUDA's are).
#define HCI_HIP_FUNCTIONS(X)                                                                                       \
  X(hipInit, Result, unsigned)                                                                                     \
  X(hipRuntimeGetVersion, Result, int*)                                                                            \
  X(hipGetErrorName, const char*, Result)                                                                          \
  X(hipGetErrorString, const char*, Result)                                                                        \
  X(hipGetDeviceCount, Result, int*)                                                                               \
  X(hipDeviceGet, Result, Device*, int)                                                                            \
  X(hipDeviceGetName, Result, char*, int, Device)                                                                  \
  X(hipDeviceGetAttribute, Result, int*, int, int)                                                                 \
  X(hipGetDeviceProperties, Result, void*, int)                                                                    \
  X(hipDeviceTotalMem, Result, size_t*, Device)                                                                    \
  X(hipSetDevice, Result, int)                                                                                     \
  X(hipDeviceSynchronize, Result)                                                                                  \
  X(hipMemGetInfo, Result, size_t*, size_t*)                                                                       \
  X(hipMalloc, Result, void**, size_t)                                                                             \
  X(hipFree, Result, void*)                                                                                        \
  X(hipMemcpyHtoD, Result, void*, const void*, size_t)                                                             \
  X(hipMemcpyDtoH, Result, void*, void*, size_t)                                                                   \
  X(hipMemcpyDtoD, Result, void*, void*, size_t)                                                                   \
  X(hipMemsetD8, Result, void*, unsigned char, size_t)                                                             \
  X(hipModuleLoadData, Result, Module*, const void*)                                                               \
  X(hipModuleGetFunction, Result, Function*, Module, const char*)                                                  \
  X(hipModuleUnload, Result, Module)                                                                               \
  X(hipModuleLaunchKernel, Result, Function, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, \
    Stream, void**, void**)                                                                                        \
  X(hipModuleOccupancyMaxPotentialBlockSize, Result, int*, int*, Function, size_t, int)                            \
  X(hipEventCreateWithFlags, Result, Event*, unsigned)                                                             \
  X(hipEventRecord, Result, Event, Stream)                                                                         \
  X(hipEventSynchronize, Result, Event)                                                                            \
  X(hipEventElapsedTime, Result, float*, Event, Event)                                                             \
  X(hipEventDestroy, Result, Event)                                                                                \
  X(hipEventQuery, Result, Event)                                                                                  \
  X(hipStreamCreateWithFlags, Result, Stream*, unsigned)                                                           \
  X(hipStreamDestroy, Result, Stream)                                                                              \
  X(hipStreamSynchronize, Result, Stream)                                                                          \
  X(hipStreamWaitEvent, Result, Stream, Event, unsigned)                                                           \
  X(hipMemcpyHtoDAsync, Result, void*, const void*, size_t, Stream)                                                \
  X(hipMemcpyDtoHAsync, Result, void*, void*, size_t, Stream)                                                      \
  X(hipMemcpyDtoDAsync, Result, void*, void*, size_t, Stream)                                                      \
  X(hipMemcpyPeerAsync, Result, void*, int, const void*, int, size_t, Stream)                                      \
  X(hipHostMalloc, Result, void**, size_t, unsigned)                                                               \
  X(hipHostFree, Result, void*)

struct HipApi {
#define HCI_HIP_POINTER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  HCI_HIP_FUNCTIONS(HCI_HIP_POINTER)
#undef HCI_HIP_POINTER
};

// HIP's numbers for the device attributes hci asks for by CUDA's (hipDeviceAttribute_t, stable
// since HIP 5.0).
inline int hip_attribute(int cuda_attribute) {
  switch (cuda_attribute) {
    case cuda::driver_types::kAttributeMultiprocessorCount: return 63;
    case cuda::driver_types::kAttributeComputeCapabilityMajor: return 23;
    case cuda::driver_types::kAttributeComputeCapabilityMinor: return 61;
    default: return -1;
  }
}
inline constexpr Result kHipErrorInvalidValue = 1;

// The one HIP library of the process, which the adapters (plain functions) call through.
inline const HipApi*& loaded() {
  static const HipApi* api = nullptr;
  return api;
}
inline const HipApi& h() { return *loaded(); }

inline void* address(DevicePtr p) { return cuda::as_pointer(p); }
// The device ordinal an adapted context stands for.
inline int ordinal(cuda::driver_types::Context context) { return int(reinterpret_cast<uintptr_t>(context)) - 1; }

// The processor name in a hipDeviceProp_t: its layout differs between HIP versions, but its
// gcnArchName is the one string in it that starts with "gfx" and a processor number.
inline std::string_view processor_in(const std::vector<char>& properties) {
  for (size_t at = 0; at + 6 < properties.size(); ++at) {
    if ((at > 0 && properties[at - 1] != '\0') || std::strncmp(&properties[at], "gfx", 3) != 0) continue;
    const std::string_view text(&properties[at], std::strlen(&properties[at]));
    const size_t digits = text.find_first_not_of("0123456789abcdef", 3);
    if (digits >= 6 && digits <= 7 && (digits == text.size() || text[digits] == ':')) return text;
  }
  return {};
}

inline std::unique_ptr<cuda::DriverApi> adapt() {
  auto api = std::make_unique<cuda::DriverApi>();
  cuda::DriverApi& a = *api;
  a.cuInit = [](unsigned flags) { return h().hipInit(flags); };
  a.cuDriverGetVersion = [](int* version) { return h().hipRuntimeGetVersion(version); };
  a.cuGetErrorName = [](Result r, const char** name) {
    *name = h().hipGetErrorName(r);
    return Result(0);
  };
  a.cuGetErrorString = [](Result r, const char** text) {
    *text = h().hipGetErrorString(r);
    return Result(0);
  };
  a.cuDeviceGetCount = [](int* count) { return h().hipGetDeviceCount(count); };
  a.cuDeviceGet = [](Device* device, int ordinal) { return h().hipDeviceGet(device, ordinal); };
  a.cuDeviceGetName = [](char* name, int length, Device device) { return h().hipDeviceGetName(name, length, device); };
  a.cuDeviceGetAttribute = [](int* value, int attribute, Device device) {
    const int hip = hip_attribute(attribute);
    return hip < 0 ? kHipErrorInvalidValue : h().hipDeviceGetAttribute(value, hip, device);
  };
  a.cuDeviceTotalMem_v2 = [](size_t* bytes, Device device) { return h().hipDeviceTotalMem(bytes, device); };
  a.cuDevicePrimaryCtxRetain = [](cuda::driver_types::Context* context, Device device) {
    *context = static_cast<cuda::driver_types::Context>(cuda::as_pointer(uint64_t(device) + 1));
    return Result(0);
  };
  a.cuDevicePrimaryCtxRelease_v2 = [](Device) { return Result(0); };
  a.cuCtxSetCurrent = [](cuda::driver_types::Context context) {
    return context ? h().hipSetDevice(ordinal(context)) : Result(0);
  };
  a.cuCtxSynchronize = [] { return h().hipDeviceSynchronize(); };
  a.cuMemGetInfo_v2 = [](size_t* free, size_t* total) { return h().hipMemGetInfo(free, total); };
  a.cuMemAlloc_v2 = [](DevicePtr* p, size_t bytes) {
    void* memory = nullptr;
    const Result r = h().hipMalloc(&memory, bytes);
    *p = DevicePtr(reinterpret_cast<uintptr_t>(memory));
    return r;
  };
  a.cuMemFree_v2 = [](DevicePtr p) { return h().hipFree(address(p)); };
  a.cuMemcpyHtoD_v2 = [](DevicePtr to, const void* from, size_t n) { return h().hipMemcpyHtoD(address(to), from, n); };
  a.cuMemcpyDtoH_v2 = [](void* to, DevicePtr from, size_t n) { return h().hipMemcpyDtoH(to, address(from), n); };
  a.cuMemcpyDtoD_v2 = [](DevicePtr to, DevicePtr from, size_t n) {
    return h().hipMemcpyDtoD(address(to), address(from), n);
  };
  a.cuMemsetD8_v2 = [](DevicePtr to, unsigned char value, size_t n) { return h().hipMemsetD8(address(to), value, n); };
  a.cuModuleLoadDataEx = [](Module* module, const void* image, unsigned, int*, void**) {
    return h().hipModuleLoadData(module, image);
  };
  a.cuModuleGetFunction = [](Function* f, Module m, const char* name) { return h().hipModuleGetFunction(f, m, name); };
  a.cuModuleUnload = [](Module m) { return h().hipModuleUnload(m); };
  a.cuLaunchKernel = [](Function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, Stream s, void** params, void** extra) {
    return h().hipModuleLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
  };
  a.cuEventCreate = [](Event* e, unsigned flags) { return h().hipEventCreateWithFlags(e, flags); };
  a.cuEventRecord = [](Event e, Stream s) { return h().hipEventRecord(e, s); };
  a.cuEventSynchronize = [](Event e) { return h().hipEventSynchronize(e); };
  a.cuEventElapsedTime = [](float* ms, Event from, Event to) { return h().hipEventElapsedTime(ms, from, to); };
  a.cuEventDestroy_v2 = [](Event e) { return h().hipEventDestroy(e); };
  a.cuEventQuery = [](Event e) { return h().hipEventQuery(e); };
  a.cuStreamCreate = [](Stream* s, unsigned flags) { return h().hipStreamCreateWithFlags(s, flags); };
  a.cuStreamDestroy_v2 = [](Stream s) { return h().hipStreamDestroy(s); };
  a.cuStreamSynchronize = [](Stream s) { return h().hipStreamSynchronize(s); };
  a.cuMemcpyHtoDAsync_v2 = [](DevicePtr to, const void* from, size_t n, Stream s) {
    return h().hipMemcpyHtoDAsync(address(to), from, n, s);
  };
  a.cuMemcpyDtoHAsync_v2 = [](void* to, DevicePtr from, size_t n, Stream s) {
    return h().hipMemcpyDtoHAsync(to, address(from), n, s);
  };
  a.cuMemcpyDtoDAsync_v2 = [](DevicePtr to, DevicePtr from, size_t n, Stream s) {
    return h().hipMemcpyDtoDAsync(address(to), address(from), n, s);
  };
  a.cuMemcpyPeerAsync = [](DevicePtr to, cuda::driver_types::Context to_context, DevicePtr from,
                           cuda::driver_types::Context from_context, size_t n, Stream s) {
    return h().hipMemcpyPeerAsync(address(to), ordinal(to_context), address(from), ordinal(from_context), n, s);
  };
  a.cuMemHostAlloc = [](void** memory, size_t bytes, unsigned flags) {
    return h().hipHostMalloc(memory, bytes, flags);
  };
  a.cuMemFreeHost = [](void* memory) { return h().hipHostFree(memory); };
  a.cuStreamWaitEvent = [](Stream s, Event e, unsigned flags) { return h().hipStreamWaitEvent(s, e, flags); };
  a.cuOccupancyMaxPotentialBlockSize = [](int* min_grid, int* block, Function f, size_t (*)(int), size_t shared,
                                          int limit) {
    return h().hipModuleOccupancyMaxPotentialBlockSize(min_grid, block, f, shared, limit);
  };
  a.amd_processor_name = [](char* name, int length, Device device) {
    std::vector<char> properties(size_t(1) << 14);  // more than any HIP version's hipDeviceProp_t
    if (const Result r = h().hipGetDeviceProperties(properties.data(), device)) return r;
    const std::string_view processor = processor_in(properties);
    if (processor.empty() || length <= 0) return kHipErrorInvalidValue;
    const size_t n = std::min(processor.size(), size_t(length) - 1);
    std::memcpy(name, processor.data(), n);
    name[n] = '\0';
    return Result(0);
  };
  a.runtime = "HIP";
  return api;
}

inline const cuda::DriverApi* try_hip(const std::string& path, void* handle, std::string& reason) {
  auto hip = std::make_unique<HipApi>();
  if (const char* missing = HCI_RESOLVE_ALL(HCI_HIP_FUNCTIONS, handle, *hip)) {
    reason = path + " lacks " + missing + " (not HIP's runtime, or too old)";
    return nullptr;
  }
  loaded() = hip.release();  // as the handle, kept for the life of the process
  std::unique_ptr<cuda::DriverApi> api = adapt();
  if (const Result r = api->cuInit(0); r != 0) {
    reason = hci::detail::format("{}: hipInit failed: {}", path, cuda::detail::describe(*api, r));
    return nullptr;
  }
  api->path = path;
  api->cuDriverGetVersion(&api->version);
  return api.release();
}

}  // namespace rocm::detail

HCI_RUNTIME_DEF const cuda::DriverLibrary& rocm::hip() {
  static const cuda::DriverLibrary library = hci::detail::load_vendor_library<cuda::DriverLibrary>(
      "HCI_HIP_PATH",
      {"libamdhip64.so", "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5", "/opt/rocm/lib/libamdhip64.so"},
      "no HIP runtime: libamdhip64.so is not installed (nor its ROCm 5 to 7 sonames, nor in /opt/rocm/lib)",
      detail::try_hip);
  return library;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
