// The Linux sysfs provider over fake trees: cpufreq policies, thermal zones, RAPL packages whose
// counters wrap around, /proc/stat; files missing, unreadable or unwritable (injected errnos, as
// tests may run as root, whom file modes do not stop).
#include <hci/energy/sysfs.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

namespace {

namespace fs = std::filesystem;
using hci::energy::ClockRange;
using hci::energy::SysfsDevice;

// A fake sysfs tree in a directory of its own, removed at the end.
struct FakeTree {
  fs::path root =
      fs::temp_directory_path() / ("hci_test_sysfs_" + std::to_string(getpid()) + "_" + std::to_string(counter()++));
  FakeTree() { fs::create_directories(root); }
  ~FakeTree() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  void put(const std::string& path, const std::string& value) const {
    fs::create_directories((root / path).parent_path());
    std::ofstream(root / path) << value << "\n";
  }
  std::string get(const std::string& path) const {
    std::ifstream in(root / path);
    std::string line;
    std::getline(in, line);
    return line;
  }
  // Two policies with a frequency table, two thermal zones, one RAPL package with a subzone.
  void populate() const {
    for (const char* policy : {"policy0", "policy4"}) {
      const std::string dir = std::string("sys/devices/system/cpu/cpufreq/") + policy + "/";
      put(dir + "cpuinfo_min_freq", "1500000");
      put(dir + "cpuinfo_max_freq", "3700000");
      put(dir + "scaling_min_freq", "1500000");
      put(dir + "scaling_max_freq", "3700000");
      put(dir + "scaling_cur_freq", policy == std::string("policy0") ? "2400000" : "3000000");
      put(dir + "scaling_available_frequencies", "3700000 2400000 1900000 1500000");
    }
    put("sys/class/thermal/thermal_zone0/temp", "45000");
    put("sys/class/thermal/thermal_zone1/temp", "61500");
    put("sys/class/powercap/intel-rapl:0/name", "package-0");
    put("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143999938");
    put("sys/class/powercap/intel-rapl:0/energy_uj", "262000000000");
    put("sys/class/powercap/intel-rapl:0:0/energy_uj", "5");  // a subzone (core): not counted
    put("proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0");
  }
};

// Real files, but reads of those in `unreadable` and writes of those in `unwritable` fail with
// the errno given, as root-only files do for other users.
struct DenyingFiles : hci::energy::SysfsFiles {
  std::map<fs::path, int> unreadable, unwritable;
  std::optional<std::string> read(const fs::path& path) override {
    if (auto it = unreadable.find(path); it != unreadable.end()) {
      errno = it->second;
      return std::nullopt;
    }
    return SysfsFiles::read(path);
  }
  int write(const fs::path& path, const std::string& value) override {
    if (auto it = unwritable.find(path); it != unwritable.end()) return it->second;
    return SysfsFiles::write(path, value);
  }
};

TEST_CASE("sysfs: temperature, clocks, utilization and RAPL energy across its wraparound", "[energy]") {
  FakeTree tree;
  tree.populate();
  double now = 100;
  SysfsDevice cpu(tree.root, nullptr, [&] { return now; });
  const hci::energy::Capabilities caps = cpu.capabilities();
  CHECK(caps.temperature);
  CHECK(caps.energy);
  CHECK(caps.power);
  CHECK(caps.utilization);
  CHECK(caps.set_clocks);

  // 0.5 s later: the counter wrapped (262000000000 -> 143999938 µJ to the range, then 56000000).
  tree.put("sys/class/powercap/intel-rapl:0/energy_uj", "56000000");
  tree.put("proc/stat", "cpu  150 0 150 900 0 0 0 0 0 0");  // 100 busy of 200 jiffies
  now = 100.5;
  const hci::energy::Telemetry t = cpu.read();
  CHECK(t.time_s == 100.5);
  CHECK(t.temperature_c == 61.5);  // the hottest zone
  CHECK(t.core_mhz == 2700);       // the policies' mean
  CHECK(t.energy_j == Approx(143.999938 + 56));
  CHECK(t.power_w == Approx((143.999938 + 56) / 0.5));
  CHECK(t.utilization == Approx(0.5));
  CHECK(std::isnan(t.memory_mhz));
  CHECK(std::isnan(t.memory_utilization));

  tree.put("sys/class/powercap/intel-rapl:0/energy_uj", "86000000");
  now = 101;
  const hci::energy::Telemetry later = cpu.read();
  CHECK(later.energy_j == Approx(t.energy_j + 30));  // monotonic, accumulated
  CHECK(later.power_w == Approx(60));
}

TEST_CASE("sysfs: a large server's clock is the mean of 16 policies spread over its CPUs", "[energy]") {
  FakeTree tree;
  for (int policy = 0; policy < 192; ++policy)
    tree.put("sys/devices/system/cpu/cpufreq/policy" + std::to_string(policy) + "/scaling_cur_freq",
             policy % 2 ? "3000000" : "2000000");
  struct CountingFiles : hci::energy::SysfsFiles {
    int clock_reads = 0;
    std::optional<std::string> read(const fs::path& path) override {
      if (path.filename() == "scaling_cur_freq") ++clock_reads;
      return SysfsFiles::read(path);
    }
  };
  auto files = std::make_shared<CountingFiles>();
  SysfsDevice cpu(tree.root, files);
  files->clock_reads = 0;
  const double mhz = cpu.read().core_mhz;
  CHECK(files->clock_reads == 16);
  CHECK(mhz >= 2000);  // a mean of the two clocks the policies run at
  CHECK(mhz <= 3000);
}

TEST_CASE("sysfs: clock ranges are written to every policy in an order the kernel accepts", "[energy]") {
  FakeTree tree;
  tree.populate();
  SysfsDevice cpu(tree.root);
  CHECK(cpu.supported_core_clocks() == std::vector<double>{1500, 1900, 2400, 3700});
  CHECK(cpu.core_clocks() == ClockRange{1500, 3700});
  cpu.set_core_clocks({1900, 2400});
  for (const char* policy : {"policy0", "policy4"}) {
    const std::string dir = std::string("sys/devices/system/cpu/cpufreq/") + policy + "/";
    CHECK(tree.get(dir + "scaling_min_freq") == "1900000");
    CHECK(tree.get(dir + "scaling_max_freq") == "2400000");
  }
  CHECK(cpu.core_clocks() == ClockRange{1900, 2400});
  // Raising the floor above the current ceiling writes the ceiling first.
  auto files = std::make_shared<DenyingFiles>();
  SysfsDevice ordered(tree.root, files);
  files->unwritable[tree.root / "sys/devices/system/cpu/cpufreq/policy0/scaling_min_freq"] = EINVAL;
  CHECK_THROWS_WITH(ordered.set_core_clocks({3700, 3700}), Catch::Contains("failed: Invalid argument"));
  CHECK(tree.get("sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq") == "3700000");  // written first
  files->unwritable.clear();
  cpu.reset_core_clocks();
  CHECK(cpu.core_clocks() == ClockRange{1500, 3700});
  CHECK_THROWS_WITH(cpu.set_core_clocks({3000, 2000}), Catch::Contains("is empty"));
  // Without a frequency table, 100 MHz steps from cpuinfo_min_freq to cpuinfo_max_freq.
  fs::remove(tree.root / "sys/devices/system/cpu/cpufreq/policy0/scaling_available_frequencies");
  const std::vector<double> steps = cpu.supported_core_clocks();
  CHECK(steps.size() == 23);
  CHECK(steps.front() == 1500);
  CHECK(steps.back() == 3700);
}

TEST_CASE("sysfs: missing and unreadable files read as NaN with the reason; denied writes are PermissionDenied",
          "[energy]") {
  FakeTree tree;
  tree.populate();
  auto files = std::make_shared<DenyingFiles>();
  files->unreadable[tree.root / "sys/class/powercap/intel-rapl:0/energy_uj"] = EACCES;
  files->unwritable[tree.root / "sys/devices/system/cpu/cpufreq/policy4/scaling_max_freq"] = EACCES;
  SysfsDevice cpu(tree.root, files);
  CHECK_FALSE(cpu.capabilities().energy);
  CHECK_FALSE(cpu.capabilities().power);
  CHECK(cpu.energy_unavailable_reason() == "RAPL energy counters are readable by root only");
  const hci::energy::Telemetry t = cpu.read();
  CHECK(std::isnan(t.energy_j));
  CHECK(std::isnan(t.power_w));
  CHECK(t.temperature_c == 61.5);
  CHECK_THROWS_AS(cpu.set_core_clocks({1500, 2400}), hci::energy::PermissionDenied);
  CHECK_THROWS_WITH(cpu.set_core_clocks({1500, 2400}), Catch::Contains("not permitted") && Catch::Contains("root"));

  FakeTree empty;  // a machine without cpufreq, thermal zones, RAPL or /proc/stat
  SysfsDevice bare(empty.root);
  const hci::energy::Capabilities caps = bare.capabilities();
  CHECK_FALSE(caps.temperature);
  CHECK_FALSE(caps.energy);
  CHECK_FALSE(caps.utilization);
  CHECK_FALSE(caps.set_clocks);
  CHECK(caps.observe_only_reason == "no cpufreq policies");
  CHECK(bare.energy_unavailable_reason() == "no RAPL powercap zones");
  const hci::energy::Telemetry nothing = bare.read();
  CHECK(std::isnan(nothing.temperature_c));
  CHECK(std::isnan(nothing.core_mhz));
  CHECK(std::isnan(nothing.utilization));
  CHECK_THROWS_WITH(bare.set_core_clocks({1000, 2000}), Catch::Contains("no cpufreq policies"));
  CHECK_THROWS_WITH(bare.supported_core_clocks(), Catch::Contains("no cpufreq policies"));

  // Garbage in a file is unreadable, not a crash.
  tree.put("sys/class/thermal/thermal_zone1/temp", "hot");
  SysfsDevice garbled(tree.root);
  CHECK(garbled.read().temperature_c == 45);
}

}  // namespace
