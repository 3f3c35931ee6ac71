// The safety guard: originals journalled before the first write, restored at the end device by
// device past failures, recovered from the journal after a crash that left no chance to restore,
// restored from std::terminate; and the restore invariant under injected faults (a policy
// throwing, a device failing reads or writes, a refused write): afterwards the clocks are the
// originals.
#include <hci/energy/governor.hpp>
#include <hci/energy/simulated_device.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace {

namespace fs = std::filesystem;
using hci::energy::ClockGuard;
using hci::energy::ClockRange;
using hci::energy::Governor;
using hci::energy::SimulatedDevice;

fs::path scratch_file(const std::string& name) {
  return fs::temp_directory_path() / ("hci_test_guard_" + std::to_string(getpid()) + "_" + name);
}
std::string contents(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A simulated device named `name` whose reads or writes fail: once, at call `fail_after` + 1, or
// from then on (`lost`), as a GPU fallen off the bus.
class Faulty final : public hci::energy::Device {
 public:
  Faulty(std::string name, double min, double max) : name_(std::move(name)), sim_(hci::energy::h100_sxm()) {
    sim_.set_core_clocks({min, max});
  }
  std::string name() const override { return name_; }
  hci::energy::Capabilities capabilities() const override { return sim_.capabilities(); }
  hci::energy::Telemetry read() override {
    if (failing_reads && fails(++reads)) throw hci::Error(name_ + ": GPU is lost");
    return sim_.read();
  }
  std::vector<double> supported_core_clocks() override { return sim_.supported_core_clocks(); }
  ClockRange core_clocks() override { return sim_.core_clocks(); }
  void set_core_clocks(ClockRange r) override {
    if (on_write) on_write();
    if (failing_writes && fails(++writes)) throw hci::Error(name_ + ": the write failed");
    if (refusing) throw hci::energy::PermissionDenied(name_ + ": not permitted");
    sim_.set_core_clocks(r);
  }
  void reset_core_clocks() override { sim_.reset_core_clocks(); }

  bool failing_reads = false, failing_writes = false, refusing = false, lost = false;
  int reads = 0, writes = 0, fail_after = 0;
  std::function<void()> on_write;

 private:
  bool fails(int call) const { return lost ? call > fail_after : call == fail_after + 1; }

  std::string name_;
  SimulatedDevice sim_;
};

// Wants a lower clock every period, so that each period writes.
struct Descending final : hci::energy::Policy {
  std::string name() const override { return "descending"; }
  ClockRange decide(const hci::energy::PolicyInput& in) override {
    ceiling = ceiling == 0 ? in.supported.back() : ceiling - 15;
    if (throw_at > 0 && --throw_at == 0) throw std::runtime_error("the policy failed");
    return {in.supported.front(), std::max(in.supported.front(), ceiling)};
  }
  double ceiling = 0;
  int throw_at = 0;
};

TEST_CASE("the journal holds the originals before the first write, and goes once they are restored", "[energy]") {
  const fs::path journal = scratch_file("journal");
  Faulty a("sim:a", 600, 1500), b("sim:b", 345, 1200);
  bool journalled_first = false;
  a.on_write = [&] { journalled_first = contents(journal).find("sim:a 600 1500\n") != std::string::npos; };
  {
    ClockGuard guard(journal);
    Descending policy;
    Governor ga(a, policy, {}, &guard), gb(b, policy, {}, &guard);
    ga.tick();
    gb.tick();
    CHECK(journalled_first);
    CHECK(contents(journal) == "sim:a 600 1500\nsim:b 345 1200\n");
    CHECK(a.core_clocks() != ClockRange{600, 1500});
  }
  CHECK(a.core_clocks() == ClockRange{600, 1500});
  CHECK(b.core_clocks() == ClockRange{345, 1200});
  CHECK_FALSE(fs::exists(journal));
}

TEST_CASE("the journal is never written through a link left at its name", "[energy]") {
  const fs::path journal = scratch_file("linked"), victim = scratch_file("victim");
  std::ofstream(victim) << "precious\n";
  fs::remove(journal.string() + ".partial");
  fs::create_symlink(victim, journal.string() + ".partial");
  Faulty a("sim:a", 600, 1500);
  {
    ClockGuard guard(journal);
    CHECK_THROWS_WITH(guard.before_write(a), Catch::Contains("cannot write the journal"));
  }
  CHECK(contents(victim) == "precious\n");
  CHECK(a.core_clocks() == ClockRange{600, 1500});  // nothing was written to the device either
  fs::remove(journal.string() + ".partial");
  fs::remove(victim);
}

TEST_CASE("after a crash that left no chance to restore, the journal restores every device it can", "[energy]") {
  const fs::path journal = scratch_file("crash");
  Faulty a("sim:a", 600, 1500), b("sim:b", 345, 1200);
  ClockGuard* crashed = nullptr;  // as SIGKILL would leave it: never destroyed until the end
  {
    auto guard = std::make_unique<ClockGuard>(journal);
    Descending policy;
    Governor ga(a, policy, {}, guard.get()), gb(b, policy, {}, guard.get());
    for (int i = 0; i < 5; ++i) {
      ga.tick();
      gb.tick();
    }
    crashed = guard.release();
  }
  CHECK(a.core_clocks() != ClockRange{600, 1500});
  a.failing_writes = a.lost = true;  // sim:a is gone by now; sim:b is still restored
  auto find = [&](const std::string& name) -> hci::energy::Device* {
    return name == "sim:a" ? &a : name == "sim:b" ? &b : nullptr;
  };
  std::vector<std::string> failures = hci::energy::restore_from_journal(journal, find);
  REQUIRE(failures.size() == 1);
  CHECK_THAT(failures[0], Catch::Contains("sim:a: sim:a: the write failed"));
  CHECK(b.core_clocks() == ClockRange{345, 1200});
  CHECK(fs::exists(journal));  // kept for another try
  a.lost = a.failing_writes = false;
  CHECK(hci::energy::restore_from_journal(journal, find).empty());
  CHECK(a.core_clocks() == ClockRange{600, 1500});
  CHECK_FALSE(fs::exists(journal));
  CHECK_THROWS_WITH(hci::energy::restore_from_journal(journal, find), Catch::Contains("nothing to restore"));
  std::ofstream(journal) << "sim:a 600\n";
  CHECK_THROWS_WITH(hci::energy::read_journal(journal), Catch::Contains("line 1") && Catch::Contains("DEVICE MIN_MHZ"));
  fs::remove(journal);
  delete crashed;  // NOLINT(cppcoreguidelines-owning-memory): the crash's leftover, for the leak checker
}

TEST_CASE("after every injected fault the clocks are the originals", "[energy]") {
  enum Fault { PolicyThrows, ReadFails, WriteFails, Refused };
  int restored = 0, faults = 0;
  for (const Fault fault : {PolicyThrows, ReadFails, WriteFails, Refused})
    for (const int after : {0, 1, 4}) {
      INFO("fault " << int(fault) << " after " << after);
      Faulty gpu("sim:gpu", 600, 1800);
      Descending policy;
      gpu.fail_after = after;
      gpu.failing_reads = fault == ReadFails;
      gpu.failing_writes = fault == WriteFails;
      gpu.refusing = fault == Refused;
      policy.throw_at = fault == PolicyThrows ? after + 1 : 0;
      bool failed = false;
      try {
        Governor g(gpu, policy);
        for (int i = 0; i < 8; ++i) g.tick();
      } catch (const std::exception&) {
        failed = true;
      }
      ++faults;
      CHECK((failed || fault == Refused));  // a refusal is not an error: the governor observes
      restored += gpu.core_clocks() == ClockRange{600, 1800};
    }
  CHECK(restored == faults);
}

TEST_CASE("exit handlers: signals ask the loop to stop; std::terminate restores before aborting", "[energy]") {
  ClockGuard guard;
  guard.install_exit_handlers();
  CHECK_FALSE(ClockGuard::exit_requested());
  std::raise(SIGTERM);
  CHECK(ClockGuard::exit_requested());
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGHUP, SIG_DFL);

  const fs::path journal = scratch_file("terminate");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {                 // changes a device's clocks, then terminates: the journal goes only if restored
    std::signal(SIGABRT, SIG_DFL);  // not the test framework's handler
    Faulty gpu("sim:gpu", 600, 1800);
    auto* doomed = new ClockGuard(journal);  // never deleted: std::terminate ends the process
    doomed->install_exit_handlers();
    doomed->before_write(gpu);
    gpu.set_core_clocks({345, 345});
    std::terminate();
  }
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK_FALSE(fs::exists(journal));
}

}  // namespace
