// The energy-optimal policy: for each phase of the workload, the core clock with the least energy
// per unit of work among those at most max_slowdown slower than the device's own behaviour, found
// by measuring on the device itself.
//
// What it measures (any provider with power or energy and utilization can tell): a phase's speed
// is the memory bandwidth it uses where it moves much memory (its bytes are fixed, so bytes per
// second is progress per second, whether the phase is bound by the memory or not), else its busy
// fraction times the clock (compute-bound work progresses with the clock); its power is the rise
// of the energy counter per second. Each measurement holds a clock for settle_s, as the sensors
// report late and averaged, then averages over measure_s.
//
// Phase by phase:
//   1. reference: the device's whole range (its default behaviour), measured: the speed that the
//      slowdown is counted against;
//   2. search: a bisection over the supported clocks for the lowest one at which the phase is at
//      most `budget` slower (speed falls monotonically with the clock), keeping every clock
//      measured that met the budget;
//   3. hold: of those (the reference among them), the one with the least energy per unit of work.
//      Energy against clock is U-shaped, so its floor is not always the lowest clock allowed;
//   and back to 1 when a measurement at the held clock shows a new phase (power or bandwidth
//   moved by more than change_threshold). A phase seen before, recognised by the bandwidth of its
//   reference measurement (power moves with temperature), goes straight to the clock found for
//   it, and on to 2 if it turns out slower there than the budget allows.
//
// With hints from the kernels (a governor in the same process), phases are told apart by their
// arithmetic intensity as they start, before the sensors show anything, and a phase seen before
// goes to its clock without a reference measurement.
//
// The budget for the held clock is budget_share of max_slowdown: the rest pays for the probes
// below it and for noticing a new phase late.
#pragma once

#include <hci/energy/policy.hpp>
#include <hci/error.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

struct EnergyOptimalOptions {
  double max_slowdown = 0.05;      // 0.05: at most 5% slower than the device's own behaviour
  double budget_share = 0.6;       // of max_slowdown, for the held clock
  double settle_s = 0.25;          // after a clock change, before readings describe the new clock
  double measure_s = 0.25;         // readings averaged per measurement
  double change_threshold = 0.15;  // the relative move in power or bandwidth that marks a new phase
};

class EnergyOptimalPolicy final : public Policy {
 public:
  explicit EnergyOptimalPolicy(EnergyOptimalOptions options = {}) : o_(options) {
    HCI_CHECK(o_.max_slowdown >= 0 && o_.max_slowdown <= 1, "energy-optimal: a maximum slowdown of {} is not in [0, 1]",
              o_.max_slowdown);
    HCI_CHECK(o_.budget_share > 0 && o_.budget_share <= 1, "energy-optimal: the budget share {} is not in (0, 1]",
              o_.budget_share);
    HCI_CHECK(o_.settle_s >= 0 && o_.measure_s > 0 && o_.change_threshold > 0,
              "energy-optimal: settle, measure and change threshold must be positive");
  }
  std::string name() const override { return "energy-optimal"; }

  ClockRange decide(const PolicyInput& in) override {
    clocks_ = &in.supported;
    top_ = in.supported.size() - 1;
    if (in.hint) follow(*in.hint);
    // Readings describe the clock asked for only where the thermal guard did not override it.
    if (!in.history.empty() && !in.thermal_override)
      observe(in.history.back());
    else
      window_.restart = true;
    const size_t index = stage_ == Stage::Reference ? top_ : stage_ == Stage::Search ? size_t(probe_) : hold_;
    return {in.supported.front(), in.supported[std::min(index, top_)]};
  }

  // What it is doing, for logs: "reference", "search" or "hold".
  std::string stage() const {
    return stage_ == Stage::Reference ? "reference" : stage_ == Stage::Search ? "search" : "hold";
  }

 private:
  enum class Stage { Reference, Search, Hold };
  static constexpr double kGiveUpS = 2;            // a probe measured in no more than settle + measure + this
  static constexpr double kIdle = 0.05;            // utilization below which nothing runs
  static constexpr double kBandwidthSpeed = 0.25;  // bandwidth above which it measures speed
  static constexpr double kFullyBusy = 0.95;       // busy enough not to be waiting on the host
  static constexpr double kMemoryBound = 0.75;     // bandwidth above which it may be waiting on memory
  static constexpr double kSameBandwidth = 0.05;   // phases told apart by their bandwidth
  static constexpr size_t kPhasesRemembered = 32;
  static constexpr int kNoKey = INT_MIN + 1;

