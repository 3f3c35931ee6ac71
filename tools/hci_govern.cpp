// hci-govern: runs a command under the energy governor, evaluates the policies on a simulated
// device, or undoes a run that was killed before it could restore the clocks.
//
//   hci-govern [--device cpu|cuda:N|rocm:N] [--policy P] [--max-slowdown 5%] [--period 50ms] [--dry-run]
//              [--log telemetry.csv] [--journal FILE] [--compare] -- CMD ARGS
//   hci-govern --simulate stream|gemm|mixed|training|hot|all [--device sim:h100|sim:epyc9654]
//              [--max-slowdown 5%] [--trace trace.csv]
//   hci-govern --restore [--journal FILE]
//
// Out of process the governor sees the device's telemetry only: kernel cost hints reach a
// governor that runs inside the application (hci::energy::Governor::take_hints_from).
#include <hci/energy.hpp>

#include <fmt/format.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace energy = hci::energy;

const char* const kUsage = R"(usage:
  hci-govern [options] -- CMD ARGS      run CMD under the governor, then restore the clocks
  hci-govern --simulate WORKLOAD|all    evaluate the policies on a simulated device
  hci-govern --restore                  restore the clocks a killed run left behind (its journal)
options:
  --device D         cpu (Linux sysfs: cpufreq, thermal zones, RAPL), cuda:N (NVML) or rocm:N
                     (ROCm SMI) for commands; sim:h100 or sim:epyc9654 for --simulate
                     (default: cpu, sim:h100)
  --policy P         performance, powersave, ondemand, thermal-cap, energy-optimal (default)
  --max-slowdown S   energy-optimal's budget against the device's own behaviour (default 5%)
  --period T         between decisions (default 50ms)
  --dry-run          decide, write nothing (energy-optimal's probes then change nothing, so
                     what it settles on says little)
  --log FILE         telemetry and decisions once per period, as CSV
  --journal FILE     where the original clocks are kept during a run, for --restore (default
                     /var/tmp/hci-govern-DEVICE.journal, one per device)
  --compare          run CMD once ungoverned first, and print both runs
  --trace FILE       with --simulate: every run's clock, temperature and power as CSV
  --sysfs-root DIR   read and write a sysfs tree under DIR instead of / (for tests)
)";

struct Options {
  std::string device, policy = "energy-optimal", simulate, log, trace, sysfs_root = "/";
  std::string journal;  // default: one per device
  double max_slowdown = 0.05, period_s = 0.05;
  bool dry_run = false, restore = false, compare = false;
  std::vector<std::string> command;
};

// A number with a unit after it: {value, unit}, the unit "?" where `text` does not start with a
// number ("50ms" -> {50, "ms"}).
std::pair<double, std::string> number_and_unit(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return {0, "?"};
  }
  return {value, text.substr(used)};
}

// "5%" or "0.05".
double fraction(const std::string& text) {
  const auto [value, unit] = number_and_unit(text);
  HCI_CHECK(unit.empty() || unit == "%", "hci-govern: '{}' is not a fraction (5% or 0.05)", text);
  return unit == "%" ? value / 100 : value;
}

// "50ms", "0.05s" or "0.05" (seconds).
double seconds(const std::string& text) {
  const auto [value, unit] = number_and_unit(text);
  HCI_CHECK(unit.empty() || unit == "s" || unit == "ms", "hci-govern: '{}' is not a period (50ms or 0.05s)", text);
  return unit == "ms" ? value / 1000 : value;
}

