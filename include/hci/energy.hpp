// hci::energy, usable without the rest of hci: devices' telemetry and clocks (device.hpp), the
// Linux sysfs provider (sysfs.hpp), the simulated devices the governor is evaluated on
// (simulated_device.hpp, with their sourced parameters in sim_parameters.hpp), and the governor:
// its policies (policy.hpp), control loop (governor.hpp) and safety guard (guard.hpp).
#pragma once

#include <hci/energy/device.hpp>
#include <hci/energy/governor.hpp>
#include <hci/energy/guard.hpp>
#include <hci/energy/policy.hpp>
#include <hci/energy/sim_parameters.hpp>
#include <hci/energy/simulated_device.hpp>
#include <hci/energy/sysfs.hpp>
#include <hci/energy/telemetry.hpp>