  // Averages of the readings over one measurement.
  struct Measurement {
    double bandwidth = 0;   // memory bandwidth, as a fraction of the device's
    double clock_work = 0;  // busy fraction times the clock, in MHz
    double busy = 0;        // the busy fraction
    double power_w = 0;
  };
  struct Window {
    bool restart = true;      // set a clock (or work resumed): measure_from is settle_s later
    double measure_from = 0;  // readings from this time on are averaged
    int n = 0;
    double bandwidth = 0, clock_work = 0, busy = 0, power = 0;
    double first_time = 0, first_energy = 0, last_time = 0, last_energy = 0;
  };
  struct KnownPhase {
    int key;  // its arithmetic intensity from the hints (kNoKey without)
    double bandwidth;
    size_t index;
  };

  double budget() const { return o_.max_slowdown * o_.budget_share; }
  double speed(const Measurement& m) const { return by_bandwidth_ ? m.bandwidth : m.clock_work; }

  // Hints: a change of arithmetic intensity is a new phase.
  void follow(const WorkloadHint& hint) {
    if (!(hint.bytes > 0 || hint.flops > 0)) return;  // nothing started this period
    hinted_ = true;
    const int key = intensity_key(hint);
    // A new intensity counts once it is seen twice running: a period that straddles two phases
    // blends them into an intensity of neither.
    const bool settled = key == seen_key_;
    seen_key_ = key;
    if (key == key_ || !settled) return;
    key_ = key;
    const auto known = std::find_if(known_.begin(), known_.end(), [&](const KnownPhase& k) { return k.key == key; });
    if (known != known_.end())
      hold(known->index);
    else
      start(Stage::Reference);
  }
  // Intensities in steps of a factor of sqrt(2).
  static int intensity_key(const WorkloadHint& h) {
    if (!(h.flops > 0)) return INT_MIN;
    if (!(h.bytes > 0)) return INT_MAX;
    return int(std::lround(2 * std::log2(h.flops / h.bytes)));
  }

  void observe(const Telemetry& now) {
    if (std::isnan(stage_since_)) stage_since_ = now.time_s;
    if (stage_ == Stage::Search && now.time_s > stage_since_ + o_.settle_s + o_.measure_s + kGiveUpS) {
      // Work too intermittent to measure this clock: taken as too slow, which errs towards speed.
      below_ = probe_;
      return next_probe();
    }
    if (now.utilization < kIdle) {  // nothing to measure; NaN (no sensor) counts as busy
      window_.restart = true;
      return;
    }
    if (window_.restart) window_ = {false, now.time_s + o_.settle_s};
    if (now.time_s < window_.measure_from - 1e-9) return;
    add(now);
    if (window_.last_time < window_.first_time + o_.measure_s - 1e-9) return;
    const Measurement m = measured();
    window_ = {false, now.time_s};  // the next measurement follows at once: the clock has not moved
    switch (stage_) {
      case Stage::Reference: return on_reference(m);
      case Stage::Search: return on_probe(m);
      case Stage::Hold: return on_hold(m);
    }
  }
  void add(const Telemetry& t) {
    const double busy = std::isnan(t.utilization) ? 1 : t.utilization;
    if (window_.n == 0) {
      window_.first_time = t.time_s;
      window_.first_energy = t.energy_j;
    }
    ++window_.n;
    window_.bandwidth += std::isnan(t.memory_utilization) ? 0 : t.memory_utilization;
    window_.clock_work += busy * t.core_mhz;
    window_.busy += busy;
    window_.power += t.power_w;
    window_.last_time = t.time_s;
    window_.last_energy = t.energy_j;
  }
  Measurement measured() const {
    const double n = window_.n, seconds = window_.last_time - window_.first_time;
    const double from_energy = (window_.last_energy - window_.first_energy) / seconds;
    // The energy counter where there is one: exact over the window, where power readings are
    // averaged over the sensor's own window, which may reach back to the clock before.
    return {window_.bandwidth / n, window_.clock_work / n, window_.busy / n,
            std::isfinite(from_energy) ? from_energy : window_.power / n};
  }

