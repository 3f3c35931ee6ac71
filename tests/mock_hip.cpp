// A test double of HIP's runtime (libamdhip64.so) for hci's ROCm backend, loaded through
// HCI_HIP_PATH. It is HIP's entry points over the mock CUDA driver (tests/mock_cuda.cpp), which it
// links: devices, memory, streams, events, fault injection and launches are that mock's, and its
// hci_mock_cuda_* control functions are reached through this library's handle. Faults are
// injected by the name of the CUDA entry point a HIP call stands on (hipMalloc: cuMemAlloc_v2).
//
// What is HIP's own: error names, attribute numbers, hipSetDevice, the device properties (each
// device a gfx90a) and code objects. hipModuleLoadData takes an AMD code object (an ELF file),
// finds the kernel structure hci puts in its section .hci.structure, and gives the mock driver
// the PTX image the same kernel would have (the structure in a comment, an entry taking the four
// 8-byte parameters of hci's kernels), so that the test's launcher runs the kernel's emulated
// twin as it does for CUDA.
#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace {

using Result = int;
using DevicePtr = uint64_t;

constexpr Result kSuccess = 0, kInvalidValue = 1, kInvalidImage = 200;
constexpr int kEmAmdgpu = 224;  // EM_AMDGPU, which older elf.h lack
constexpr int kMaxDevices = 16;

DevicePtr device_pointer(const void* p) { return DevicePtr(reinterpret_cast<uintptr_t>(p)); }
void* host_pointer(DevicePtr p) { return reinterpret_cast<void*>(uintptr_t(p)); }  // NOLINT(performance-no-int-to-ptr)

}  // namespace

