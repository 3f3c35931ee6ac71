// What a portable kernel (hci/launch.hpp) needs of the JIT's runtime: compiling its traced IR
// for the host and running the result on the thread pool.
#pragma once

#include <hci/jit/gpu_target.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// Compiles the IR of a traced kernel for the host (or finds it on disk): the function, or null
// when LLVM refused it (a message says why; the plain lambda runs instead).
HCI_RUNTIME_DECL void* compile_traced_kernel(const std::string& ir);
// Runs a compiled kernel over [0, n) on the thread pool; throws hci::Error on a bad index.
HCI_RUNTIME_DECL void run_traced_kernel(void* fn, const std::vector<int64_t>& params, int64_t n);
// The GPU code of a traced kernel's IR for `target` (from the disk cache, or compiled); throws
// hci::Error when neither can.
HCI_RUNTIME_DECL std::string compile_traced_gpu_kernel(const std::string& ir, const GpuTarget& target);
// With HCI_JIT_TARGETS, GPU code for each target, from `ir_for(target)`; failures are reported.
HCI_RUNTIME_DECL void compile_traced_for_gpu_targets(const std::function<std::string(const GpuTarget&)>& ir_for);
// Whether launches compile (LLVM usable, the JIT not switched off).
HCI_RUNTIME_DECL bool traced_kernels_enabled();

}  // namespace jit::detail

HCI_END_NAMESPACE
