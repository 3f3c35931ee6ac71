// Tests' handle on the mock CUDA driver (tests/mock_cuda.cpp) that hci loaded through
// HCI_CUDA_PATH, or under the mock HIP runtime (tests/mock_hip.cpp) through HCI_HIP_PATH: its
// control functions, and the launcher that runs what is launched on it as the
// kernels' host-emulated twins (jit/simt_emulator.hpp). The launcher reads the kernel's structure
// from the comment its PTX carries, maps the device addresses in the parameter block to host
// ones, and runs the emulated kernel over the launch's grid.
#pragma once

#include <hci/cuda/driver.hpp>
#include <hci/jit/emit_cpu.hpp>
#include <hci/jit/simt_emulator.hpp>
#include <hci/jit/structure_text.hpp>
#include <hci/rocm/hip.hpp>

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mock_cuda {

struct Control {
  void (*fail)(const char* entry_point, int result, long after) = nullptr;
  long (*calls)(const char* entry_point) = nullptr;
  long (*live_allocations)() = nullptr;
  long (*live_modules)() = nullptr;
  long (*queued)() = nullptr;  // operations queued on streams, not yet run
  void (*set_launcher)(int (*)(const char*, const char*, unsigned, unsigned, void**)) = nullptr;
  void* (*host_range)(uint64_t address, size_t bytes) = nullptr;
  void* (*host_address)(uint64_t address) = nullptr;
};

// The mock hci loaded (the mock HIP runtime's handle reaches the driver it links), or null where
// neither HCI_CUDA_PATH nor HCI_HIP_PATH names one.
inline void* library() {
  auto loaded = [](const char* variable, std::string_view mock, auto load) -> void* {
    const char* path = std::getenv(variable);
    if (!path || std::string_view(path).find(mock) == std::string_view::npos) return nullptr;
    load();
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    return handle && dlsym(handle, "hci_mock_cuda_fail") ? handle : nullptr;
  };
  if (void* cuda = loaded("HCI_CUDA_PATH", "mock_cuda", [] { hci::cuda::driver(); })) return cuda;
  return loaded("HCI_HIP_PATH", "mock_hip", [] { hci::rocm::hip(); });
}

// The control functions; call only where library() found the mock.
inline const Control& control() {
  static const Control c = [] {
    void* handle = library();
    Control found;
    auto take = [&](auto& function, const char* name) {
      function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(handle, name));
    };
    take(found.fail, "hci_mock_cuda_fail");
    take(found.calls, "hci_mock_cuda_calls");
    take(found.live_allocations, "hci_mock_cuda_live_allocations");
    take(found.live_modules, "hci_mock_cuda_live_modules");
    take(found.queued, "hci_mock_cuda_queued");
    take(found.set_launcher, "hci_mock_cuda_set_launcher");
    take(found.host_range, "hci_mock_cuda_host_range");
    take(found.host_address, "hci_mock_cuda_host_address");
    return found;
  }();
  return c;
}

inline constexpr int kLaunchFailed = 719;  // CUDA_ERROR_LAUNCH_FAILED

// The kernel structure a PTX module carries in its "// hci-kernel ..." comment.
inline hci::KernelStructure structure_in_ptx(std::string_view ptx) {
  const size_t at = ptx.find("// hci-kernel ");
  HCI_CHECK(at != std::string_view::npos, "the PTX carries no kernel structure");
  const size_t begin = at + 3;
  return hci::jit::parse_structure_text(ptx.substr(begin, ptx.find('\n', begin) - begin));
}

// The launcher: the kernel's arguments are (i64 start, i64 end, ptr params, ptr failure).
inline int launch_emulated(const char* image, const char*, unsigned blocks, unsigned threads, void** arguments) {
  try {
    const hci::KernelStructure s = structure_in_ptx(image);
    const hci::jit::ParamLayout layout = hci::jit::param_layout(s);
    int64_t start = 0, end = 0;
    uint64_t params_address = 0, failure_address = 0;
    std::memcpy(&start, arguments[0], sizeof start);
    std::memcpy(&end, arguments[1], sizeof end);
    std::memcpy(&params_address, arguments[2], sizeof params_address);
    std::memcpy(&failure_address, arguments[3], sizeof failure_address);
    const void* block = control().host_range(params_address, layout.slots * sizeof(int64_t));
    auto* failure = static_cast<int32_t*>(control().host_range(failure_address, sizeof(int32_t)));
    HCI_CHECK(block && failure, "the parameter block or the failure word is not in device memory");
    std::vector<int64_t> params(layout.slots);
    std::memcpy(params.data(), block, layout.slots * sizeof(int64_t));
    for (size_t slot : layout.addresses)
      params[slot] = int64_t(reinterpret_cast<uintptr_t>(control().host_address(uint64_t(params[slot]))));
    hci::jit::run_emulated(s, blocks, threads, start, end, params.data(), failure);
    return 0;
  } catch (const hci::Error& e) {
    std::fprintf(stderr, "mock CUDA driver: the launch failed: %s\n", e.what());
    return kLaunchFailed;
  }
}

// Runs launches on the mock from now on, if HCI_CUDA_PATH or HCI_HIP_PATH names it; returns
// whether it does.
inline bool emulate_launches() {
  if (!library()) return false;
  control().set_launcher(&launch_emulated);
  return true;
}

}  // namespace mock_cuda
