// A simulated device, what the governor's policies are tested and evaluated on without hardware:
// physics stepped in time, the device's own default behaviour, and sensors and an actuator like
// a real device's provider offers. Its parameters, and their sources, are in sim_parameters.hpp.
//
// The model, at core clock f (MHz) and die temperature T:
//   V(f)  = min_volts, rising volts_per_mhz above flat_until_mhz
//   BW(f) = bandwidth * min(1, f / bandwidth_knee_mhz)
//   a phase of F FLOPs and B bytes takes t = max(F / (flops_per_cycle * f), B / BW(f)); its core
//   activity is u = a_compute * t_compute / t + memory_activity * t_memory / t
//   P = idle + leakage * (T - idle_reference) + u * switched * V(f)^2 * f + memory_energy * B / t
//   C dT/dt = P - (T - ambient) / R  (one RC stage, integrated exactly over each step)
// The default behaviour is a GPU's boost: the highest clock the set range allows, lowered at once
// to keep P under the power limit, and step by step while T is above max_operating_c (both below
// the range's floor if need be); idle, the lowest clock of the range. Sensors report what was true sensor_delay_s ago:
// temperature in whole steps, power averaged over a window with noise, energy in counter steps.
#pragma once

#include <hci/energy/device.hpp>
#include <hci/energy/sim_parameters.hpp>
#include <hci/energy/telemetry.hpp>
#include <hci/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

// A stretch of work: FLOPs (on the matrix units, or the vector units) and bytes of memory
// traffic, run as fast as the clock allows; or, with neither, idle_s seconds of nothing to run.
struct Phase {
  std::string name;
  double flops = 0, bytes = 0;
  bool matrix_units = false;
  double idle_s = 0;
};

class SimulatedDevice final : public Device {
 public:
  // The physics advance in steps of at most kStepS seconds.
  static constexpr double kStepS = 0.01;

  explicit SimulatedDevice(SimulatedDeviceParameters p, uint64_t seed = 1)
      : p_(std::move(p)), rng_(seed), temperature_(p_.ambient_c), range_{p_.min_core_mhz, p_.max_core_mhz} {
    HCI_CHECK(p_.min_core_mhz > 0 && p_.core_step_mhz > 0 && p_.max_core_mhz >= p_.min_core_mhz,
              "{}: the simulated device needs a clock range and step", p_.name);
    core_mhz_ = p_.min_core_mhz;
    thermal_cap_mhz_ = p_.max_core_mhz;
    // Settled at idle, as a device that has been on for a while.
    temperature_ = p_.ambient_c + p_.thermal_resistance_c_per_w * idle_power(p_.ambient_c);
    for (int i = 0; i < 10; ++i) temperature_ = p_.ambient_c + p_.thermal_resistance_c_per_w * idle_power(temperature_);
    power_ = idle_power(temperature_);
    history_.push_back({0, temperature_, power_, 0, 0, 0});
  }

  const SimulatedDeviceParameters& parameters() const { return p_; }
  std::string name() const override { return p_.name; }
  Capabilities capabilities() const override { return {true, true, true, true, true, true, ""}; }

  // -- the model's functions ------------------------------------------------------------------
  double voltage(double mhz) const { return p_.min_volts + std::max(0.0, mhz - p_.flat_until_mhz) * p_.volts_per_mhz; }
  double bandwidth(double mhz) const { return p_.bandwidth_bytes_per_s * std::min(1.0, mhz / p_.bandwidth_knee_mhz); }
  // Seconds the phase's work takes at this clock (its idle time for an idle phase).
  double phase_seconds(const Phase& w, double mhz) const {
    return is_idle(w) ? w.idle_s : std::max(compute_seconds(w, mhz), memory_seconds(w, mhz));
  }
  // The power drawn at this clock and temperature running `w` (idle where null or idle).
  double power(double mhz, double temperature_c, const Phase* w) const {
    if (!w || is_idle(*w)) return idle_power(temperature_c);
    const double compute = compute_seconds(*w, mhz), memory = memory_seconds(*w, mhz);
    const double t = std::max(compute, memory);
    const double compute_activity = w->matrix_units ? p_.matrix_activity : p_.vector_activity;
    const double activity = (compute_activity * compute + p_.memory_activity * memory) / t;
    const double v = voltage(mhz);
    return idle_power(temperature_c) + activity * p_.switched_w * v * v * mhz +
           p_.memory_joules_per_byte * w->bytes / t;
  }
  std::vector<double> supported_core_clocks() override {
    std::vector<double> clocks;
    const auto steps = int64_t(std::llround((p_.max_core_mhz - p_.min_core_mhz) / p_.core_step_mhz));
    for (int64_t k = 0; k <= steps; ++k) clocks.push_back(p_.min_core_mhz + double(k) * p_.core_step_mhz);
    return clocks;
  }

