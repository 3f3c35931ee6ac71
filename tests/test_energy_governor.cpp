// The governor's control loop and the simple policies on the simulated H100: what each policy
// does to clocks, power and temperature; the thermal guard and the thermal-cap policy keeping
// the true temperature under the limit in a hot inlet; dry-run making no writes; a refused write
// leaving the governor observing; the original clocks restored at the end; rate limit and
// hysteresis.
#include <hci/energy/governor.hpp>
#include <hci/energy/simulated_device.hpp>

#include <catch2/catch.hpp>

#include <memory>

namespace {

using hci::energy::ClockRange;
using hci::energy::Governor;
using hci::energy::GovernorOptions;
using hci::energy::Phase;
using hci::energy::SimulatedDevice;

Phase gemm(double seconds) {
  const double n = 8192, count = seconds / 1.03e-3;
  return {"gemm", 2 * n * n * n * count, 3 * n * n * 2 * count, true, 0};
}
Phase stream(double seconds) { return {"stream", 0, 0.9 * 3.35e12 * seconds, false, 0}; }
Phase idle(double seconds) { return {"idle", 0, 0, false, seconds}; }

// The simulated device with every write to its clocks counted, and refused on request.
class Watched final : public hci::energy::Device {
 public:
  explicit Watched(SimulatedDevice& d) : d_(d) {}
  std::string name() const override { return d_.name(); }
  hci::energy::Capabilities capabilities() const override { return d_.capabilities(); }
  hci::energy::Telemetry read() override { return d_.read(); }
  std::vector<double> supported_core_clocks() override { return d_.supported_core_clocks(); }
  ClockRange core_clocks() override { return d_.core_clocks(); }
  void set_core_clocks(ClockRange r) override {
    ++writes;
    if (refuse) throw hci::energy::PermissionDenied("sim:h100: not permitted (test)");
    d_.set_core_clocks(r);
  }
  void reset_core_clocks() override {
    ++writes;
    d_.reset_core_clocks();
  }
  int writes = 0;
  bool refuse = false;

