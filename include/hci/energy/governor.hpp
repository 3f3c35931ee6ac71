// The governor's control loop: each period it reads the device, asks its policy for a clock
// range, and writes what the policy wants once snapped to supported clocks, limited in how fast
// the ceiling rises, and only when it moved by more than the hysteresis. A thermal guard
// overrides every policy near the temperature limit. The range the device had before the first
// write is restored when the governor ends, by its own ClockGuard or by the one it is given (with
// a journal, say). Dry-run decides the same, and writes nothing; a device that refuses writes
// (PermissionDenied) leaves the governor observing, saying why.
//
// The thermal guard works on the clock the device runs at. At limit - margin (as sensed) it takes
// the ceiling one supported step below that clock, and one more each second while the
// temperature stays there; four more each period while it climbs fast (a degree a second or
// more) or is at the limit itself. Between there and 2 degrees cooler it holds; cooler still, it
// lets the ceiling rise one step per period back to what the policy wants. A die's thermal time
// constant is seconds to tens of seconds: descending faster than the heat asks for would give
// away clock before the sensor could show the effect.
#pragma once

#include <hci/energy/cost_meter.hpp>
#include <hci/energy/device.hpp>
#include <hci/energy/guard.hpp>
#include <hci/energy/policy.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

struct GovernorOptions {
  double period_s = 0.05;
  // What the thermal guard and thermal policies keep under: NaN for the device's own limit (its
  // slowdown temperature), or 85 C where the device does not say.
  double temperature_limit_c = std::numeric_limits<double>::quiet_NaN();
  double guard_margin_c = 1;  // the guard takes over this close to the limit
  double hysteresis_mhz = 0;  // smaller moves are not written (0: less than one supported step)
  double max_rise_mhz = 0;    // per period, of the ceiling (0: unlimited); falls are never limited
  bool dry_run = false;
  size_t history = 200;  // readings kept for the policy
};

class Governor {
 public:
  // `guard`, if given, records the originals instead of the governor's own guard; its owner
  // restores them.
  Governor(Device& device, Policy& policy, GovernorOptions options = {}, ClockGuard* guard = nullptr)
      : device_(device),
        policy_(policy),
        options_(options),
        supported_(device.supported_core_clocks()),
        guard_(guard ? guard : &own_guard_) {
    if (std::isnan(options_.temperature_limit_c)) {
      const double own = device.temperature_limit_c();
      options_.temperature_limit_c = std::isnan(own) ? 85 : own;
    }
    HCI_CHECK(!supported_.empty(), "{}: no supported core clocks to govern", device.name());
    HCI_CHECK(options_.period_s > 0, "governor: the period must be positive, not {} s", options_.period_s);
    const Capabilities caps = device.capabilities();
    if (!caps.set_clocks) observe_only_reason_ = caps.observe_only_reason;
    applied_ = device.core_clocks();
  }
  Governor(const Governor&) = delete;
  Governor& operator=(const Governor&) = delete;

  // From now on, the policy is also told the cost of the kernels recorded in `meter` each period
  // (the meter must outlive the governor).
  void take_hints_from(KernelCostMeter& meter) { hints_ = &meter; }

  // One period: read, decide, write if needed. Returns the reading.
  const Telemetry& tick() {
    history_.push_back(device_.read());
    while (history_.size() > std::max<size_t>(options_.history, 1)) history_.pop_front();
    const Telemetry& now = history_.back();
    const WorkloadHint hint = hints_ ? hints_->take() : WorkloadHint{};
    ClockRange wanted = policy_.decide({history_, supported_, options_.period_s, options_.temperature_limit_c,
                                        hints_ ? &hint : nullptr, guard_ceiling_.has_value()});
    wanted = guard(now, snap(wanted));
    if (!observe_only() && worth_writing(wanted)) write(wanted);
    return now;
  }

  // Puts the device's clocks back as they were before the first write (if there was one); the
  // failures, if any.
  std::vector<std::string> restore() {
    std::vector<std::string> failures = guard_->restore(device_);
    try {
      if (failures.empty()) applied_ = device_.core_clocks();
    } catch (const std::exception& e) {
      failures.push_back(device_.name() + ": reading the clocks back: " + e.what());
    }
    return failures;
  }

  const std::deque<Telemetry>& history() const { return history_; }
  ClockRange applied() const { return applied_; }  // as written (or, in dry-run, as it would be)
  int writes() const { return writes_; }
  bool guarding() const { return guarding_; }
  bool observe_only() const { return !observe_only_reason_.empty(); }
  const std::string& observe_only_reason() const { return observe_only_reason_; }

 private:
  // The range on supported clocks: the ceiling rounded down, the floor up, the floor not above
  // the ceiling.
  ClockRange snap(ClockRange r) const {
    auto below = std::upper_bound(supported_.begin(), supported_.end(), r.max_mhz + 1e-6);
    const double ceiling = below == supported_.begin() ? supported_.front() : *std::prev(below);
    auto above = std::lower_bound(supported_.begin(), supported_.end(), r.min_mhz - 1e-6);
    const double floor = above == supported_.end() ? supported_.back() : *above;
    return {std::min(floor, ceiling), ceiling};
  }

