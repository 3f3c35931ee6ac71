// A mock of ROCm SMI (librocm_smi64.so) for hci::energy::RocmSmiDevice's tests: two GPUs with four
// core clock DPM levels (500, 900, 1300 and 1700 MHz) and one memory level (1600 MHz), readings
// the test sets, an energy accumulator that counts up, clocks that need "root" to set, and
// injected failures: after a number of successful calls, an entry point (or every one) returns a
// chosen status until told otherwise. rsmi_frequencies_t is written in ROCm 6's layout, or ROCm
// 5's where HCI_MOCK_RSMI_VERSION=5 (read at each call), with a deep-sleep level of 100 MHz
// first where HCI_MOCK_RSMI_DEEP_SLEEP=1 (ROCm 6 only); HCI_MOCK_RSMI_ROOT=0 refuses writes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

using Status = int;
constexpr Status kSuccess = 0, kInvalidArgs = 1, kPermission = 4;
constexpr uint64_t kCoreHz[] = {500000000, 900000000, 1300000000, 1700000000};

struct Gpu {
  int64_t temperature_milli = 40000;
  uint64_t power_uw = 90000000;
  uint32_t busy = 0, memory_busy = 0;
  uint64_t energy_count = 1000000;
  uint64_t mask = 0;  // of the core levels allowed; 0: automatic
};
struct Version {
  uint32_t major, minor, patch;
  const char* build;
};
struct FrequenciesV5 {
  uint32_t num_supported, current;
  uint64_t frequency[32];
};
struct FrequenciesV6 {
  bool has_deep_sleep;
  uint32_t num_supported, current;
  uint64_t frequency[33];
};

struct State {
  std::mutex mutex;
  std::vector<Gpu> gpus = std::vector<Gpu>(2);
  int initialised = 0;
  bool root = std::getenv("HCI_MOCK_RSMI_ROOT") == nullptr || std::getenv("HCI_MOCK_RSMI_ROOT")[0] != '0';
  std::string fail_name;  // "*": every entry point
  Status fail_result = kSuccess;
  long fail_after = 0;
  std::map<std::string, long> calls;
};
State& state() {
  static State s;
  return s;
}

Status enter(const char* name) {
  State& s = state();
  ++s.calls[name];
  if (s.fail_result == kSuccess || (s.fail_name != "*" && s.fail_name != name)) return kSuccess;
  if (s.fail_after > 0) {
    --s.fail_after;
    return kSuccess;
  }
  return s.fail_result;
}
uint32_t version() {
  const char* v = std::getenv("HCI_MOCK_RSMI_VERSION");
  return v ? uint32_t(std::atoi(v)) : 6;
}
bool deep_sleep() {
  const char* v = std::getenv("HCI_MOCK_RSMI_DEEP_SLEEP");
  return version() >= 6 && v && v[0] == '1';
}

#define ENTER(name)                    \
  std::lock_guard lock(state().mutex); \
  if (Status injected = enter(name)) return injected;
#define GPU(index)                                       \
  if (index >= state().gpus.size()) return kInvalidArgs; \
  Gpu& g = state().gpus[index];

}  // namespace

