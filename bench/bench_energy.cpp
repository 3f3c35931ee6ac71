// The energy governor's overhead: the CPU time of one period (read the device, decide, maybe
// write) under the energy-optimal policy, as the share of a core it takes at a 50 ms period
// (counter core_percent_at_50ms; the target is under 1). On a fake sysfs tree shaped like a
// 2 x 96-core server (192 cpufreq policies, 4 thermal zones, 2 RAPL packages), beside a
// hand-written loop reading the same files once each (16 of the policies' clocks, as the provider
// samples them), the least any telemetry costs; and on the simulated H100 (its physics advanced
// outside the timing), where the policy's own cost shows.
#include <hci/energy.hpp>

#include <benchmark/benchmark.h>

#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace energy = hci::energy;

constexpr double kPeriodS = 0.05;

// A sysfs tree in a temporary directory, removed at exit.
struct ServerTree {
  fs::path root = fs::temp_directory_path() / ("hci_bench_sysfs_" + std::to_string(getpid()));
  std::vector<fs::path> files;  // what one reading reads
  ServerTree() {
    auto put = [&](const std::string& path, const std::string& value, bool read_each_period) {
      fs::create_directories((root / path).parent_path());
      std::ofstream(root / path) << value << "\n";
      if (read_each_period) files.push_back(root / path);
    };
    for (int cpu = 0; cpu < 192; ++cpu) {
      const std::string dir = "sys/devices/system/cpu/cpufreq/policy" + std::to_string(cpu) + "/";
      put(dir + "cpuinfo_min_freq", "1500000", false);
      put(dir + "cpuinfo_max_freq", "3700000", false);
      put(dir + "scaling_min_freq", "1500000", false);
      put(dir + "scaling_max_freq", "3700000", false);
      put(dir + "scaling_cur_freq", "2400000", cpu % 12 == 0);  // the 16 the provider samples
      put(dir + "scaling_available_frequencies", "3700000 2400000 1900000 1500000", false);
    }
    for (int zone = 0; zone < 4; ++zone)
      put("sys/class/thermal/thermal_zone" + std::to_string(zone) + "/temp", "61500", true);
    for (int package = 0; package < 2; ++package) {
      const std::string dir = "sys/class/powercap/intel-rapl:" + std::to_string(package) + "/";
      put(dir + "max_energy_range_uj", "262143999938", false);
      put(dir + "energy_uj", "26200000000", true);
    }
    put("proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0", true);
  }
  ~ServerTree() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
};

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

// Runs `period` once per iteration, counting the CPU time it takes as a share of a 50 ms period;
// `untimed` runs after it, outside the count.
template <class Period, class Untimed>
void measure(benchmark::State& state, Period period, Untimed untimed) {
  double busy = 0;
  for (auto _ : state) {
    const double start = thread_cpu_seconds();
    period();
    busy += thread_cpu_seconds() - start;
    state.PauseTiming();
    untimed();
    state.ResumeTiming();
  }
  state.counters["core_percent_at_50ms"] = 100 * busy / double(state.iterations()) / kPeriodS;
}

// The reference: each file a reading needs, read once by a plain loop.
void BM_sysfs_files_read_by_hand(benchmark::State& state) {
  const ServerTree tree;
  std::string line;
  measure(
      state,
      [&] {
        for (const fs::path& file : tree.files) {
          std::ifstream in(file);
          std::getline(in, line);
          benchmark::DoNotOptimize(line.data());
        }
      },
      [] {});
  state.counters["files"] = double(tree.files.size());
}
BENCHMARK(BM_sysfs_files_read_by_hand)->Unit(benchmark::kMicrosecond);

void BM_governor_period_sysfs(benchmark::State& state) {
  const ServerTree tree;
  energy::SysfsDevice cpu(tree.root);
  energy::EnergyOptimalPolicy policy;
  energy::GovernorOptions options;
  options.dry_run = true;  // the files do not follow the clocks set
  energy::Governor governor(cpu, policy, options);
  measure(state, [&] { benchmark::DoNotOptimize(governor.tick().time_s); }, [] {});
}
BENCHMARK(BM_governor_period_sysfs)->Unit(benchmark::kMicrosecond);

void BM_governor_period_simulated_h100(benchmark::State& state) {
  energy::SimulatedDevice gpu(energy::h100_sxm());
  for (int i = 0; i < 1000; ++i) gpu.enqueue(energy::stream_phase(gpu.parameters(), 10));
  energy::EnergyOptimalPolicy policy;
  energy::Governor governor(gpu, policy);
  measure(state, [&] { benchmark::DoNotOptimize(governor.tick().time_s); }, [&] { gpu.advance(kPeriodS); });
}
BENCHMARK(BM_governor_period_simulated_h100)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
