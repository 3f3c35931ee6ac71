// The safety guard: the clock range each device had before the first write to it, restored when
// the guard ends (and so at normal exit), device by device, going on past failures and reporting
// each. With a journal file the originals are on disk before the first write, so that
// `hci-govern --restore` can put them back after a crash the process could not handle (SIGKILL).
// Signal and std::terminate handlers are the application's choice (install_exit_handlers): a
// library must not take over its host's signals.
#pragma once

#include <hci/energy/device.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace energy {

// A device's clock range as the journal records it: one line "NAME MIN_MHZ MAX_MHZ" per device.
struct JournalEntry {
  std::string device;
  ClockRange original;
};

inline std::vector<JournalEntry> read_journal(const std::filesystem::path& path) {
  std::ifstream in(path);
  HCI_CHECK(in.good(), "hci-govern: no journal at {}: nothing to restore", path.string());
  std::vector<JournalEntry> entries;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream fields(line);
    JournalEntry e;
    HCI_CHECK(
        fields >> e.device >> e.original.min_mhz >> e.original.max_mhz && e.original.min_mhz <= e.original.max_mhz,
        "hci-govern: line {} of the journal {} is not 'DEVICE MIN_MHZ MAX_MHZ': '{}'", number, path.string(), line);
    entries.push_back(e);
  }
  return entries;
}

class ClockGuard {
 public:
  // With a journal path, the originals are written there (and fsync'd) before the first write.
  explicit ClockGuard(std::filesystem::path journal = {}) : journal_(std::move(journal)) {}
  ClockGuard(const ClockGuard&) = delete;
  ClockGuard& operator=(const ClockGuard&) = delete;
  ~ClockGuard() {
    if (installed() == this) installed() = nullptr;
    report(*this);
  }

  // Called before each write to `device`: the first time, its range is recorded (and journalled).
  void before_write(Device& device) {
    std::lock_guard lock(mutex_);
    for (const Recorded& r : recorded_)
      if (r.device == &device) return;
    recorded_.push_back({&device, device.core_clocks()});
    write_journal();
  }

  // Puts every recorded device back, each on its own: a failure is reported and the others are
  // still restored. Returns the failures ("NAME: why"); the journal goes once all succeeded.
  std::vector<std::string> restore_all() {
    return restore_where([](const Recorded&) { return true; });
  }
  // The same for one device.
  std::vector<std::string> restore(const Device& device) {
    return restore_where([&](const Recorded& r) { return r.device == &device; });
  }

  // Stops guarding `device` (its original range is not restored).
  void forget(const Device& device) {
    std::lock_guard lock(mutex_);
    std::erase_if(recorded_, [&](const Recorded& r) { return r.device == &device; });
    write_journal();
  }

  size_t recorded() const {
    std::lock_guard lock(mutex_);
    return recorded_.size();
  }

  // For applications that want it (hci-govern does): SIGINT, SIGTERM and SIGHUP ask the
  // application to stop (exit_requested() turns true; its loop then ends and the guard restores),
  // and std::terminate restores before aborting. One guard at a time.
  void install_exit_handlers() {
    installed() = this;
    for (const int signal : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal, &on_signal);
    std::set_terminate([] {
      if (ClockGuard* guard = installed()) report(*guard);
      std::abort();
    });
  }
  static bool exit_requested() { return exit_flag().load(); }

 private:
  struct Recorded {
    Device* device;
    ClockRange original;
  };

  // Restores the recorded devices `chosen` picks, each on its own; a later call tries the
  // failed ones again. The journal keeps what is left to restore.
  template <class Chosen>
  std::vector<std::string> restore_where(Chosen chosen) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> failures;
    std::vector<Recorded> left;
    for (const Recorded& r : recorded_) {
      if (!chosen(r)) {
        left.push_back(r);
        continue;
      }
      try {
        r.device->set_core_clocks(r.original);
      } catch (const std::exception& e) {
        failures.push_back(r.device->name() + ": " + e.what());
        left.push_back(r);
      }
    }
    recorded_ = left;
    write_journal();
    return failures;
  }

  void write_journal() const {
    if (journal_.empty()) return;
    if (recorded_.empty()) {  // nothing left to restore
      std::error_code ignored;
      std::filesystem::remove(journal_, ignored);
      return;
    }
    const std::filesystem::path partial = journal_.string() + ".partial";
    std::string text;
    for (const Recorded& r : recorded_)
      text += detail::format("{} {} {}\n", r.device->name(), r.original.min_mhz, r.original.max_mhz);
    // Not through a link someone else left at that name (journals live in shared directories and
    // are written as root), and on disk before any clock is written.
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    HCI_CHECK(fd >= 0, "hci::energy: cannot write the journal {}: {}", partial.string(), std::strerror(errno));
    const bool written = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    HCI_CHECK(written, "hci::energy: cannot write the journal {}", partial.string());
    std::filesystem::rename(partial, journal_);  // whole or not at all
  }

  // restore_all, its failures (or its own, writing the journal) said on stderr: for destructors
  // and the terminate handler, which cannot throw.
  static void report(ClockGuard& guard) noexcept {
    try {
      for (const std::string& failure : guard.restore_all())
        std::fprintf(stderr, "hci::energy: not restored: %s\n", failure.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "hci::energy: restoring clocks: %s\n", e.what());
    }
  }
  static void on_signal(int) { exit_flag().store(true); }
  static std::atomic<bool>& exit_flag() {
    static std::atomic<bool> flag{false};
    return flag;
  }
  static ClockGuard*& installed() {
    static ClockGuard* guard = nullptr;
    return guard;
  }

  std::filesystem::path journal_;
  mutable std::mutex mutex_;
  std::vector<Recorded> recorded_;
};

// `hci-govern --restore`: each journalled device found by `find` (by name) set back to its
// original range, going on past failures. Returns the failures; the journal goes once all
// succeeded.
inline std::vector<std::string> restore_from_journal(const std::filesystem::path& journal,
                                                     const std::function<Device*(const std::string&)>& find) {
  std::vector<std::string> failures;
  for (const JournalEntry& e : read_journal(journal)) {
    try {
      Device* device = find(e.device);
      HCI_CHECK(device != nullptr, "no such device here");
      device->set_core_clocks(e.original);
    } catch (const std::exception& error) {
      failures.push_back(e.device + ": " + error.what());
    }
  }
  if (failures.empty()) std::filesystem::remove(journal);
  return failures;
}

}  // namespace energy

HCI_END_NAMESPACE
