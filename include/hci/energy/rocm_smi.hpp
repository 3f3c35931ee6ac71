// AMD GPUs through ROCm SMI (librocm_smi64.so, found at run time with dlopen; HCI_ROCM_SMI_PATH
// names another): each GPU's junction temperature, busy and memory-busy percentages, average
// power, energy accumulator and clocks, and its core clock held to a range of its DPM levels
// (rsmi_dev_gpu_clk_freq_set with a mask of the levels allowed, which needs root and puts the GPU
// in manual performance mode; a reset returns it to automatic).
//
// The GPU's core clocks are its DPM levels (a few, where NVIDIA lists dozens), so a range holds
// the levels inside it. rsmi_frequencies_t grew between ROCm 5 ({count, current, 32 Hz values})
// and ROCm 6 ({has_deep_sleep, count, current, 33 values}): it is read into a buffer large enough
// for either and decoded by the library's major version, checked for sense; where ROCm 6 says the
// first level is the deep-sleep clock, it is no clock to run at. As with NVML, a GPU
// starts out taken as running on its whole range (automatic), which is what restoring sets again.
// The temperature limit is the junction's critical temperature, where the GPU throttles.
#pragma once

#include <hci/energy/device.hpp>
#include <hci/error.hpp>
#include <hci/shared_library.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

namespace rsmi_types {
using Status = int;
inline constexpr Status kSuccess = 0, kNotSupported = 2, kPermission = 4;
inline constexpr uint32_t kSensorEdge = 0, kSensorJunction = 1;
inline constexpr int kMetricCurrent = 0, kMetricCritical = 5;
inline constexpr int kClockSystem = 0, kClockMemory = 4;
inline constexpr int kPerfLevelAuto = 0;
struct Version {
  uint32_t major, minor, patch;
  const char* build;
};
// rsmi_frequencies_t, whichever version: decoded by frequencies() below.
struct FrequencyBuffer {
  alignas(8) unsigned char bytes[512];
};
}  // namespace rsmi_types

// X(name in the library, result, parameters...)
#define HCI_ROCM_SMI_FUNCTIONS(X)                                              \
  X(rsmi_init, Status, uint64_t)                                               \
  X(rsmi_shut_down, Status)                                                    \
  X(rsmi_status_string, Status, Status, const char**)                          \
  X(rsmi_version_get, Status, Version*)                                        \
  X(rsmi_num_monitor_devices, Status, uint32_t*)                               \
  X(rsmi_dev_temp_metric_get, Status, uint32_t, uint32_t, int, int64_t*)       \
  X(rsmi_dev_busy_percent_get, Status, uint32_t, uint32_t*)                    \
  X(rsmi_dev_memory_busy_percent_get, Status, uint32_t, uint32_t*)             \
  X(rsmi_dev_power_ave_get, Status, uint32_t, uint32_t, uint64_t*)             \
  X(rsmi_dev_energy_count_get, Status, uint32_t, uint64_t*, float*, uint64_t*) \
  X(rsmi_dev_gpu_clk_freq_get, Status, uint32_t, int, FrequencyBuffer*)        \
  X(rsmi_dev_gpu_clk_freq_set, Status, uint32_t, int, uint64_t)                \
  X(rsmi_dev_perf_level_set, Status, int32_t, int)

// The library, initialised; shared by the devices of a process.
class RocmSmi {
 public:
  using Status = rsmi_types::Status;
  using Version = rsmi_types::Version;
  using FrequencyBuffer = rsmi_types::FrequencyBuffer;
#define HCI_ROCM_SMI_POINTER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  HCI_ROCM_SMI_FUNCTIONS(HCI_ROCM_SMI_POINTER)
#undef HCI_ROCM_SMI_POINTER
  std::string path;
  uint32_t major = 0;  // the library's version: 6 and later use ROCm 6's rsmi_frequencies_t