  // -- the actuator -----------------------------------------------------------------------------
  // Keeps the core clock within `r`, snapped to supported clocks (as NVML's locked clocks are).
  void set_core_clocks(ClockRange r) override {
    HCI_CHECK(std::isfinite(r.min_mhz) && std::isfinite(r.max_mhz) && r.min_mhz <= r.max_mhz,
              "{}: a clock range of {} to {} MHz is empty", p_.name, r.min_mhz, r.max_mhz);
    HCI_CHECK(r.min_mhz <= p_.max_core_mhz && r.max_mhz >= p_.min_core_mhz,
              "{}: core clocks from {} to {} MHz are outside the supported {} to {} MHz", p_.name, r.min_mhz, r.max_mhz,
              p_.min_core_mhz, p_.max_core_mhz);
    range_ = {snap(r.min_mhz), snap(r.max_mhz)};
  }
  void reset_core_clocks() override { range_ = {p_.min_core_mhz, p_.max_core_mhz}; }
  ClockRange core_clocks() override { return range_; }
  double temperature_limit_c() override { return p_.max_operating_c; }
  void set_ambient(double c) { p_.ambient_c = c; }

  // -- work ---------------------------------------------------------------------------------------
  void enqueue(const Phase& w) {
    HCI_CHECK(w.flops >= 0 && w.bytes >= 0 && w.idle_s >= 0 && std::isfinite(w.flops + w.bytes + w.idle_s),
              "{}: a phase needs non-negative FLOPs, bytes and idle time", p_.name);
    queue_.push_back({w, 0});
  }
  bool busy() const { return !queue_.empty(); }
  // The phase running now, if any.
  const Phase* running() const { return queue_.empty() ? nullptr : &queue_.front().first; }

  // Runs the device for `seconds`.
  void advance(double seconds) {
    HCI_CHECK(seconds >= 0 && std::isfinite(seconds), "{}: cannot advance by {} s", p_.name, seconds);
    while (seconds > 1e-12) {
      const double dt = std::min(seconds, kStepS);
      step(dt);
      seconds -= dt;
    }
  }

  // -- the truth, for evaluations -----------------------------------------------------------------
  double time() const { return time_; }
  double temperature() const { return temperature_; }
  double power_now() const { return power_; }
  double energy() const { return energy_; }
  double core_mhz() const { return core_mhz_; }
  uint32_t throttle_reasons() const { return reasons_; }
  // The work done so far: what an application's kernels would report as their cost.
  double flops_done() const { return flops_done_; }
  double bytes_done() const { return bytes_done_; }

  // -- the sensors ----------------------------------------------------------------------------------
  Telemetry read() override {
    Telemetry t;
    t.time_s = time_;
    const double seen = time_ - p_.sensor_delay_s;
    const Sample& then = at(seen);
    t.temperature_c = std::round(then.temperature / p_.temperature_step_c) * p_.temperature_step_c;
    t.power_w = std::max(0.0, average_power(seen - p_.power_window_s, seen) *
                                  (1 + p_.power_noise * std::normal_distribution<double>()(rng_)));
    t.energy_j = std::floor(then.energy / p_.energy_step_j) * p_.energy_step_j;
    t.utilization = mean_over(seen - p_.sensor_period_s, seen, &Sample::busy);
    t.memory_utilization = mean_over(seen - p_.sensor_period_s, seen, &Sample::memory_bandwidth);
    t.core_mhz = core_mhz_;
    t.memory_mhz = p_.memory_mhz;
    t.throttle_reasons = reasons_;
    return t;
  }

 private:
  struct Sample {
    double time, temperature, power, energy;
    double busy;              // the fraction of the step with work
    double memory_bandwidth;  // bytes per second moved, as a fraction of the device's bandwidth
  };

  static bool is_idle(const Phase& w) { return w.flops == 0 && w.bytes == 0; }
  double compute_seconds(const Phase& w, double mhz) const {
    return w.flops / ((w.matrix_units ? p_.matrix_flops_per_cycle : p_.vector_flops_per_cycle) * mhz * 1e6);
  }
  double memory_seconds(const Phase& w, double mhz) const { return w.bytes / bandwidth(mhz); }
  double idle_power(double temperature_c) const {
    return p_.idle_w + p_.leakage_w_per_c * (temperature_c - p_.idle_reference_c);
  }
  double snap(double mhz) const {
    const double k =
        std::round((std::clamp(mhz, p_.min_core_mhz, p_.max_core_mhz) - p_.min_core_mhz) / p_.core_step_mhz);
    return std::min(p_.max_core_mhz, p_.min_core_mhz + k * p_.core_step_mhz);
  }

