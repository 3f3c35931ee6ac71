// The simulated evaluation: workloads made of phases, run on a simulated device under its own
// default behaviour and under a governor with each policy, with the time, energy, clocks and
// temperatures that result. What `hci-govern --simulate` prints and plots, and what the tests
// check the policies' targets on. Every figure it gives is the model's: sim_parameters.hpp says
// which of the model's numbers were measured and which assumed.
#pragma once

#include <hci/energy/cost_meter.hpp>
#include <hci/energy/governor.hpp>
#include <hci/energy/simulated_device.hpp>
#include <hci/error.hpp>

#include <algorithm>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

struct Workload {
  std::string name, description;
  std::vector<Phase> phases;
  double ambient_c = 0;  // the inlet's temperature
};

// Phases sized by how long they take at the device's top clock.
// Memory-bound: a triad in FP32 (2 FLOPs per 12 bytes), at the device's bandwidth.
inline Phase stream_phase(const SimulatedDeviceParameters& p, double seconds) {
  const double bytes = p.bandwidth_bytes_per_s * seconds;
  return {"stream", bytes / 6, bytes, false, 0};
}
// Compute-bound: square BF16 GEMMs of 8192 on the matrix units (3 n^2 values of 2 bytes moved
// per 2 n^3 FLOPs).
inline Phase gemm_phase(const SimulatedDeviceParameters& p, double seconds) {
  const double flops = p.matrix_flops_per_cycle * p.max_core_mhz * 1e6 * seconds;
  return {"gemm", flops, flops * 3 / 8192, true, 0};
}
// FP32 arithmetic on the vector units from registers and caches (activations, say): 64 FLOPs per
// byte from memory.
inline Phase vector_phase(const SimulatedDeviceParameters& p, double seconds) {
  const double flops = p.vector_flops_per_cycle * p.max_core_mhz * 1e6 * seconds;
  return {"vector", flops, flops / 64, false, 0};
}
inline Phase idle_phase(double seconds) { return {"idle", 0, 0, false, seconds}; }

// The workloads of the evaluation, on device `p`.
inline std::vector<Workload> standard_workloads(const SimulatedDeviceParameters& p) {
  auto repeat = [](int times, const std::vector<Phase>& phases) {
    std::vector<Phase> all;
    for (int i = 0; i < times; ++i) all.insert(all.end(), phases.begin(), phases.end());
    return all;
  };
  const double inlet = p.ambient_c;
  return {
      {"stream", "memory-bound: 60 s of FP32 triads", {stream_phase(p, 60)}, inlet},
      {"gemm", "compute-bound: 60 s of BF16 GEMMs", {gemm_phase(p, 60)}, inlet},
      // An LLM server's batches: the prompt's prefill is GEMMs, the token-by-token decode reads
      // every weight per token (memory-bound) and takes most of a request's time, then a pause
      // before the next batch. The proportions are an assumption; the saving follows the share
      // of memory-bound energy, which `training` shows with less of it.
      {"mixed", "LLM serving, 6 batches of: prefill GEMMs 2 s, memory-bound decode 8 s, idle 1 s",
       repeat(6, {gemm_phase(p, 2), stream_phase(p, 8), idle_phase(1)}), inlet},
      {"training", "5 steps of: GEMMs 4 s, memory-bound 6 s, FP32 vector 2 s, idle 1 s",
       repeat(5, {gemm_phase(p, 4), stream_phase(p, 6), vector_phase(p, 2), idle_phase(1)}), inlet},
      {"hot", "thermally constrained: 90 s of BF16 GEMMs with a 55 C inlet", {gemm_phase(p, 90)}, 55},
  };
}

inline Workload find_workload(const SimulatedDeviceParameters& p, const std::string& name) {
  std::string names;
  for (Workload& w : standard_workloads(p)) {
    if (w.name == name) return w;
    names += (names.empty() ? "" : ", ") + w.name;
  }
  throw Error(detail::format("no simulated workload named '{}' (there are: {})", name, names));
}

// One run of a workload, as the device's true state saw it.
struct Run {
  std::string policy;  // "default" for the device's own behaviour
  double seconds = 0, joules = 0;
  double mean_busy_mhz = 0;  // the core clock averaged over the time with work
  double peak_temperature_c = 0;
  int writes = 0;  // to the clocks
  struct Sample {
    double time_s, core_mhz, temperature_c, power_w;
  };
  std::vector<Sample> trace;  // once per period
};

// Runs `w` on a fresh device, calling `each_period` before every period.
template <class EachPeriod>
Run run_workload(SimulatedDevice& device, const Workload& w, double period_s, EachPeriod each_period) {
  HCI_CHECK(period_s > 0, "a simulated run needs a positive period, not {} s", period_s);
  device.set_ambient(w.ambient_c);
  for (const Phase& phase : w.phases) device.enqueue(phase);
  Run run;
  double busy_mhz = 0, busy_s = 0;
  while (device.busy()) {
    each_period();
    const bool working = device.running()->idle_s == 0;
    device.advance(period_s);
    if (working) {
      busy_mhz += device.core_mhz() * period_s;
      busy_s += period_s;
    }
    run.peak_temperature_c = std::max(run.peak_temperature_c, device.temperature());
    run.trace.push_back({device.time(), device.core_mhz(), device.temperature(), device.power_now()});
  }
  run.seconds = device.time();
  run.joules = device.energy();
  run.mean_busy_mhz = busy_s > 0 ? busy_mhz / busy_s : 0;
  return run;
}

// Under the device's own behaviour: its boost, power and thermal limits, and nothing else.
inline Run run_default(const SimulatedDeviceParameters& p, const Workload& w, double period_s = 0.05) {
  SimulatedDevice device(p);
  Run run = run_workload(device, w, period_s, [] {});
  run.policy = "default";
  return run;
}

// Under a governor with `policy`; with `hints`, the policy is told each period the FLOPs and
// bytes of the work done in it, as a governor in the application's process is told the kernels'.
inline Run run_governed(const SimulatedDeviceParameters& p, const Workload& w, Policy& policy,
                        GovernorOptions options = {}, bool hints = false) {
  SimulatedDevice device(p);
  Governor governor(device, policy, options);
  KernelCostMeter meter;
  if (hints) governor.take_hints_from(meter);
  double flops = 0, bytes = 0;
  Run run = run_workload(device, w, options.period_s, [&] {
    meter.record(device.bytes_done() - bytes, device.flops_done() - flops);
    flops = device.flops_done();
    bytes = device.bytes_done();
    governor.tick();
  });
  run.policy = policy.name() + (hints ? " +hints" : "");
  run.writes = governor.writes();
  return run;
}

}  // namespace energy

HCI_END_NAMESPACE
