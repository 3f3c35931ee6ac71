// The CPU backend: host memory from the caching allocator, kernels run as JIT-compiled code or by
// the interpreter.
#pragma once

#include <hci/backend.hpp>
#include <hci/cpu/allocator.hpp>
#include <hci/cpu/interpreter.hpp>
#include <hci/cpu/matmul.hpp>
#include <hci/cpu/thread_pool.hpp>
#include <hci/jit/jit.hpp>

#include <cstdio>
#include <cstring>
#include <string_view>

HCI_BEGIN_NAMESPACE

namespace cpu {

// The CPU model name from /proc/cpuinfo, or "cpu".
inline std::string cpu_model_name() {
  std::string name = "cpu";
  if (FILE* f = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
      const std::string_view l(line);
      if (l.starts_with("model name")) {
        const auto colon = l.find(':');
        if (colon != std::string_view::npos && colon + 2 <= l.size())
          name = std::string(l.substr(colon + 2, l.size() - colon - 3));
        break;
      }
    }
    std::fclose(f);
  }
  return name;
}

inline CachingAllocator& allocator() {
  static CachingAllocator a;
  return a;
}

// Work runs synchronously on the thread pool, so every event is already complete.
class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  int device_count() override { return 1; }
  std::string device_name(int) override { return cpu_model_name(); }
  void* allocate(int, size_t bytes) override { return allocator().allocate(bytes); }
  void deallocate(int, void* data, size_t bytes) override { allocator().deallocate(data, bytes); }
  void copy_to_host(int, void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_from_host(int, void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  EventPtr launch(int, const Kernel& kernel) override {
    if (kernel.structure.root() == OpKind::Matmul)
      run_matmul(kernel, *thread_pool());
    else if (!jit::detail::run_kernel(kernel, *thread_pool()))
      interp::run_kernel(kernel, *thread_pool());
    return nullptr;
  }
  void synchronize(int) override {}
};

}  // namespace cpu

// Statistics of hci's CPU memory (live, peak and cached bytes; allocations and cache hits).
inline MemoryStats memory_stats() { return cpu::allocator().stats(); }
// Returns the cached free CPU blocks to the system.
inline void empty_cache() { cpu::allocator().empty_cache(); }

HCI_END_NAMESPACE
