// The simulated devices reproduce the data points their parameters were fixed from
// (hci/energy/sim_parameters.hpp names the sources S1 to S18): a check that the model says what
// the measurements say before any policy is judged on it. Also its sensors and actuator.
#include <hci/energy/simulated_device.hpp>

#include <catch2/catch.hpp>

#include <cmath>

namespace {

using hci::energy::ClockRange;
using hci::energy::Phase;
using hci::energy::SimulatedDevice;

// Work of one kind, enough to keep the device busy for about `seconds` at its top clock.
Phase gemm(double seconds) {  // 8192^3 BF16 products on the tensor cores
  const double n = 8192, count = seconds / 1.03e-3;
  return {"gemm", 2 * n * n * n * count, 3 * n * n * 2 * count, true, 0};
}
Phase fp32_burn(double seconds) {  // FMAs on the vector units, from registers
  return {"fp32", 66.9e12 * seconds, 0, false, 0};
}
Phase stream(double seconds) {  // memory-bound: a copy
  return {"stream", 0, 0.9 * 3.35e12 * seconds, false, 0};
}

// Runs the phase on a fresh H100 for `seconds` (it must last longer) and returns the device.
SimulatedDevice settled(const Phase& work, double seconds, ClockRange clocks = {345, 1980}) {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  gpu.set_core_clocks(clocks);
  gpu.enqueue(work);
  gpu.advance(seconds);
  REQUIRE(gpu.busy());
  return gpu;
}

// Energy and time of `work` on an H100 locked at `mhz` (the whole range with 0), run to its end.
std::pair<double, double> energy_and_time(const Phase& work, double mhz = 0) {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  if (mhz > 0) gpu.set_core_clocks({mhz, mhz});
  gpu.enqueue(work);
  while (gpu.busy()) gpu.advance(0.1);
  return {gpu.energy(), gpu.time()};
}

TEST_CASE("the simulated H100 idles as measured", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  gpu.advance(120);
  CHECK(gpu.core_mhz() == 345);  // S1: idle clock
  CHECK(gpu.power_now() >= 75);  // S1: 75-100 W
  CHECK(gpu.power_now() <= 100);
  CHECK(gpu.temperature() >= 28);  // S1: 28-31 C
  CHECK(gpu.temperature() <= 31);
  CHECK(gpu.throttle_reasons() == hci::energy::kThrottleIdle);
}

TEST_CASE("under GEMM the simulated H100 is held at its power limit near 1575 MHz", "[energy]") {
  const SimulatedDevice gpu = settled(gemm(300), 200);
  CHECK(gpu.core_mhz() >= 1545);  // S3: 1575 MHz on an H800 at 700 W
  CHECK(gpu.core_mhz() <= 1605);
  CHECK(gpu.power_now() >= 680);  // S6: 697-699 W
  CHECK(gpu.power_now() <= 700);
  CHECK(gpu.temperature() >= 55);  // S6: 55-67 C
  CHECK(gpu.temperature() <= 67);
  CHECK((gpu.throttle_reasons() & hci::energy::kThrottlePowerCap) != 0);
  // S4: 1830 MHz cannot be held at 700 W under full load; 1500 MHz can.
  CHECK(settled(gemm(300), 200, {1830, 1830}).core_mhz() < 1830);
  CHECK(settled(gemm(300), 200, {1500, 1500}).core_mhz() == 1500);
}

TEST_CASE("FP32 burns and memory-bound work stay under the simulated H100's power limit", "[energy]") {
  const SimulatedDevice burn = settled(fp32_burn(300), 200);
  CHECK(burn.core_mhz() == 1980);
  CHECK(burn.power_now() >= 580);  // S5: 580-650 W
  CHECK(burn.power_now() <= 650);
  SimulatedDevice decode = settled(stream(300), 200);
  CHECK(decode.read().memory_utilization == Approx(1));
  CHECK(settled(gemm(300), 200).read().memory_utilization < 0.15);  // 0.4 GB per 1.3 ms: a tenth
  // Below the bandwidth's knee (891 MHz) the bandwidth used falls with the clock.
  CHECK(settled(stream(300), 200, {600, 600}).read().memory_utilization == Approx(600 / 891.0).epsilon(0.01));
  CHECK(decode.core_mhz() == 1980);
  CHECK(decode.power_now() >= 137);  // S9: 137-300 W; S8: about 300 W
  CHECK(decode.power_now() <= 310);
}

TEST_CASE("a memory-bound phase at a locked clock saves energy as measured, and GEMM's energy is U-shaped",
          "[energy]") {
  // S9: locking the clock recovers up to 32% of a decode's energy at minimal throughput loss.
  const Phase copy = stream(20);
  const auto [top_energy, top_time] = energy_and_time(copy);
  double best = top_energy;
  for (double mhz = 345; mhz <= 1980; mhz += 15) {
    const auto [e, t] = energy_and_time(copy, mhz);
    if (t <= top_time * 1.02) best = std::min(best, e);
  }
  const double saved = 1 - best / top_energy;
  CHECK(saved >= 0.25);
  CHECK(saved <= 0.36);
  // S15: an A100's energy against its clock is U-shaped; the H100 model's GEMM too.
  const Phase work = gemm(10);
  const double low = energy_and_time(work, 345).first, middle = energy_and_time(work, 1200).first,
               high = energy_and_time(work, 1980).first;
  CHECK(middle < low);
  CHECK(middle < high);
}

TEST_CASE("the simulated H100 warms up over about a minute", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  const double start = gpu.temperature();
  gpu.enqueue(gemm(400));
  gpu.advance(300);
  const double rise = gpu.temperature() - start;
  SimulatedDevice again(hci::energy::h100_sxm());
  again.enqueue(gemm(400));
  double t = 0;
  while (again.temperature() - start < 0.95 * rise) {
    again.advance(1);
    t += 1;
  }
  CHECK(t >= 35);  // S7: a plateau within about 60 s
  CHECK(t <= 60);
}

TEST_CASE("a hot inlet makes the simulated H100 throttle at its temperature limit", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  gpu.set_ambient(55);
  gpu.enqueue(gemm(600));
  gpu.advance(400);
  CHECK((gpu.throttle_reasons() & hci::energy::kThrottleThermal) != 0);
  CHECK(gpu.temperature() <= 88);
  CHECK(gpu.temperature() >= 84);
  CHECK(gpu.core_mhz() < 1575);
}

TEST_CASE("the simulated sensors report late, quantised, averaged and noisy values", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm(), 7);
  gpu.advance(10);
  const double idle = gpu.power_now();
  gpu.enqueue(fp32_burn(60));
  gpu.advance(0.5);  // half of NVML's 1 s window
  const hci::energy::Telemetry half = gpu.read();
  CHECK(half.power_w > idle * 1.5);
  CHECK(half.power_w < gpu.power_now() * 0.8);  // the average still holds idle samples
  CHECK(half.temperature_c == std::round(half.temperature_c));
  CHECK(half.utilization == Approx(1));
  CHECK(half.memory_utilization == Approx(0));  // from registers
  CHECK(half.core_mhz == 1980);
  gpu.advance(5);
  double previous = 0;
  for (int i = 0; i < 50; ++i) {  // the energy counter only counts up, in millijoules
    const hci::energy::Telemetry t = gpu.read();
    CHECK(t.energy_j >= previous);
    CHECK(std::abs(t.energy_j * 1000 - std::round(t.energy_j * 1000)) < 1e-6);
    CHECK(std::abs(t.power_w / gpu.power_now() - 1) < 0.08);  // 1.5% noise, 5 standard deviations
    previous = t.energy_j;
    gpu.advance(0.1);
  }
  // Reported 0.1 s late: the counter lags the true energy by about 0.1 s of power.
  const double lag = gpu.energy() - gpu.read().energy_j;
  CHECK(lag == Approx(0.1 * gpu.power_now()).epsilon(0.05));
}