extern "C" {

// The mock CUDA driver's entry points this library stands on.
Result cuInit(unsigned);
Result cuDeviceGetCount(int*);
Result cuDeviceGet(int*, int);
Result cuDeviceGetName(char*, int, int);
Result cuDeviceGetAttribute(int*, int, int);
Result cuDeviceTotalMem_v2(size_t*, int);
Result cuDevicePrimaryCtxRetain(void**, int);
Result cuCtxSetCurrent(void*);
Result cuCtxSynchronize();
Result cuMemGetInfo_v2(size_t*, size_t*);
Result cuMemAlloc_v2(DevicePtr*, size_t);
Result cuMemFree_v2(DevicePtr);
Result cuMemcpyHtoD_v2(DevicePtr, const void*, size_t);
Result cuMemcpyDtoH_v2(void*, DevicePtr, size_t);
Result cuMemcpyDtoD_v2(DevicePtr, DevicePtr, size_t);
Result cuMemsetD8_v2(DevicePtr, unsigned char, size_t);
Result cuModuleLoadDataEx(void**, const void*, unsigned, int*, void**);
Result cuModuleGetFunction(void**, void*, const char*);
Result cuModuleUnload(void*);
Result cuOccupancyMaxPotentialBlockSize(int*, int*, void*, void*, size_t, int);
Result cuLaunchKernel(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**,
                      void**);
Result cuEventCreate(void**, unsigned);
Result cuEventRecord(void*, void*);
Result cuEventSynchronize(void*);
Result cuEventQuery(void*);
Result cuEventElapsedTime(float*, void*, void*);
Result cuEventDestroy_v2(void*);
Result cuStreamCreate(void**, unsigned);
Result cuStreamDestroy_v2(void*);
Result cuStreamSynchronize(void*);
Result cuStreamWaitEvent(void*, void*, unsigned);
Result cuMemcpyHtoDAsync_v2(DevicePtr, const void*, size_t, void*);
Result cuMemcpyDtoHAsync_v2(void*, DevicePtr, size_t, void*);
Result cuMemcpyDtoDAsync_v2(DevicePtr, DevicePtr, size_t, void*);
Result cuMemcpyPeerAsync(DevicePtr, void*, DevicePtr, void*, size_t, void*);
Result cuMemHostAlloc(void**, size_t, unsigned);
Result cuMemFreeHost(void*);

Result hipInit(unsigned flags) { return cuInit(flags); }
Result hipRuntimeGetVersion(int* version) {
  *version = 60241134;  // HIP 6.2.41134
  return kSuccess;
}
const char* hipGetErrorName(Result r) {
  static const std::map<Result, const char*> names = {{0, "hipSuccess"},
                                                      {1, "hipErrorInvalidValue"},
                                                      {2, "hipErrorOutOfMemory"},
                                                      {3, "hipErrorNotInitialized"},
                                                      {100, "hipErrorNoDevice"},
                                                      {101, "hipErrorInvalidDevice"},
                                                      {200, "hipErrorInvalidImage"},
                                                      {209, "hipErrorNoBinaryForGpu"},
                                                      {400, "hipErrorInvalidHandle"},
                                                      {500, "hipErrorNotFound"},
                                                      {600, "hipErrorNotReady"},
                                                      {719, "hipErrorLaunchFailure"},
                                                      {801, "hipErrorNotSupported"}};
  const auto it = names.find(r);
  return it == names.end() ? "hipErrorUnknown" : it->second;
}
const char* hipGetErrorString(Result) { return "reported by the mock HIP runtime"; }
Result hipGetDeviceCount(int* count) { return cuDeviceGetCount(count); }
Result hipDeviceGet(int* device, int ordinal) { return cuDeviceGet(device, ordinal); }
Result hipDeviceGetName(char* name, int length, int device) { return cuDeviceGetName(name, length, device); }
// HIP's attribute numbers for what the mock driver answers under CUDA's.
Result hipDeviceGetAttribute(int* value, int attribute, int device) {
  switch (attribute) {
    case 63: return cuDeviceGetAttribute(value, 16, device);  // multiprocessors
    case 23: return cuDeviceGetAttribute(value, 75, device);  // compute capability
    case 61: return cuDeviceGetAttribute(value, 76, device);
    default: return kInvalidValue;
  }
}
// HIP 5's hipDeviceProp_t: the name at its start, gcnArchName at byte 396 of 792.
Result hipGetDeviceProperties(void* properties, int device) {
  auto* bytes = static_cast<char*>(properties);
  std::memset(bytes, 0, 792);
  if (const Result r = cuDeviceGetName(bytes, 256, device)) return r;
  std::strcpy(bytes + 396, "gfx90a:sramecc+:xnack-");
  return kSuccess;
}
Result hipDeviceTotalMem(size_t* bytes, int device) { return cuDeviceTotalMem_v2(bytes, device); }
// The mock driver's primary context of a device, retained once.
static Result context_of(int device, void*& context) {
  static std::mutex mutex;
  static void* contexts[kMaxDevices] = {};
  std::lock_guard lock(mutex);
  if (device < 0 || device >= kMaxDevices) return 101;
  if (!contexts[device])
    if (const Result r = cuDevicePrimaryCtxRetain(&contexts[device], device)) return r;
  context = contexts[device];
  return kSuccess;
}
Result hipSetDevice(int device) {
  void* context = nullptr;
  if (const Result r = context_of(device, context)) return r;
  return cuCtxSetCurrent(context);
}
Result hipDeviceSynchronize() { return cuCtxSynchronize(); }
Result hipMemGetInfo(size_t* free, size_t* total) { return cuMemGetInfo_v2(free, total); }
Result hipMalloc(void** memory, size_t bytes) {
  DevicePtr p = 0;
  const Result r = cuMemAlloc_v2(&p, bytes);
  *memory = host_pointer(p);
  return r;
}
Result hipFree(void* memory) { return cuMemFree_v2(device_pointer(memory)); }
Result hipMemcpyHtoD(void* to, const void* from, size_t n) { return cuMemcpyHtoD_v2(device_pointer(to), from, n); }
Result hipMemcpyDtoH(void* to, void* from, size_t n) { return cuMemcpyDtoH_v2(to, device_pointer(from), n); }
Result hipMemcpyDtoD(void* to, void* from, size_t n) {
  return cuMemcpyDtoD_v2(device_pointer(to), device_pointer(from), n);
}
Result hipMemsetD8(void* to, unsigned char value, size_t n) { return cuMemsetD8_v2(device_pointer(to), value, n); }

Result hipHostMalloc(void** memory, size_t bytes, unsigned flags) { return cuMemHostAlloc(memory, bytes, flags); }
Result hipHostFree(void* memory) { return cuMemFreeHost(memory); }

// An AMD code object in, the mock driver's PTX image of the same kernel out.
Result hipModuleLoadData(void** module, const void* image) {
  if (!module || !image) return kInvalidValue;
  Elf64_Ehdr header;
  std::memcpy(&header, image, sizeof header);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_machine != kEmAmdgpu) return kInvalidImage;
  const std::string_view file(static_cast<const char*>(image), header.e_shoff + header.e_shnum * header.e_shentsize);
  std::string ptx = "// no kernel structure\n";
  if (const size_t at = file.find("hci-kernel 1 "); at != std::string_view::npos)
    ptx = "// " + std::string(file.substr(at, file.find('\0', at) - at)) + "\n";
  ptx +=
      ".visible .entry hci_kernel(\n.param .u64 start,\n.param .u64 end,\n.param .u64 params,\n.param .u64 "
      "failure\n)\n";
  return cuModuleLoadDataEx(module, ptx.c_str(), 0, nullptr, nullptr);
}
Result hipModuleGetFunction(void** function, void* module, const char* name) {
  return cuModuleGetFunction(function, module, name);
}
Result hipModuleUnload(void* module) { return cuModuleUnload(module); }
Result hipModuleLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                             unsigned shared, void* stream, void** params, void** extra) {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra);
}
Result hipModuleOccupancyMaxPotentialBlockSize(int* grid, int* block, void* f, size_t shared, int limit) {
  return cuOccupancyMaxPotentialBlockSize(grid, block, f, nullptr, shared, limit);
}
Result hipEventCreateWithFlags(void** event, unsigned flags) { return cuEventCreate(event, flags); }
Result hipEventRecord(void* event, void* stream) { return cuEventRecord(event, stream); }
Result hipEventSynchronize(void* event) { return cuEventSynchronize(event); }
Result hipEventElapsedTime(float* ms, void* from, void* to) { return cuEventElapsedTime(ms, from, to); }
Result hipEventDestroy(void* event) { return cuEventDestroy_v2(event); }
Result hipEventQuery(void* event) { return cuEventQuery(event); }
Result hipStreamCreateWithFlags(void** stream, unsigned flags) { return cuStreamCreate(stream, flags); }
Result hipStreamDestroy(void* stream) { return cuStreamDestroy_v2(stream); }
Result hipStreamSynchronize(void* stream) { return cuStreamSynchronize(stream); }
Result hipStreamWaitEvent(void* stream, void* event, unsigned flags) { return cuStreamWaitEvent(stream, event, flags); }
Result hipMemcpyHtoDAsync(void* to, const void* from, size_t n, void* stream) {
  return cuMemcpyHtoDAsync_v2(device_pointer(to), from, n, stream);
}
Result hipMemcpyDtoHAsync(void* to, void* from, size_t n, void* stream) {
  return cuMemcpyDtoHAsync_v2(to, device_pointer(from), n, stream);
}
Result hipMemcpyDtoDAsync(void* to, void* from, size_t n, void* stream) {
  return cuMemcpyDtoDAsync_v2(device_pointer(to), device_pointer(from), n, stream);
}
Result hipMemcpyPeerAsync(void* to, int to_device, const void* from, int from_device, size_t n, void* stream) {
  void *to_context = nullptr, *from_context = nullptr;
  if (const Result r = context_of(to_device, to_context)) return r;
  if (const Result r = context_of(from_device, from_context)) return r;
  return cuMemcpyPeerAsync(device_pointer(to), to_context, device_pointer(from), from_context, n, stream);
}

}  // extern "C"
