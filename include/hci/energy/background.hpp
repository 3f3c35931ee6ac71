// A governor on a thread of its own, one period after another until it is stopped or destroyed:
// how an application governs its device from inside, with its kernels' cost hints:
//
//   hci::energy::NvmlDevice gpu(0);
//   hci::energy::EnergyOptimalPolicy policy;
//   hci::energy::KernelCostMeter meter;
//   hci::energy::MeteredLaunches metered(meter);  // launch_meter.hpp: hci's kernels feed the meter
//   hci::energy::BackgroundGovernor governor(gpu, policy, {}, &meter);
//   ... the application's work ...
//
// Stopping restores the device's clocks. An exception from the device or the policy ends the
// loop and restores them at once; error() says what it was.
#pragma once

#include <hci/energy/governor.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

HCI_BEGIN_NAMESPACE

namespace energy {

class BackgroundGovernor {
 public:
  // `device`, `policy` and `hints` (if given) must outlive it.
  BackgroundGovernor(Device& device, Policy& policy, GovernorOptions options = {}, KernelCostMeter* hints = nullptr)
      : governor_(device, policy, options), period_(options.period_s) {
    if (hints) governor_.take_hints_from(*hints);
    thread_ = std::thread([this] { loop(); });
  }
  BackgroundGovernor(const BackgroundGovernor&) = delete;
  BackgroundGovernor& operator=(const BackgroundGovernor&) = delete;
  ~BackgroundGovernor() { stop(); }

  // Ends the loop and restores the clocks (failures go to stderr; the guard tries again at the end).
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
      restore();
    }
  }

  // What ended the loop early, if anything did.
  std::string error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }
  long periods() const {
    std::lock_guard lock(mutex_);
    return periods_;
  }

 private:
  void loop() {
    auto next = std::chrono::steady_clock::now();
    const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(period_);
    for (;;) {
      try {
        governor_.tick();
      } catch (const std::exception& e) {
        {
          std::lock_guard lock(mutex_);
          error_ = e.what();
        }
        restore();
        return;
      }
      std::unique_lock lock(mutex_);
      ++periods_;
      next = std::max(next + period, std::chrono::steady_clock::now());  // no burst after a stall
      if (wake_.wait_until(lock, next, [&] { return stopping_; })) return;
    }
  }
  void restore() noexcept {
    try {
      for (const std::string& failure : governor_.restore())
        std::fprintf(stderr, "hci::energy: not restored: %s\n", failure.c_str());
    } catch (const std::exception& e) {  // the guard tries again when the governor ends
      std::fprintf(stderr, "hci::energy: restoring clocks: %s\n", e.what());
    }
  }

  Governor governor_;
  std::chrono::duration<double> period_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string error_;
  long periods_ = 0;
  std::thread thread_;  // last: starts once everything it uses is made
};

}  // namespace energy

HCI_END_NAMESPACE