Options parse(int argc, char** argv) {
  Options o;
  const std::map<std::string, std::function<void(const std::string&)>> with_value = {
      {"--device", [&](const std::string& v) { o.device = v; }},
      {"--policy", [&](const std::string& v) { o.policy = v; }},
      {"--max-slowdown", [&](const std::string& v) { o.max_slowdown = fraction(v); }},
      {"--period", [&](const std::string& v) { o.period_s = seconds(v); }},
      {"--log", [&](const std::string& v) { o.log = v; }},
      {"--journal", [&](const std::string& v) { o.journal = v; }},
      {"--simulate", [&](const std::string& v) { o.simulate = v; }},
      {"--trace", [&](const std::string& v) { o.trace = v; }},
      {"--sysfs-root", [&](const std::string& v) { o.sysfs_root = v; }},
  };
  const std::map<std::string, bool*> switches = {
      {"--dry-run", &o.dry_run}, {"--compare", &o.compare}, {"--restore", &o.restore}};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      o.command.assign(argv + i + 1, argv + argc);
      break;
    }
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (const auto option = with_value.find(arg); option != with_value.end()) {
      HCI_CHECK(i + 1 < argc, "hci-govern: {} needs a value", arg);
      option->second(argv[++i]);
    } else if (const auto flag = switches.find(arg); flag != switches.end()) {
      *flag->second = true;
    } else {
      throw hci::Error(hci::detail::format("hci-govern: unknown option '{}'\n{}", arg, kUsage));
    }
  }
  const int modes = int(!o.simulate.empty()) + int(o.restore) + int(!o.command.empty());
  HCI_CHECK(modes == 1, "hci-govern: give one of -- CMD, --simulate or --restore\n{}", kUsage);
  HCI_CHECK(o.period_s > 0, "hci-govern: the period must be positive");
  if (o.journal.empty()) {
    std::string device = o.device.empty() ? "cpu" : o.device;
    std::replace(device.begin(), device.end(), ':', '-');
    o.journal = "/var/tmp/hci-govern-" + device + ".journal";
  }
  return o;
}

std::unique_ptr<energy::Policy> make_policy(const std::string& name, double max_slowdown) {
  if (name == "performance") return std::make_unique<energy::PerformancePolicy>();
  if (name == "powersave") return std::make_unique<energy::PowersavePolicy>();
  if (name == "ondemand") return std::make_unique<energy::OndemandPolicy>();
  if (name == "thermal-cap") return std::make_unique<energy::ThermalCapPolicy>();
  if (name == "energy-optimal")
    return std::make_unique<energy::EnergyOptimalPolicy>(energy::EnergyOptimalOptions{max_slowdown});
  throw hci::Error(hci::detail::format(
      "hci-govern: no policy '{}' (performance, powersave, ondemand, thermal-cap, energy-optimal)", name));
}

energy::SimulatedDeviceParameters simulated(const std::string& device) {
  if (device.empty() || device == "sim:h100") return energy::h100_sxm();
  if (device == "sim:epyc9654") return energy::epyc_9654();
  throw hci::Error(hci::detail::format("hci-govern: --simulate runs on sim:h100 or sim:epyc9654, not '{}'", device));
}

std::unique_ptr<energy::Device> open_device(const Options& o) {
  const std::string name = o.device.empty() ? "cpu" : o.device;
  HCI_CHECK(!name.starts_with("sim:"), "hci-govern: {} runs simulated workloads only (--simulate)", name);
  try {
    return energy::open(hci::Device(name), o.sysfs_root);
  } catch (const hci::Error& e) {
    throw hci::Error(hci::detail::format("hci-govern: --device {}: {}", name, e.what()));
  }
}

// -- --simulate ----------------------------------------------------------------------------------

void print_row(const energy::Run& run, const energy::Run& baseline) {
  fmt::print("  {:<22} {:>8.1f} {:>+7.1f}% {:>9.1f} {:>+7.1f}% {:>8.0f} {:>7.1f} {:>7}\n", run.policy, run.seconds,
             100 * (run.seconds / baseline.seconds - 1), run.joules / 1000, 100 * (run.joules / baseline.joules - 1),
             run.mean_busy_mhz, run.peak_temperature_c, run.writes);
}

void write_trace(std::ofstream& out, const std::string& workload, const energy::Run& run) {
  for (size_t i = 0; i < run.trace.size(); i += 5)  // every fifth period is plenty for a plot
    out << fmt::format("{},{},{:.2f},{:.0f},{:.2f},{:.1f}\n", workload, run.policy, run.trace[i].time_s,
                       run.trace[i].core_mhz, run.trace[i].temperature_c, run.trace[i].power_w);
}

