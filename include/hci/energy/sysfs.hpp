// The host's CPUs through Linux sysfs, under a root directory given as a parameter (tests use a
// fake tree): cpufreq policies (clocks in kHz, set through scaling_min_freq and
// scaling_max_freq), thermal zones (millidegrees; the hottest is reported, as the thermal guard
// needs), RAPL powercap packages (energy_uj, wrapping at max_energy_range_uj; readable by root
// only since Linux 5.10) and /proc/stat for utilization. Power is the energy counter's rate
// between two reads. What is missing or unreadable reads as NaN, and the capabilities say why.
// The core clock reported is the mean over at most kClockSamples policies spread evenly over the
// CPUs: reading all of a large server's (one per CPU) every period would cost more than the rest
// of the governor together.
#pragma once

#include <hci/energy/device.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

// How the provider reads and writes its files: the real ones, or (for tests) files whose
// access fails with a chosen errno.
struct SysfsFiles {
  virtual ~SysfsFiles() = default;
  // The file's first line; none with errno set where it cannot be read.
  virtual std::optional<std::string> read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) {
      if (errno == 0) errno = EIO;
      return std::nullopt;
    }
    return line;
  }
  // 0, or the errno of the failed write.
  virtual int write(const std::filesystem::path& path, const std::string& value) {
    errno = 0;
    std::ofstream out(path);
    if (out) out << value << std::flush;
    return out ? 0 : (errno ? errno : EIO);
  }
};

class SysfsDevice final : public Device {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic

  explicit SysfsDevice(std::filesystem::path root = "/", std::shared_ptr<SysfsFiles> files = nullptr,
                       Clock now = nullptr)
      : root_(std::move(root)),
        files_(files ? std::move(files) : std::make_shared<SysfsFiles>()),
        now_(now ? std::move(now) : Clock(steady_seconds)) {
    namespace fs = std::filesystem;
    const fs::path cpufreq = root_ / "sys/devices/system/cpu/cpufreq";
    for (const fs::path& p : sorted_children(cpufreq, "policy")) policies_.push_back(p);
    for (const fs::path& p : sorted_children(root_ / "sys/class/thermal", "thermal_zone")) zones_.push_back(p);
    // Top-level RAPL zones (intel-rapl:0, not its subzones intel-rapl:0:0): one per package.
    for (const fs::path& p : sorted_children(root_ / "sys/class/powercap", "intel-rapl:")) {
      const std::string zone = p.filename().string();
      if (std::count(zone.begin(), zone.end(), ':') == 1) packages_.push_back({p});
    }
    capabilities_.temperature = !zones_.empty();
    capabilities_.read_clocks = !policies_.empty();
    capabilities_.utilization = files_->read(root_ / "proc/stat").has_value();
    capabilities_.energy = !packages_.empty();
    for (Package& package : packages_) {
      errno = 0;
      const auto range = number(package.path / "max_energy_range_uj");
      const auto first = number(package.path / "energy_uj");
      if (!range || !first) {
        capabilities_.energy = false;
        energy_reason_ = errno == EACCES || errno == EPERM
                             ? "RAPL energy counters are readable by root only"
                             : "RAPL energy counters cannot be read: " + std::string(std::strerror(errno));
        break;
      }
      package.range_uj = *range;
      package.last_uj = *first;
    }
    if (packages_.empty()) energy_reason_ = "no RAPL powercap zones";
    capabilities_.power = capabilities_.energy;
    capabilities_.set_clocks = capabilities_.read_clocks;
    if (!capabilities_.set_clocks) capabilities_.observe_only_reason = "no cpufreq policies";
    last_time_ = now_();
    last_busy_ = cpu_times();
  }

  static constexpr size_t kClockSamples = 16;

  std::string name() const override { return "cpu"; }
  Capabilities capabilities() const override { return capabilities_; }
  // Why energy and power read NaN, if they do.
  const std::string& energy_unavailable_reason() const { return energy_reason_; }

  Telemetry read() override {
    Telemetry t;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    t.time_s = now_();
    t.temperature_c = nan;
    for (const auto& zone : zones_)
      if (const auto milli = number(zone / "temp"))
        t.temperature_c = std::isnan(t.temperature_c) ? *milli / 1000 : std::max(t.temperature_c, *milli / 1000);
    t.core_mhz = nan;
    double sum = 0;
    int count = 0;
    for (size_t i = 0; i < policies_.size(); i += clock_sample_stride())
      if (const auto khz = number(policies_[i] / "scaling_cur_freq")) {
        sum += *khz / 1000;
        ++count;
      }
    if (count) t.core_mhz = sum / count;
    t.memory_mhz = nan;
    t.energy_j = t.power_w = nan;
    if (capabilities_.energy) {
      double joules = 0;
      for (Package& package : packages_) {
        const auto uj = number(package.path / "energy_uj");
        HCI_CHECK(uj.has_value(), "cpu: {} could not be read: {}", (package.path / "energy_uj").string(),
                  std::strerror(errno));
        // A counter below its last value has wrapped around at max_energy_range_uj.
        const double delta = *uj >= package.last_uj ? *uj - package.last_uj : package.range_uj - package.last_uj + *uj;
        package.last_uj = *uj;
        joules += delta * 1e-6;
      }
      energy_j_ += joules;
      t.energy_j = energy_j_;
      t.power_w = t.time_s > last_time_ ? joules / (t.time_s - last_time_) : nan;
    }
    t.utilization = t.memory_utilization = nan;  // the memory's: no counter in sysfs
    const auto busy = cpu_times();
    if (busy && last_busy_ && busy->second > last_busy_->second)
      t.utilization = (busy->first - last_busy_->first) / (busy->second - last_busy_->second);
    last_busy_ = busy;
    last_time_ = t.time_s;
    return t;
  }

