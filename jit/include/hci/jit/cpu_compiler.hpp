// Compiles LLVM IR text to host code: the host's target machine, LLVM's optimisation pipeline,
// an object file, and ORC's linker. Kernels are linked into a JITDylib with nothing else in it,
// so a call the code generator slips in (memset, a half conversion, fmod) fails to link in a
// test instead of resolving to whatever the process happens to hold.
#pragma once

#include <hci/jit/codegen.hpp>

#include <mutex>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit {

class CpuCompiler {
 public:
  // The compiler for this host, created (and smoke-tested) on first use; null when LLVM is
  // missing or unusable, and then reason() says why.
  static CpuCompiler* instance();
  static const std::string& reason();
  explicit CpuCompiler(const LlvmApi& api);  // throws hci::Error; use instance()

  // The address of `symbol`, defined by `ir`, which is linked alone: the same symbol may be
  // compiled any number of times. With `assembly`, also the machine code as assembly text.
  // Throws hci::Error with LLVM's message.
  void* compile(const std::string& ir, const std::string& symbol, std::string* assembly = nullptr) {
    return load(object_code(ir, symbol, assembly), symbol);
  }
  // The two halves of compile(). object_code optimises and generates code; threads run it at
  // the same time (each borrows a target machine of its own). load links an object file (made
  // here or read from the disk cache) and is quick; one thread links at a time.
  std::string object_code(const std::string& ir, const std::string& symbol, std::string* assembly = nullptr);
  void* load(const std::string& object, const std::string& symbol);

  const LlvmApi& api() const { return api_; }
  const std::string& cpu() const { return cpu_; }
  const std::string& features() const { return features_; }
  const std::string& triple() const { return triple_; }
  int vector_bytes() const { return vector_bytes_; }  // of the widest vector registers

 private:
  std::string take_error(llvm_c::ErrorRef error) const;

  const LlvmApi& api_;
  std::string triple_, cpu_, features_;
  // A target machine serves one compile at a time: compiles borrow one and return it.
  llvm_c::TargetMachine borrow_machine();
  void return_machine(llvm_c::TargetMachine machine);
  std::mutex machines_mutex_;
  std::vector<llvm_c::TargetMachine> idle_machines_;  // never disposed: the process keeps its code

  llvm_c::Target target_ = nullptr;
  llvm_c::LLJIT jit_ = nullptr;
  int vector_bytes_ = 16;
  std::mutex link_mutex_;   // guards the two below: ORC reports link errors session-wide
  uint64_t modules_ = 0;    // linked so far; names each one's JITDylib
  std::string link_error_;  // what ORC reported while linking the kernel being loaded
};

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>

#include <condition_variable>
#include <cstring>
#include <memory>

HCI_BEGIN_NAMESPACE