extern "C" {

// -- control, for the tests -------------------------------------------------------------------
void hci_mock_rsmi_fail(const char* name, int result, long after) {
  std::lock_guard lock(state().mutex);
  state().fail_name = name ? name : "";
  state().fail_result = result;
  state().fail_after = after;
}
long hci_mock_rsmi_calls(const char* name) {
  std::lock_guard lock(state().mutex);
  return state().calls[name];
}
void hci_mock_rsmi_set_root(int root) {
  std::lock_guard lock(state().mutex);
  state().root = root != 0;
}
void hci_mock_rsmi_set(uint32_t index, int64_t temperature_milli, uint64_t power_uw, uint32_t busy,
                       uint32_t memory_busy) {
  std::lock_guard lock(state().mutex);
  Gpu& g = state().gpus.at(index);
  g.temperature_milli = temperature_milli;
  g.power_uw = power_uw;
  g.busy = busy;
  g.memory_busy = memory_busy;
}
// The mask of core levels allowed, 0 where the GPU is in automatic mode.
uint64_t hci_mock_rsmi_mask(uint32_t index) {
  std::lock_guard lock(state().mutex);
  return state().gpus.at(index).mask;
}
int hci_mock_rsmi_initialised() {
  std::lock_guard lock(state().mutex);
  return state().initialised;
}

// -- ROCm SMI -------------------------------------------------------------------------------------
Status rsmi_init(uint64_t) {
  ENTER("rsmi_init");
  ++state().initialised;
  return kSuccess;
}
Status rsmi_shut_down() {
  ENTER("rsmi_shut_down");
  --state().initialised;
  return kSuccess;
}
Status rsmi_status_string(Status status, const char** text) {
  switch (status) {
    case 0: *text = "RSMI_STATUS_SUCCESS: Call succeeded"; break;
    case 2: *text = "RSMI_STATUS_NOT_SUPPORTED: Feature not supported"; break;
    case 3: *text = "RSMI_STATUS_FILE_ERROR: Problem accessing a file"; break;
    case 4: *text = "RSMI_STATUS_PERMISSION: Permission denied"; break;
    default: *text = "RSMI_STATUS_UNKNOWN_ERROR"; break;
  }
  return kSuccess;
}
Status rsmi_version_get(Version* v) {
  ENTER("rsmi_version_get");
  *v = {version(), 0, 0, "mock"};
  return kSuccess;
}
Status rsmi_num_monitor_devices(uint32_t* n) {
  ENTER("rsmi_num_monitor_devices");
  *n = uint32_t(state().gpus.size());
  return kSuccess;
}
Status rsmi_dev_temp_metric_get(uint32_t index, uint32_t sensor, int metric, int64_t* milli) {
  ENTER("rsmi_dev_temp_metric_get");
  GPU(index);
  if (sensor > 6) return kInvalidArgs;
  *milli = metric == 5 ? 100000 : g.temperature_milli + (sensor == 1 ? 0 : -8000);  // critical: 100 C
  return kSuccess;
}
Status rsmi_dev_busy_percent_get(uint32_t index, uint32_t* percent) {
  ENTER("rsmi_dev_busy_percent_get");
  GPU(index);
  *percent = g.busy;
  return kSuccess;
}
Status rsmi_dev_memory_busy_percent_get(uint32_t index, uint32_t* percent) {
  ENTER("rsmi_dev_memory_busy_percent_get");
  GPU(index);
  *percent = g.memory_busy;
  return kSuccess;
}
Status rsmi_dev_power_ave_get(uint32_t index, uint32_t, uint64_t* microwatts) {
  ENTER("rsmi_dev_power_ave_get");
  GPU(index);
  *microwatts = g.power_uw;
  return kSuccess;
}
// Counts up by a tenth of a second at the power set, per call, in 15.3 uJ counts.
Status rsmi_dev_energy_count_get(uint32_t index, uint64_t* count, float* resolution, uint64_t* timestamp) {
  ENTER("rsmi_dev_energy_count_get");
  GPU(index);
  g.energy_count += uint64_t(double(g.power_uw) / 10 / 15.3);
  *count = g.energy_count;
  *resolution = 15.3F;
  *timestamp = 0;
  return kSuccess;
}
Status rsmi_dev_gpu_clk_freq_get(uint32_t index, int clock, void* frequencies) {
  ENTER("rsmi_dev_gpu_clk_freq_get");
  GPU(index);
  std::vector<uint64_t> hz;
  uint32_t current = 0;
  if (clock == 0) {
    if (deep_sleep()) hz.push_back(100000000);
    hz.insert(hz.end(), std::begin(kCoreHz), std::end(kCoreHz));
    current = uint32_t(hz.size()) - 1;
    for (uint32_t level = 0; level < hz.size(); ++level)
      if (g.mask & (uint64_t(1) << level)) current = level;  // the highest allowed
  } else if (clock == 4) {
    hz = {1600000000};
  } else {
    return kInvalidArgs;
  }
  if (version() >= 6) {
    FrequenciesV6 f{};
    f.has_deep_sleep = deep_sleep();
    f.num_supported = uint32_t(hz.size());
    f.current = current;
    std::memcpy(f.frequency, hz.data(), 8 * hz.size());
    std::memcpy(frequencies, &f, sizeof f);
  } else {
    FrequenciesV5 f{};
    f.num_supported = uint32_t(hz.size());
    f.current = current;
    std::memcpy(f.frequency, hz.data(), 8 * hz.size());
    std::memcpy(frequencies, &f, sizeof f);
  }
  return kSuccess;
}
Status rsmi_dev_gpu_clk_freq_set(uint32_t index, int clock, uint64_t mask) {
  ENTER("rsmi_dev_gpu_clk_freq_set");
  GPU(index);
  if (!state().root) return kPermission;
  if (clock != 0 || mask == 0 || mask >= (deep_sleep() ? 32U : 16U)) return kInvalidArgs;
  g.mask = mask;
  return kSuccess;
}
Status rsmi_dev_perf_level_set(int32_t index, int level) {
  ENTER("rsmi_dev_perf_level_set");
  if (index < 0) return kInvalidArgs;
  GPU(uint32_t(index));
  if (!state().root) return kPermission;
  if (level != 0) return kInvalidArgs;  // the mock knows automatic only
  g.mask = 0;
  return kSuccess;
}

}  // extern "C"
