// LLVM IR text to machine code on a given target machine: the text parsed in an LLVM context of the
// compile's own, optimised with LLVM's O3 pipeline, then written as an object file or as assembly.
// The host and GPU compilers both go through here.
#pragma once

#include <hci/jit/llvm_api.hpp>

#include <string>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// The error's message; consumes the error.
HCI_RUNTIME_DECL std::string take_error(const LlvmApi& api, llvm_c::ErrorRef error);

// The code of `ir` for `machine` (whose triple is `triple`), as `file`; with `assembly`, also
// the assembly text. Throws hci::Error with LLVM's message, naming `symbol`.
HCI_RUNTIME_DECL std::string generate_code(const LlvmApi& api, llvm_c::TargetMachine machine, const std::string& triple,
                                           const std::string& ir, const std::string& symbol,
                                           llvm_c::CodeGenFileType file, std::string* assembly = nullptr);

}  // namespace jit::detail

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>

#include <memory>
#include <type_traits>

HCI_BEGIN_NAMESPACE

HCI_RUNTIME_DEF std::string jit::detail::take_error(const LlvmApi& api, llvm_c::ErrorRef error) {
  char* message = api.LLVMGetErrorMessage(error);
  std::string text = message ? message : "unknown LLVM error";
  api.LLVMDisposeErrorMessage(message);
  return text;
}

HCI_RUNTIME_DEF std::string jit::detail::generate_code(const LlvmApi& api, llvm_c::TargetMachine machine,
                                                       const std::string& triple, const std::string& ir,
                                                       const std::string& symbol, llvm_c::CodeGenFileType file,
                                                       std::string* assembly) {
  auto owned = [](auto handle, auto dispose) {
    return std::unique_ptr<std::remove_pointer_t<decltype(handle)>, decltype(dispose)>(handle, dispose);
  };
  auto context = owned(api.LLVMContextCreate(), api.LLVMContextDispose);
  llvm_c::MemoryBuffer text = api.LLVMCreateMemoryBufferWithMemoryRangeCopy(ir.data(), ir.size(), symbol.c_str());
  llvm_c::Module parsed = nullptr;
  char* message = nullptr;
  if (api.LLVMParseIRInContext(context.get(), text, &parsed, &message)) {  // takes the buffer
    const std::string why = message ? message : "";
    api.LLVMDisposeMessage(message);
    hci::detail::throw_error("LLVM rejected the IR of {}: {}", symbol, why);
  }
  auto module = owned(parsed, api.LLVMDisposeModule);
  api.LLVMSetTarget(module.get(), triple.c_str());
  auto layout = owned(api.LLVMCreateTargetDataLayout(machine), api.LLVMDisposeTargetData);
  api.LLVMSetModuleDataLayout(module.get(), layout.get());
  llvm_c::PassBuilderOptions options = api.LLVMCreatePassBuilderOptions();
  llvm_c::ErrorRef error = api.LLVMRunPasses(module.get(), "default<O3>", machine, options);
  api.LLVMDisposePassBuilderOptions(options);
  if (error) hci::detail::throw_error("LLVM could not optimise {}: {}", symbol, take_error(api, error));
  // Code generation changes the module it is given (AMDGPU's structurises control flow), so a
  // second output is made from a copy of the optimised module.
  auto emit = [&](llvm_c::Module from, llvm_c::CodeGenFileType type) {
    llvm_c::MemoryBuffer out = nullptr;
    if (api.LLVMTargetMachineEmitToMemoryBuffer(machine, from, type, &message, &out)) {
      const std::string why = message ? message : "";
      api.LLVMDisposeMessage(message);
      hci::detail::throw_error("LLVM could not generate code for {}: {}", symbol, why);
    }
    std::string bytes(api.LLVMGetBufferStart(out), api.LLVMGetBufferSize(out));
    api.LLVMDisposeMemoryBuffer(out);
    return bytes;
  };
  if (assembly && file != llvm_c::kAssemblyFile) {
    auto copy = owned(api.LLVMCloneModule(module.get()), api.LLVMDisposeModule);
    *assembly = emit(copy.get(), llvm_c::kAssemblyFile);
  }
  std::string code = emit(module.get(), file);
  if (assembly && file == llvm_c::kAssemblyFile) *assembly = code;
  return code;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
