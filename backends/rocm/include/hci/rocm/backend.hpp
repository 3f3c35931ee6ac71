// The ROCm backend: tensors on `rocm:N` live in the memory of AMD GPUs, and their kernels run as
// the JIT's AMD code objects on each device's stream. It is the CUDA backend (cuda/backend.hpp)
// driving HIP's runtime through an adapter to the CUDA driver API (rocm/hip.hpp): the same
// caching allocator, streams, events, launches in the occupancy block size, DLPack stream
// handshake and host fallback for what has no GPU code, and matrix products through rocBLAS
// adapted to cuBLAS's API (rocm/rocblas.hpp), else as the JIT's tiled kernel. Registered for DeviceType::ROCm, and
// unavailable, with the reason, where no HIP runtime or device is found.
#pragma once

#include <hci/backend.hpp>
#include <hci/cpu/allocator.hpp>
#include <hci/cuda/backend.hpp>

#include <cstdint>
#include <memory>
#include <string>

HCI_BEGIN_NAMESPACE

namespace rocm {

// The backend registered for DeviceType::ROCm.
HCI_RUNTIME_DECL std::unique_ptr<Backend> make_backend();
// Memory statistics of one GPU's caching allocator, and giving its cached blocks back.
HCI_RUNTIME_DECL MemoryStats memory_stats(int device = 0);
HCI_RUNTIME_DECL void empty_cache(int device = 0);
// "NAME, MEMORY MiB, gfx90a:sramecc+:xnack-, N compute units", as hci-info lists it.
HCI_RUNTIME_DECL std::string device_description(int device);
// The stream hci queues rocm:N's work on, as a hipStream_t value (see cuda::stream_handle).
HCI_RUNTIME_DECL uintptr_t stream_handle(int device = 0);

}  // namespace rocm

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/rocm/hip.hpp>
#include <hci/rocm/rocblas.hpp>

HCI_BEGIN_NAMESPACE

HCI_RUNTIME_DEF std::unique_ptr<Backend> rocm::make_backend() {
  return cuda::detail::make_gpu_backend(DeviceType::ROCm, hip(), rocblas);
}
HCI_RUNTIME_DEF MemoryStats rocm::memory_stats(int device) {
  return cuda::detail::memory_stats(DeviceType::ROCm, device);
}
HCI_RUNTIME_DEF void rocm::empty_cache(int device) { cuda::detail::empty_cache(DeviceType::ROCm, device); }
HCI_RUNTIME_DEF std::string rocm::device_description(int device) {
  return cuda::detail::device_description(DeviceType::ROCm, device);
}
HCI_RUNTIME_DEF uintptr_t rocm::stream_handle(int device) {
  return cuda::detail::stream_handle(DeviceType::ROCm, device);
}

// Of every GPU either backend finds, the one with the most free memory; else the CPU.
HCI_RUNTIME_DEF Device Device::best() {
  const auto [nvidia, nvidia_free] = cuda::detail::roomiest_device(DeviceType::CUDA, cuda::driver());
  const auto [amd, amd_free] = cuda::detail::roomiest_device(DeviceType::ROCm, rocm::hip());
  if (nvidia && (!amd || nvidia_free >= amd_free)) return *nvidia;
  return amd.value_or(Device::cpu());
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
