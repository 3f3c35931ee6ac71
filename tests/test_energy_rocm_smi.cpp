// The ROCm SMI provider against the mock ROCm SMI (tests/mock_rocm_smi.cpp, through
// HCI_ROCM_SMI_PATH): telemetry in ROCm SMI's units, rsmi_frequencies_t in the layouts of ROCm 5
// and ROCm 6, a clock range as a mask of DPM levels, and the governor's safety with failures
// injected: permission denied, the GPU gone mid-loop, an exception inside the loop. After every
// fault the GPU is back in automatic mode, at once or through the journal.
#include <hci/energy/governor.hpp>
#include <hci/energy/guard.hpp>
#include <hci/energy/rocm_smi.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

using hci::energy::ClockRange;
using hci::energy::Governor;
using hci::energy::RocmSmiDevice;

constexpr int kFileError = 3, kPermission = 4;

struct Mock {
  void (*fail)(const char*, int, long) = nullptr;
  void (*set_root)(int) = nullptr;
  void (*set)(uint32_t, int64_t, uint64_t, uint32_t, uint32_t) = nullptr;
  uint64_t (*mask)(uint32_t) = nullptr;
  int (*initialised)() = nullptr;
  void reset() const {
    fail("", 0, 0);
    set_root(1);
    for (uint32_t i = 0; i < 2; ++i) set(i, 40000, 90000000, 0, 0);
  }
};

const Mock& mock() {
  static const Mock m = [] {
    const char* path = std::getenv("HCI_ROCM_SMI_PATH");
    if (!path || !std::string(path).ends_with("libhci_mock_rocm_smi.so")) {
      WARN("HCI_ROCM_SMI_PATH does not name the mock ROCm SMI: skipped");
      std::exit(77);  // ctest's SKIP_RETURN_CODE
    }
    const auto keep = hci::energy::RocmSmi::open();  // loads it
    void* handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(handle);
    Mock found;
    auto take = [&](auto& function, const char* name) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(handle, name));
      REQUIRE(function);
    };
    take(found.fail, "hci_mock_rsmi_fail");
    take(found.set_root, "hci_mock_rsmi_set_root");
    take(found.set, "hci_mock_rsmi_set");
    take(found.mask, "hci_mock_rsmi_mask");
    take(found.initialised, "hci_mock_rsmi_initialised");
    return found;
  }();
  m.reset();
  return m;
}

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

TEST_CASE("ROCm SMI: telemetry in its units, and clock levels in ROCm 5's and ROCm 6's layouts", "[energy][rocm]") {
  const Mock& m = mock();
  for (const char* version : {"5", "6"}) {
    INFO("ROCm SMI " << version);
    setenv("HCI_MOCK_RSMI_VERSION", version, 1);
    RocmSmiDevice gpu(1, hci::energy::RocmSmi::open());
    CHECK(gpu.name() == "rocm:1");
    CHECK(gpu.supported_core_clocks() == std::vector<double>{500, 900, 1300, 1700});
    CHECK(gpu.core_clocks() == ClockRange{500, 1700});
    CHECK(gpu.temperature_limit_c() == 100);  // the junction's critical temperature
    m.set(1, 71500, 551250000, 97, 64);
    const hci::energy::Telemetry t = gpu.read();
    CHECK(t.temperature_c == 71.5);      // millidegrees, the junction's
    CHECK(t.power_w == Approx(551.25));  // microwatts
    CHECK(t.utilization == Approx(0.97));
    CHECK(t.memory_utilization == Approx(0.64));
    CHECK(t.core_mhz == 1700);  // automatic: the top level
    CHECK(t.memory_mhz == 1600);
    CHECK(gpu.read().energy_j == Approx(t.energy_j + 55.125).epsilon(1e-4));  // 15.3 uJ counts
  }
  unsetenv("HCI_MOCK_RSMI_VERSION");
  CHECK_THROWS_WITH(RocmSmiDevice(2), Catch::Contains("ROCm SMI sees 2 AMD GPUs"));
}