  std::vector<double> supported_core_clocks() override {
    require_policies();
    const std::filesystem::path& p = policies_.front();
    std::vector<double> clocks;
    if (const auto listed = files_->read(p / "scaling_available_frequencies")) {
      std::istringstream in(*listed);
      for (double khz; in >> khz;) clocks.push_back(khz / 1000);
    }
    if (clocks.empty()) {  // drivers without a frequency table (intel_pstate, amd-pstate): 100 MHz steps
      const double low = khz_of(p / "cpuinfo_min_freq") / 1000, high = khz_of(p / "cpuinfo_max_freq") / 1000;
      for (int64_t k = 0; low + 100.0 * double(k) < high; ++k) clocks.push_back(low + 100.0 * double(k));
      clocks.push_back(high);
    }
    std::sort(clocks.begin(), clocks.end());
    return clocks;
  }
  ClockRange core_clocks() override {
    require_policies();
    const std::filesystem::path& p = policies_.front();
    return {khz_of(p / "scaling_min_freq") / 1000, khz_of(p / "scaling_max_freq") / 1000};
  }
  // Every policy; the kernel refuses a minimum above the maximum, so the order of the two writes
  // depends on the direction of the change.
  void set_core_clocks(ClockRange range) override {
    require_policies();
    HCI_CHECK(range.min_mhz <= range.max_mhz && range.min_mhz > 0, "cpu: a clock range of {} to {} MHz is empty",
              range.min_mhz, range.max_mhz);
    for (const auto& policy : policies_) {
      const double current_max = khz_of(policy / "scaling_max_freq");
      const auto min_khz = std::to_string(std::llround(range.min_mhz * 1000));
      const auto max_khz = std::to_string(std::llround(range.max_mhz * 1000));
      if (range.min_mhz * 1000 > current_max) {
        write(policy / "scaling_max_freq", max_khz);
        write(policy / "scaling_min_freq", min_khz);
      } else {
        write(policy / "scaling_min_freq", min_khz);
        write(policy / "scaling_max_freq", max_khz);
      }
    }
  }
  void reset_core_clocks() override {
    require_policies();
    const std::filesystem::path& p = policies_.front();
    set_core_clocks({khz_of(p / "cpuinfo_min_freq") / 1000, khz_of(p / "cpuinfo_max_freq") / 1000});
  }

 private:
  struct Package {
    std::filesystem::path path;
    double range_uj = 0, last_uj = 0;
  };

  static double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  static std::vector<std::filesystem::path> sorted_children(const std::filesystem::path& dir,
                                                            const std::string& prefix) {
    std::vector<std::filesystem::path> found;
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ignored))
      if (entry.path().filename().string().starts_with(prefix)) found.push_back(entry.path());
    std::sort(found.begin(), found.end());
    return found;
  }
  std::optional<double> number(const std::filesystem::path& path) const {
    errno = 0;
    const auto text = files_->read(path);
    if (!text) return std::nullopt;
    try {
      return std::stod(*text);
    } catch (const std::exception&) {
      errno = EINVAL;
      return std::nullopt;
    }
  }
  double khz_of(const std::filesystem::path& path) const {
    const auto value = number(path);
    HCI_CHECK(value.has_value(), "cpu: {} could not be read: {}", path.string(), std::strerror(errno));
    return *value;
  }
  void write(const std::filesystem::path& path, const std::string& value) {
    const int error = files_->write(path, value);
    if (error == EACCES || error == EPERM)
      throw PermissionDenied(detail::format("cpu: writing {} to {} is not permitted ({}); run as root to set clocks",
                                            value, path.string(), std::strerror(error)));
    HCI_CHECK(error == 0, "cpu: writing {} to {} failed: {}", value, path.string(), std::strerror(error));
  }
  void require_policies() const {
    HCI_CHECK(!policies_.empty(), "cpu: no cpufreq policies under {}",
              (root_ / "sys/devices/system/cpu/cpufreq").string());
  }
  // Busy and total jiffies of all CPUs from /proc/stat's first line.
  std::optional<std::pair<double, double>> cpu_times() const {
    const auto line = files_->read(root_ / "proc/stat");
    if (!line || !line->starts_with("cpu ")) return std::nullopt;
    std::istringstream in(line->substr(4));
    double total = 0, idle = 0, value = 0;
    for (int field = 0; in >> value; ++field) {
      if (field >= 8) break;  // guest times are counted in user and nice already
      total += value;
      if (field == 3 || field == 4) idle += value;  // idle, iowait
    }
    return std::pair(total - idle, total);
  }

  std::filesystem::path root_;
  std::shared_ptr<SysfsFiles> files_;
  Clock now_;
  size_t clock_sample_stride() const {
    return std::max<size_t>(1, (policies_.size() + kClockSamples - 1) / kClockSamples);
  }

  std::vector<std::filesystem::path> policies_, zones_;
  std::vector<Package> packages_;
  Capabilities capabilities_;
  std::string energy_reason_;
  double energy_j_ = 0, last_time_ = 0;
  std::optional<std::pair<double, double>> last_busy_;
};

}  // namespace energy

HCI_END_NAMESPACE