int simulate(const Options& o) {
  const energy::SimulatedDeviceParameters device = simulated(o.device);
  std::vector<energy::Workload> workloads;
  if (o.simulate == "all")
    workloads = energy::standard_workloads(device);
  else
    workloads.push_back(energy::find_workload(device, o.simulate));
  std::ofstream trace;
  if (!o.trace.empty()) {
    trace.open(o.trace);
    HCI_CHECK(trace.good(), "hci-govern: cannot write {}", o.trace);
    trace << "workload,policy,time_s,core_mhz,temperature_c,power_w\n";
  }
  energy::GovernorOptions options;
  options.period_s = o.period_s;
  fmt::print("{}: each policy under a governor every {:g} ms against the device's default behaviour\n", device.name,
             o.period_s * 1000);
  fmt::print("(energy-optimal: --max-slowdown {:g}%; figures are the model's, see sim_parameters.hpp)\n\n",
             o.max_slowdown * 100);
  for (const energy::Workload& w : workloads) {
    fmt::print("{}: {}\n", w.name, w.description);
    fmt::print("  {:<22} {:>8} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7}\n", "policy", "time s", "vs def", "energy kJ",
               "vs def", "mean MHz", "peak C", "writes");
    const energy::Run baseline = energy::run_default(device, w, o.period_s);
    print_row(baseline, baseline);
    if (trace.is_open()) write_trace(trace, w.name, baseline);
    for (const char* name : {"performance", "powersave", "ondemand", "thermal-cap", "energy-optimal", "+hints"}) {
      const bool hints = std::string(name) == "+hints";
      const auto policy = make_policy(hints ? "energy-optimal" : name, o.max_slowdown);
      const energy::Run run = energy::run_governed(device, w, *policy, options, hints);
      print_row(run, baseline);
      if (trace.is_open()) write_trace(trace, w.name, run);
    }
    fmt::print("\n");
  }
  return 0;
}

// -- --restore -------------------------------------------------------------------------------------

int restore(const Options& o) {
  std::map<std::string, std::unique_ptr<energy::Device>> opened;
  const auto failures = energy::restore_from_journal(o.journal, [&](const std::string& name) -> energy::Device* {
    std::unique_ptr<energy::Device>& device = opened[name];
    if (!device) {
      Options with = o;
      with.device = name;
      device = open_device(with);
    }
    return device.get();
  });
  for (const std::string& failure : failures) std::fprintf(stderr, "hci-govern: not restored: %s\n", failure.c_str());
  if (failures.empty()) std::printf("hci-govern: restored the clocks journalled in %s\n", o.journal.c_str());
  return failures.empty() ? 0 : 1;
}

// -- -- CMD ----------------------------------------------------------------------------------------

struct Summary {
  double seconds = 0, joules = std::numeric_limits<double>::quiet_NaN(), mean_mhz = 0;
  int status = 0, writes = 0;
};

