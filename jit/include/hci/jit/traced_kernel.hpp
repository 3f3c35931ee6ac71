// What a portable kernel (hci/launch.hpp) needs of the JIT's runtime: compiling its traced IR
// for the host and running the result on the thread pool.
#pragma once

#include <hci/config.hpp>

#include <cstdint>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// Compiles the IR of a traced kernel for the host (or finds it on disk): the function, or null
// when LLVM refused it (a message says why; the plain lambda runs instead).
HCI_RUNTIME_DECL void* compile_traced_kernel(const std::string& ir);
// Runs a compiled kernel over [0, n) on the thread pool; throws hci::Error on a bad index.
HCI_RUNTIME_DECL void run_traced_kernel(void* fn, const std::vector<int64_t>& params, int64_t n);
// Whether launches compile (LLVM usable, the JIT not switched off).
HCI_RUNTIME_DECL bool traced_kernels_enabled();

}  // namespace jit::detail

HCI_END_NAMESPACE
