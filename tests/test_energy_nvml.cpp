// The NVML provider against the mock NVML (tests/mock_nvml.cpp, through HCI_NVML_PATH): telemetry
// in NVML's units, supported clocks, locking and resetting, and the governor's safety with
// failures injected: permission denied, the GPU lost mid-loop, an exception inside the loop.
// After every fault the clocks are as they were (unlocked), at once or through the journal.
#include <hci/energy/background.hpp>
#include <hci/energy/governor.hpp>
#include <hci/energy/guard.hpp>
#include <hci/energy/nvml.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace {

using hci::energy::ClockRange;
using hci::energy::Governor;
using hci::energy::NvmlDevice;

constexpr int kNoPermission = 4, kGpuIsLost = 15;

// The mock's control functions (the library hci loaded through HCI_NVML_PATH).
struct Mock {
  void (*fail)(const char*, int, long) = nullptr;
  long (*calls)(const char*) = nullptr;
  void (*set_root)(int) = nullptr;
  void (*set)(unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned long long) = nullptr;
  int (*locked)(unsigned, unsigned*, unsigned*) = nullptr;
  int (*initialised)() = nullptr;
  void (*set_memory_clock)(unsigned, unsigned) = nullptr;

  bool is_locked(unsigned index) const {
    unsigned low = 0, high = 0;
    return locked(index, &low, &high) != 0;
  }
  ClockRange lock_of(unsigned index) const {
    unsigned low = 0, high = 0;
    locked(index, &low, &high);
    return {double(low), double(high)};
  }
  // No faults, root, readings back to idle.
  void reset() const {
    fail("", 0, 0);
    set_root(1);
    for (unsigned i = 0; i < 2; ++i) set(i, 35, 80000, 0, 0, 345, 0x1);
  }
};

const Mock& mock() {
  static const Mock m = [] {
    const char* path = std::getenv("HCI_NVML_PATH");
    if (!path || !std::string(path).ends_with("libhci_mock_nvml.so")) {
      WARN("HCI_NVML_PATH does not name the mock NVML: skipped");
      std::exit(77);  // ctest's SKIP_RETURN_CODE
    }
    const auto keep = hci::energy::Nvml::open();  // loads it
    void* handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(handle);
    Mock found;
    auto take = [&](auto& function, const char* name) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(handle, name));
      REQUIRE(function);
    };
    take(found.fail, "hci_mock_nvml_fail");
    take(found.calls, "hci_mock_nvml_calls");
    take(found.set_root, "hci_mock_nvml_set_root");
    take(found.set, "hci_mock_nvml_set");
    take(found.locked, "hci_mock_nvml_locked");
    take(found.initialised, "hci_mock_nvml_initialised");
    take(found.set_memory_clock, "hci_mock_nvml_set_memory_clock");
    return found;
  }();
  m.reset();
  return m;
}

// A policy that wants the lowest clock, or throws after `throw_after` decisions.
class Lowest final : public hci::energy::Policy {
 public:
  explicit Lowest(int throw_after = -1) : left_(throw_after) {}
  std::string name() const override { return "lowest"; }
  ClockRange decide(const hci::energy::PolicyInput& in) override {
    if (left_ == 0) throw std::runtime_error("the policy failed (test)");
    --left_;
    return {in.supported.front(), in.supported.front()};
  }

 private:
  int left_;
};

std::filesystem::path journal_path() {
  return std::filesystem::temp_directory_path() / ("hci_test_nvml_" + std::to_string(getpid()) + ".journal");
}

TEST_CASE("NVML: telemetry in NVML's units and the supported clocks", "[energy][nvml]") {
  const Mock& m = mock();
  m.set_memory_clock(1, 1593);  // idle: the clocks listed are the top memory clock's all the same
  NvmlDevice gpu(1);
  m.set_memory_clock(1, 2619);
  CHECK(gpu.name() == "cuda:1");
  CHECK(gpu.model() == "NVIDIA H100 80GB HBM3 (mock)");
  const auto clocks = gpu.supported_core_clocks();
  REQUIRE(clocks.size() == 110);  // 345 to 1980 in 15s, listed highest first, kept ascending
  CHECK(clocks.front() == 345);
  CHECK(clocks.back() == 1980);
  CHECK(gpu.core_clocks() == ClockRange{345, 1980});
  CHECK(gpu.temperature_limit_c() == 87);  // the slowdown threshold
  m.set(1, 61, 699500, 100, 37, 1575, 0x4);
  const hci::energy::Telemetry t = gpu.read();
  CHECK(t.temperature_c == 61);
  CHECK(t.power_w == Approx(699.5));  // milliwatts
  CHECK(t.utilization == Approx(1.0));
  CHECK(t.memory_utilization == Approx(0.37));
  CHECK(t.core_mhz == 1575);
  CHECK(t.memory_mhz == 2619);
  CHECK(t.throttle_reasons == hci::energy::kThrottlePowerCap);
  const double before = t.energy_j;
  CHECK(gpu.read().energy_j == Approx(before + 69.95));  // millijoules, counted from the start
  const hci::energy::Capabilities caps = gpu.capabilities();
  CHECK((caps.temperature && caps.power && caps.energy && caps.utilization && caps.read_clocks && caps.set_clocks));
  CHECK_THROWS_WITH(NvmlDevice(2), Catch::Contains("NVML sees 2 NVIDIA GPUs"));
}