// The command, run in a child process; stopped (SIGTERM, then SIGKILL after 5 s) if it is still
// running when this ends, so that no exit path leaves it behind.
class Child {
 public:
  explicit Child(const std::vector<std::string>& command) {
    std::vector<char*> args(command.size() + 1, nullptr);  // execvp's argv, null-terminated
    std::transform(command.begin(), command.end(), args.begin(),
                   [](const std::string& a) { return const_cast<char*>(a.c_str()); });
    pid_ = fork();
    HCI_CHECK(pid_ >= 0, "hci-govern: fork: {}", std::strerror(errno));
    if (pid_ == 0) {
      execvp(args[0], args.data());
      // Only async-signal-safe calls between fork and _exit.
      const char* parts[] = {"hci-govern: cannot run ", args[0], ": ", std::strerror(errno), "\n"};
      for (const char* part : parts) (void)!write(STDERR_FILENO, part, std::strlen(part));
      _exit(127);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (running_) stop();
  }

  // The exit status (128 + the signal, where a signal ended it) once the command has ended.
  std::optional<int> finished() {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return std::nullopt;
    running_ = false;
    if (r < 0) {  // ECHILD: reaped by someone else; its status is gone
      std::fprintf(stderr, "hci-govern: the command's exit status is lost: %s\n", std::strerror(errno));
      return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  int stop() {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (const auto status = finished()) return *status;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    running_ = false;
    return 128 + SIGKILL;
  }

 private:
  pid_t pid_ = -1;
  bool running_ = true;
};

// Runs the command, reading the device every period (and governing it, with a governor). On a
// signal, the clocks are restored before the command is stopped.
Summary run_command(const Options& o, energy::Device& device, energy::Governor* governor, std::ofstream* log) {
  const auto begin = std::chrono::steady_clock::now();
  const energy::Telemetry first = device.read();
  Child child(o.command);
  Summary s;
  double clock_sum = 0;
  int readings = 0;
  auto next = begin;
  const auto period =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(o.period_s));
  for (;;) {
    const energy::Telemetry t = governor ? governor->tick() : device.read();
    if (!std::isnan(t.core_mhz)) {
      clock_sum += t.core_mhz;
      ++readings;
    }
    if (log)
      *log << fmt::format("{:.3f},{},{},{},{},{},{},{},{},{}\n", t.time_s, t.temperature_c, t.utilization,
                          t.memory_utilization, t.power_w, t.energy_j, t.core_mhz, t.memory_mhz, t.throttle_reasons,
                          governor ? governor->applied().max_mhz : t.core_mhz);
    if (const auto status = child.finished()) {
      s.status = *status;
      break;
    }
    if (energy::ClockGuard::exit_requested()) {
      if (governor)
        for (const std::string& failure : governor->restore())
          std::fprintf(stderr, "hci-govern: not restored: %s\n", failure.c_str());
      s.status = child.stop();
      break;
    }
    next = std::max(next + period, std::chrono::steady_clock::now());  // no burst after a stall
    std::this_thread::sleep_until(next);
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  const energy::Telemetry last = device.read();
  s.joules = last.energy_j - first.energy_j;
  s.mean_mhz = readings ? clock_sum / readings : std::numeric_limits<double>::quiet_NaN();
  if (governor) s.writes = governor->writes();
  return s;
}

void print_summary(const char* what, const Summary& s, const Summary* baseline) {
  fmt::print("hci-govern: {}: {:.2f} s, {} J, mean core clock {:.0f} MHz, {} clock write{}, exit status {}", what,
             s.seconds, std::isnan(s.joules) ? std::string("n/a") : fmt::format("{:.1f}", s.joules), s.mean_mhz,
             s.writes, s.writes == 1 ? "" : "s", s.status);
  if (baseline)
    fmt::print(
        " (time {:+.1f}%, energy {})", 100 * (s.seconds / baseline->seconds - 1),
        std::isnan(s.joules) ? std::string("n/a") : fmt::format("{:+.1f}%", 100 * (s.joules / baseline->joules - 1)));
  fmt::print("\n");
}

int govern(const Options& o) {
  const std::unique_ptr<energy::Device> device = open_device(o);
  const energy::Capabilities caps = device->capabilities();
  if (!caps.set_clocks)
    std::fprintf(stderr, "hci-govern: %s: observing only: %s\n", device->name().c_str(),
                 caps.observe_only_reason.c_str());
  if (!caps.energy)
    std::fprintf(stderr, "hci-govern: %s: no energy counter: energy is not reported\n", device->name().c_str());
  std::ofstream log;
  if (!o.log.empty()) {
    log.open(o.log);
    HCI_CHECK(log.good(), "hci-govern: cannot write {}", o.log);
    log << "time_s,temperature_c,utilization,memory_utilization,power_w,energy_j,core_mhz,memory_mhz,"
           "throttle_reasons,ceiling_mhz\n";
  }
  std::optional<Summary> baseline;
  if (o.compare) {
    baseline = run_command(o, *device, nullptr, nullptr);
    print_summary("ungoverned", *baseline, nullptr);
  }
  energy::ClockGuard guard(o.journal);
  guard.install_exit_handlers();  // a command-line tool may: signals end the loop, and restore
  const auto policy = make_policy(o.policy, o.max_slowdown);
  energy::GovernorOptions options;
  options.period_s = o.period_s;
  options.dry_run = o.dry_run;
  Summary governed;
  {
    energy::Governor governor(*device, *policy, options, &guard);
    governed = run_command(o, *device, &governor, log.is_open() ? &log : nullptr);
  }
  int failed = 0;
  for (const std::string& failure : guard.restore_all()) {
    std::fprintf(stderr, "hci-govern: not restored: %s (the journal %s keeps it for --restore)\n", failure.c_str(),
                 o.journal.c_str());
    failed = 1;
  }
  print_summary(fmt::format("{}{}", policy->name(), o.dry_run ? " (dry run)" : "").c_str(), governed,
                baseline ? &*baseline : nullptr);
  return failed ? 1 : governed.status;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGCHLD, SIG_DFL);  // an inherited SIG_IGN would leave the command's status unreadable
  try {
    const Options o = parse(argc, argv);
    if (!o.simulate.empty()) return simulate(o);
    if (o.restore) return restore(o);
    return govern(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
