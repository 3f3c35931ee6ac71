// What a device's sensors report at one moment, and the clock settings the governor works with.
// Shared by every provider (NVML, ROCm SMI, Linux sysfs, the simulated device).
#pragma once

#include <hci/config.hpp>

#include <cstdint>

HCI_BEGIN_NAMESPACE

namespace energy {

// Why a device runs below the clock it was asked for, as NVML's clock event reasons say it.
enum ThrottleReason : uint32_t {
  kThrottleNone = 0,
  kThrottleIdle = 1u << 0,        // nothing to run: the lowest clock
  kThrottleClockLimit = 1u << 1,  // a clock range set through the actuator
  kThrottlePowerCap = 1u << 2,    // the power limit
  kThrottleThermal = 1u << 3,     // the temperature limit
};

// One reading. Quantities a provider cannot read are NaN.
struct Telemetry {
  double time_s = 0;         // the provider's monotonic clock
  double temperature_c = 0;  // as the sensor reports it (NVML: whole degrees)
  double utilization = 0;    // the fraction of the last sample period with work running
  // The memory bandwidth used over that period as a fraction of the device's: near 1 in a
  // memory-bound phase, which does not need the top core clock; and, as a phase's bytes are fixed,
  // a measure of how fast the phase progresses at any clock. The simulated devices report exactly
  // that. NVML reports utilization.memory and ROCm SMI the memory busy percentage: the memory
  // controller's busy time, which follows the bandwidth less closely (NVML's GPM DRAM bandwidth
  // utilization, on Hopper and later, would be the better reading).
  double memory_utilization = 0;
  double power_w = 0;     // as the sensor reports it (NVML: averaged over its window)
  double energy_j = 0;    // since the provider started: monotonic, counter wraparound handled
  double core_mhz = 0;    // the core (graphics, SM) clock now
  double memory_mhz = 0;  // the memory clock now
  uint32_t throttle_reasons = kThrottleNone;
};

// A range of core clocks, in MHz.
struct ClockRange {
  double min_mhz = 0, max_mhz = 0;
  bool operator==(const ClockRange&) const = default;
};

}  // namespace energy

HCI_END_NAMESPACE