TEST_CASE("clock ranges are snapped to supported clocks, and bad settings are hci::Errors", "[energy]") {
  SimulatedDevice gpu(hci::energy::h100_sxm());
  CHECK(gpu.supported_core_clocks().size() == 110);
  CHECK(gpu.supported_core_clocks().back() == 1980);
  gpu.set_core_clocks({1000, 1503});
  CHECK(gpu.core_clocks() == ClockRange{1005, 1500});  // the nearest supported clocks
  gpu.enqueue(stream(10));
  gpu.advance(1);
  CHECK(gpu.core_mhz() == 1500);
  CHECK((gpu.throttle_reasons() & hci::energy::kThrottleClockLimit) != 0);
  gpu.reset_core_clocks();
  gpu.advance(1);
  CHECK(gpu.core_mhz() == 1980);
  CHECK_THROWS_WITH(gpu.set_core_clocks({1500, 1000}), Catch::Contains("is empty"));
  CHECK_THROWS_WITH(gpu.set_core_clocks({2500, 3000}), Catch::Contains("outside the supported 345 to 1980 MHz"));
  CHECK_THROWS_WITH(gpu.set_core_clocks({NAN, 1000}), Catch::Contains("is empty"));
  CHECK_THROWS_WITH(gpu.enqueue({"bad", -1, 0, false, 0}), Catch::Contains("non-negative"));
  CHECK_THROWS_WITH(gpu.advance(-1), Catch::Contains("cannot advance"));
  // An idle phase takes its time at the lowest clock of the range.
  gpu.enqueue({"pause", 0, 0, false, 2});
  while (gpu.running() && gpu.running()->name != "pause") gpu.advance(0.05);
  gpu.advance(1);
  CHECK(gpu.core_mhz() == 345);
}

TEST_CASE("the simulated EPYC draws its TDP at its base clock with every core busy", "[energy]") {
  SimulatedDevice cpu(hci::energy::epyc_9654());
  CHECK(cpu.power_now() >= 95);  // S17: 100-111 W idle (Milan)
  CHECK(cpu.power_now() <= 115);
  cpu.set_core_clocks({2400, 2400});
  cpu.enqueue({"dgemm", 96 * 32 * 2.4e9 * 400, 1e9, false, 0});
  cpu.advance(300);
  CHECK(cpu.power_now() == Approx(360).epsilon(0.03));  // S16: TDP at base clock
  cpu.reset_core_clocks();
  cpu.advance(60);
  CHECK(cpu.core_mhz() < 3700);  // boost is power-limited with all cores busy
  CHECK(cpu.power_now() <= 360);
}

}  // namespace