  // The thermal guard (see the top of this file): the policy's range under the guard's ceiling.
  ClockRange guard(const Telemetry& now, ClockRange wanted) {
    const double t = now.temperature_c, line = options_.temperature_limit_c - options_.guard_margin_c;
    if (t >= line) {
      const bool urgent = t >= options_.temperature_limit_c || t >= temperature_before(now.time_s - 2) + 2;
      if (!guarding_ || urgent || now.time_s >= last_guard_step_s_ + 1 - 1e-9) {
        // The clock it runs at when busy (a reading between bursts shows the idle clock).
        const bool busy = !(now.utilization < 0.5) && !std::isnan(now.core_mhz);
        const double running = busy ? std::min(applied_.max_mhz, now.core_mhz) : applied_.max_mhz;
        guard_ceiling_ = step(guarding_ ? guard_ceiling_.value_or(running) : running, urgent ? -4 : -1);
        last_guard_step_s_ = now.time_s;
      }
      guarding_ = true;
    } else if (guarding_ && t < line - 2) {
      guarding_ = false;
    } else if (!guarding_ && guard_ceiling_) {
      guard_ceiling_ = step(*guard_ceiling_, +1);
      if (*guard_ceiling_ >= wanted.max_mhz) guard_ceiling_.reset();
    }
    if (!guard_ceiling_) return rate_limited(wanted);
    const double ceiling = std::min(wanted.max_mhz, *guard_ceiling_);
    return {std::min(wanted.min_mhz, ceiling), ceiling};
  }
  // The sensed temperature at `time_s` (the oldest reading kept, if none is that old).
  double temperature_before(double time_s) const {
    auto it = std::find_if(history_.rbegin(), history_.rend(), [&](const Telemetry& t) { return t.time_s <= time_s; });
    return it == history_.rend() ? history_.front().temperature_c : it->temperature_c;
  }
  // The supported clock `steps` steps above (or below) `mhz`, rounded down to a supported one.
  double step(double mhz, int steps) const {
    const auto at = std::upper_bound(supported_.begin(), supported_.end(), mhz + 1e-6) - supported_.begin() - 1;
    return supported_[size_t(std::clamp<ptrdiff_t>(at + steps, 0, ptrdiff_t(supported_.size()) - 1))];
  }

  // The ceiling rises by max_rise_mhz per period at most, and by one supported step at least.
  ClockRange rate_limited(ClockRange wanted) const {
    if (options_.max_rise_mhz <= 0 || wanted.max_mhz <= applied_.max_mhz) return wanted;
    double ceiling = snap({0, std::min(wanted.max_mhz, applied_.max_mhz + options_.max_rise_mhz)}).max_mhz;
    if (ceiling <= applied_.max_mhz)
      ceiling = *std::upper_bound(supported_.begin(), supported_.end(), applied_.max_mhz + 1e-6);
    return {std::min(wanted.min_mhz, ceiling), ceiling};
  }

  bool worth_writing(ClockRange wanted) const {
    if (wanted == applied_) return false;
    if (wanted.max_mhz < applied_.max_mhz && guarding_) return true;  // the guard is never held back
    const double moved =
        std::max(std::abs(wanted.min_mhz - applied_.min_mhz), std::abs(wanted.max_mhz - applied_.max_mhz));
    return moved > options_.hysteresis_mhz;
  }

  void write(ClockRange wanted) {
    if (options_.dry_run) {
      applied_ = wanted;
      return;
    }
    guard_->before_write(device_);
    try {
      device_.set_core_clocks(wanted);
    } catch (const PermissionDenied& e) {
      observe_only_reason_ = e.what();
      std::fprintf(stderr, "hci::energy: %s: observing only: %s\n", device_.name().c_str(), e.what());
      // A write refused part way (some of a CPU's policies written) is undone. Where no write
      // ever succeeded, a refused undo is no news (nothing was changed), and there is nothing
      // more to guard.
      for (const std::string& failure : restore())
        if (writes_ > 0) std::fprintf(stderr, "hci::energy: not restored: %s\n", failure.c_str());
      if (writes_ == 0) guard_->forget(device_);
      return;
    }
    applied_ = wanted;
    ++writes_;
  }

  Device& device_;
  Policy& policy_;
  GovernorOptions options_;
  std::vector<double> supported_;
  ClockGuard own_guard_;  // declared before guard_, which may point to it; restores last
  ClockGuard* guard_;
  std::deque<Telemetry> history_;
  KernelCostMeter* hints_ = nullptr;
  ClockRange applied_;
  std::string observe_only_reason_;
  int writes_ = 0;
  bool guarding_ = false;
  std::optional<double> guard_ceiling_;  // while guarding, and while rising back after
  double last_guard_step_s_ = 0;
};

}  // namespace energy

HCI_END_NAMESPACE
