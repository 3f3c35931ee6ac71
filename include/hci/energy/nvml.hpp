// NVIDIA GPUs through NVML (libnvidia-ml.so.1, the driver's management library, found at run time
// with dlopen; HCI_NVML_PATH names another): each GPU's temperature, utilization, power, energy
// counter, clocks and clock event reasons, and its core clocks locked to a range
// (nvmlDeviceSetGpuLockedClocks, which needs root; NVML's "insufficient permissions" or "not
// supported" make the governor observe only).
//
// NVML cannot say whether someone else locked the clocks before: a device starts out taken as
// running on its whole range, which is what restoring it sets again (a reset of the lock).
// Telemetry's memory utilization is NVML's utilization.memory, the memory controller's busy time
// over the driver's sample period (1/6 s to 1 s).
#pragma once

#include <hci/energy/device.hpp>
#include <hci/error.hpp>
#include <hci/shared_library.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

namespace nvml_types {
using Return = int;
using Device = struct nvmlDevice_st*;
inline constexpr Return kSuccess = 0, kNotSupported = 3, kNoPermission = 4, kInsufficientSize = 7, kGpuIsLost = 15;
inline constexpr unsigned kTemperatureGpu = 0, kThresholdSlowdown = 1;
inline constexpr unsigned kClockGraphics = 0, kClockMemory = 2;
struct Utilization {
  unsigned gpu, memory;  // percent
};
// Clock event reasons (formerly throttle reasons).
inline constexpr unsigned long long kReasonIdle = 0x1, kReasonClockSetting = 0x2, kReasonSwPowerCap = 0x4,
                                    kReasonHwSlowdown = 0x8, kReasonSwThermal = 0x20, kReasonHwThermal = 0x40,
                                    kReasonHwPowerBrake = 0x80;
}  // namespace nvml_types

// X(name in the library, result, parameters...)
#define HCI_NVML_FUNCTIONS(X)                                                             \
  X(nvmlInit_v2, Return)                                                                  \
  X(nvmlShutdown, Return)                                                                 \
  X(nvmlErrorString, const char*, Return)                                                 \
  X(nvmlDeviceGetCount_v2, Return, unsigned*)                                             \
  X(nvmlDeviceGetHandleByIndex_v2, Return, unsigned, Device*)                             \
  X(nvmlDeviceGetName, Return, Device, char*, unsigned)                                   \
  X(nvmlDeviceGetTemperature, Return, Device, unsigned, unsigned*)                        \
  X(nvmlDeviceGetTemperatureThreshold, Return, Device, unsigned, unsigned*)               \
  X(nvmlDeviceGetUtilizationRates, Return, Device, Utilization*)                          \
  X(nvmlDeviceGetPowerUsage, Return, Device, unsigned*)                                   \
  X(nvmlDeviceGetTotalEnergyConsumption, Return, Device, unsigned long long*)             \
  X(nvmlDeviceGetClockInfo, Return, Device, unsigned, unsigned*)                          \
  X(nvmlDeviceGetSupportedMemoryClocks, Return, Device, unsigned*, unsigned*)             \
  X(nvmlDeviceGetSupportedGraphicsClocks, Return, Device, unsigned, unsigned*, unsigned*) \
  X(nvmlDeviceSetGpuLockedClocks, Return, Device, unsigned, unsigned)                     \
  X(nvmlDeviceResetGpuLockedClocks, Return, Device)

// The library, initialised; shared by the devices of a process.
class Nvml {
 public:
  using Return = nvml_types::Return;
  using Device = nvml_types::Device;
  using Utilization = nvml_types::Utilization;
#define HCI_NVML_POINTER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  HCI_NVML_FUNCTIONS(HCI_NVML_POINTER)
#undef HCI_NVML_POINTER
  // nvmlDeviceGetCurrentClocksEventReasons, or its older name ...ThrottleReasons; null in neither.
  Return (*clock_event_reasons)(Device, unsigned long long*) = nullptr;
  std::string path;