  void on_reference(const Measurement& m) {
    reference_ = m;
    by_bandwidth_ = m.bandwidth >= kBandwidthSpeed;
    if (!hinted_) {
      const auto known = std::find_if(known_.begin(), known_.end(), [&](const KnownPhase& k) { return same(k, m); });
      if (known != known_.end()) {
        hold(known->index);
        verifying_ = true;
        return;
      }
    }
    search();
  }
  void search() {
    const Measurement& m = reference_;
    feasible_.assign(1, {top_, m.power_w / std::max(speed(m), 1e-12)});
    below_ = -1;
    above_ = ptrdiff_t(top_);
    if (m.bandwidth < kMemoryBound && m.busy >= kFullyBusy && std::isfinite(m.clock_work)) {
      // Not waiting on memory or on the host: the clock bounds its speed, so below the clock it
      // ran at less the budget it cannot keep up, and above that clock nothing changes.
      const auto first_at_least = [&](double mhz) {
        return std::lower_bound(clocks_->begin(), clocks_->end(), mhz - 1e-6) - clocks_->begin();
      };
      // (A clock above the top supported one, as a CPU's turbo is, leaves the whole range.)
      below_ = std::min<ptrdiff_t>(first_at_least(m.clock_work / m.busy / (1 + budget())) - 1, ptrdiff_t(top_) - 1);
      above_ = std::clamp<ptrdiff_t>(first_at_least(m.clock_work / m.busy), below_ + 1, ptrdiff_t(top_));
    }
    next_probe();
  }
  void on_probe(const Measurement& m) {
    const double s = speed(m);
    if (s * (1 + budget()) >= speed(reference_)) {
      above_ = probe_;
      feasible_.push_back({size_t(probe_), m.power_w / std::max(s, 1e-12)});
    } else {
      below_ = probe_;
    }
    next_probe();
  }
  void next_probe() {
    if (above_ - below_ > 1) {
      probe_ = below_ + (above_ - below_) / 2;
      return start(Stage::Search);
    }
    const auto best = std::min_element(feasible_.begin(), feasible_.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    remember(best->first);
    hold(best->first);
  }
  void on_hold(const Measurement& m) {
    if (!baseline_) {
      const bool too_slow = verifying_ && speed(m) * (1 + budget()) < speed(reference_);
      verifying_ = false;
      if (too_slow) return search();  // not the phase it looked like
      baseline_ = m;
      return;
    }
    const bool power_moved = std::abs(m.power_w - baseline_->power_w) > o_.change_threshold * baseline_->power_w;
    const bool bandwidth_moved = std::abs(m.bandwidth - baseline_->bandwidth) >
                                 std::max(kSameBandwidth, o_.change_threshold * baseline_->bandwidth);
    if (power_moved || bandwidth_moved) start(Stage::Reference);
  }

  void start(Stage stage) {
    stage_ = stage;
    stage_since_ = std::numeric_limits<double>::quiet_NaN();  // the next reading's time
    window_.restart = true;
  }
  void hold(size_t index) {
    hold_ = index;
    verifying_ = false;
    baseline_.reset();
    start(Stage::Hold);
  }
  // Without hints, phases are told apart by their reference measurements' bandwidth.
  static bool same(const KnownPhase& k, const Measurement& m) {
    return std::abs(k.bandwidth - m.bandwidth) <= kSameBandwidth;
  }
  void remember(size_t index) {
    const int key = hinted_ ? key_ : kNoKey;
    std::erase_if(known_, [&](const KnownPhase& k) { return hinted_ ? k.key == key : same(k, reference_); });
    if (known_.size() == kPhasesRemembered) known_.pop_front();
    known_.push_back({key, reference_.bandwidth, index});
  }

  EnergyOptimalOptions o_;
  const std::vector<double>* clocks_ = nullptr;  // supported, during a decision
  size_t top_ = 0;
  Stage stage_ = Stage::Reference;
  double stage_since_ = std::numeric_limits<double>::quiet_NaN();
  Window window_;
  Measurement reference_;
  bool by_bandwidth_ = false;
  bool hinted_ = false;
  int key_ = kNoKey, seen_key_ = kNoKey;             // the phase's; the last period's
  ptrdiff_t below_ = -1, above_ = 0, probe_ = 0;     // the bisection's bracket and probe
  std::vector<std::pair<size_t, double>> feasible_;  // clocks within the budget, energy per work
  size_t hold_ = 0;
  std::optional<Measurement> baseline_;  // the held clock's first measurement
  bool verifying_ = false;               // held for a phase recognised by its readings
  std::deque<KnownPhase> known_;
};

}  // namespace energy

HCI_END_NAMESPACE
