// The energy provider of one of hci's devices: RAPL and cpufreq through sysfs for the CPU, NVML
// for an NVIDIA GPU, ROCm SMI for an AMD one.
#pragma once

#include <hci/device.hpp>
#include <hci/energy/nvml.hpp>
#include <hci/energy/rocm_smi.hpp>
#include <hci/energy/sysfs.hpp>

#include <filesystem>
#include <memory>

HCI_BEGIN_NAMESPACE

namespace energy {

// The provider's name, for reports.
inline const char* provider_name(hci::Device device) {
  if (device.is_cpu()) return "RAPL through sysfs";
  return device.type() == DeviceType::CUDA ? "NVML" : "ROCm SMI";
}

// The provider for `device`, the CPU's reading sysfs under `sysfs_root`; an hci::Error where the
// GPU's management library cannot be loaded or has no such device.
inline std::unique_ptr<Device> open(hci::Device device, const std::filesystem::path& sysfs_root = "/") {
  if (device.is_cpu()) return std::make_unique<SysfsDevice>(sysfs_root);
  if (device.type() == DeviceType::CUDA) return std::make_unique<NvmlDevice>(unsigned(device.index()));
  HCI_CHECK(device.type() == DeviceType::ROCm, "energy: no provider reads {}", device.str());
  return std::make_unique<RocmSmiDevice>(uint32_t(device.index()));
}

}  // namespace energy

HCI_END_NAMESPACE
