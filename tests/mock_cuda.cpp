// A test double of the CUDA driver (libcuda.so.1) over host memory, loaded by hci through
// HCI_CUDA_PATH. Device addresses are host addresses with high bits flipped, so code that
// dereferences one on the host faults at once; copies check that they stay inside a live
// allocation.
//
// Work is asynchronous, as on a GPU: copies, memsets and launches on a stream are queued and run
// in order when something waits for them (stream, event or context synchronisation, a stream
// waiting on an event, a synchronous call on the legacy stream, a free) or, one operation per
// call, when an event or stream is polled. So code that reads results before synchronising, or
// orders work across streams wrongly, sees stale memory, as it would on a device. Copies follow
// CUDA's rules for pageable memory: an asynchronous copy from pageable memory takes the bytes at
// the call, one to pageable memory completes before the call returns; from or to pinned memory
// (cuMemHostAlloc) they move when the copy runs. A failure of queued work is reported by the
// next synchronisation of its stream.
//
// Set up by environment: HCI_MOCK_CUDA_DEVICES (default 2), HCI_MOCK_CUDA_MEMORY_MB (per device,
// default 64), HCI_MOCK_CUDA_INIT_RESULT (what cuInit returns, e.g. 34 as the toolkit's stub).
// Device 0 has 4 multiprocessors and suggests blocks of 128 threads; the others have 2 and
// suggest 96, so that launches differ in shape between devices.
//
// Tests reach the hci_mock_cuda_* functions below with dlsym: fault injection (an entry point
// that fails with a given result after some successful calls; "kernel" for a queued launch that
// fails as it runs), call counts, live allocations,
// modules and queued operations, and the mapping of device addresses to host ones. Kernels run
// through a launcher a test installs (hci_mock_cuda_set_launcher), which is given the module's
// image (the PTX), the function's name, the grid and the kernel's arguments: hci's tests run the
// kernel's host-emulated twin (tests/mock_cuda_control.hpp). Without one, launches are refused
// with CUDA_ERROR_NOT_SUPPORTED.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace {

using Result = int;
using DevicePtr = uint64_t;

constexpr Result kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kNotInitialized = 3, kInvalidDevice = 101,
                 kInvalidImage = 200, kInvalidHandle = 400, kNotFound = 500, kNotReady = 600, kNotSupported = 801;
constexpr uint64_t kScramble = uint64_t(0x5a5a) << 48;
constexpr int kMaxDevices = 16;

struct Allocation {
  size_t bytes;
  int device;
};

struct Function {
  std::string name;
  std::vector<size_t> parameter_bytes;  // from the PTX entry's .param list
};

struct Module {
  std::string image;
  std::map<std::string, std::unique_ptr<Function>> functions;
};

// Work queued on one stream, run in order.
struct Stream {
  int device = 0;
  std::deque<std::function<Result()>> queued;
  uint64_t enqueued = 0, completed = 0;
  Result failure = kSuccess;  // of queued work, reported by the next synchronisation
};

struct Event {
  Stream* stream = nullptr;  // recorded on, or null: never recorded (complete)
  uint64_t position = 0;     // the stream's operations it waits for
};

// Runs a launch: 0, or the result the launch's stream reports.
using Launcher = Result (*)(const char* image, const char* function, unsigned blocks, unsigned threads,
                            void** arguments);

struct State {
  std::recursive_mutex mutex;  // a launcher may call back (hci_mock_cuda_host_range)
  bool initialised = false;
  int devices = 2;
  size_t memory = size_t(64) << 20;
  std::map<int, size_t> used;                   // per device
  std::map<DevicePtr, Allocation> allocations;  // by scrambled address
  std::map<const char*, size_t> pinned;         // host ranges from cuMemHostAlloc
  std::map<void*, std::unique_ptr<Module>> modules;
  std::map<void*, std::unique_ptr<Stream>> streams;
  Stream legacy[kMaxDevices];  // each device's null stream
  std::map<void*, std::unique_ptr<Event>> events;
  Launcher launcher = nullptr;
  std::map<std::string, long> calls;
  std::string fail_name;
  Result fail_result = kSuccess;
  long fail_after = 0;
  int context_refs[kMaxDevices] = {};
};

