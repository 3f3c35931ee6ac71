// A test double of the CUDA driver (libcuda.so.1) over host memory, loaded by hci through
// HCI_CUDA_PATH. Device addresses are host addresses with high bits flipped, so code that
// dereferences one on the host faults at once; copies check that they stay inside a live
// allocation. Work is done at once, so streams and events are always complete.
//
// Set up by environment: HCI_MOCK_CUDA_DEVICES (default 2), HCI_MOCK_CUDA_MEMORY_MB (per device,
// default 64), HCI_MOCK_CUDA_INIT_RESULT (what cuInit returns, e.g. 34 as the toolkit's stub).
// Tests reach the hci_mock_cuda_* functions below with dlsym: fault injection (an entry point
// that fails with a given result after some successful calls), call counts, live allocations and
// modules, and the mapping of device addresses to host ones.
//
// Kernels run through a launcher a test installs (hci_mock_cuda_set_launcher), which is given the
// module's image (the PTX), the function's name, the grid and the kernel's arguments: hci's tests
// run the kernel's host-emulated twin (tests/mock_cuda_control.hpp). Without one, launches are
// refused with CUDA_ERROR_NOT_SUPPORTED.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace {

using Result = int;
using DevicePtr = uint64_t;

constexpr Result kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kNotInitialized = 3, kInvalidDevice = 101,
                 kInvalidImage = 200, kInvalidHandle = 400, kNotFound = 500, kNotSupported = 801;
constexpr uint64_t kScramble = uint64_t(0x5a5a) << 48;

struct Allocation {
  size_t bytes;
  int device;
};

struct Module {
  std::string image;
  std::map<std::string, std::unique_ptr<std::string>> functions;  // a function's handle: its name
};

// Runs a launch: 0, or the result cuLaunchKernel returns.
using Launcher = Result (*)(const char* image, const char* function, unsigned blocks, unsigned threads,
                            void** arguments);

struct State {
  std::recursive_mutex mutex;  // a launcher may call back (hci_mock_cuda_host_range)
  bool initialised = false;
  int devices = 2;
  size_t memory = size_t(64) << 20;
  std::map<int, size_t> used;                   // per device
  std::map<DevicePtr, Allocation> allocations;  // by scrambled address
  std::map<void*, std::unique_ptr<Module>> modules;
  Launcher launcher = nullptr;
  std::map<std::string, long> calls;
  std::string fail_name;
  Result fail_result = kSuccess;
  long fail_after = 0;
  int context_refs[16] = {};
  int token = 0;  // the object every opaque handle points to
};

State& state() {
  static State* s = new State;  // never destroyed: hci frees its blocks from its own static destructors
  return *s;
}
thread_local int current_device = -1;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Counts the call and says whether an injected fault answers it instead.
bool faulted(const char* name, Result& result) {
  State& s = state();
  ++s.calls[name];
  if (s.fail_name != name) return false;
  if (s.fail_after > 0) {
    --s.fail_after;
    return false;
  }
  result = s.fail_result;
  return true;
}