  // The process's ROCm SMI, opened and initialised on first use while someone holds it; throws
  // hci::Error saying why it cannot be.
  static std::shared_ptr<RocmSmi> open() {
    static std::mutex mutex;
    static std::weak_ptr<RocmSmi> shared;
    std::lock_guard lock(mutex);
    if (auto smi = shared.lock()) return smi;
    const char* chosen = std::getenv("HCI_ROCM_SMI_PATH");
    const std::string path = chosen && *chosen ? chosen : "librocm_smi64.so";
    std::string reason;
    void* handle = detail::open_shared_library(path, reason);
    if (!handle && !(chosen && *chosen)) handle = detail::open_shared_library("/opt/rocm/lib/librocm_smi64.so", reason);
    HCI_CHECK(handle != nullptr, "ROCm SMI: {} (no ROCm here?)", reason);
    std::shared_ptr<RocmSmi> smi(new RocmSmi);
    smi->path = path;
    if (const char* missing = HCI_RESOLVE_ALL(HCI_ROCM_SMI_FUNCTIONS, handle, *smi))
      throw Error(detail::format("ROCm SMI: {} lacks {}", path, missing));
    const Status init = smi->rsmi_init(0);
    smi->initialised_ = init == rsmi_types::kSuccess;
    HCI_CHECK(smi->initialised_, "ROCm SMI: rsmi_init: {}", smi->message(init));
    Version version{};
    if (smi->rsmi_version_get(&version) == rsmi_types::kSuccess) smi->major = version.major;
    shared = smi;
    return smi;
  }
  RocmSmi(const RocmSmi&) = delete;
  RocmSmi& operator=(const RocmSmi&) = delete;
  ~RocmSmi() {
    if (initialised_) rsmi_shut_down();
  }

  std::string message(Status s) const {
    const char* text = nullptr;
    if (rsmi_status_string && rsmi_status_string(s, &text) == rsmi_types::kSuccess && text)
      return detail::format("{} (ROCm SMI {})", text, s);
    return detail::format("ROCm SMI status {}", s);
  }
  uint32_t count() const {
    uint32_t n = 0;
    const Status s = rsmi_num_monitor_devices(&n);
    HCI_CHECK(s == rsmi_types::kSuccess, "ROCm SMI: rsmi_num_monitor_devices: {}", message(s));
    return n;
  }

  // A clock's levels in MHz and the index of the current one, from either version's layout; empty
  // where the call fails or the buffer makes no sense in either.
  struct Levels {
    std::vector<double> mhz;  // in the library's order: bit i of a mask is level i
    uint32_t current = 0;
    bool first_is_sleep = false;  // ROCm 6's has_deep_sleep
  };
  Levels frequencies(uint32_t device, int clock) const {
    FrequencyBuffer buffer{};
    if (rsmi_dev_gpu_clk_freq_get(device, clock, &buffer) != rsmi_types::kSuccess) return {};
    // ROCm 5: uint32 count at 0, current at 4, values from 8. ROCm 6: a bool at 0, then the same
    // at 4, 8 and 16 (the values 8-aligned).
    auto decode = [&](size_t at, size_t values, uint32_t most) -> Levels {
      uint32_t n = 0, current = 0;
      std::memcpy(&n, buffer.bytes + at, 4);
      std::memcpy(&current, buffer.bytes + at + 4, 4);
      if (n == 0 || n > most || current >= n) return {};
      Levels levels;
      levels.current = current;
      for (uint32_t i = 0; i < n; ++i) {
        uint64_t hz = 0;
        std::memcpy(&hz, buffer.bytes + values + 8 * i, 8);
        levels.mhz.push_back(double(hz) / 1e6);
      }
      return levels;
    };
    Levels v6 = decode(4, 16, 33), v5 = decode(0, 8, 32);
    v6.first_is_sleep = buffer.bytes[0] != 0 && v6.mhz.size() > 1;
    if (major >= 6) return v6.mhz.empty() ? v5 : v6;
    return v5.mhz.empty() ? v6 : v5;
  }

 private:
  RocmSmi() = default;
  bool initialised_ = false;
};

// AMD GPU `index` in ROCm SMI's order, named "rocm:INDEX".
class RocmSmiDevice final : public Device {
 public:
  explicit RocmSmiDevice(uint32_t index, std::shared_ptr<RocmSmi> smi = RocmSmi::open())
      : smi_(std::move(smi)), index_(index), name_(detail::format("rocm:{}", index)) {
    const uint32_t count = smi_->count();
    HCI_CHECK(index < count, "{}: ROCm SMI sees {} AMD GPU{}", name_, count, count == 1 ? "" : "s");
    const RocmSmi::Levels levels = smi_->frequencies(index_, rsmi_types::kClockSystem);
    levels_ = levels.mhz;
    first_level_ = levels.first_is_sleep ? 1 : 0;
    clocks_.assign(levels_.begin() + ptrdiff_t(std::min(first_level_, levels_.size())), levels_.end());
    std::sort(clocks_.begin(), clocks_.end());
    clocks_.erase(std::unique(clocks_.begin(), clocks_.end()), clocks_.end());
    if (!clocks_.empty()) range_ = {clocks_.front(), clocks_.back()};
    energy_start_j_ = energy_joules();
    capabilities_ = Capabilities::seen(read(), !clocks_.empty(), name_ + ": ROCm SMI lists no core clock levels");
  }

  std::string name() const override { return name_; }
  Capabilities capabilities() const override { return capabilities_; }