State& state() {
  static State* s = [] {
    auto* made = new State;  // never destroyed: hci frees its blocks from its own static destructors
    for (int d = 0; d < kMaxDevices; ++d) made->legacy[d].device = d;
    return made;
  }();
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

// The host bytes behind [address, address + bytes) of one live allocation, or null.
char* host_range(DevicePtr address, size_t bytes) {
  State& s = state();
  auto it = s.allocations.upper_bound(address);
  if (it == s.allocations.begin()) return nullptr;
  --it;
  if (address + bytes > it->first + it->second.bytes) return nullptr;
  return reinterpret_cast<char*>(address ^ kScramble);  // NOLINT(performance-no-int-to-ptr)
}

bool is_pinned(const void* p, size_t bytes) {
  const auto* at = static_cast<const char*>(p);
  auto it = state().pinned.upper_bound(at);
  if (it == state().pinned.begin()) return false;
  --it;
  return at + bytes <= it->first + it->second;
}

Result copy(void* to, const void* from, size_t bytes) {
  if (!to || !from) return kInvalidValue;
  std::memcpy(to, from, bytes);
  return kSuccess;
}

// The stream a handle names (null: the current device's legacy stream), or null if unknown.
Stream* stream_of(void* handle) {
  State& s = state();
  if (!handle || handle == reinterpret_cast<void*>(1)) return current_device < 0 ? nullptr : &s.legacy[current_device];
  const auto it = s.streams.find(handle);
  return it == s.streams.end() ? nullptr : it->second.get();
}

void enqueue(Stream& stream, std::function<Result()> op) {
  stream.queued.push_back(std::move(op));
  ++stream.enqueued;
}

// Runs the stream's work up to its `position`th operation.
void run_until(Stream& stream, uint64_t position) {
  while (stream.completed < position && !stream.queued.empty()) {
    const std::function<Result()> op = std::move(stream.queued.front());
    stream.queued.pop_front();
    const Result r = op();
    ++stream.completed;
    if (r != kSuccess && stream.failure == kSuccess) stream.failure = r;
  }
}

// Runs everything queued on the stream and returns (and clears) the failure of any of it.
Result finish(Stream& stream) {
  run_until(stream, stream.enqueued);
  return std::exchange(stream.failure, kSuccess);
}

Result finish_device(int device) {
  State& s = state();
  Result r = finish(s.legacy[device]);
  for (auto& [handle, stream] : s.streams)
    if (stream->device == device)
      if (const Result failed = finish(*stream); r == kSuccess) r = failed;
  return r;
}

// A synchronous call: on the legacy stream, after the work queued there.
Result synchronous(const std::function<Result()>& op) {
  if (current_device < 0) return kInvalidHandle;
  if (const Result r = finish(state().legacy[current_device])) return r;
  return op();
}

// The sizes of the parameters of `.entry name(...)` in a PTX image; false if there is none.
bool entry_parameters(const std::string& ptx, const std::string& name, std::vector<size_t>& bytes) {
  const size_t entry = ptx.find(".entry " + name + "(");
  if (entry == std::string::npos) return false;
  const size_t end = ptx.find(')', entry);
  for (size_t at = ptx.find(".param", entry); at < end; at = ptx.find(".param", at + 1)) {
    const size_t type = ptx.find('.', at + 6);
    bytes.push_back(ptx.compare(type + 2, 2, "64") == 0 ? 8 : ptx.compare(type + 2, 2, "32") == 0 ? 4 : 0);
    if (bytes.back() == 0) return false;  // a type hci's kernels do not use
  }
  return true;
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
// Operations queued and not yet run, on every stream.
long hci_mock_cuda_queued() {
  std::lock_guard lock(state().mutex);
  size_t queued = 0;
  for (const Stream& s : state().legacy) queued += s.queued.size();
  for (const auto& [handle, s] : state().streams) queued += s->queued.size();
  return long(queued);
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
// Queues `run(context)` on a stream, as a library working on the device would (the mock cuBLAS);
// its result is the operation's.
Result hci_mock_cuda_enqueue(void* stream, Result (*run)(void*), void* context) {
  std::lock_guard lock(state().mutex);
  Stream* s = stream_of(stream);
  if (!s || !run) return kInvalidHandle;
  enqueue(*s, [run, context] { return run(context); });
  return kSuccess;
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
  state().devices = std::min(env_int("HCI_MOCK_CUDA_DEVICES", 2), kMaxDevices);
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
                                                      {kNotReady, "CUDA_ERROR_NOT_READY"},
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
Result cuDeviceGetAttribute(int* value, int attribute, int device) {
  MOCK_ENTER(cuDeviceGetAttribute);
  switch (attribute) {
    case 16: *value = device == 0 ? 4 : 2; return kSuccess;  // multiprocessors
    case 75: *value = 9; return kSuccess;                    // compute capability 9.0
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
  if (device < 0 || device >= state().devices) return kInvalidDevice;
  ++state().context_refs[device];
  *context = &state().context_refs[device];
  return kSuccess;
}
Result cuDevicePrimaryCtxRelease_v2(int device) {
  MOCK_ENTER(cuDevicePrimaryCtxRelease_v2);
  if (device < 0 || device >= kMaxDevices || state().context_refs[device] == 0) return kInvalidDevice;
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
  return current_device < 0 ? kInvalidHandle : finish_device(current_device);
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
// Waits for the device's work, as cuMemFree does, so that nothing queued uses the memory after.
Result cuMemFree_v2(DevicePtr address) {
  MOCK_ENTER(cuMemFree_v2);
  State& s = state();
  const auto it = s.allocations.find(address);
  if (it == s.allocations.end()) return kInvalidValue;
  finish_device(it->second.device);
  s.used[it->second.device] -= it->second.bytes;
  std::free(reinterpret_cast<void*>(address ^ kScramble));  // NOLINT(performance-no-int-to-ptr)
  s.allocations.erase(it);
  return kSuccess;
}
Result cuMemHostAlloc(void** pointer, size_t bytes, unsigned) {
  MOCK_ENTER(cuMemHostAlloc);
  if (!pointer || bytes == 0) return kInvalidValue;
  *pointer = std::malloc(bytes);
  if (!*pointer) return kOutOfMemory;
  state().pinned[static_cast<const char*>(*pointer)] = bytes;
  return kSuccess;
}
Result cuMemFreeHost(void* pointer) {
  MOCK_ENTER(cuMemFreeHost);
  if (!state().pinned.erase(static_cast<const char*>(pointer))) return kInvalidValue;
  for (int d = 0; d < state().devices; ++d) finish_device(d);  // queued copies may use it
  std::free(pointer);
  return kSuccess;
}
Result cuMemcpyHtoD_v2(DevicePtr to, const void* from, size_t bytes) {
  MOCK_ENTER(cuMemcpyHtoD_v2);
  return synchronous([&] { return copy(host_range(to, bytes), from, bytes); });
}
Result cuMemcpyDtoH_v2(void* to, DevicePtr from, size_t bytes) {
  MOCK_ENTER(cuMemcpyDtoH_v2);
  return synchronous([&] { return copy(to, host_range(from, bytes), bytes); });
}
Result cuMemcpyDtoD_v2(DevicePtr to, DevicePtr from, size_t bytes) {
  MOCK_ENTER(cuMemcpyDtoD_v2);
  return synchronous([&] { return copy(host_range(to, bytes), host_range(from, bytes), bytes); });
}
Result cuMemsetD8_v2(DevicePtr to, unsigned char value, size_t bytes) {
  MOCK_ENTER(cuMemsetD8_v2);
  return synchronous([&] {
    char* at = host_range(to, bytes);
    if (!at) return kInvalidValue;
    std::memset(at, value, bytes);
    return kSuccess;
  });
}
// From pageable memory the bytes are taken now; from pinned memory, when the copy runs.
Result cuMemcpyHtoDAsync_v2(DevicePtr to, const void* from, size_t bytes, void* stream) {
  MOCK_ENTER(cuMemcpyHtoDAsync_v2);
  Stream* s = stream_of(stream);
  if (!s || !from) return s ? kInvalidValue : kInvalidHandle;
  if (is_pinned(from, bytes)) {
    enqueue(*s, [=] { return copy(host_range(to, bytes), from, bytes); });
  } else {
    auto staged =
        std::make_shared<std::vector<char>>(static_cast<const char*>(from), static_cast<const char*>(from) + bytes);
    enqueue(*s, [=] { return copy(host_range(to, bytes), staged->data(), bytes); });
  }
  return kSuccess;
}
// To pageable memory the copy is done when the call returns; to pinned memory, when it runs.
Result cuMemcpyDtoHAsync_v2(void* to, DevicePtr from, size_t bytes, void* stream) {
  MOCK_ENTER(cuMemcpyDtoHAsync_v2);
  Stream* s = stream_of(stream);
  if (!s || !to) return s ? kInvalidValue : kInvalidHandle;
  enqueue(*s, [=] { return copy(to, host_range(from, bytes), bytes); });
  if (is_pinned(to, bytes)) return kSuccess;
  run_until(*s, s->enqueued);
  return std::exchange(s->failure, kSuccess);
}
Result cuMemcpyDtoDAsync_v2(DevicePtr to, DevicePtr from, size_t bytes, void* stream) {
  MOCK_ENTER(cuMemcpyDtoDAsync_v2);
  Stream* s = stream_of(stream);
  if (!s) return kInvalidHandle;
  enqueue(*s, [=] { return copy(host_range(to, bytes), host_range(from, bytes), bytes); });
  return kSuccess;
}
// Between the memory of two devices, each allocation's device as its context says.
Result cuMemcpyPeerAsync(DevicePtr to, void* to_context, DevicePtr from, void* from_context, size_t bytes,
                         void* stream) {
  MOCK_ENTER(cuMemcpyPeerAsync);
  Stream* s = stream_of(stream);
  if (!s || !to_context || !from_context) return kInvalidHandle;
  auto on = [](DevicePtr address, size_t n, void* context) {
    if (!host_range(address, n)) return false;
    const auto it = std::prev(state().allocations.upper_bound(address));
    return it->second.device == int(static_cast<int*>(context) - state().context_refs);
  };
  if (!on(to, bytes, to_context) || !on(from, bytes, from_context)) return kInvalidValue;
  enqueue(*s, [=] { return copy(host_range(to, bytes), host_range(from, bytes), bytes); });
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
  std::unique_ptr<Function>& f = m.functions[name];
  if (!f) {
    f = std::make_unique<Function>();
    f->name = name;
    if (!entry_parameters(m.image, name, f->parameter_bytes)) {
      m.functions.erase(name);
      return kNotFound;
    }
  }
  *function = f.get();
  return kSuccess;
}
Result cuModuleUnload(void* module) {
  MOCK_ENTER(cuModuleUnload);
  return state().modules.erase(module) ? kSuccess : kInvalidHandle;
}
// Two blocks per multiprocessor, of a size that differs between devices.
Result cuOccupancyMaxPotentialBlockSize(int* min_grid, int* block, void*, void*, size_t, int limit) {
  MOCK_ENTER(cuOccupancyMaxPotentialBlockSize);
  if (!min_grid || !block || current_device < 0) return kInvalidValue;
  *block = current_device == 0 ? 128 : 96;
  if (limit > 0 && *block > limit) *block = limit;
  *min_grid = 2 * (current_device == 0 ? 4 : 2);
  return kSuccess;
}
// One-dimensional grids of blocks of up to 1024 threads, as hci launches them, queued on the
// stream: the arguments are copied now, and the installed launcher runs the kernel then.
Result cuLaunchKernel(void* function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                      unsigned block_y, unsigned block_z, unsigned shared_bytes, void* stream, void** arguments,
                      void** extra) {
  MOCK_ENTER(cuLaunchKernel);
  const Module* owner = nullptr;
  for (const auto& [handle, m] : state().modules)
    for (const auto& [name, f] : m->functions)
      if (f.get() == function) owner = m.get();
  Stream* s = stream_of(stream);
  if (!owner || !s) return kInvalidHandle;
  if (grid_x == 0 || block_x == 0 || block_x > 1024 || grid_y != 1 || grid_z != 1 || block_y != 1 || block_z != 1 ||
      shared_bytes != 0 || !arguments || extra)
    return kInvalidValue;
  if (!state().launcher) return kNotSupported;
  const auto& f = *static_cast<const Function*>(function);
  std::vector<std::vector<char>> values;
  for (size_t i = 0; i < f.parameter_bytes.size(); ++i) {
    const auto* at = static_cast<const char*>(arguments[i]);
    values.emplace_back(at, at + f.parameter_bytes[i]);
  }
  enqueue(*s, [image = owner->image, name = f.name, values = std::move(values), grid_x, block_x]() mutable {
    if (Result injected; faulted("kernel", injected)) return injected;  // the kernel failing as it runs
    std::vector<void*> pointers;
    for (std::vector<char>& v : values) pointers.push_back(v.data());
    return state().launcher(image.c_str(), name.c_str(), grid_x, block_x, pointers.data());
  });
  return kSuccess;
}
Result cuEventCreate(void** event, unsigned) {
  MOCK_ENTER(cuEventCreate);
  auto made = std::make_unique<Event>();
  *event = made.get();
  state().events.emplace(*event, std::move(made));
  return kSuccess;
}
Result cuEventRecord(void* event, void* stream) {
  MOCK_ENTER(cuEventRecord);
  const auto it = state().events.find(event);
  Stream* s = stream_of(stream);
  if (it == state().events.end() || !s) return kInvalidHandle;
  *it->second = {s, s->enqueued};
  return kSuccess;
}
Result cuEventSynchronize(void* event) {
  MOCK_ENTER(cuEventSynchronize);
  const auto it = state().events.find(event);
  if (it == state().events.end()) return kInvalidHandle;
  const Event& e = *it->second;
  if (!e.stream) return kSuccess;
  run_until(*e.stream, e.position);
  return std::exchange(e.stream->failure, kSuccess);
}
// Complete, or not ready: then one more operation of its stream runs, as the device progresses.
Result cuEventQuery(void* event) {
  MOCK_ENTER(cuEventQuery);
  const auto it = state().events.find(event);
  if (it == state().events.end()) return kInvalidHandle;
  const Event& e = *it->second;
  if (!e.stream || e.stream->completed >= e.position) return kSuccess;
  run_until(*e.stream, e.stream->completed + 1);
  return kNotReady;
}
Result cuEventElapsedTime(float* ms, void*, void*) {
  MOCK_ENTER(cuEventElapsedTime);
  *ms = 0;
  return kSuccess;
}
Result cuEventDestroy_v2(void* event) {
  MOCK_ENTER(cuEventDestroy_v2);
  return state().events.erase(event) ? kSuccess : kInvalidHandle;
}
Result cuStreamCreate(void** stream, unsigned) {
  MOCK_ENTER(cuStreamCreate);
  if (current_device < 0) return kInvalidHandle;
  auto made = std::make_unique<Stream>();
  made->device = current_device;
  *stream = made.get();
  state().streams.emplace(*stream, std::move(made));
  return kSuccess;
}
// Queued work still runs, as on a device, before the stream goes.
Result cuStreamDestroy_v2(void* stream) {
  MOCK_ENTER(cuStreamDestroy_v2);
  const auto it = state().streams.find(stream);
  if (it == state().streams.end()) return kInvalidHandle;
  finish_device(it->second->device);  // so that no stream still waits on this one
  for (auto& [handle, e] : state().events)
    if (e->stream == it->second.get()) e->stream = nullptr;
  state().streams.erase(it);
  return kSuccess;
}
Result cuStreamSynchronize(void* stream) {
  MOCK_ENTER(cuStreamSynchronize);
  Stream* s = stream_of(stream);
  return s ? finish(*s) : kInvalidHandle;
}
Result cuStreamQuery(void* stream) {
  MOCK_ENTER(cuStreamQuery);
  Stream* s = stream_of(stream);
  if (!s) return kInvalidHandle;
  if (s->queued.empty()) return kSuccess;
  run_until(*s, s->completed + 1);
  return kNotReady;
}
// Work queued on the stream after this waits for the event's stream to reach it.
Result cuStreamWaitEvent(void* stream, void* event, unsigned) {
  MOCK_ENTER(cuStreamWaitEvent);
  const auto it = state().events.find(event);
  Stream* s = stream_of(stream);
  if (it == state().events.end() || !s) return kInvalidHandle;
  const Event e = *it->second;
  if (e.stream && e.stream != s)
    enqueue(*s, [e] {
      run_until(*e.stream, e.position);
      return kSuccess;
    });
  return kSuccess;
}

}  // extern "C"