namespace jit {

HCI_RUNTIME_DEF std::string CpuCompiler::take_error(llvm_c::ErrorRef error) const {
  return detail::take_error(api_, error);
}

HCI_RUNTIME_DEF CpuCompiler::CpuCompiler(const LlvmApi& api) : api_(api) {
  api_.LLVMInitializeX86TargetInfo();
  api_.LLVMInitializeX86Target();
  api_.LLVMInitializeX86TargetMC();
  api_.LLVMInitializeX86AsmPrinter();
  auto take_string = [&](char* s) {
    std::string text = s ? s : "";
    api_.LLVMDisposeMessage(s);
    return text;
  };
  triple_ = take_string(api_.LLVMGetDefaultTargetTriple());
  cpu_ = take_string(api_.LLVMGetHostCPUName());
  features_ = take_string(api_.LLVMGetHostCPUFeatures());
  HCI_CHECK(triple_.starts_with("x86_64"), "the JIT generates host code for x86-64 only (this host is {})", triple_);
  vector_bytes_ = features_.find("+avx512f") != std::string::npos ? 64
                  : features_.find("+avx2") != std::string::npos  ? 32
                                                                  : 16;
  char* message = nullptr;
  if (api_.LLVMGetTargetFromTriple(triple_.c_str(), &target_, &message)) {
    const std::string text = take_string(message);
    hci::detail::throw_error("LLVM has no target for {}: {}", triple_, text);
  }
  return_machine(borrow_machine());  // fails here, not in a compile, if LLVM cannot make one
  if (llvm_c::ErrorRef error = api_.LLVMOrcCreateLLJIT(&jit_, api_.LLVMOrcCreateLLJITBuilder()))
    hci::detail::throw_error("LLVM's JIT could not start: {}", take_error(error));
  llvm_c::ExecutionSession session = api_.LLVMOrcLLJITGetExecutionSession(jit_);
  // ORC reports link errors (the missing symbols) here rather than in the lookup's result.
  api_.LLVMOrcExecutionSessionSetErrorReporter(
      session,
      [](void* context, llvm_c::ErrorRef error) {
        auto* compiler = static_cast<CpuCompiler*>(context);
        compiler->link_error_ += (compiler->link_error_.empty() ? "" : "; ") + compiler->take_error(error);
      },
      this);
}

HCI_RUNTIME_DEF llvm_c::TargetMachine CpuCompiler::borrow_machine() {
  std::lock_guard lock(machines_mutex_);
  if (!idle_machines_.empty()) {
    llvm_c::TargetMachine machine = idle_machines_.back();
    idle_machines_.pop_back();
    return machine;
  }
  llvm_c::TargetMachine machine =
      api_.LLVMCreateTargetMachine(target_, triple_.c_str(), cpu_.c_str(), features_.c_str(), llvm_c::kOptAggressive,
                                   llvm_c::kRelocPIC, llvm_c::kCodeModelSmall);
  HCI_CHECK(machine != nullptr, "LLVM could not create a target machine for {} ({})", triple_, cpu_);
  return machine;
}

HCI_RUNTIME_DEF void CpuCompiler::return_machine(llvm_c::TargetMachine machine) {
  std::lock_guard lock(machines_mutex_);
  idle_machines_.push_back(machine);
}

HCI_RUNTIME_DEF std::string CpuCompiler::object_code(const std::string& ir, const std::string& symbol,
                                                     std::string* assembly) {
  struct Borrowed {
    CpuCompiler& compiler;
    llvm_c::TargetMachine machine;
    ~Borrowed() { compiler.return_machine(machine); }
  } borrowed{*this, borrow_machine()};
  return detail::generate_code(api_, borrowed.machine, triple_, ir, symbol, llvm_c::kObjectFile, assembly);
}

HCI_RUNTIME_DEF void* CpuCompiler::load(const std::string& object_file, const std::string& symbol) {
  // Link it alone, in a JITDylib of its own, and find the symbol; a reference to anything
  // outside fails here.
  std::lock_guard lock(link_mutex_);
  llvm_c::MemoryBuffer object =
      api_.LLVMCreateMemoryBufferWithMemoryRangeCopy(object_file.data(), object_file.size(), symbol.c_str());
  const std::string dylib_name = hci::detail::format("hci.kernel.{}", modules_++);
  llvm_c::JITDylib dylib =
      api_.LLVMOrcExecutionSessionCreateBareJITDylib(api_.LLVMOrcLLJITGetExecutionSession(jit_), dylib_name.c_str());
  if (llvm_c::ErrorRef e = api_.LLVMOrcLLJITAddObjectFile(jit_, dylib, object))  // takes the object
    hci::detail::throw_error("LLVM could not load {}: {}", symbol, take_error(e));
  struct Lookup {
    std::mutex mutex;
    std::condition_variable done_signal;
    bool done = false;
    uint64_t address = 0;
    std::string error;
  } lookup;
  llvm_c::SearchOrderElement order{dylib, 1};
  llvm_c::LookupSetElement wanted{api_.LLVMOrcLLJITMangleAndIntern(jit_, symbol.c_str()), 0};
  struct Handler {
    static void on_result(llvm_c::ErrorRef e, llvm_c::SymbolMapPair* result, size_t count, void* context) {
      auto [l, compiler] = *static_cast<std::pair<Lookup*, const CpuCompiler*>*>(context);
      std::lock_guard guard(l->mutex);
      if (e)
        l->error = compiler->take_error(e);
      else if (count > 0)
        l->address = result[0].symbol.address;
      l->done = true;
      l->done_signal.notify_all();
    }
  };
  std::pair<Lookup*, const CpuCompiler*> context_pair{&lookup, this};
  api_.LLVMOrcExecutionSessionLookup(api_.LLVMOrcLLJITGetExecutionSession(jit_), 0, &order, 1, &wanted, 1,
                                     &Handler::on_result, &context_pair);
  std::unique_lock wait(lookup.mutex);
  lookup.done_signal.wait(wait, [&] { return lookup.done; });
  if (!lookup.error.empty()) {
    const std::string detail = link_error_.empty() ? lookup.error : link_error_ + " (" + lookup.error + ")";
    link_error_.clear();
    hci::detail::throw_error("LLVM could not link {}: {}", symbol, detail);
  }
  HCI_CHECK(lookup.address != 0, "LLVM did not define {}", symbol);
  return reinterpret_cast<void*>(lookup.address);  // NOLINT(performance-no-int-to-ptr): an address ORC gives
}

namespace detail {

struct CompilerState {
  CpuCompiler* compiler = nullptr;  // lives as long as the code it made: the process
  std::string reason;
};

inline CompilerState make_cpu_compiler() {
  CompilerState state;
  const LlvmLibrary& library = llvm_library();
  if (!library.api) {
    state.reason = library.reason;
    return state;
  }
  try {
    auto compiler = std::unique_ptr<CpuCompiler>(new CpuCompiler(*library.api));
    // The smoke compile: a library that loads but cannot compile and run this is not used.
    const std::string smoke = "define i32 @hci_smoke(i32 %x) {\n  %r = add i32 %x, 1\n  ret i32 %r\n}\n";
    auto* fn = reinterpret_cast<int32_t (*)(int32_t)>(compiler->compile(smoke, "hci_smoke"));
    HCI_CHECK(fn(41) == 42, "the smoke-test kernel computed a wrong result");
    state.compiler = compiler.release();
  } catch (const Error& e) {
    state.reason = library.api->path + ": " + e.what();
  }
  return state;
}

inline const CompilerState& compiler_state() {
  static const CompilerState state = make_cpu_compiler();
  return state;
}

}  // namespace detail

HCI_RUNTIME_DEF CpuCompiler* CpuCompiler::instance() { return detail::compiler_state().compiler; }
HCI_RUNTIME_DEF const std::string& CpuCompiler::reason() { return detail::compiler_state().reason; }

}  // namespace jit

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
