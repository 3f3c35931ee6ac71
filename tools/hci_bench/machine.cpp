#include "machine.hpp"

#include <hci/cuda/backend.hpp>
#include <hci/hci.hpp>
#include <hci/rocm/hip.hpp>

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <set>
#include <utility>

#include <unistd.h>

namespace hci_bench {

namespace {

// The value of the first line of `path` that starts with `key`, after its colon.
std::string field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(key)) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const size_t start = line.find_first_not_of(" \t", colon + 1);
      return start == std::string::npos ? std::string() : line.substr(start);
    }
  return {};
}

// Physical cores: distinct (package, core) pairs in /proc/cpuinfo, else the logical CPUs.
int physical_cores(int logical) {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string package;
  for (std::string line; std::getline(in, line);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string();
    if (line.starts_with("physical id")) package = value;
    if (line.starts_with("core id")) cores.emplace(package, value);
  }
  return cores.empty() ? logical : int(cores.size());
}

std::string driver_version(const hci::cuda::DriverLibrary& library, bool hip) {
  if (!library.api) return "none: " + library.reason;
  const int v = library.api->version;
  return hip ? fmt::format("HIP {}.{}.{} ({})", v / 10000000, v / 100000 % 100, v % 100000, library.api->path)
             : fmt::format("CUDA {}.{} ({})", v / 1000, v % 1000 / 10, library.api->path);
}

}  // namespace

MachineInfo describe_machine(bool quick) {
  MachineInfo m;
  m.hci_version = HCI_VERSION_STRING;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  m.hostname = host;
  const std::time_t now = std::time(nullptr);
  char date[32] = {};
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m.date = date;
  m.cpu_model = field("/proc/cpuinfo", "model name");
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  m.logical_cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
  m.cpu_cores = physical_cores(m.logical_cpus);
  m.threads = hci::get_num_threads();
  const std::string total = field("/proc/meminfo", "MemTotal");  // "24576000 kB"
  m.memory_bytes = total.empty() ? 0 : std::stoll(total) * 1024;
  m.llvm = hci::jit::status();
  const hci::cpu::Blas& blas = hci::cpu::blas();
  m.blas = blas.available() ? blas.path : "none: " + blas.reason;
  m.cuda_driver = driver_version(hci::cuda::driver(), false);
  m.hip_runtime = driver_version(hci::rocm::hip(), true);
  m.quick = quick;
  return m;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\')
      out += fmt::format("\\{}", c);
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", int(c));
    else
      out += c;
  }
  return out + "\"";
}

std::string to_json(const MachineInfo& m) {
  std::string devices;
  for (const DeviceInfo& d : m.devices)
    devices += fmt::format(
        "{}\n      {{\"device\": {}, \"name\": {}, \"bandwidth_bytes_per_second\": {:.6g}, \"bandwidth_method\": {}, "
        "\"energy\": {}}}",
        devices.empty() ? "" : ",", json_string(d.device.str()), json_string(d.name),
        std::isfinite(d.bandwidth_bps) ? d.bandwidth_bps : 0.0, json_string(d.bandwidth_method), json_string(d.energy));
  return fmt::format(
      "{{\n    \"hci_version\": {},\n    \"hostname\": {},\n    \"date\": {},\n    \"quick\": {},\n"
      "    \"cpu\": {{\"model\": {}, \"cores\": {}, \"logical_cpus\": {}, \"threads\": {}}},\n"
      "    \"memory_bytes\": {},\n    \"llvm\": {},\n    \"blas\": {},\n    \"cuda_driver\": {},\n"
      "    \"hip_runtime\": {},\n    \"devices\": [{}\n    ]\n  }}",
      json_string(m.hci_version), json_string(m.hostname), json_string(m.date), m.quick ? "true" : "false",
      json_string(m.cpu_model), m.cpu_cores, m.logical_cpus, m.threads, m.memory_bytes, json_string(m.llvm),
      json_string(m.blas), json_string(m.cuda_driver), json_string(m.hip_runtime), devices);
}

}  // namespace hci_bench
