// hci::energy, usable without the rest of hci: devices' telemetry and clocks (device.hpp); the
// Linux sysfs provider (sysfs.hpp), NVIDIA GPUs through NVML (nvml.hpp) and AMD GPUs through ROCm
// SMI (rocm_smi.hpp); the simulated devices the governor is evaluated on (simulated_device.hpp,
// with their sourced parameters in sim_parameters.hpp; evaluation.hpp runs workloads on them);
// and the governor: its policies (policy.hpp, energy_optimal.hpp), control loop (governor.hpp;
// background.hpp runs it on a thread of its own), safety guard (guard.hpp) and the kernels' cost
// hints (cost_meter.hpp; hci's own launches feed them through launch_meter.hpp, which needs the
// rest of hci).
#pragma once

#include <hci/energy/background.hpp>
#include <hci/energy/cost_meter.hpp>
#include <hci/energy/device.hpp>
#include <hci/energy/energy_optimal.hpp>
#include <hci/energy/evaluation.hpp>
#include <hci/energy/governor.hpp>
#include <hci/energy/guard.hpp>
#include <hci/energy/nvml.hpp>
#include <hci/energy/open.hpp>
#include <hci/energy/policy.hpp>
#include <hci/energy/rocm_smi.hpp>
#include <hci/energy/sim_parameters.hpp>
#include <hci/energy/simulated_device.hpp>
#include <hci/energy/sysfs.hpp>
#include <hci/energy/telemetry.hpp>
