// The LLVM C API, found at run time with dlopen: hci has no link-time dependency on LLVM.
//
// Where it looks: HCI_LLVM_PATH alone when set; otherwise a libLLVM already in the process, then
// versioned names from the newest down. A library is accepted when every entry point below
// resolves and LLVMGetVersion reports at least kMinimumLlvmMajor (machines often carry older
// copies for Mesa and the like); the JIT then runs a smoke compile before it is used. The handle
// is opened RTLD_LOCAL and never closed, and hci sets no global option of LLVM, so a copy some
// other library loaded is left as it was.
#pragma once

#include <hci/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

HCI_BEGIN_NAMESPACE

namespace jit {

inline constexpr unsigned kMinimumLlvmMajor = 19;  // the oldest LLVM CI tests

// Opaque LLVM handles, as the C API declares them.
namespace llvm_c {
using Context = struct OpaqueContext*;
using Module = struct OpaqueModule*;
using MemoryBuffer = struct OpaqueMemoryBuffer*;
using Target = struct OpaqueTarget*;
using TargetMachine = struct OpaqueTargetMachine*;
using TargetData = struct OpaqueTargetData*;
using PassBuilderOptions = struct OpaquePassBuilderOptions*;
using ErrorRef = struct OpaqueError*;
using LLJITBuilder = struct OpaqueLLJITBuilder*;
using LLJIT = struct OpaqueLLJIT*;
using ExecutionSession = struct OpaqueExecutionSession*;
using JITDylib = struct OpaqueJITDylib*;
using SymbolStringPoolEntry = struct OpaqueSymbolStringPoolEntry*;

enum CodeGenOptLevel : int { kOptNone = 0, kOptLess = 1, kOptDefault = 2, kOptAggressive = 3 };
enum RelocMode : int { kRelocDefault = 0, kRelocStatic = 1, kRelocPIC = 2 };
enum CodeModel : int { kCodeModelDefault = 0, kCodeModelJITDefault = 1, kCodeModelSmall = 3 };
enum CodeGenFileType : int { kAssemblyFile = 0, kObjectFile = 1 };

struct SymbolFlags {
  uint8_t generic_flags;
  uint8_t target_flags;
};
struct EvaluatedSymbol {
  uint64_t address;
  SymbolFlags flags;
};
struct SymbolMapPair {
  SymbolStringPoolEntry name;
  EvaluatedSymbol symbol;
};
struct SearchOrderElement {
  JITDylib dylib;
  int lookup_flags;  // 1: match all symbols, not only exported ones
};
struct LookupSetElement {
  SymbolStringPoolEntry name;
  int lookup_flags;  // 0: required
};
using ErrorReporter = void (*)(void* context, ErrorRef error);
using LookupHandler = void (*)(ErrorRef error, SymbolMapPair* result, size_t count, void* context);
}  // namespace llvm_c

// Every entry point hci uses: name, return type, parameter types.
#define HCI_LLVM_FUNCTIONS(X)                                                                                         \
  X(LLVMGetVersion, void, unsigned*, unsigned*, unsigned*)                                                            \
  X(LLVMDisposeMessage, void, char*)                                                                                  \
  X(LLVMContextCreate, llvm_c::Context)                                                                               \
  X(LLVMContextDispose, void, llvm_c::Context)                                                                        \
  X(LLVMCreateMemoryBufferWithMemoryRangeCopy, llvm_c::MemoryBuffer, const char*, size_t, const char*)                \
  X(LLVMGetBufferStart, const char*, llvm_c::MemoryBuffer)                                                            \
  X(LLVMGetBufferSize, size_t, llvm_c::MemoryBuffer)                                                                  \
  X(LLVMDisposeMemoryBuffer, void, llvm_c::MemoryBuffer)                                                              \
  X(LLVMParseIRInContext, int, llvm_c::Context, llvm_c::MemoryBuffer, llvm_c::Module*, char**)                        \
  X(LLVMDisposeModule, void, llvm_c::Module)                                                                          \
  X(LLVMCloneModule, llvm_c::Module, llvm_c::Module)                                                                  \
  X(LLVMSetTarget, void, llvm_c::Module, const char*)                                                                 \
  X(LLVMSetModuleDataLayout, void, llvm_c::Module, llvm_c::TargetData)                                                \
  X(LLVMGetDefaultTargetTriple, char*)                                                                                \
  X(LLVMGetHostCPUName, char*)                                                                                        \
  X(LLVMGetHostCPUFeatures, char*)                                                                                    \
  X(LLVMInitializeX86TargetInfo, void)                                                                                \
  X(LLVMInitializeX86Target, void)                                                                                    \
  X(LLVMInitializeX86TargetMC, void)                                                                                  \
  X(LLVMInitializeX86AsmPrinter, void)                                                                                \
  X(LLVMGetTargetFromTriple, int, const char*, llvm_c::Target*, char**)                                               \
  X(LLVMCreateTargetMachine, llvm_c::TargetMachine, llvm_c::Target, const char*, const char*, const char*,            \
    llvm_c::CodeGenOptLevel, llvm_c::RelocMode, llvm_c::CodeModel)                                                    \
  X(LLVMDisposeTargetMachine, void, llvm_c::TargetMachine)                                                            \
  X(LLVMCreateTargetDataLayout, llvm_c::TargetData, llvm_c::TargetMachine)                                            \
  X(LLVMDisposeTargetData, void, llvm_c::TargetData)                                                                  \
  X(LLVMTargetMachineEmitToMemoryBuffer, int, llvm_c::TargetMachine, llvm_c::Module, llvm_c::CodeGenFileType, char**, \
    llvm_c::MemoryBuffer*)                                                                                            \
  X(LLVMCreatePassBuilderOptions, llvm_c::PassBuilderOptions)                                                         \
  X(LLVMDisposePassBuilderOptions, void, llvm_c::PassBuilderOptions)                                                  \
  X(LLVMRunPasses, llvm_c::ErrorRef, llvm_c::Module, const char*, llvm_c::TargetMachine, llvm_c::PassBuilderOptions)  \
  X(LLVMGetErrorMessage, char*, llvm_c::ErrorRef)                                                                     \
  X(LLVMDisposeErrorMessage, void, char*)                                                                             \
  X(LLVMOrcCreateLLJITBuilder, llvm_c::LLJITBuilder)                                                                  \
  X(LLVMOrcCreateLLJIT, llvm_c::ErrorRef, llvm_c::LLJIT*, llvm_c::LLJITBuilder)                                       \
  X(LLVMOrcLLJITGetExecutionSession, llvm_c::ExecutionSession, llvm_c::LLJIT)                                         \
  X(LLVMOrcExecutionSessionCreateBareJITDylib, llvm_c::JITDylib, llvm_c::ExecutionSession, const char*)               \
  X(LLVMOrcLLJITAddObjectFile, llvm_c::ErrorRef, llvm_c::LLJIT, llvm_c::JITDylib, llvm_c::MemoryBuffer)               \
  X(LLVMOrcLLJITMangleAndIntern, llvm_c::SymbolStringPoolEntry, llvm_c::LLJIT, const char*)                           \
  X(LLVMOrcExecutionSessionLookup, void, llvm_c::ExecutionSession, int, llvm_c::SearchOrderElement*, size_t,          \
    llvm_c::LookupSetElement*, size_t, llvm_c::LookupHandler, void*)                                                  \
  X(LLVMOrcReleaseSymbolStringPoolEntry, void, llvm_c::SymbolStringPoolEntry)                                         \
  X(LLVMOrcExecutionSessionSetErrorReporter, void, llvm_c::ExecutionSession, llvm_c::ErrorReporter, void*)

// The resolved entry points of one libLLVM.
struct LlvmApi {
#define HCI_LLVM_POINTER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  HCI_LLVM_FUNCTIONS(HCI_LLVM_POINTER)
#undef HCI_LLVM_POINTER
  unsigned major = 0, minor = 0, patch = 0;
  std::string path;        // as dlopen was given it
  void* handle = nullptr;  // for entry points only some builds have (the GPU targets)
};

// The outcome of the search, made once per process: the API, or null and why in one line.
struct LlvmLibrary {
  const LlvmApi* api = nullptr;
  std::string reason;
};
HCI_RUNTIME_DECL const LlvmLibrary& llvm_library();

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/shared_library.hpp>

#include <cstdlib>
#include <memory>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// Opens one candidate (or, with `already_loaded`, only finds it if something loaded it before)
// and checks it; the reason it was refused otherwise.
inline std::unique_ptr<LlvmApi> try_llvm(const std::string& path, bool already_loaded, std::string& reason) {
  void* handle = hci::detail::open_shared_library(path, reason, already_loaded ? RTLD_NOLOAD : 0);
  if (!handle) return nullptr;
  auto api = std::make_unique<LlvmApi>();
  api->path = path;
  api->handle = handle;
  if (!dlsym(handle, "LLVMGetVersion")) {  // added in LLVM 16
    reason = path + " is older than LLVM 16, and hci needs " + std::to_string(kMinimumLlvmMajor);
    return nullptr;
  }
  // Resolved one by one, so that a library from before one of them names what it lacks.
  if (const char* missing = HCI_RESOLVE_ALL(HCI_LLVM_FUNCTIONS, handle, *api)) {
    reason = path + " lacks " + missing + " (too old, or built without the C API)";
    return nullptr;
  }
  api->LLVMGetVersion(&api->major, &api->minor, &api->patch);
  if (api->major < kMinimumLlvmMajor) {
    reason = path + " is LLVM " + std::to_string(api->major) + "." + std::to_string(api->minor) + ", older than " +
             std::to_string(kMinimumLlvmMajor);
    return nullptr;
  }
  return api;  // the handle stays open for the life of the process
}

inline std::vector<std::string> llvm_candidate_names() {
  std::vector<std::string> names;
  for (unsigned major = kMinimumLlvmMajor + 12; major >= kMinimumLlvmMajor; --major) {
    names.push_back("libLLVM.so." + std::to_string(major) + ".1");
    names.push_back("libLLVM-" + std::to_string(major) + ".so");
    names.push_back("libLLVM.so." + std::to_string(major));
  }
  names.emplace_back("libLLVM.so");
  return names;
}

}  // namespace jit::detail

HCI_RUNTIME_DEF const jit::LlvmLibrary& jit::llvm_library() {
  static const LlvmLibrary library = [] {
    LlvmLibrary result;
    std::string reason;
    if (const char* path = std::getenv("HCI_LLVM_PATH"); path && *path) {
      result.api = detail::try_llvm(path, false, reason).release();
      if (!result.api) result.reason = "HCI_LLVM_PATH: " + reason;
      return result;
    }
    const std::vector<std::string> names = detail::llvm_candidate_names();
    for (bool already_loaded : {true, false}) {
      for (const std::string& name : names) {
        std::string why;
        result.api = detail::try_llvm(name, already_loaded, why).release();
        if (result.api) return result;
        // A copy that exists but is refused explains more than a name that is not there.
        if (!already_loaded && why.find("cannot open") == std::string::npos) reason = why;
      }
    }
    result.reason = reason.empty()
                        ? "no libLLVM " + std::to_string(kMinimumLlvmMajor) + " or newer found (install libllvm" +
                              std::to_string(kMinimumLlvmMajor) + ", or set HCI_LLVM_PATH)"
                        : reason;
    return result;
  }();
  return library;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
