// hci-bench: hci's benchmark suite on every device present (or those named), each case beside its
// reference measured in the same run, written as Google Benchmark's JSON with a "machine" object
// (tools/hci_bench_schema.json); tools/hci_bench_report.py makes a report of one or more such files.
#include "machine.hpp"
#include "suite.hpp"

#include <hci/energy/open.hpp>
#include <hci/hci.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include <unistd.h>

namespace {

using namespace hci_bench;

const char* const kUsage = R"(usage: hci-bench [options]
  --device D        cpu, cuda:N or rocm:N; repeat for several (default: every device present)
  --quick           small sizes and short runs: a smoke test of seconds
  --filter REGEX    only the cases whose name matches (DEVICE/FAMILY/CASE/SIZE/IMPL)
  --min-time S      seconds each case runs at least (default 0.3; 0.01 with --quick)
  --max-time S      once S seconds have passed, the cases left are reported as not run
  --out FILE        the JSON written (default hci-bench.json)
  --list            print the cases' names and stop
The report: python3 tools/hci_bench_report.py FILE... -o report.html
)";

struct Options {
  std::vector<std::string> devices;
  bool quick = false, list = false;
  std::string filter = ".*", out = "hci-bench.json";
  double min_time = NAN;
  double max_time = INFINITY;
};

double seconds(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end || !(value > 0) || !std::isfinite(value))
    throw hci::Error(fmt::format("{} needs a positive number of seconds, not '{}'", option, text));
  return value;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) throw hci::Error(fmt::format("{} needs a value", arg));
      return std::string(argv[++i]);
    };
    if (arg == "--device")
      o.devices.push_back(value());
    else if (arg == "--quick")
      o.quick = true;
    else if (arg == "--list")
      o.list = true;
    else if (arg == "--filter")
      o.filter = value();
    else if (arg == "--out")
      o.out = value();
    else if (arg == "--min-time")
      o.min_time = seconds(arg, value());
    else if (arg == "--max-time")
      o.max_time = seconds(arg, value());
    else if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else
      throw hci::Error(fmt::format("unknown argument '{}'", arg));
  }
  if (std::isnan(o.min_time)) o.min_time = o.quick ? 0.01 : 0.3;
  const std::filesystem::path directory = std::filesystem::absolute(o.out).parent_path();
  HCI_CHECK(std::filesystem::is_directory(directory), "--out {}: there is no directory {}", o.out, directory.string());
  return o;
}

// The devices named, checked, or every device hci finds.
std::vector<hci::Device> devices_to_run(const Options& o) {
  std::vector<hci::Device> devices;
  if (!o.devices.empty()) {
    for (const std::string& name : o.devices) {
      const hci::Device device(name);
      HCI_CHECK(device.index() < hci::backend_for(device).device_count(), "{} is not present", name);
      if (std::find(devices.begin(), devices.end(), device) == devices.end()) devices.push_back(device);
    }
    return devices;
  }
  devices.push_back(hci::Device::cpu());
  for (hci::DeviceType type : {hci::DeviceType::CUDA, hci::DeviceType::ROCm}) {
    try {
      const int count = hci::backend_for(hci::Device(type, 0)).device_count();
      for (int i = 0; i < count; ++i) devices.emplace_back(type, i);
    } catch (const hci::Error& e) {  // no driver: no devices of this type
      fmt::print("{}: none ({})\n", hci::device_type_name(type), e.what());
    }
  }
  return devices;
}

// The energy counter of a device, or null and why not.
std::unique_ptr<hci::energy::Device> energy_device(hci::Device device, std::string* why) {
  try {
    std::unique_ptr<hci::energy::Device> d = hci::energy::open(device);
    if (d->capabilities().energy) {
      *why = hci::energy::provider_name(device);
      return d;
    }
    *why = "unavailable: the provider reads no energy counter (RAPL needs read access to powercap)";
  } catch (const hci::Error& e) {
    *why = std::string("unavailable: ") + e.what();
  }
  return nullptr;
}

std::string device_name(hci::Device device, const MachineInfo& machine) {
  if (device.type() == hci::DeviceType::CUDA) return hci::cuda::device_description(device.index());
  if (device.type() == hci::DeviceType::ROCm) return hci::rocm::device_description(device.index());
  return machine.cpu_model;
}

// A run's name without what Google Benchmark appends to it ("/real_time").
std::string case_of(const std::string& run_name) {
  size_t slash = std::string::npos;
  for (int parts = 0; parts < 5; ++parts) {  // DEVICE/FAMILY/CASE/SIZE/IMPL
    slash = run_name.find('/', slash + 1);
    if (slash == std::string::npos) return run_name;
  }
  return run_name.substr(0, slash);
}

// One line per case as it ends, numbered; on a terminal, also the case running now.
class ProgressReporter : public benchmark::BenchmarkReporter {
 public:
  explicit ProgressReporter(size_t total) : total_(total), terminal_(isatty(fileno(stdout))) {}

  void starting(const std::string& name) {
    if (!terminal_ || name == running_) return;
    running_ = name;
    fmt::print("\r\033[K[{:>{}}/{}] {} ...", done_ + 1, digits(), total_, name);
    std::fflush(stdout);
  }

