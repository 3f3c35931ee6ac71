// A mock of NVML (libnvidia-ml.so.1) for hci::energy::NvmlDevice's tests: GPUs shaped like an H100
// SXM (core clocks 345 to 1980 MHz in steps of 15, listed highest first as NVML lists them),
// readings the test sets, an energy counter that counts up, locked clocks that need "root", and
// injected failures: after a number of successful calls, an entry point (or every one) returns a
// chosen NVML error until told otherwise. HCI_MOCK_NVML_INIT_RESULT makes nvmlInit fail;
// HCI_MOCK_NVML_ROOT=0 makes locking clocks "Insufficient Permissions".
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

using Return = int;
constexpr Return kSuccess = 0, kInvalidArgument = 2, kNoPermission = 4, kInsufficientSize = 7;

struct Gpu {
  unsigned temperature = 35, power_mw = 80000, gpu_percent = 0, memory_percent = 0, core_mhz = 345;
  unsigned long long energy_mj = 1000000, reasons = 0x1;  // idle
  bool locked = false;
  unsigned locked_min = 0, locked_max = 0;
  unsigned memory_mhz = 2619;  // now: 1593 is the idle P-state's, with fewer core clocks listed
};
struct Utilization {
  unsigned gpu, memory;
};

struct State {
  std::mutex mutex;
  std::vector<Gpu> gpus = std::vector<Gpu>(2);
  int initialised = 0;
  bool root = std::getenv("HCI_MOCK_NVML_ROOT") == nullptr || std::getenv("HCI_MOCK_NVML_ROOT")[0] != '0';
  std::string fail_name;  // "*": every entry point
  Return fail_result = kSuccess;
  long fail_after = 0;
  std::map<std::string, long> calls;
};
State& state() {
  static State s;
  return s;
}

// Counts the call; the injected failure once it is due.
Return enter(const char* name) {
  State& s = state();
  ++s.calls[name];
  if (s.fail_result == kSuccess || (s.fail_name != "*" && s.fail_name != name)) return kSuccess;
  if (s.fail_after > 0) {
    --s.fail_after;
    return kSuccess;
  }
  return s.fail_result;
}

Gpu* gpu(void* handle) {
  for (Gpu& g : state().gpus)
    if (&g == handle) return &g;
  return nullptr;
}

#define ENTER(name)                    \
  std::lock_guard lock(state().mutex); \
  if (Return injected = enter(name)) return injected;
#define GPU             \
  Gpu* g = gpu(device); \
  if (!g) return kInvalidArgument;

}  // namespace

