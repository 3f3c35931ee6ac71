// Adds up the bytes and FLOPs of the kernels an application starts, for the governor to take once
// per period as a WorkloadHint (Governor::take_hints_from). Kernels may be recorded from any
// thread. hci's own kernels reach it through hci/energy/launch_meter.hpp; other code can call
// record() with its kernels' costs.
#pragma once

#include <hci/energy/policy.hpp>

#include <mutex>

HCI_BEGIN_NAMESPACE

namespace energy {

class KernelCostMeter {
 public:
  void record(double bytes, double flops) {
    std::lock_guard lock(mutex_);
    since_taken_.bytes += bytes;
    since_taken_.flops += flops;
  }
  // What was recorded since the last take.
  WorkloadHint take() {
    std::lock_guard lock(mutex_);
    const WorkloadHint taken = since_taken_;
    since_taken_ = {};
    return taken;
  }

 private:
  std::mutex mutex_;
  WorkloadHint since_taken_;
};

}  // namespace energy

HCI_END_NAMESPACE