  bool ReportContext(const Context&) override { return true; }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      ++done_;
      std::string result;
      if (run.error_occurred) {
        result = "skipped: " + run.error_message;
        ++skipped_;
      } else {
        result = fmt::format("{:10.4g} {}", run.GetAdjustedRealTime(), benchmark::GetTimeUnitString(run.time_unit));
        if (auto bytes = run.counters.find("bytes_per_second"); bytes != run.counters.end())
          result += fmt::format("  {:8.2f} GB/s", bytes->second.value / 1e9);
        if (auto flops = run.counters.find("items_per_second"); flops != run.counters.end())
          result += fmt::format("  {:8.2f} GFLOP/s", flops->second.value / 1e9);
        if (auto joules = run.counters.find("joules_per_iter"); joules != run.counters.end())
          result += fmt::format("  {:.4g} J", joules->second.value);
      }
      fmt::print("{}[{:>{}}/{}] {:<48} {}\n", terminal_ ? "\r\033[K" : "", done_, digits(), total_,
                 case_of(run.benchmark_name()), result);
    }
    std::fflush(stdout);
  }

  size_t skipped() const { return skipped_; }

 private:
  int digits() const { return int(std::to_string(total_).size()); }
  size_t total_, done_ = 0, skipped_ = 0;
  bool terminal_;
  std::string running_;
};

// Google Benchmark's JSON with the machine object as the first member.
void write_output(const std::string& benchmark_json, const MachineInfo& machine, const std::string& path) {
  std::ifstream in(benchmark_json);
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  const size_t brace = json.find('{');
  HCI_CHECK(brace != std::string::npos, "Google Benchmark wrote no JSON to {}", benchmark_json);
  json.insert(brace + 1, "\n  \"machine\": " + to_json(machine) + ",");
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial);
    out << json;
    HCI_CHECK(out.good(), "could not write {}", partial);
  }
  std::filesystem::rename(partial, path);
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::vector<hci::Device> devices = devices_to_run(o);
  const std::regex filter(o.filter);

  Suite suite;
  for (hci::Device device : devices) {
    const Scale scale{o.quick, !device.is_cpu()};
    add_hci_cases(suite, device, scale);
    if (device.is_cpu()) add_cpu_references(suite, scale);
    if (device.type() == hci::DeviceType::CUDA) add_cuda_references(suite, device.index(), scale);
  }
  std::vector<Case> chosen;
  for (Case& c : suite.cases)
    if (std::regex_search(c.name, filter)) chosen.push_back(std::move(c));
  if (o.list) {
    for (const Case& c : chosen) fmt::print("{}\n", c.name);
    return 0;
  }
  HCI_CHECK(!chosen.empty(), "no case matches --filter '{}'", o.filter);

  MachineInfo machine = describe_machine(o.quick);
  std::map<std::string, std::unique_ptr<hci::energy::Device>> energy;
  for (hci::Device device : devices) {
    DeviceInfo info{device, device_name(device, machine), 0, "", ""};
    if (device.is_cpu()) {
      info.bandwidth_bps = cpu_triad_bandwidth(o.quick);
      info.bandwidth_method = fmt::format("STREAM triad over {} threads", hci::get_num_threads());
    } else if (device.type() == hci::DeviceType::CUDA) {
      info.bandwidth_bps = cuda_copy_bandwidth(device.index(), o.quick);
      info.bandwidth_method = "cuMemcpyDtoD, bytes read + written";
    } else {
      info.bandwidth_method = "not measured";
    }
    energy[device.str()] = energy_device(device, &info.energy);
    fmt::print("{}: {}; {:.1f} GB/s ({}); energy: {}\n", device.str(), info.name, info.bandwidth_bps / 1e9,
               info.bandwidth_method, info.energy);
    machine.devices.push_back(std::move(info));
  }
  fmt::print("hci {}, {} threads, JIT: {}\n", machine.hci_version, machine.threads, machine.llvm);

  ProgressReporter progress(chosen.size());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::min(o.max_time, 1e9));
  for (Case& c : chosen) {
    const std::string device = c.name.substr(0, c.name.find('/'));
    hci::energy::Device* counter = energy[device].get();
    auto run_case = [&progress, &c, counter, deadline](benchmark::State& state) {
      if (std::chrono::steady_clock::now() > deadline) {
        state.SkipWithError("not run: the --max-time budget was used up");
        return;
      }
      static const Case* current = nullptr;
      if (current != &c) next_case();
      current = &c;
      progress.starting(c.name);
      set_energy_source([counter] { return counter ? counter->read().energy_j : NAN; });
      try {
        c.body(state);
      } catch (const hci::Error& e) {
        state.SkipWithError(e.what());
      }
    };
    // Google Benchmark owns what it registers.
    // NOLINTNEXTLINE(clang-analyzer-cplusplus.NewDeleteLeaks)
    benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(c.name.c_str(), run_case);
    b->Unit(c.unit)->UseRealTime();
  }

  const std::string raw = o.out + ".benchmark";
  std::vector<std::string> arguments = {argv[0], "--benchmark_out=" + raw, "--benchmark_out_format=json",
                                        fmt::format("--benchmark_min_time={}", o.min_time)};
  std::vector<char*> pointers;
  pointers.reserve(arguments.size());
  for (std::string& a : arguments) pointers.push_back(a.data());
  int count = int(pointers.size());
  benchmark::Initialize(&count, pointers.data());
  benchmark::AddCustomContext("hci_version", machine.hci_version);
  benchmark::AddCustomContext("hci_llvm", machine.llvm);
  benchmark::RunSpecifiedBenchmarks(&progress);
  benchmark::Shutdown();
  write_output(raw, machine, o.out);
  std::filesystem::remove(raw);
  fmt::print("{} cases ({} skipped) written to {}\n", chosen.size(), progress.skipped(), o.out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // hci::Error, a bad --filter (std::regex_error)
    fmt::print(stderr, "hci-bench: {} (hci-bench --help lists the options)\n", e.what());
    return 2;
  }
}
