// A device as the energy governor sees it: telemetry to read and, where permitted, a core clock
// range to set. Providers (sysfs.hpp, the NVML and ROCm SMI ones, the simulated device) implement
// it; the governor's control loop and its safety guard work through it alone.
#pragma once

#include <hci/energy/telemetry.hpp>
#include <hci/error.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

// What a device's provider can do. A quantity it cannot read reads as NaN.
struct Capabilities {
  bool temperature = false, power = false, energy = false, utilization = false;
  bool read_clocks = false, set_clocks = false;
  std::string observe_only_reason;  // why set_clocks is false, for the user

  // Seen from a provider's first reading (what it cannot read is NaN) and whether it has clocks to
  // set; `no_clocks` says why not, where it has none.
  static Capabilities seen(const Telemetry& first, bool clocks_to_set, const std::string& no_clocks) {
    return {!std::isnan(first.temperature_c),         !std::isnan(first.power_w),  !std::isnan(first.energy_j),
            !std::isnan(first.utilization),           !std::isnan(first.core_mhz), clocks_to_set,
            clocks_to_set ? std::string() : no_clocks};
  }
};

// A write the provider is not allowed to make (not root, or the driver forbids it): the governor
// falls back to observing.
class PermissionDenied : public Error {
 public:
  using Error::Error;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string name() const = 0;
  virtual Capabilities capabilities() const = 0;
  virtual Telemetry read() = 0;
  // The core clocks the device can be set to, in MHz, ascending.
  virtual std::vector<double> supported_core_clocks() = 0;
  // The range in force now, and writes of it: throw PermissionDenied where not allowed, and
  // hci::Error for other failures (the device gone, a value refused).
  virtual ClockRange core_clocks() = 0;
  virtual void set_core_clocks(ClockRange range) = 0;
  // Back to the device's own defaults (its whole range).
  virtual void reset_core_clocks() = 0;
  // The temperature at which the device starts slowing itself down (NVML's slowdown threshold),
  // in C; NaN where the provider cannot tell.
  virtual double temperature_limit_c() { return std::numeric_limits<double>::quiet_NaN(); }
};

}  // namespace energy

HCI_END_NAMESPACE
