// Feeds the cost hints of every kernel hci launches in this process (Kernel::bytes and
// Kernel::flops) into a KernelCostMeter for as long as a MeteredLaunches lives: how a governor in
// the same process learns the arithmetic intensity of the work before the sensors show it. The
// launch hook in place before it is still called, and is put back at the end: nested ones must end
// in the reverse order of their start, as scopes do.
#pragma once

#include <hci/energy/cost_meter.hpp>
#include <hci/runtime.hpp>

#include <utility>

HCI_BEGIN_NAMESPACE

namespace energy {

class MeteredLaunches {
 public:
  explicit MeteredLaunches(KernelCostMeter& meter) {
    std::lock_guard lock(detail::eval_mutex());
    previous_ = detail::launch_hook();
    detail::launch_hook() = [&meter, previous = previous_](const Kernel& kernel) {
      meter.record(kernel.bytes, kernel.flops);
      if (previous) previous(kernel);
    };
  }
  ~MeteredLaunches() { set_launch_hook(std::move(previous_)); }
  MeteredLaunches(const MeteredLaunches&) = delete;
  MeteredLaunches& operator=(const MeteredLaunches&) = delete;

 private:
  LaunchHook previous_;
};

}  // namespace energy

HCI_END_NAMESPACE