  // The process's NVML, opened and initialised on first use while someone holds it; throws
  // hci::Error saying why it cannot be (no NVIDIA driver, say).
  static std::shared_ptr<Nvml> open() {
    static std::mutex mutex;
    static std::weak_ptr<Nvml> shared;
    std::lock_guard lock(mutex);
    if (auto nvml = shared.lock()) return nvml;
    const char* chosen = std::getenv("HCI_NVML_PATH");
    const std::string path = chosen && *chosen ? chosen : "libnvidia-ml.so.1";
    std::string reason;
    void* handle = detail::open_shared_library(path, reason);
    HCI_CHECK(handle != nullptr, "NVML: {} (no NVIDIA driver here?)", reason);
    std::shared_ptr<Nvml> nvml(new Nvml);
    nvml->path = path;
    if (const char* missing = HCI_RESOLVE_ALL(HCI_NVML_FUNCTIONS, handle, *nvml))
      throw Error(detail::format("NVML: {} lacks {} (a driver older than 450?)", path, missing));
    if (!detail::resolve_symbol(handle, "nvmlDeviceGetCurrentClocksEventReasons", nvml->clock_event_reasons))
      detail::resolve_symbol(handle, "nvmlDeviceGetCurrentClocksThrottleReasons", nvml->clock_event_reasons);
    const Return init = nvml->nvmlInit_v2();
    nvml->initialised_ = init == nvml_types::kSuccess;
    HCI_CHECK(nvml->initialised_, "NVML: nvmlInit: {}", nvml->message(init));
    shared = nvml;
    return nvml;
  }
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;
  ~Nvml() {
    if (initialised_) nvmlShutdown();
  }

  std::string message(Return r) const {
    const char* text = nvmlErrorString ? nvmlErrorString(r) : nullptr;
    return text ? detail::format("{} (NVML {})", text, r) : detail::format("NVML error {}", r);
  }
  unsigned count() const {
    unsigned n = 0;
    const Return r = nvmlDeviceGetCount_v2(&n);
    HCI_CHECK(r == nvml_types::kSuccess, "NVML: nvmlDeviceGetCount: {}", message(r));
    return n;
  }

 private:
  Nvml() = default;
  bool initialised_ = false;
};

// GPU `index` in NVML's order, named "cuda:INDEX" (CUDA_VISIBLE_DEVICES aside, the order CUDA
// uses where CUDA_DEVICE_ORDER=PCI_BUS_ID).
class NvmlDevice final : public Device {
 public:
  explicit NvmlDevice(unsigned index, std::shared_ptr<Nvml> nvml = Nvml::open())
      : nvml_(std::move(nvml)), name_(detail::format("cuda:{}", index)) {
    const unsigned count = nvml_->count();
    HCI_CHECK(index < count, "{}: NVML sees {} NVIDIA GPU{}", name_, count, count == 1 ? "" : "s");
    check(nvml_->nvmlDeviceGetHandleByIndex_v2(index, &device_), "nvmlDeviceGetHandleByIndex");
    char model[96] = {};
    if (nvml_->nvmlDeviceGetName(device_, model, sizeof model) == nvml_types::kSuccess) model_ = model;
    clocks_ = supported_at(top_memory_clock());
    if (!clocks_.empty()) range_ = {clocks_.front(), clocks_.back()};
    unsigned long long millijoules = 0;
    energy_start_mj_ = nvml_->nvmlDeviceGetTotalEnergyConsumption(device_, &millijoules) == nvml_types::kSuccess
                           ? double(millijoules)
                           : std::numeric_limits<double>::quiet_NaN();
    capabilities_ = Capabilities::seen(read(), !clocks_.empty(), name_ + ": NVML lists no supported core clocks");
  }

  std::string name() const override { return name_; }
  const std::string& model() const { return model_; }  // "NVIDIA H100 80GB HBM3"
  Capabilities capabilities() const override { return capabilities_; }

  Telemetry read() override {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    Telemetry t;
    t.time_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    unsigned value = 0;
    t.temperature_c = got(nvml_->nvmlDeviceGetTemperature(device_, nvml_types::kTemperatureGpu, &value)) ? value : nan;
    nvml_types::Utilization u{};
    const bool busy = got(nvml_->nvmlDeviceGetUtilizationRates(device_, &u));
    t.utilization = busy ? u.gpu / 100.0 : nan;
    t.memory_utilization = busy ? u.memory / 100.0 : nan;
    t.power_w = got(nvml_->nvmlDeviceGetPowerUsage(device_, &value)) ? value / 1000.0 : nan;
    unsigned long long millijoules = 0;
    t.energy_j = got(nvml_->nvmlDeviceGetTotalEnergyConsumption(device_, &millijoules))
                     ? (double(millijoules) - energy_start_mj_) / 1000
                     : nan;
    t.core_mhz = got(nvml_->nvmlDeviceGetClockInfo(device_, nvml_types::kClockGraphics, &value)) ? value : nan;
    t.memory_mhz = got(nvml_->nvmlDeviceGetClockInfo(device_, nvml_types::kClockMemory, &value)) ? value : nan;
    unsigned long long reasons = 0;
    if (nvml_->clock_event_reasons && got(nvml_->clock_event_reasons(device_, &reasons)))
      t.throttle_reasons = ours(reasons);
    return t;
  }