  // The clock the device's default behaviour runs `w` at now.
  double default_clock(const Phase* w) {
    reasons_ = kThrottleNone;
    if (!w || is_idle(*w)) {
      reasons_ = kThrottleIdle;
      return range_.min_mhz;
    }
    if (range_.max_mhz < p_.max_core_mhz) reasons_ |= kThrottleClockLimit;
    double f = range_.max_mhz;
    // The limits override the range's floor, as they do a GPU's locked clocks.
    if (thermal_cap_mhz_ < f) {
      f = thermal_cap_mhz_;
      reasons_ |= kThrottleThermal;
    }
    // Power: the highest clock under the limit.
    while (f > p_.min_core_mhz && power(f, temperature_, w) > p_.default_power_limit_w) {
      f -= p_.core_step_mhz;
      reasons_ |= kThrottlePowerCap;
    }
    return f;
  }

  // The thermal limit's clock cap: one step down per period above max_operating_c, one step up
  // per period a degree below it.
  void update_thermal_cap(double dt) {
    thermal_clock_ += dt;
    if (thermal_clock_ < kThermalPeriodS) return;
    thermal_clock_ = 0;
    if (temperature_ > p_.max_operating_c)
      thermal_cap_mhz_ = std::max(p_.min_core_mhz, thermal_cap_mhz_ - p_.core_step_mhz);
    else if (temperature_ < p_.max_operating_c - 1)
      thermal_cap_mhz_ = std::min(p_.max_core_mhz, thermal_cap_mhz_ + p_.core_step_mhz);
  }

  void step(double dt) {
    update_thermal_cap(dt);
    double left = dt, joules = 0, busy_time = 0, bytes = 0;
    while (left > 1e-15) {
      const Phase* w = running();
      core_mhz_ = default_clock(w);
      power_ = power(core_mhz_, temperature_, w);
      double used = left;
      if (w) {
        auto& [phase, done] = queue_.front();
        const double whole = phase_seconds(phase, core_mhz_);
        used = std::min(left, (1 - done) * whole);
        done = whole > 0 ? done + used / whole : 1;
        if (!is_idle(phase)) {
          busy_time += used;
          bytes += phase.bytes * used / whole;
          flops_done_ += phase.flops * used / whole;
        }
        if (done >= 1 - 1e-12) queue_.pop_front();  // w is gone now
      }
      joules += power_ * used;
      left -= used;
    }
    const double mean_power = joules / dt;
    const double tau = p_.thermal_resistance_c_per_w * p_.thermal_capacitance_j_per_c;
    const double settled = p_.ambient_c + mean_power * p_.thermal_resistance_c_per_w;
    temperature_ = settled + (temperature_ - settled) * std::exp(-dt / tau);
    HCI_CHECK(temperature_ < p_.shutdown_c, "{}: {:.1f} C reached the shutdown temperature {} C", p_.name, temperature_,
              p_.shutdown_c);
    time_ += dt;
    energy_ += joules;
    bytes_done_ += bytes;
    history_.push_back(
        {time_, temperature_, mean_power, energy_, busy_time / dt, bytes / dt / p_.bandwidth_bytes_per_s});
    const double keep = p_.power_window_s + p_.sensor_delay_s + p_.sensor_period_s + 1;
    while (history_.size() > 2 && history_[1].time < time_ - keep) history_.pop_front();
  }

  // The newest sample at or before `time` (the oldest kept, before that).
  const Sample& at(double time) const {
    auto it =
        std::upper_bound(history_.begin(), history_.end(), time, [](double t, const Sample& s) { return t < s.time; });
    return it == history_.begin() ? history_.front() : *std::prev(it);
  }
  // Means over (from, to] of the samples' steps.
  double average_power(double from, double to) const { return mean_over(from, to, &Sample::power); }
  double mean_over(double from, double to, double Sample::* field) const {
    double sum = 0;
    int n = 0;
    for (const Sample& s : history_)
      if (s.time > from + 1e-12 && s.time <= to + 1e-12) {
        sum += s.*field;
        ++n;
      }
    return n ? sum / n : at(to).*field;
  }

  static constexpr double kThermalPeriodS = 0.1;

  SimulatedDeviceParameters p_;
  std::mt19937_64 rng_;
  double time_ = 0, temperature_, power_ = 0, energy_ = 0, core_mhz_ = 0, flops_done_ = 0, bytes_done_ = 0;
  double thermal_cap_mhz_ = 0, thermal_clock_ = 0;
  uint32_t reasons_ = kThrottleIdle;
  ClockRange range_;
  std::deque<std::pair<Phase, double>> queue_;  // phases to run, and the fraction done of the first
  std::deque<Sample> history_;
};

}  // namespace energy

HCI_END_NAMESPACE
