// Governor policies: each turns what the device reported (and, in the same process, the cost of
// the kernels being scheduled) into the core clock range it wants for the next period. The
// control loop around them (governor.hpp) owns timing, hysteresis, rate limits, snapping to
// supported clocks and the thermal guard, so a policy only says where it would like to be.
#pragma once

#include <hci/energy/telemetry.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

// The cost of the work an application started on the device during the last period, as its
// kernels report it (in the same process only: see cost_meter.hpp). Its arithmetic intensity
// says which phase the application is in before the device's sensors can.
struct WorkloadHint {
  double bytes = 0, flops = 0;
};

// What a policy decides from.
struct PolicyInput {
  const std::deque<Telemetry>& history;  // oldest first; the newest reading last
  const std::vector<double>& supported;  // core clocks in MHz, ascending, never empty
  double period_s = 0;                   // between decisions
  double temperature_limit_c = 0;        // the device's limit, for thermal policies
  const WorkloadHint* hint = nullptr;    // null where the governor has no view of the kernels
  // The thermal guard held the ceiling below what the policy wanted through the last period: the
  // readings do not show the policy's choice.
  bool thermal_override = false;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // The range wanted for the next period. Policies may keep state between calls (an integral, a
  // model learnt online); each call is one period later than the one before.
  virtual ClockRange decide(const PolicyInput& in) = 0;
};

// The top clock, always: what a device does on its own, made explicit.
class PerformancePolicy final : public Policy {
 public:
  std::string name() const override { return "performance"; }
  ClockRange decide(const PolicyInput& in) override { return {in.supported.front(), in.supported.back()}; }
};

// The lowest clock, always.
class PowersavePolicy final : public Policy {
 public:
  std::string name() const override { return "powersave"; }
  ClockRange decide(const PolicyInput& in) override { return {in.supported.front(), in.supported.front()}; }
};

// Load-driven, as Linux's ondemand: above `up` utilization straight to the top clock; below it,
// a ceiling in proportion to the load, so a mostly idle device runs slowly.
class OndemandPolicy final : public Policy {
 public:
  explicit OndemandPolicy(double up = 0.8) : up_(up) {}
  std::string name() const override { return "ondemand"; }
  ClockRange decide(const PolicyInput& in) override {
    const double low = in.supported.front(), high = in.supported.back();
    const double load = in.history.empty() ? 1 : in.history.back().utilization;
    if (!(load < up_)) return {low, high};  // NaN (no utilization sensor) counts as busy
    return {low, std::max(low, high * load / up_)};
  }

 private:
  double up_;
};

// Keeps the sensed temperature at least `margin_c` below the limit with a PI controller on the
// ceiling (the derivative of a whole-degree sensor is noise). Runs at the top clock while cool.
class ThermalCapPolicy final : public Policy {
 public:
  explicit ThermalCapPolicy(double margin_c = 5, double gain_mhz_per_c = 40, double integral_per_s = 0.2)
      : margin_c_(margin_c), gain_(gain_mhz_per_c), integral_rate_(integral_per_s) {}
  std::string name() const override { return "thermal-cap"; }
  ClockRange decide(const PolicyInput& in) override {
    const double low = in.supported.front(), high = in.supported.back();
    if (in.history.empty() || std::isnan(in.history.back().temperature_c)) return {low, high};
    const Telemetry& now = in.history.back();
    const double error = (in.temperature_limit_c - margin_c_) - now.temperature_c;  // > 0: room left
    // Too hot for the first time since the ceiling was last at the top: the ceiling starts from
    // the clock the device runs at, which its power limit may hold well below the top.
    if (error < 0 && !engaged_ && now.core_mhz < high + integral_) integral_ = now.core_mhz - high;
    engaged_ = error < 0 || integral_ < 0;
    // The integral winds only while it can act (anti-windup): not above the top, not below the bottom.
    integral_ = std::clamp(integral_ + error * integral_rate_ * in.period_s * gain_, low - high, 0.0);
    const double ceiling = std::clamp(high + std::min(0.0, gain_ * error) + integral_, low, high);
    return {low, ceiling};
  }

 private:
  double margin_c_, gain_, integral_rate_;
  double integral_ = 0;   // MHz below the top clock, accumulated
  bool engaged_ = false;  // acting on the ceiling since it last left the top
};

}  // namespace energy

HCI_END_NAMESPACE
