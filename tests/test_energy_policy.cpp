// The energy-optimal policy on the simulated H100: its targets against the device's default
// behaviour (the evaluation that `hci-govern --simulate` prints), the clock it settles on against
// a sweep of locked clocks, phases noticed and remembered, and the kernels' cost hints reaching it
// from hci's launches.
#include <hci/energy/energy_optimal.hpp>
#include <hci/energy/evaluation.hpp>
#include <hci/energy/launch_meter.hpp>
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

namespace {

using hci::energy::EnergyOptimalPolicy;
using hci::energy::Governor;
using hci::energy::Run;
using hci::energy::SimulatedDevice;

const hci::energy::SimulatedDeviceParameters h100 = hci::energy::h100_sxm();

double slowdown(const Run& run, const Run& baseline) { return run.seconds / baseline.seconds - 1; }
double saved(const Run& run, const Run& baseline) { return 1 - run.joules / baseline.joules; }

TEST_CASE("energy-optimal meets its targets on the simulated H100 against the default behaviour", "[energy]") {
  for (const bool hints : {false, true}) {
    for (const hci::energy::Workload& w : hci::energy::standard_workloads(h100)) {
      INFO(w.name << (hints ? " with hints" : ""));
      const Run baseline = hci::energy::run_default(h100, w);
      EnergyOptimalPolicy policy({0.05});
      const Run run = hci::energy::run_governed(h100, w, policy, {}, hints);
      CHECK(slowdown(run, baseline) <= 0.05);  // every workload within the budget
      CHECK(saved(run, baseline) > 0);
      if (w.name == "stream") CHECK(saved(run, baseline) >= 0.30);
      if (w.name == "mixed") CHECK(saved(run, baseline) >= 0.15);
      // The thermal guard keeps it a degree under the device's limit, where the device itself
      // runs up to the limit.
      if (w.name == "hot") CHECK(run.peak_temperature_c < h100.max_operating_c);
    }
  }
  // Compute-bound with a budget of 2%: no slower than that, and no more energy than the default.
  const hci::energy::Workload gemm = hci::energy::find_workload(h100, "gemm");
  const Run baseline = hci::energy::run_default(h100, gemm);
  EnergyOptimalPolicy tight({0.02});
  const Run run = hci::energy::run_governed(h100, gemm, tight);
  CHECK(slowdown(run, baseline) <= 0.02);
  CHECK(run.joules <= baseline.joules);
}

TEST_CASE("energy-optimal stays within its budget when the host keeps interrupting the work", "[energy]") {
  // GEMMs of 0.3 s with the host waiting 0.1 s between them (a synchronisation, say): readings
  // that mix work and idleness, which a measurement must neither trust nor wait on forever.
  hci::energy::Workload w{"interrupted", "", {}, h100.ambient_c};
  for (int i = 0; i < 150; ++i) {
    w.phases.push_back(hci::energy::gemm_phase(h100, 0.3));
    w.phases.push_back(hci::energy::idle_phase(0.1));
  }
  const Run baseline = hci::energy::run_default(h100, w);
  EnergyOptimalPolicy policy;
  const Run run = hci::energy::run_governed(h100, w, policy);
  CHECK(slowdown(run, baseline) <= 0.05);
  CHECK(run.joules <= baseline.joules);
}

// The least energy over clocks locked for the whole workload that keep it within `budget` of the
// default behaviour's time: what an oracle knowing the phase in advance would pick.
double best_locked_energy(const hci::energy::Workload& w, double budget) {
  const Run baseline = hci::energy::run_default(h100, w, 0.1);
  double best = baseline.joules;
  for (double mhz = h100.min_core_mhz; mhz <= h100.max_core_mhz; mhz += 3 * h100.core_step_mhz) {
    SimulatedDevice device(h100);
    device.set_core_clocks({h100.min_core_mhz, mhz});
    const Run locked = hci::energy::run_workload(device, w, 0.1, [] {});
    if (slowdown(locked, baseline) <= budget) best = std::min(best, locked.joules);
  }
  return best;
}

TEST_CASE("energy-optimal comes within a few percent of the best locked clock", "[energy]") {
  for (const char* name : {"stream", "gemm"}) {
    INFO(name);
    const hci::energy::Workload w = hci::energy::find_workload(h100, name);
    EnergyOptimalPolicy policy({0.05});
    const Run run = hci::energy::run_governed(h100, w, policy);
    // The policy holds its clock within 3% of the default's time (60% of the budget): the oracle
    // with that budget, less what probing costs.
    CHECK(run.joules <= best_locked_energy(w, 0.03) * 1.03);
  }
}

hci::energy::Phase stream(double s) { return hci::energy::stream_phase(h100, s); }
hci::energy::Phase gemm(double s) { return hci::energy::gemm_phase(h100, s); }

TEST_CASE("energy-optimal notices a new phase and sends a phase it has seen straight to its clock", "[energy]") {
  for (const bool hints : {false, true}) {
    INFO((hints ? "with hints" : "from the sensors alone"));
    SimulatedDevice gpu(h100);
    EnergyOptimalPolicy policy;
    Governor governor(gpu, policy);
    hci::energy::KernelCostMeter meter;
    if (hints) governor.take_hints_from(meter);
    for (const auto& phase : {stream(15), gemm(15), stream(15)}) gpu.enqueue(phase);
    double flops = 0, bytes = 0;
    auto period = [&] {
      meter.record(gpu.bytes_done() - bytes, gpu.flops_done() - flops);
      flops = gpu.flops_done();
      bytes = gpu.bytes_done();
      governor.tick();
      gpu.advance(0.05);
    };
    auto run_while = [&](const char* name) {
      while (gpu.busy() && gpu.running()->name == name) period();
    };
    run_while("stream");
    REQUIRE(policy.stage() == "hold");
    const double stream_clock = governor.applied().max_mhz;
    CHECK(stream_clock < 1000);  // memory-bound: near the bandwidth's knee
    run_while("gemm");
    CHECK(policy.stage() == "hold");
    CHECK(governor.applied().max_mhz > 1500);  // compute-bound: near the power-limited clock
    // The stream again: recognised, so no search; with hints, at once.
    const double start = gpu.time();
    bool searched = false;
    double back_at = 0;
    while (gpu.busy()) {
      period();
      searched = searched || policy.stage() == "search";
      if (back_at == 0 && governor.applied().max_mhz == stream_clock) back_at = gpu.time() - start;
    }
    CHECK_FALSE(searched);
    CHECK(back_at > 0);
    CHECK(back_at < (hints ? 0.2 : 1.5));
  }
}

TEST_CASE("the kernels' cost hints reach the governor's meter from hci's launches and from threads", "[energy]") {
  hci::energy::KernelCostMeter meter;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k) meter.record(2, 1);
    });
  for (std::thread& t : threads) t.join();
  const hci::energy::WorkloadHint all = meter.take();
  CHECK(all.bytes == 8000);
  CHECK(all.flops == 4000);
  CHECK(meter.take().bytes == 0);  // taken

  double hooked_bytes = 0;
  int hooked = 0;
  hci::set_launch_hook([&](const hci::Kernel& k) {
    hooked_bytes += k.bytes;
    ++hooked;
  });
  {
    hci::energy::MeteredLaunches metered(meter);
    const hci::Tensor x = hci::full({1000}, 3.0f);
    hci::eval((x * 2 + 1).exp());
  }
  const hci::energy::WorkloadHint launched = meter.take();
  CHECK(hooked > 0);  // the hook set before is still called
  CHECK(launched.bytes == hooked_bytes);
  CHECK(launched.bytes >= 2 * 1000 * 4);  // at least x read and the result written, float32
  CHECK(launched.flops >= 3 * 1000);      // a multiply, an add and an exp per element
  hooked = 0;
  hci::eval(hci::full({10}, 1.0f) + 1);
  CHECK(hooked > 0);  // put back when the metering ended
  CHECK(meter.take().bytes == 0);
  hci::set_launch_hook(nullptr);
}

TEST_CASE("bad energy-optimal settings are hci::Errors", "[energy]") {
  CHECK_THROWS_AS(EnergyOptimalPolicy({-0.1}), hci::Error);
  CHECK_THROWS_AS(EnergyOptimalPolicy({0.05, 0}), hci::Error);
  CHECK_THROWS_AS(EnergyOptimalPolicy({0.05, 0.6, 0.25, 0}), hci::Error);
  CHECK_THROWS_AS(hci::energy::find_workload(h100, "nope"), hci::Error);
}

}  // namespace