TEST_CASE("NVML: a governor locks the clocks and its end resets them", "[energy][nvml]") {
  const Mock& m = mock();
  NvmlDevice gpu(0);
  Lowest lowest;
  {
    Governor g(gpu, lowest);
    g.tick();
    CHECK(m.is_locked(0));
    CHECK(m.lock_of(0) == ClockRange{345, 345});
    CHECK((gpu.read().throttle_reasons & hci::energy::kThrottleClockLimit) != 0);
  }
  CHECK_FALSE(m.is_locked(0));  // the whole range again: a reset, not a lock of it
  CHECK(m.calls("nvmlDeviceResetGpuLockedClocks") >= 1);
}

TEST_CASE("NVML: without root the governor observes only, and says why", "[energy][nvml]") {
  const Mock& m = mock();
  m.set_root(0);
  NvmlDevice gpu(0);
  Lowest lowest;
  Governor g(gpu, lowest);
  g.tick();
  CHECK(g.observe_only());
  CHECK_THAT(g.observe_only_reason(), Catch::Contains("Insufficient Permissions") && Catch::Contains("root"));
  CHECK_FALSE(m.is_locked(0));
  const long locks = m.calls("nvmlDeviceSetGpuLockedClocks");
  g.tick();
  CHECK(m.calls("nvmlDeviceSetGpuLockedClocks") == locks);  // no more attempts
}

TEST_CASE("NVML: after every injected fault the clocks are the originals", "[energy][nvml]") {
  const Mock& m = mock();
  const auto journal = journal_path();
  struct Fault {
    const char* what;
    const char* entry;
    int result;
  };
  for (const Fault fault : {Fault{"a reading fails", "nvmlDeviceGetTemperature", kGpuIsLost},
                            Fault{"a lock is refused", "nvmlDeviceSetGpuLockedClocks", kNoPermission},
                            Fault{"the policy throws", nullptr, 0}, Fault{"the GPU is lost", "*", kGpuIsLost}}) {
    for (const long after : {0L, 3L, 12L}) {
      INFO(fault.what << " after " << after << " calls");
      m.reset();
      NvmlDevice gpu(0);
      Lowest lowest(fault.entry ? -1 : int(after));
      std::vector<std::string> failures;
      {
        hci::energy::ClockGuard guard(journal);
        Governor g(gpu, lowest, {}, &guard);
        if (fault.entry) m.fail(fault.entry, fault.result, after);
        try {
          for (int i = 0; i < 20; ++i) g.tick();
        } catch (const std::exception&) {
        }
        failures = guard.restore_all();
      }
      m.fail("", 0, 0);  // the GPU is back (if it was lost)
      // Lost after the first lock (a reading takes 7 calls, the lock 1): the restore fails too.
      if (std::string(fault.what) == "the GPU is lost" && after == 12) CHECK_FALSE(failures.empty());
      if (!failures.empty()) {  // the GPU was lost: the journal restores once it is back
        CHECK(std::string(fault.what) == "the GPU is lost");
        CHECK_THAT(failures.front(), Catch::Contains("GPU is lost"));
        REQUIRE(std::filesystem::exists(journal));
        CHECK(hci::energy::restore_from_journal(journal, [&](const std::string&) { return &gpu; }).empty());
      }
      CHECK_FALSE(m.is_locked(0));
      CHECK_FALSE(std::filesystem::exists(journal));
    }
  }
}

// Waits up to two seconds for `done`.
template <class Done>
bool eventually(Done done) {
  for (int i = 0; i < 200 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

TEST_CASE("NVML: a governor on its own thread holds the clocks until stopped; a lost GPU ends it", "[energy][nvml]") {
  const Mock& m = mock();
  NvmlDevice gpu(0);
  Lowest lowest;
  hci::energy::GovernorOptions options;
  options.period_s = 0.01;
  {
    hci::energy::BackgroundGovernor governor(gpu, lowest, options);
    CHECK(eventually([&] { return m.is_locked(0); }));
    governor.stop();
    CHECK_FALSE(m.is_locked(0));
    CHECK(governor.error().empty());
    CHECK(governor.periods() > 0);
  }
  {
    hci::energy::BackgroundGovernor governor(gpu, lowest, options);
    CHECK(eventually([&] { return m.is_locked(0); }));
    m.fail("nvmlDeviceGetTemperature", kGpuIsLost, 0);
    CHECK(eventually([&] { return !governor.error().empty(); }));
    CHECK_THAT(governor.error(), Catch::Contains("GPU is lost"));
    CHECK_FALSE(m.is_locked(0));  // restored at once: only the temperature was lost
    m.fail("", 0, 0);
  }
}

TEST_CASE("NVML: a missing library or a driver that will not start is an hci::Error", "[energy][nvml]") {
  mock();
  const std::string mock_path = std::getenv("HCI_NVML_PATH");
  setenv("HCI_NVML_PATH", "/nonexistent/libnvidia-ml.so.1", 1);
  CHECK_THROWS_WITH(hci::energy::Nvml::open(), Catch::Contains("NVML") && Catch::Contains("/nonexistent"));
  setenv("HCI_NVML_PATH", mock_path.c_str(), 1);
  setenv("HCI_MOCK_NVML_INIT_RESULT", "9", 1);
  CHECK_THROWS_WITH(hci::energy::Nvml::open(), Catch::Contains("nvmlInit: Driver Not Loaded"));
  unsetenv("HCI_MOCK_NVML_INIT_RESULT");
  {
    const auto nvml = hci::energy::Nvml::open();
    CHECK(mock().initialised() == 1);
  }
  CHECK(mock().initialised() == 0);  // shut down when the last user let go
}

}  // namespace