  Telemetry read() override {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    Telemetry t;
    t.time_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    t.temperature_c = temperature(rsmi_types::kMetricCurrent);
    uint32_t percent = 0;
    t.utilization = ok(smi_->rsmi_dev_busy_percent_get(index_, &percent)) ? percent / 100.0 : nan;
    t.memory_utilization = ok(smi_->rsmi_dev_memory_busy_percent_get(index_, &percent)) ? percent / 100.0 : nan;
    uint64_t microwatts = 0;
    t.power_w = ok(smi_->rsmi_dev_power_ave_get(index_, 0, &microwatts)) ? double(microwatts) / 1e6 : nan;
    t.energy_j = energy_joules() - energy_start_j_;
    const RocmSmi::Levels core = smi_->frequencies(index_, rsmi_types::kClockSystem);
    t.core_mhz = core.mhz.empty() ? nan : core.mhz[core.current];
    const RocmSmi::Levels memory = smi_->frequencies(index_, rsmi_types::kClockMemory);
    t.memory_mhz = memory.mhz.empty() ? nan : memory.mhz[memory.current];
    return t;  // throttle reasons: ROCm SMI has no portable call for them
  }

  std::vector<double> supported_core_clocks() override { return clocks_; }
  ClockRange core_clocks() override { return range_; }
  void set_core_clocks(ClockRange r) override {
    HCI_CHECK(!clocks_.empty(), "{}: ROCm SMI lists no core clock levels to set", name_);
    HCI_CHECK(r.min_mhz <= r.max_mhz, "{}: a clock range of {} to {} MHz is empty", name_, r.min_mhz, r.max_mhz);
    if (r.min_mhz <= clocks_.front() && r.max_mhz >= clocks_.back()) return reset_core_clocks();
    uint64_t mask = 0;
    for (size_t level = first_level_; level < levels_.size(); ++level)
      if (levels_[level] >= r.min_mhz - 1e-6 && levels_[level] <= r.max_mhz + 1e-6) mask |= uint64_t(1) << level;
    HCI_CHECK(mask != 0, "{}: no core clock level between {} and {} MHz", name_, r.min_mhz, r.max_mhz);
    write(smi_->rsmi_dev_gpu_clk_freq_set(index_, rsmi_types::kClockSystem, mask), "rsmi_dev_gpu_clk_freq_set");
    range_ = r;
  }
  void reset_core_clocks() override {
    write(smi_->rsmi_dev_perf_level_set(int32_t(index_), rsmi_types::kPerfLevelAuto), "rsmi_dev_perf_level_set");
    if (!clocks_.empty()) range_ = {clocks_.front(), clocks_.back()};
  }
  double temperature_limit_c() override { return temperature(rsmi_types::kMetricCritical); }

 private:
  static bool ok(RocmSmi::Status s) { return s == rsmi_types::kSuccess; }
  // The junction's (the hottest point), else the edge's, in C.
  double temperature(int metric) const {
    int64_t milli = 0;
    for (const uint32_t sensor : {rsmi_types::kSensorJunction, rsmi_types::kSensorEdge})
      if (ok(smi_->rsmi_dev_temp_metric_get(index_, sensor, metric, &milli))) return double(milli) / 1000;
    return std::numeric_limits<double>::quiet_NaN();
  }
  double energy_joules() const {
    uint64_t count = 0, timestamp = 0;
    float microjoules_per_count = 0;
    if (!ok(smi_->rsmi_dev_energy_count_get(index_, &count, &microjoules_per_count, &timestamp)))
      return std::numeric_limits<double>::quiet_NaN();
    return double(count) * double(microjoules_per_count) * 1e-6;
  }
  void write(RocmSmi::Status s, const char* what) const {
    if (s == rsmi_types::kPermission)
      throw PermissionDenied(detail::format("{}: {}: {}; setting clocks needs root", name_, what, smi_->message(s)));
    if (s == rsmi_types::kNotSupported)
      throw PermissionDenied(detail::format("{}: {}: {} on this GPU", name_, what, smi_->message(s)));
    HCI_CHECK(ok(s), "{}: {}: {}", name_, what, smi_->message(s));
  }

  std::shared_ptr<RocmSmi> smi_;
  uint32_t index_;
  std::string name_;
  std::vector<double> levels_;  // the core clock's DPM levels in MHz, in the library's order
  size_t first_level_ = 0;      // 1 where level 0 is the deep-sleep clock
  std::vector<double> clocks_;  // the same, ascending
  ClockRange range_;
  double energy_start_j_ = 0;
  Capabilities capabilities_;
};

}  // namespace energy

HCI_END_NAMESPACE