TEST_CASE("ROCm SMI: ROCm 6's deep-sleep level is no clock to run at", "[energy][rocm]") {
  const Mock& m = mock();
  setenv("HCI_MOCK_RSMI_DEEP_SLEEP", "1", 1);
  RocmSmiDevice gpu(0);
  CHECK(gpu.supported_core_clocks() == std::vector<double>{500, 900, 1300, 1700});
  gpu.set_core_clocks({50, 1400});
  CHECK(m.mask(0) == 0b01110);  // 500, 900 and 1300 MHz: levels 1 to 3, after the sleep level
  gpu.reset_core_clocks();
  unsetenv("HCI_MOCK_RSMI_DEEP_SLEEP");
}

TEST_CASE("ROCm SMI: a range is the mask of the levels in it, and the end returns to automatic", "[energy][rocm]") {
  const Mock& m = mock();
  RocmSmiDevice gpu(0);
  gpu.set_core_clocks({800, 1400});
  CHECK(m.mask(0) == 0b0110);  // 900 and 1300 MHz
  CHECK(gpu.read().core_mhz == 1300);
  CHECK_THROWS_WITH(gpu.set_core_clocks({1400, 1600}), Catch::Contains("no core clock level between"));
  gpu.reset_core_clocks();
  CHECK(m.mask(0) == 0);
  Lowest lowest;
  {
    Governor g(gpu, lowest);
    g.tick();
    CHECK(m.mask(0) == 0b0001);
  }
  CHECK(m.mask(0) == 0);  // automatic again
}

TEST_CASE("ROCm SMI: without root the governor observes only, and says why", "[energy][rocm]") {
  const Mock& m = mock();
  m.set_root(0);
  RocmSmiDevice gpu(0);
  Lowest lowest;
  Governor g(gpu, lowest);
  g.tick();
  CHECK(g.observe_only());
  CHECK_THAT(g.observe_only_reason(), Catch::Contains("Permission denied") && Catch::Contains("root"));
  CHECK(m.mask(0) == 0);
}

TEST_CASE("ROCm SMI: after every injected fault the GPU is back in automatic mode", "[energy][rocm]") {
  const Mock& m = mock();
  const auto journal =
      std::filesystem::temp_directory_path() / ("hci_test_rsmi_" + std::to_string(getpid()) + ".journal");
  struct Fault {
    const char* what;
    const char* entry;
    int result;
  };
  for (const Fault fault : {Fault{"a setting is refused", "rsmi_dev_gpu_clk_freq_set", kPermission},
                            Fault{"the policy throws", nullptr, 0}, Fault{"the GPU is gone", "*", kFileError}}) {
    for (const long after : {0L, 3L, 30L}) {
      INFO(fault.what << " after " << after << " calls");
      m.reset();
      RocmSmiDevice gpu(0);
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
      m.fail("", 0, 0);  // the GPU is back
      if (!failures.empty()) {
        CHECK(std::string(fault.what) == "the GPU is gone");
        REQUIRE(std::filesystem::exists(journal));
        CHECK(hci::energy::restore_from_journal(journal, [&](const std::string&) { return &gpu; }).empty());
      }
      // Gone after the first setting (a reading takes 10 calls, the setting 1): the restore fails too.
      if (std::string(fault.what) == "the GPU is gone" && after == 30) CHECK_FALSE(failures.empty());
      CHECK(m.mask(0) == 0);
      CHECK_FALSE(std::filesystem::exists(journal));
    }
  }
}

TEST_CASE("ROCm SMI: a missing library is an hci::Error; the library shuts down with its last user", "[energy][rocm]") {
  mock();
  const std::string mock_path = std::getenv("HCI_ROCM_SMI_PATH");
  setenv("HCI_ROCM_SMI_PATH", "/nonexistent/librocm_smi64.so", 1);
  CHECK_THROWS_WITH(hci::energy::RocmSmi::open(), Catch::Contains("ROCm SMI") && Catch::Contains("/nonexistent"));
  setenv("HCI_ROCM_SMI_PATH", mock_path.c_str(), 1);
  {
    const auto smi = hci::energy::RocmSmi::open();
    CHECK(mock().initialised() == 1);
  }
  CHECK(mock().initialised() == 0);
}

}  // namespace
