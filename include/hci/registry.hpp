// The backend registry: one backend per device type, created lazily on first use.
#pragma once

#include <hci/backend.hpp>
#include <hci/cpu/backend.hpp>

#include <array>
#include <functional>
#include <mutex>

HCI_BEGIN_NAMESPACE

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

namespace cuda {
HCI_RUNTIME_DECL std::unique_ptr<Backend> make_backend();  // hci/cuda/backend.hpp, included below
}
namespace rocm {
HCI_RUNTIME_DECL std::unique_ptr<Backend> make_backend();  // hci/rocm/backend.hpp, included below
}

namespace detail {

struct BackendRegistry {
  std::mutex mutex;
  std::array<BackendFactory, kNumDeviceTypes> factories;
  std::array<std::unique_ptr<Backend>, kNumDeviceTypes> backends;
};

// A function-local static: built on first use, never at load time.
inline BackendRegistry& backend_registry() {
  static BackendRegistry registry;
  return registry;
}

inline Backend& backend_instance(DeviceType type) {
  auto& registry = backend_registry();
  std::lock_guard lock(registry.mutex);
  auto& slot = registry.backends[int(type)];
  if (!slot) {
    auto& factory = registry.factories[int(type)];
    if (!factory && type == DeviceType::CPU) factory = [] { return std::make_unique<cpu::CpuBackend>(); };
    if (!factory && type == DeviceType::CUDA) factory = cuda::make_backend;
    if (!factory && type == DeviceType::ROCm) factory = rocm::make_backend;
    HCI_CHECK(factory, "device type {}: no backend is registered for it", device_type_name(type));
    slot = factory();
  }
  return *slot;
}

}  // namespace detail

// Makes `factory` the backend for a device type; it is called on the first use of that type.
// Replacing a backend already in use is an error: its storages would outlive it.
inline void register_backend(DeviceType type, BackendFactory factory) {
  auto& registry = detail::backend_registry();
  std::lock_guard lock(registry.mutex);
  HCI_CHECK(!registry.backends[int(type)], "register_backend: a backend for {} is already in use",
            device_type_name(type));
  registry.factories[int(type)] = std::move(factory);
}

// The backend of a device; an hci::Error naming the reason when the device type has no
// backend, the backend is unavailable, or the index is out of range.
inline Backend& backend_for(Device device) {
  if (device.is_cpu() && device.index() == 0) {  // the hot path: always present
    static Backend& cpu = detail::backend_instance(DeviceType::CPU);
    return cpu;
  }
  Backend& backend = detail::backend_instance(device.type());
  const std::string reason = backend.unavailable_reason();
  HCI_CHECK(reason.empty(), "device {}: backend {} is unavailable: {}", device.str(), backend.name(), reason);
  const int count = backend.device_count();
  HCI_CHECK(device.index() >= 0 && device.index() < count, "device {}: index out of range ({} has {} device{})",
            device.str(), backend.name(), count, count == 1 ? "" : "s");
  return backend;
}

HCI_END_NAMESPACE

#include <hci/cuda/backend.hpp>  // after backend_for, which their definitions use
#include <hci/rocm/backend.hpp>