 private:
  SimulatedDevice& d_;
};

// Runs the governor every period while the device works for `seconds`; calls `each` after every
// period.
template <class Each>
void govern(SimulatedDevice& gpu, Governor& governor, double seconds, double period, Each each) {
  for (double t = 0; t < seconds; t += period) {
    governor.tick();
    gpu.advance(period);
    each();
  }
}
void govern(SimulatedDevice& gpu, Governor& governor, double seconds, double period = 0.05) {
  govern(gpu, governor, seconds, period, [] {});
}

TEST_CASE("performance and powersave: the top clock as the device would pick, or the lowest", "[energy]") {
  SimulatedDevice alone(hci::energy::h100_sxm()), governed(hci::energy::h100_sxm()), slow(hci::energy::h100_sxm());
  for (SimulatedDevice* d : {&alone, &governed, &slow}) d->enqueue(stream(30));
  alone.advance(20);
  hci::energy::PerformancePolicy performance;
  hci::energy::PowersavePolicy powersave;
  {
    Governor g(governed, performance);
    govern(governed, g, 20);
    CHECK(g.writes() == 0);  // the device's own range already
  }
  CHECK(governed.energy() == Approx(alone.energy()).epsilon(0.001));
  Governor g(slow, powersave);
  govern(slow, g, 20);
  CHECK(slow.core_mhz() == 345);
  CHECK(slow.power_now() < alone.power_now() * 0.75);
}

TEST_CASE("ondemand: the top clock while busy, slow while mostly idle", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  hci::energy::OndemandPolicy ondemand;
  Governor g(gpu, ondemand);
  gpu.enqueue(gemm(5));
  gpu.enqueue(idle(5));
  govern(gpu, g, 3);
  CHECK(g.applied().max_mhz == 1980);
  CHECK(gpu.core_mhz() >= 1545);  // power-limited, as on its own
  while (gpu.running() && gpu.running()->name != "idle") govern(gpu, g, 0.5);
  govern(gpu, g, 3);
  CHECK(g.applied().max_mhz == 345);
  CHECK(gpu.core_mhz() == 345);
}

TEST_CASE("in a hot inlet the thermal-cap policy and the guard keep the true temperature under the limit", "[energy]") {
  for (const double ambient : {45.0, 55.0, 62.0}) {
    INFO("inlet " << ambient << " C");
    SimulatedDevice gpu(hci::energy::h100_sxm());
    gpu.set_ambient(ambient);
    gpu.enqueue(gemm(600));
    hci::energy::ThermalCapPolicy cap(5);
    GovernorOptions options;
    options.temperature_limit_c = 80;
    Governor g(gpu, cap, options);
    double hottest = 0;
    govern(gpu, g, 400, 0.05, [&] { hottest = std::max(hottest, gpu.temperature()); });
    CHECK(hottest < 80);
    CHECK(gpu.temperature() > 73);  // and not far below the target of 75: the clock is not given away
    CHECK(gpu.temperature() < 77);
  }
  // The guard alone, under a policy that wants the top clock: it takes over near the limit.
  SimulatedDevice gpu(hci::energy::h100_sxm());
  gpu.set_ambient(55);
  gpu.enqueue(gemm(600));
  hci::energy::PerformancePolicy performance;
  GovernorOptions options;
  options.temperature_limit_c = 80;
  Governor g(gpu, performance, options);
  double hottest = 0;
  bool guarded = false;
  govern(gpu, g, 400, 0.05, [&] {
    hottest = std::max(hottest, gpu.temperature());
    guarded = guarded || g.guarding();
  });
  CHECK(guarded);
  CHECK(hottest < 80);
}

TEST_CASE("dry-run decides and writes nothing; a refused write leaves the governor observing", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  Watched device(gpu);
  gpu.enqueue(stream(30));
  hci::energy::PowersavePolicy powersave;
  GovernorOptions dry;
  dry.dry_run = true;
  {
    Governor g(device, powersave, dry);
    govern(gpu, g, 2);
    CHECK(g.applied() == ClockRange{345, 345});  // what it would have written
  }
  CHECK(device.writes == 0);
  CHECK(gpu.core_clocks() == ClockRange{345, 1980});

  device.refuse = true;
  {
    Governor g(device, powersave);
    govern(gpu, g, 2);
    CHECK(g.observe_only());
    CHECK_THAT(g.observe_only_reason(), Catch::Contains("not permitted"));
    CHECK(device.writes <= 2);        // the refused write, and a try to undo it; then no more
    CHECK(g.history().size() == 40);  // still reading
  }
  CHECK(gpu.core_clocks() == ClockRange{345, 1980});
}

TEST_CASE("the clocks set before the governor started are restored when it ends", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  gpu.set_core_clocks({600, 1500});
  gpu.enqueue(stream(30));
  hci::energy::PowersavePolicy powersave;
  {
    Governor g(gpu, powersave);
    govern(gpu, g, 1);
    CHECK(gpu.core_clocks() == ClockRange{345, 345});
  }
  CHECK(gpu.core_clocks() == ClockRange{600, 1500});
}

TEST_CASE("the ceiling rises at the rate limit and small moves wait for the hysteresis", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  gpu.set_core_clocks({345, 345});
  gpu.enqueue(stream(30));
  hci::energy::PerformancePolicy performance;
  GovernorOptions options;
  options.max_rise_mhz = 100;
  Governor g(gpu, performance, options);
  std::vector<double> ceilings;
  govern(gpu, g, 1, 0.05, [&] { ceilings.push_back(g.applied().max_mhz); });
  for (size_t i = 1; i < ceilings.size(); ++i) CHECK(ceilings[i] - ceilings[i - 1] <= 100);
  CHECK(ceilings.back() == 1980);  // 1635 MHz up in steps of 90 (100 snapped down): 19 periods

  // A policy asking for 20 MHz more than applied is not worth a write under 50 MHz of hysteresis.
  struct Nudge final : hci::energy::Policy {
    std::string name() const override { return "nudge"; }
    ClockRange decide(const hci::energy::PolicyInput&) override { return {345, 1020}; }
  } nudge;
  SimulatedDevice other(hci::energy::h100_sxm());
  other.set_core_clocks({345, 1005});
  GovernorOptions lazy;
  lazy.hysteresis_mhz = 50;
  Governor h(other, nudge, lazy);
  govern(other, h, 1);
  CHECK(h.writes() == 0);
  CHECK(other.core_clocks() == ClockRange{345, 1005});
}

TEST_CASE("bad governor settings are hci::Errors", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  hci::energy::PerformancePolicy performance;
  GovernorOptions options;
  options.period_s = 0;
  CHECK_THROWS_WITH(Governor(gpu, performance, options), Catch::Contains("period must be positive"));
}

}  // namespace