#define MOCK_ENTER(name)                                          \
  std::lock_guard lock(state().mutex);                            \
  if (Result injected; faulted(#name, injected)) return injected; \
  if (!state().initialised && std::strcmp(#name, "cuInit") != 0) return kNotInitialized

void* handle() { return &state().token; }

// The host bytes behind [address, address + bytes) of one live allocation, or null.
char* host_range(DevicePtr address, size_t bytes) {
  State& s = state();
  auto it = s.allocations.upper_bound(address);
  if (it == s.allocations.begin()) return nullptr;
  --it;
  if (address + bytes > it->first + it->second.bytes) return nullptr;
  return reinterpret_cast<char*>(address ^ kScramble);
}

Result copy(void* to, const void* from, size_t bytes) {
  if (!to || !from) return kInvalidValue;
  std::memcpy(to, from, bytes);
  return kSuccess;
}

}  // namespace

extern "C" {

// -- control, for tests -------------------------------------------------------------------------
void hci_mock_cuda_fail(const char* name, int result, long after) {
  std::lock_guard lock(state().mutex);
  state().fail_name = name ? name : "";
  state().fail_result = result;
  state().fail_after = after;
}
long hci_mock_cuda_calls(const char* name) {
  std::lock_guard lock(state().mutex);
  return state().calls[name];
}
long hci_mock_cuda_live_allocations() {
  std::lock_guard lock(state().mutex);
  return long(state().allocations.size());
}
long hci_mock_cuda_live_modules() {
  std::lock_guard lock(state().mutex);
  return long(state().modules.size());
}
void hci_mock_cuda_set_launcher(Launcher launcher) {
  std::lock_guard lock(state().mutex);
  state().launcher = launcher;
}
// The host bytes behind [address, address + bytes) if one live allocation holds them, else null.
void* hci_mock_cuda_host_range(DevicePtr address, size_t bytes) {
  std::lock_guard lock(state().mutex);
  return host_range(address, bytes);
}
// The host address a device address maps to, inside an allocation or not (a kernel's buffer
// address may lie before the elements it reaches, which its offsets then skip).
void* hci_mock_cuda_host_address(DevicePtr address) {
  return reinterpret_cast<void*>(address ^ kScramble);  // NOLINT(performance-no-int-to-ptr)
}

// -- the driver API -----------------------------------------------------------------------------
Result cuInit(unsigned) {
  MOCK_ENTER(cuInit);
  if (const Result r = env_int("HCI_MOCK_CUDA_INIT_RESULT", 0)) return r;
  state().devices = env_int("HCI_MOCK_CUDA_DEVICES", 2);
  state().memory = size_t(env_int("HCI_MOCK_CUDA_MEMORY_MB", 64)) << 20;
  state().initialised = true;
  return kSuccess;
}
Result cuDriverGetVersion(int* version) {
  *version = 12080;
  return kSuccess;
}
Result cuGetErrorName(Result r, const char** name) {
  static const std::map<Result, const char*> names = {{kSuccess, "CUDA_SUCCESS"},
                                                      {kInvalidValue, "CUDA_ERROR_INVALID_VALUE"},
                                                      {kOutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY"},
                                                      {kNotInitialized, "CUDA_ERROR_NOT_INITIALIZED"},
                                                      {34, "CUDA_ERROR_STUB_LIBRARY"},
                                                      {46, "CUDA_ERROR_DEVICES_UNAVAILABLE"},
                                                      {kInvalidDevice, "CUDA_ERROR_INVALID_DEVICE"},
                                                      {kInvalidImage, "CUDA_ERROR_INVALID_IMAGE"},
                                                      {kInvalidHandle, "CUDA_ERROR_INVALID_HANDLE"},
                                                      {kNotFound, "CUDA_ERROR_NOT_FOUND"},
                                                      {719, "CUDA_ERROR_LAUNCH_FAILED"},
                                                      {kNotSupported, "CUDA_ERROR_NOT_SUPPORTED"}};
  const auto it = names.find(r);
  *name = it == names.end() ? nullptr : it->second;
  return it == names.end() ? kInvalidValue : kSuccess;
}
Result cuGetErrorString(Result r, const char** text) {
  const char* name = nullptr;
  cuGetErrorName(r, &name);
  *text = name ? "reported by the mock driver" : nullptr;
  return name ? kSuccess : kInvalidValue;
}
Result cuDeviceGetCount(int* count) {
  MOCK_ENTER(cuDeviceGetCount);
  *count = state().devices;
  return kSuccess;
}
Result cuDeviceGet(int* device, int ordinal) {
  MOCK_ENTER(cuDeviceGet);
  if (ordinal < 0 || ordinal >= state().devices) return kInvalidDevice;
  *device = ordinal;
  return kSuccess;
}
Result cuDeviceGetName(char* name, int length, int device) {
  MOCK_ENTER(cuDeviceGetName);
  std::snprintf(name, size_t(length), "hci mock GPU %d", device);
  return kSuccess;
}
Result cuDeviceGetAttribute(int* value, int attribute, int) {
  MOCK_ENTER(cuDeviceGetAttribute);
  switch (attribute) {
    case 16: *value = 4; return kSuccess;  // multiprocessors
    case 75: *value = 9; return kSuccess;  // compute capability 9.0
    case 76: *value = 0; return kSuccess;
    default: return kInvalidValue;
  }
}
Result cuDeviceTotalMem_v2(size_t* bytes, int) {
  MOCK_ENTER(cuDeviceTotalMem_v2);
  *bytes = state().memory;
  return kSuccess;
}
Result cuDevicePrimaryCtxRetain(void** context, int device) {
  MOCK_ENTER(cuDevicePrimaryCtxRetain);
  if (device < 0 || device >= state().devices || device >= 16) return kInvalidDevice;
  ++state().context_refs[device];
  *context = &state().context_refs[device];
  return kSuccess;
}
Result cuDevicePrimaryCtxRelease_v2(int device) {
  MOCK_ENTER(cuDevicePrimaryCtxRelease_v2);
  if (device < 0 || device >= 16 || state().context_refs[device] == 0) return kInvalidDevice;
  --state().context_refs[device];
  return kSuccess;
}
Result cuCtxSetCurrent(void* context) {
  MOCK_ENTER(cuCtxSetCurrent);
  current_device = context ? int(static_cast<int*>(context) - state().context_refs) : -1;
  return kSuccess;
}
Result cuCtxSynchronize() {
  MOCK_ENTER(cuCtxSynchronize);
  return kSuccess;
}
Result cuMemGetInfo_v2(size_t* free, size_t* total) {
  MOCK_ENTER(cuMemGetInfo_v2);
  *total = state().memory;
  *free = state().memory - state().used[current_device];
  return kSuccess;
}
Result cuMemAlloc_v2(DevicePtr* address, size_t bytes) {
  MOCK_ENTER(cuMemAlloc_v2);
  State& s = state();
  if (current_device < 0) return kInvalidHandle;  // no current context
  if (bytes == 0) return kInvalidValue;
  if (s.used[current_device] + bytes > s.memory) return kOutOfMemory;
  void* host = std::malloc(bytes);
  if (!host) return kOutOfMemory;
  *address = uint64_t(reinterpret_cast<uintptr_t>(host)) ^ kScramble;
  s.allocations[*address] = {bytes, current_device};
  s.used[current_device] += bytes;
  return kSuccess;
}
Result cuMemFree_v2(DevicePtr address) {
  MOCK_ENTER(cuMemFree_v2);
  State& s = state();
  const auto it = s.allocations.find(address);
  if (it == s.allocations.end()) return kInvalidValue;
  s.used[it->second.device] -= it->second.bytes;
  std::free(reinterpret_cast<void*>(address ^ kScramble));
  s.allocations.erase(it);
  return kSuccess;
}
Result cuMemcpyHtoD_v2(DevicePtr to, const void* from, size_t bytes) {
  MOCK_ENTER(cuMemcpyHtoD_v2);
  return copy(host_range(to, bytes), from, bytes);
}
Result cuMemcpyDtoH_v2(void* to, DevicePtr from, size_t bytes) {
  MOCK_ENTER(cuMemcpyDtoH_v2);
  return copy(to, host_range(from, bytes), bytes);
}
Result cuMemcpyDtoD_v2(DevicePtr to, DevicePtr from, size_t bytes) {
  MOCK_ENTER(cuMemcpyDtoD_v2);
  return copy(host_range(to, bytes), host_range(from, bytes), bytes);
}
Result cuMemcpyHtoDAsync_v2(DevicePtr to, const void* from, size_t bytes, void*) {
  MOCK_ENTER(cuMemcpyHtoDAsync_v2);
  return copy(host_range(to, bytes), from, bytes);
}
Result cuMemcpyDtoHAsync_v2(void* to, DevicePtr from, size_t bytes, void*) {
  MOCK_ENTER(cuMemcpyDtoHAsync_v2);
  return copy(to, host_range(from, bytes), bytes);
}
Result cuMemcpyDtoDAsync_v2(DevicePtr to, DevicePtr from, size_t bytes, void*) {
  MOCK_ENTER(cuMemcpyDtoDAsync_v2);
  return copy(host_range(to, bytes), host_range(from, bytes), bytes);
}
Result cuMemsetD8_v2(DevicePtr to, unsigned char value, size_t bytes) {
  MOCK_ENTER(cuMemsetD8_v2);
  char* at = host_range(to, bytes);
  if (!at) return kInvalidValue;
  std::memset(at, value, bytes);
  return kSuccess;
}
Result cuModuleLoadDataEx(void** module, const void* image, unsigned, int*, void**) {
  MOCK_ENTER(cuModuleLoadDataEx);
  if (!module || !image) return kInvalidValue;
  if (!std::strstr(static_cast<const char*>(image), ".entry")) return kInvalidImage;
  auto loaded = std::make_unique<Module>();
  loaded->image = static_cast<const char*>(image);
  *module = loaded.get();
  state().modules.emplace(*module, std::move(loaded));
  return kSuccess;
}
Result cuModuleGetFunction(void** function, void* module, const char* name) {
  MOCK_ENTER(cuModuleGetFunction);
  const auto it = state().modules.find(module);
  if (it == state().modules.end()) return kInvalidHandle;
  Module& m = *it->second;
  if (m.image.find(".entry " + std::string(name) + "(") == std::string::npos) return kNotFound;
  std::unique_ptr<std::string>& f = m.functions[name];
  if (!f) f = std::make_unique<std::string>(name);
  *function = f.get();
  return kSuccess;
}
Result cuModuleUnload(void* module) {
  MOCK_ENTER(cuModuleUnload);
  return state().modules.erase(module) ? kSuccess : kInvalidHandle;
}
// One-dimensional grids of blocks of up to 1024 threads, as hci launches them, through the
// installed launcher.
Result cuLaunchKernel(void* function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                      unsigned block_y, unsigned block_z, unsigned shared_bytes, void*, void** arguments,
                      void** extra) {
  MOCK_ENTER(cuLaunchKernel);
  const Module* owner = nullptr;
  for (const auto& [handle, m] : state().modules)
    for (const auto& [name, f] : m->functions)
      if (f.get() == function) owner = m.get();
  if (!owner) return kInvalidHandle;
  if (grid_x == 0 || block_x == 0 || block_x > 1024 || grid_y != 1 || grid_z != 1 || block_y != 1 || block_z != 1 ||
      shared_bytes != 0 || !arguments || extra)
    return kInvalidValue;
  if (!state().launcher) return kNotSupported;
  return state().launcher(owner->image.c_str(), static_cast<const std::string*>(function)->c_str(), grid_x, block_x,
                          arguments);
}
Result cuEventCreate(void** event, unsigned) {
  MOCK_ENTER(cuEventCreate);
  *event = handle();
  return kSuccess;
}
Result cuEventRecord(void*, void*) {
  MOCK_ENTER(cuEventRecord);
  return kSuccess;
}
Result cuEventSynchronize(void*) {
  MOCK_ENTER(cuEventSynchronize);
  return kSuccess;
}
Result cuEventQuery(void*) {
  MOCK_ENTER(cuEventQuery);
  return kSuccess;
}
Result cuEventElapsedTime(float* ms, void*, void*) {
  MOCK_ENTER(cuEventElapsedTime);
  *ms = 0;
  return kSuccess;
}
Result cuEventDestroy_v2(void*) {
  MOCK_ENTER(cuEventDestroy_v2);
  return kSuccess;
}
Result cuStreamCreate(void** stream, unsigned) {
  MOCK_ENTER(cuStreamCreate);
  *stream = handle();
  return kSuccess;
}
Result cuStreamDestroy_v2(void*) {
  MOCK_ENTER(cuStreamDestroy_v2);
  return kSuccess;
}
Result cuStreamSynchronize(void*) {
  MOCK_ENTER(cuStreamSynchronize);
  return kSuccess;
}

}  // extern "C"