  std::vector<double> supported_core_clocks() override { return clocks_; }
  ClockRange core_clocks() override { return range_; }
  void set_core_clocks(ClockRange r) override {
    HCI_CHECK(!clocks_.empty(), "{}: NVML lists no supported core clocks to set", name_);
    HCI_CHECK(r.min_mhz <= r.max_mhz, "{}: a clock range of {} to {} MHz is empty", name_, r.min_mhz, r.max_mhz);
    if (r.min_mhz <= clocks_.front() && r.max_mhz >= clocks_.back()) return reset_core_clocks();
    write(nvml_->nvmlDeviceSetGpuLockedClocks(device_, unsigned(std::lround(r.min_mhz)),
                                              unsigned(std::lround(r.max_mhz))),
          "nvmlDeviceSetGpuLockedClocks");
    range_ = r;
  }
  void reset_core_clocks() override {
    write(nvml_->nvmlDeviceResetGpuLockedClocks(device_), "nvmlDeviceResetGpuLockedClocks");
    if (!clocks_.empty()) range_ = {clocks_.front(), clocks_.back()};
  }
  double temperature_limit_c() override {
    unsigned c = 0;
    return got(nvml_->nvmlDeviceGetTemperatureThreshold(device_, nvml_types::kThresholdSlowdown, &c))
               ? double(c)
               : std::numeric_limits<double>::quiet_NaN();
  }

 private:
  // The highest memory clock (an idle GDDR GPU runs a lower one, with fewer core clocks listed
  // for it), else the one now; 0 where NVML gives neither.
  unsigned top_memory_clock() {
    unsigned count = 0, now = 0;
    const Nvml::Return r = nvml_->nvmlDeviceGetSupportedMemoryClocks(device_, &count, nullptr);
    std::vector<unsigned> listed(count);
    if ((r == nvml_types::kSuccess || r == nvml_types::kInsufficientSize) && count > 0 &&
        nvml_->nvmlDeviceGetSupportedMemoryClocks(device_, &count, listed.data()) == nvml_types::kSuccess && count > 0)
      return *std::max_element(listed.begin(), listed.begin() + std::min<size_t>(count, listed.size()));
    return nvml_->nvmlDeviceGetClockInfo(device_, nvml_types::kClockMemory, &now) == nvml_types::kSuccess ? now : 0;
  }
  // The core clocks NVML lists for the memory clock, ascending.
  std::vector<double> supported_at(unsigned memory_mhz) {
    unsigned count = 0;
    Nvml::Return r = nvml_->nvmlDeviceGetSupportedGraphicsClocks(device_, memory_mhz, &count, nullptr);
    if (r != nvml_types::kSuccess && r != nvml_types::kInsufficientSize) return {};
    std::vector<unsigned> listed(count);
    r = nvml_->nvmlDeviceGetSupportedGraphicsClocks(device_, memory_mhz, &count, listed.data());
    if (r != nvml_types::kSuccess) return {};
    std::vector<double> clocks(listed.begin(), listed.begin() + std::min<size_t>(count, listed.size()));
    std::sort(clocks.begin(), clocks.end());
    clocks.erase(std::unique(clocks.begin(), clocks.end()), clocks.end());
    return clocks;
  }

  // A reading that succeeded; false where the GPU cannot report it. A lost GPU is an error: the
  // governor's loop ends and its guard restores what it can.
  bool got(Nvml::Return r) const {
    HCI_CHECK(r != nvml_types::kGpuIsLost, "{}: {}", name_, nvml_->message(r));
    return r == nvml_types::kSuccess;
  }
  void check(Nvml::Return r, const char* what) const {
    HCI_CHECK(r == nvml_types::kSuccess, "{}: {}: {}", name_, what, nvml_->message(r));
  }
  void write(Nvml::Return r, const char* what) const {
    if (r == nvml_types::kNoPermission)
      throw PermissionDenied(detail::format("{}: {}: {}; locking clocks needs root", name_, what, nvml_->message(r)));
    if (r == nvml_types::kNotSupported)
      throw PermissionDenied(detail::format("{}: {}: {} on this GPU", name_, what, nvml_->message(r)));
    check(r, what);
  }
  static uint32_t ours(unsigned long long reasons) {
    using namespace nvml_types;
    uint32_t r = kThrottleNone;
    if (reasons & kReasonIdle) r |= kThrottleIdle;
    if (reasons & kReasonClockSetting) r |= kThrottleClockLimit;
    if (reasons & (kReasonSwPowerCap | kReasonHwPowerBrake)) r |= kThrottlePowerCap;
    if (reasons & (kReasonHwSlowdown | kReasonSwThermal | kReasonHwThermal)) r |= kThrottleThermal;
    return r;
  }

  std::shared_ptr<Nvml> nvml_;
  std::string name_, model_;
  Nvml::Device device_ = nullptr;
  std::vector<double> clocks_;
  ClockRange range_;
  double energy_start_mj_ = 0;
  Capabilities capabilities_;
};

}  // namespace energy

HCI_END_NAMESPACE