extern "C" {

// -- control, for the tests -------------------------------------------------------------------
void hci_mock_nvml_fail(const char* name, int result, long after) {
  std::lock_guard lock(state().mutex);
  state().fail_name = name ? name : "";
  state().fail_result = result;
  state().fail_after = after;
}
long hci_mock_nvml_calls(const char* name) {
  std::lock_guard lock(state().mutex);
  return state().calls[name];
}
void hci_mock_nvml_set_root(int root) {
  std::lock_guard lock(state().mutex);
  state().root = root != 0;
}
// Sets GPU `index`'s readings.
void hci_mock_nvml_set(unsigned index, unsigned temperature, unsigned power_mw, unsigned gpu_percent,
                       unsigned memory_percent, unsigned core_mhz, unsigned long long reasons) {
  std::lock_guard lock(state().mutex);
  Gpu& g = state().gpus.at(index);
  g = {temperature, power_mw, gpu_percent, memory_percent, core_mhz,
       g.energy_mj, reasons,  g.locked,    g.locked_min,   g.locked_max};
}
// 1 with the locked range where GPU `index`'s clocks are locked, else 0.
int hci_mock_nvml_locked(unsigned index, unsigned* min_mhz, unsigned* max_mhz) {
  std::lock_guard lock(state().mutex);
  const Gpu& g = state().gpus.at(index);
  *min_mhz = g.locked_min;
  *max_mhz = g.locked_max;
  return g.locked ? 1 : 0;
}
void hci_mock_nvml_set_memory_clock(unsigned index, unsigned mhz) {
  std::lock_guard lock(state().mutex);
  state().gpus.at(index).memory_mhz = mhz;
}
int hci_mock_nvml_initialised() {
  std::lock_guard lock(state().mutex);
  return state().initialised;
}

// -- NVML -----------------------------------------------------------------------------------------
Return nvmlInit_v2() {
  ENTER("nvmlInit_v2");
  if (const char* result = std::getenv("HCI_MOCK_NVML_INIT_RESULT")) return std::atoi(result);
  ++state().initialised;
  return kSuccess;
}
Return nvmlShutdown() {
  ENTER("nvmlShutdown");
  --state().initialised;
  return kSuccess;
}
const char* nvmlErrorString(Return r) {
  switch (r) {
    case 0: return "Success";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}
Return nvmlDeviceGetCount_v2(unsigned* count) {
  ENTER("nvmlDeviceGetCount_v2");
  *count = unsigned(state().gpus.size());
  return kSuccess;
}
Return nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  ENTER("nvmlDeviceGetHandleByIndex_v2");
  if (index >= state().gpus.size()) return kInvalidArgument;
  *device = &state().gpus[index];
  return kSuccess;
}
Return nvmlDeviceGetName(void* device, char* name, unsigned length) {
  ENTER("nvmlDeviceGetName");
  GPU;
  std::strncpy(name, "NVIDIA H100 80GB HBM3 (mock)", length - 1);
  return kSuccess;
}
Return nvmlDeviceGetTemperature(void* device, unsigned sensor, unsigned* c) {
  ENTER("nvmlDeviceGetTemperature");
  GPU;
  if (sensor != 0) return kInvalidArgument;
  *c = g->temperature;
  return kSuccess;
}
Return nvmlDeviceGetTemperatureThreshold(void* device, unsigned threshold, unsigned* c) {
  ENTER("nvmlDeviceGetTemperatureThreshold");
  GPU;
  if (threshold > 7) return kInvalidArgument;
  *c = threshold == 0 ? 92 : 87;  // shutdown; slowdown and the others
  return kSuccess;
}
Return nvmlDeviceGetUtilizationRates(void* device, Utilization* u) {
  ENTER("nvmlDeviceGetUtilizationRates");
  GPU;
  *u = {g->gpu_percent, g->memory_percent};
  return kSuccess;
}
Return nvmlDeviceGetPowerUsage(void* device, unsigned* mw) {
  ENTER("nvmlDeviceGetPowerUsage");
  GPU;
  *mw = g->power_mw;
  return kSuccess;
}
// Counts up by a tenth of a second at the power set, per call.
Return nvmlDeviceGetTotalEnergyConsumption(void* device, unsigned long long* mj) {
  ENTER("nvmlDeviceGetTotalEnergyConsumption");
  GPU;
  g->energy_mj += g->power_mw / 10;
  *mj = g->energy_mj;
  return kSuccess;
}
Return nvmlDeviceGetClockInfo(void* device, unsigned type, unsigned* mhz) {
  ENTER("nvmlDeviceGetClockInfo");
  GPU;
  if (type == 2) {
    *mhz = g->memory_mhz;
    return kSuccess;
  }
  if (type > 3) return kInvalidArgument;
  *mhz = g->locked ? std::min(std::max(g->core_mhz, g->locked_min), g->locked_max) : g->core_mhz;
  return kSuccess;
}
Return nvmlDeviceGetSupportedMemoryClocks(void* device, unsigned* count, unsigned* clocks) {
  ENTER("nvmlDeviceGetSupportedMemoryClocks");
  GPU;
  if (!clocks || *count < 2) {
    *count = 2;
    return kInsufficientSize;
  }
  clocks[0] = 2619;
  clocks[1] = 1593;
  *count = 2;
  return kSuccess;
}
Return nvmlDeviceGetSupportedGraphicsClocks(void* device, unsigned memory_mhz, unsigned* count, unsigned* clocks) {
  ENTER("nvmlDeviceGetSupportedGraphicsClocks");
  GPU;
  if (memory_mhz != 2619 && memory_mhz != 1593) return kInvalidArgument;
  const unsigned n = memory_mhz == 2619 ? (1980 - 345) / 15 + 1 : 3;
  if (!clocks || *count < n) {
    *count = n;
    return kInsufficientSize;
  }
  for (unsigned i = 0; i < n; ++i) clocks[i] = 1980 - 15 * i;
  *count = n;
  return kSuccess;
}
Return nvmlDeviceGetCurrentClocksEventReasons(void* device, unsigned long long* reasons) {
  ENTER("nvmlDeviceGetCurrentClocksEventReasons");
  GPU;
  *reasons = g->reasons | (g->locked ? 0x2 : 0);
  return kSuccess;
}
Return nvmlDeviceSetGpuLockedClocks(void* device, unsigned min_mhz, unsigned max_mhz) {
  ENTER("nvmlDeviceSetGpuLockedClocks");
  GPU;
  if (!state().root) return kNoPermission;
  if (min_mhz > max_mhz) return kInvalidArgument;
  g->locked = true;
  g->locked_min = min_mhz;
  g->locked_max = max_mhz;
  return kSuccess;
}
Return nvmlDeviceResetGpuLockedClocks(void* device) {
  ENTER("nvmlDeviceResetGpuLockedClocks");
  GPU;
  if (!state().root) return kNoPermission;
  g->locked = false;
  g->locked_min = g->locked_max = 0;
  return kSuccess;
}

}  // extern "C"
