// Compiles LLVM IR text for GPUs: PTX text for NVIDIA targets, a relocatable AMDGPU object for
// AMD ones (linked into a code object before it is loaded). Nothing here needs a GPU: the code
// generators are part of libLLVM, when it was built with them.
#pragma once

#include <hci/jit/codegen.hpp>
#include <hci/jit/gpu_target.hpp>

#include <string>

HCI_BEGIN_NAMESPACE

namespace jit {

class GpuCompiler {
 public:
  explicit GpuCompiler(const LlvmApi& api) : api_(api) {}
  // The code of `symbol`, defined by `ir`, for `target`; with `assembly`, also the assembly text
  // (for NVIDIA that is the PTX itself). Throws hci::Error when LLVM lacks the target's code
  // generator or rejects the IR.
  std::string compile(const std::string& ir, const GpuTarget& target, const std::string& symbol,
                      std::string* assembly = nullptr) const;

 private:
  const LlvmApi& api_;
};

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>

#include <dlfcn.h>

#include <memory>
#include <mutex>
#include <string_view>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// Registers the vendor's code generator with LLVM, once; false where this build of LLVM has
// none (its initialisers are entry points only some builds export). AMD's includes its assembly
// parser, for the module-level assembly that puts the kernel's structure in a section.
inline bool initialise_gpu_backend(const LlvmApi& api, GpuTarget::Vendor vendor) {
  auto initialise = [&api](const char* name) {
    static std::once_flag once[2];
    static bool present[2] = {false, false};
    const int which = name[0] == 'N' ? 0 : 1;
    std::call_once(once[which], [&] {
      const std::string prefix = std::string("LLVMInitialize") + name;
      bool all = true;
      for (const char* part : {"TargetInfo", "Target", "TargetMC", "AsmPrinter", "AsmParser"}) {
        if (which == 0 && std::string_view(part) == "AsmParser") continue;  // NVPTX has none, nor needs one
        auto* fn = reinterpret_cast<void (*)()>(dlsym(api.handle, (prefix + part).c_str()));
        all = all && fn != nullptr;
        if (fn) fn();
      }
      present[which] = all;
    });
    return present[which];
  };
  return initialise(vendor == GpuTarget::Vendor::Nvidia ? "NVPTX" : "AMDGPU");
}

}  // namespace jit::detail

HCI_RUNTIME_DEF std::string jit::GpuCompiler::compile(const std::string& ir, const GpuTarget& target,
                                                      const std::string& symbol, std::string* assembly) const {
  HCI_CHECK(target.vendor != GpuTarget::Vendor::Emulated,
            "the emulated GPU target's kernels are host code (jit/simt_emulator.hpp), not GPU code");
  const bool nvidia = target.vendor == GpuTarget::Vendor::Nvidia;
  HCI_CHECK(detail::initialise_gpu_backend(api_, target.vendor), "{} was built without the {} code generator",
            api_.path, nvidia ? "NVPTX" : "AMDGPU");
  const std::string triple = target.triple();
  llvm_c::Target llvm_target = nullptr;
  char* message = nullptr;
  if (api_.LLVMGetTargetFromTriple(triple.c_str(), &llvm_target, &message)) {
    const std::string why = message ? message : "";
    api_.LLVMDisposeMessage(message);
    hci::detail::throw_error("LLVM has no target for {}: {}", triple, why);
  }
  auto machine = std::unique_ptr<std::remove_pointer_t<llvm_c::TargetMachine>, void (*)(llvm_c::TargetMachine)>(
      api_.LLVMCreateTargetMachine(llvm_target, triple.c_str(), target.cpu().c_str(), target.features().c_str(),
                                   llvm_c::kOptAggressive, llvm_c::kRelocPIC, llvm_c::kCodeModelDefault),
      api_.LLVMDisposeTargetMachine);
  HCI_CHECK(machine != nullptr, "LLVM could not create a target machine for {}", target.name());
  return detail::generate_code(api_, machine.get(), triple, ir, symbol,
                               nvidia ? llvm_c::kAssemblyFile : llvm_c::kObjectFile, assembly);
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
