// The JIT as an executor of scheduled kernels on the CPU: each kernel structure is compiled once,
// kept in memory under its structural hash, and run on the thread pool. Kernels it cannot
// compile yet run on the interpreter, which stays the reference and the fallback.
#pragma once

#include <hci/cpu/thread_pool.hpp>
#include <hci/jit/gpu_target.hpp>
#include <hci/kernel.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit {

struct Stats {
  uint64_t kernels_compiled = 0;  // distinct kernels compiled
  uint64_t launches = 0;          // kernels run as compiled code
  uint64_t memory_hits = 0;       // of those, served by code compiled before
  uint64_t interpreted = 0;       // kernels left to the interpreter (JIT off, or not supported yet)
  uint64_t compile_failures = 0;  // kernels LLVM refused (then interpreted; a bug to report)
  uint64_t disk_hits = 0;         // kernels loaded from the disk cache instead of compiled
  uint64_t disk_writes = 0;       // kernels compiled and written to the disk cache
  uint64_t disk_rejects = 0;      // disk cache entries found corrupt, truncated or foreign (then rebuilt)
  double compile_seconds = 0;     // making kernels: IR, then compiling or loading from disk
  // Call sites (the op a kernel materialises) for which kMaxKernelsPerSite distinct kernels were
  // compiled, each warned about once on stderr: a loop over ever new dtypes, layouts or ranks
  // pays a compile each time.
  uint64_t busy_call_sites = 0;
  uint64_t gpu_compiled = 0;  // GPU code compiled for HCI_JIT_TARGETS (or gpu_code), per target
  uint64_t gpu_failures = 0;  // GPU code LLVM refused (a bug to report)
};
HCI_RUNTIME_DECL Stats stats();
HCI_RUNTIME_DECL void reset_stats();
// Forgets every compiled kernel, so that the next use of each compiles it again (benchmarks of
// compile latency, tests). Their code stays loaded: kernels may still be running.
HCI_RUNTIME_DECL void clear_memory_cache();

// The on-disk kernel cache, which keeps compiled code across processes: its directory, or ""
// where kernels are cached in memory only. Chosen at first use from HCI_CACHE_DIR (set but
// empty: memory only), else $XDG_CACHE_HOME/hci, else ~/.cache/hci; capped at HCI_CACHE_MAX_MB
// megabytes (default 1024), least recently used entries going first. A directory that another
// user owns or may write to is not used (a warning says so): it holds code hci runs.
HCI_RUNTIME_DECL std::string cache_directory();
// Uses `directory` for the disk cache from now on ("" for memory only), as HCI_CACHE_DIR would.
HCI_RUNTIME_DECL void set_cache_directory(const std::string& directory, uint64_t max_bytes = uint64_t(1) << 30);

// Whether kernels go through the JIT: LLVM usable, HCI_JIT not "0", and not switched off here.
HCI_RUNTIME_DECL bool enabled();
// Switches the JIT off (the interpreter runs everything) or back on; no effect without LLVM.
HCI_RUNTIME_DECL void set_enabled(bool on);
// One line for hci-info: the LLVM in use and the host code it makes, or why the JIT is off.
HCI_RUNTIME_DECL std::string status();

// GPU targets for which every kernel compiled is also compiled to GPU code (kept in the disk
// cache, and written out with HCI_JIT_DUMP), so that IR mistakes show up without a GPU and a
// cache filled here serves GPUs elsewhere. Chosen at first use from HCI_JIT_TARGETS, a
// comma-separated list such as `sm_80,sm_90,gfx90a,gfx942` (see GpuTarget).
HCI_RUNTIME_DECL std::vector<GpuTarget> gpu_targets();
HCI_RUNTIME_DECL void set_gpu_targets(std::vector<GpuTarget> targets);
// The GPU code of a kernel structure (PTX text, or an AMDGPU relocatable object, which
// link_amdgpu_code_object makes a code object of): from the disk cache, or compiled (which needs
// LLVM) and stored there. Throws hci::Error when neither can.
HCI_RUNTIME_DECL std::string gpu_code(const KernelStructure& s, const GpuTarget& target);
// The GPU kernel of a structure compiled as host code for the emulated target (see
// jit/simt_emulator.hpp, which runs it): from memory, the disk cache, or compiled. Throws
// hci::Error where LLVM is missing or refuses it.
HCI_RUNTIME_DECL void* emulated_gpu_code(const KernelStructure& s);

// Runs a scheduled kernel's compiled code somewhere: on the host's thread pool, or on a device.
// run() executes the code of `compiled` (the kernel itself, or for a reduction over the outer
// dim its transposed twin) over [0, count) in `parts` ranges, each a multiple of `unit` long but
// the last, with a scratch array of `scratch_bytes` at `scratch` after the parameters where the
// kernel has one (reductions leave their blocks' values there), and returns the kernel's status.
// A device runner copies the buffers and the scratch array in and back out around its launch.
struct CodeRunner {
  virtual ~CodeRunner() = default;
  virtual int32_t run(const Kernel& compiled, int64_t count, int64_t unit, int parts, void* scratch,
                      size_t scratch_bytes) = 0;
  // Has `store` write the kernel's output (buffer 0) from the host, as reductions finished on the
  // host do: a runner whose buffers are in device memory passes it the kernel over a host copy of
  // the output, and copies that back.
  virtual void store_output(const Kernel& k, const std::function<void(const Kernel&)>& store) { store(k); }
};
// Runs a kernel the GPU emitter takes (gpu_kernel_supported) through `runner` as the host
// executor runs it: the same items, and reductions finished on the host in the same order, so
// the results agree with the interpreter bit for bit, and failures (the status run() returns)
// give the interpreter's errors. `threads` bounds `parts`. An index out of bounds is reported by
// `interpret`, which runs the interpreter over the kernel (and so throws its error naming the
// index): by default over the kernel's own buffers; a device's runner passes one that runs it
// over host copies.
HCI_RUNTIME_DECL void run_with(const Kernel& kernel, CodeRunner& runner, int threads,
                               const std::function<void(const Kernel&)>& interpret = nullptr);
// Whether run_with takes the kernel.
HCI_RUNTIME_DECL bool gpu_takes(const Kernel& kernel);

namespace detail {
// Runs the kernel as compiled code and returns true, or returns false for the interpreter.
HCI_RUNTIME_DECL bool run_kernel(const Kernel& kernel, cpu::ThreadPool& pool);
// The compiled code of the kernel's structure (compiled now if it is new), or null where the
// JIT is off, cannot compile it, or LLVM refused it. What run_kernel does before running.
HCI_RUNTIME_DECL void* compiled_code(const Kernel& kernel);
}  // namespace detail

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/cpu/interpreter.hpp>
#include <hci/jit/amdgpu_linker.hpp>
#include <hci/jit/cpu_compiler.hpp>
#include <hci/jit/disk_cache.hpp>
#include <hci/jit/emit_cpu.hpp>
#include <hci/jit/emit_gpu.hpp>
#include <hci/jit/gpu_compiler.hpp>
#include <hci/jit/traced_kernel.hpp>
#include <hci/precise_fp.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

using KernelFn = int32_t (*)(int64_t start, int64_t end, const int64_t* params);

inline constexpr int64_t kBlock = 16384;  // elements per piece of work on the pool
inline constexpr int kMaxKernelsPerSite = 8;

struct CompiledKernel {
  KernelStructure structure;
  std::once_flag compiled;
  std::atomic<KernelFn> fn{nullptr};  // set once compiled; stays null if LLVM refused it
};

struct JitState {
  std::mutex mutex;  // guards kernels and the counters below; never held while compiling
  std::unordered_map<uint64_t, std::vector<std::shared_ptr<CompiledKernel>>> kernels;
  std::unordered_map<std::string, int> kernels_per_site;  // "file:line:column" -> kernels compiled
  Stats stats;
  bool disk_cache_chosen = false;
  std::shared_ptr<DiskCache> disk_cache;  // null: memory only; shared with compiles using it
  std::atomic<bool> switched_on{true};
  std::optional<std::vector<GpuTarget>> gpu_targets;  // chosen at first use
  const bool env_allows = [] {
    const char* v = std::getenv("HCI_JIT");
    return !(v && std::string_view(v) == "0");
  }();
};

inline JitState& state() {
  static JitState& s = *new JitState;  // kernels may run during static destruction
  return s;
}

// The cache entry of the kernel's structure, added if new; with s.mutex held.
inline std::shared_ptr<CompiledKernel> find_or_add_locked(JitState& s, const Kernel& k, bool& hit) {
  auto& same_hash = s.kernels[k.hash];
  for (const auto& entry : same_hash)
    if (entry->structure == k.structure) {
      hit = true;
      return entry;
    }
  hit = false;
  const std::source_location& at = k.recorded_at;
  const std::string site = hci::detail::format("{}:{}:{}", at.file_name(), at.line(), at.column());
  if (++s.kernels_per_site[site] == kMaxKernelsPerSite) {
    ++s.stats.busy_call_sites;
    std::fprintf(stderr,
                 "hci: %d different kernels were compiled for the op at %s (its dtypes, layouts or ranks keep "
                 "changing); each new one costs a compile\n",
                 kMaxKernelsPerSite, site.c_str());
  }
  auto entry = std::make_shared<CompiledKernel>();
  entry->structure = k.structure;
  same_hash.push_back(entry);
  return entry;
}

// HCI_JIT_DUMP=dir: each compiled kernel's IR and assembly go to dir/kernel_<hash>_<n>.ll and .s.
inline std::string dump_path(uint64_t hash) {
  static const char* const dir = std::getenv("HCI_JIT_DUMP");
  static std::atomic<uint64_t> count{0};
  if (!dir || !*dir) return {};
  return hci::detail::format("{}/kernel_{:016x}_{}", dir, hash, count++);
}

inline void write_file(const std::string& path, const std::string& text) {
  if (FILE* f = std::fopen(path.c_str(), "w")) {
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) == 0 && ok) return;
  }
  std::fprintf(stderr, "hci: HCI_JIT_DUMP: could not write %s\n", path.c_str());
}

// The disk cache in use (null for none), chosen from the environment on first use.
inline std::shared_ptr<DiskCache> open_disk_cache(const std::string& directory, uint64_t max_bytes) {
  if (directory.empty()) return nullptr;
  auto cache = std::make_shared<DiskCache>(directory, max_bytes);
  if (cache->usable()) return cache;
  std::fprintf(stderr, "hci: not using %s as kernel cache (%s); kernels are cached in memory only\n", directory.c_str(),
               cache->problem().c_str());
  return nullptr;
}

inline std::shared_ptr<DiskCache> disk_cache() {
  JitState& s = state();
  std::lock_guard lock(s.mutex);
  if (!s.disk_cache_chosen) {
    s.disk_cache_chosen = true;
    std::string directory;
    if (const char* dir = std::getenv("HCI_CACHE_DIR"))
      directory = dir;
    else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
      directory = std::string(xdg) + "/hci";
    else if (const char* home = std::getenv("HOME"); home && *home)
      directory = std::string(home) + "/.cache/hci";
    const char* megabytes = std::getenv("HCI_CACHE_MAX_MB");
    const uint64_t max_bytes =
        megabytes && std::atoll(megabytes) > 0 ? uint64_t(std::atoll(megabytes)) << 20 : DiskCache::kDefaultMaxBytes;
    s.disk_cache = open_disk_cache(directory, max_bytes);
  }
  return s.disk_cache;
}

// What host code depends on besides its IR: the disk cache keeps it apart per CPU and LLVM.
inline std::string host_target(const CpuCompiler& compiler) {
  const LlvmApi& api = compiler.api();
  return hci::detail::format("{} {} {} LLVM {}.{}.{}", compiler.triple(), compiler.cpu(), compiler.features(),
                             api.major, api.minor, api.patch);
}

// GPU code for `target`: from the disk cache (any LLVM's: the key is the IR and the target), else
// compiled and stored. With `dump_base`, the IR and code are written there too.
inline std::string gpu_code_of_ir(const std::string& ir, uint64_t hash, const GpuTarget& target,
                                  const std::string& dump_base, bool& from_disk) {
  const std::string name = "hci_kernel";
  const std::shared_ptr<DiskCache> cache = disk_cache();
  const CacheKey key{target.code_kind(), target.name(), digest(ir), hash};
  std::string rejected;
  if (cache && dump_base.empty())
    if (std::optional<std::string> code = cache->load(key, &rejected)) {
      from_disk = true;
      return *code;
    }
  const CpuCompiler* host = CpuCompiler::instance();
  HCI_CHECK(host != nullptr, "no GPU code for {} in the kernel cache ({}), and no LLVM to compile it: {}",
            target.name(), cache ? cache->directory() : "none in use", CpuCompiler::reason());
  const LlvmApi& api = host->api();
  std::string assembly;
  std::string code = GpuCompiler(api).compile(ir, target, name, dump_base.empty() ? nullptr : &assembly);
  if (cache) cache->store(key, code, hci::detail::format("LLVM {}.{}.{}", api.major, api.minor, api.patch));
  if (!dump_base.empty()) {
    std::string suffix = target.name();
    std::replace(suffix.begin(), suffix.end(), ':', '-');
    const std::string base = dump_base + "." + suffix;
    write_file(base + ".ll", ir);
    if (target.vendor == GpuTarget::Vendor::Nvidia) {
      write_file(base + ".ptx", code);
    } else {
      write_file(base + ".s", assembly);
      write_file(base + ".o", code);
      write_file(base + ".hsaco", link_amdgpu_code_object(code));
    }
  }
  return code;
}

inline std::string make_gpu_code(const KernelStructure& structure, uint64_t hash, const GpuTarget& target,
                                 const std::string& dump_base, bool& from_disk) {
  return gpu_code_of_ir(emit_gpu_kernel(structure, target, "hci_kernel"), hash, target, dump_base, from_disk);
}

inline std::vector<GpuTarget> chosen_gpu_targets() {
  JitState& s = state();
  std::lock_guard lock(s.mutex);
  if (!s.gpu_targets) {
    s.gpu_targets.emplace();
    if (const char* list = std::getenv("HCI_JIT_TARGETS")) try {
        s.gpu_targets = parse_gpu_targets(list);
      } catch (const Error& e) {
        std::fprintf(stderr, "hci: HCI_JIT_TARGETS ignored: %s\n", e.what());
      }
  }
  return *s.gpu_targets;
}

inline void count_gpu_code(bool failed, bool from_disk) {
  JitState& s = state();
  std::lock_guard lock(s.mutex);
  ++(failed ? s.stats.gpu_failures : from_disk ? s.stats.disk_hits : s.stats.gpu_compiled);
}

// HCI_JIT_TARGETS: GPU code for each target as well, from `ir_for(target)`; a failure is
// reported, counted and otherwise ignored (the host code runs regardless).
inline void compile_for_gpu_targets(const std::function<std::string(const GpuTarget&)>& ir_for, uint64_t hash,
                                    const std::string& dump_base) {
  for (const GpuTarget& target : chosen_gpu_targets()) {
    bool from_disk = false, failed = false;
    try {
      gpu_code_of_ir(ir_for(target), hash, target, dump_base, from_disk);
    } catch (const Error& e) {
      failed = true;
      std::fprintf(stderr, "hci: the JIT could not compile a kernel for %s: %s\n", target.name().c_str(), e.what());
    }
    count_gpu_code(failed, from_disk);
  }
}

// How one kernel's host code was made, for the statistics.
struct HostCodeOutcome {
  bool failed = false, from_disk = false, stored = false;
  std::string rejected;  // why a disk cache entry was refused
};

// Host code for `ir` (defining @hci_kernel): from the disk cache when it holds it, else compiled
// (and stored); with `dump_base`, the IR and assembly are written there (dumps always compile).
inline KernelFn host_code(const std::string& ir, CpuCompiler& compiler, uint64_t hash, const std::string& dump_base,
                          HostCodeOutcome& outcome) {
  const std::string name = "hci_kernel";
  const std::shared_ptr<DiskCache> cache = disk_cache();
  const CacheKey key{"cpu", host_target(compiler), digest(ir), hash};
  if (cache && dump_base.empty()) {
    if (std::optional<std::string> object = cache->load(key, &outcome.rejected)) {
      try {
        const auto fn = reinterpret_cast<KernelFn>(compiler.load(*object, name));
        outcome.from_disk = true;
        return fn;
      } catch (const Error& e) {
        outcome.rejected = e.what();
      }
    }
  }
  std::string assembly;
  const std::string object = compiler.object_code(ir, name, dump_base.empty() ? nullptr : &assembly);
  const auto fn = reinterpret_cast<KernelFn>(compiler.load(object, name));
  const LlvmApi& api = compiler.api();
  outcome.stored =
      cache && cache->store(key, object, hci::detail::format("LLVM {}.{}.{}", api.major, api.minor, api.patch));
  if (!dump_base.empty()) {
    write_file(dump_base + ".ll", ir);
    write_file(dump_base + ".s", assembly);
  }
  return fn;
}

inline void count_host_code(const HostCodeOutcome& outcome, std::chrono::steady_clock::time_point begin) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  JitState& s = state();
  std::lock_guard lock(s.mutex);
  s.stats.compile_seconds += seconds;
  ++(outcome.failed ? s.stats.compile_failures : outcome.from_disk ? s.stats.disk_hits : s.stats.kernels_compiled);
  s.stats.disk_writes += outcome.stored;
  s.stats.disk_rejects += !outcome.rejected.empty();
}

// Makes the scheduled kernel's code (and, with HCI_JIT_TARGETS, its GPU code).
inline void compile(CompiledKernel& entry, uint64_t hash, CpuCompiler& compiler) {
  const auto begin = std::chrono::steady_clock::now();
  HostCodeOutcome outcome;
  try {
    const std::string ir = emit_cpu_kernel(entry.structure, compiler.vector_bytes() / 4, "hci_kernel");
    const std::string dump_base = dump_path(hash);
    entry.fn = host_code(ir, compiler, hash, dump_base, outcome);
    if (gpu_kernel_supported(entry.structure))
      compile_for_gpu_targets(
          [&](const GpuTarget& target) { return emit_gpu_kernel(entry.structure, target, "hci_kernel"); }, hash,
          dump_base);
  } catch (const Error& e) {
    outcome.failed = true;
    std::fprintf(stderr, "hci: the JIT could not compile a kernel (it runs on the interpreter): %s\n", e.what());
  }
  count_host_code(outcome, begin);
}

// The structure's dtypes must be the buffers' (they are, for kernels the runtime schedules).
inline bool params_match(const Kernel& k) {
  if (k.params.buffers.empty() || k.params.buffers[0].dtype != k.structure.ops.back().dtype) return false;
  for (const KernelOp& op : k.structure.ops)
    if ((op.op == OpKind::Load && k.params.buffers[size_t(op.args[0])].dtype != op.in_dtype) ||
        (op.op == OpKind::Gather && k.params.buffers[size_t(op.args[0])].dtype != op.dtype))
      return false;
  return true;
}

// Whether the JIT takes the kernel: on, able to emit its structure, and given matching buffers.
inline bool takes(const Kernel& k) { return enabled() && cpu_kernel_supported(k.structure) && params_match(k); }

// The kernel's compiled code, compiled on first use (null if LLVM refused it). With `launch`, a
// launch is counted, and a memory hit if it was compiled before: on a hit, under the one lock
// taken to find it.
inline KernelFn lookup(const Kernel& k, bool launch) {
  JitState& s = state();
  std::shared_ptr<CompiledKernel> entry;
  bool hit = false;
  {
    std::lock_guard lock(s.mutex);
    entry = find_or_add_locked(s, k, hit);
    if (const KernelFn ready = hit ? entry->fn.load() : nullptr) {
      s.stats.launches += launch;
      s.stats.memory_hits += launch;
      return ready;
    }
  }
  std::call_once(entry->compiled, [&] { compile(*entry, k.hash, *CpuCompiler::instance()); });
  const KernelFn fn = entry->fn.load();  // the entry stays in the cache: code is never unloaded
  if (fn && launch) {
    std::lock_guard lock(s.mutex);
    ++s.stats.launches;
    s.stats.memory_hits += hit;  // compiled by another thread meanwhile
  }
  return fn;
}

// Runs fn over [0, count) in `parts` ranges, each a multiple of `unit` long but the last, on the
// pool (inline for one part: tiny kernels).
inline int32_t run_parts(KernelFn fn, const std::vector<int64_t>& params, int64_t count, int64_t unit, int parts,
                         cpu::ThreadPool& pool) {
  const int64_t units = (count + unit - 1) / unit;
  std::atomic<int32_t> status{0};
  auto run_part = [&](int part) {
    hci::detail::PreciseFloatMode mode;
    const int64_t begin = units * part / parts * unit, end = std::min(count, units * (part + 1) / parts * unit);
    if (int32_t rc = fn(begin, end, params.data())) status = rc;
  };
  if (parts == 1)
    run_part(0);
  else
    pool.run(parts, run_part);
  return status.load();
}

// A gather's index out of bounds, reported by the interpreter, which names the index.
struct IndexOutOfBounds {};

// A kernel's status as the interpreter's error.
inline void check_status(int32_t status) {
  if (status == kIndexOutOfBounds) throw IndexOutOfBounds{};
  HCI_CHECK(status != kIntegerFmodByZero, "fmod: ZeroDivisionError (an integer divided by zero)");
  HCI_CHECK(status != kIntegerRemainderByZero, "remainder: ZeroDivisionError (an integer divided by zero)");
  HCI_CHECK(status == 0, "a compiled kernel failed with code {}", status);
}

// Host code on the thread pool.
class HostRunner final : public CodeRunner {
 public:
  HostRunner(KernelFn fn, cpu::ThreadPool& pool) : fn_(fn), pool_(pool) {}
  int32_t run(const Kernel& compiled, int64_t count, int64_t unit, int parts, void* scratch, size_t) override {
    std::vector<int64_t> params = pack_params(compiled.params);
    if (scratch) params.push_back(int64_t(reinterpret_cast<uintptr_t>(scratch)));
    return run_parts(fn_, params, count, unit, parts, pool_);
  }

 private:
  KernelFn fn_;
  cpu::ThreadPool& pool_;
};

static_assert(kReduceBlock == cpu::interp::kBlock && kAccumulators == cpu::interp::kLanes,
              "compiled reductions combine in the interpreter's order");

// Runs `compiled` over `items` (pieces of `work` elements in all), in parts of about kBlock.
inline void run_items(CodeRunner& runner, const Kernel& compiled, int64_t items, int64_t work, int threads,
                      void* scratch = nullptr, size_t scratch_bytes = 0) {
  const int parts = int(std::clamp<int64_t>(work / kBlock, 1, std::min<int64_t>(items, threads)));
  check_status(runner.run(compiled, items, 1, parts, scratch, scratch_bytes));
}

// A reduction, as the interpreter's run_reduction_as. Over the last dims, the compiled kernel
// computes every block's value and the blocks of each output combine left to right here; over
// the outer dim, it runs on the transposed kernel (`by_rows`) and gives each output's total.
// Then means divide, and results are rounded and stored.
template <class Acc>
void run_reduction(const Kernel& k, const Kernel* by_rows, CodeRunner& runner, int threads) {
  namespace interp = cpu::interp;
  const KernelOp& root = k.structure.ops.back();
  const interp::Reducer<Acc> reducer{root.op};
  const auto [outputs, length] = interp::outputs_and_length(k);
  if (outputs == 0) return;
  const int64_t blocks = by_rows ? 1 : std::max<int64_t>(1, (length + kReduceBlock - 1) / kReduceBlock);
  std::vector<Acc> values(size_t(outputs * blocks), reducer.identity());
  const size_t bytes = values.size() * sizeof(Acc);
  if (length > 0 && by_rows)
    run_items(runner, *by_rows, (outputs + kStrip - 1) / kStrip, outputs * length, threads, values.data(), bytes);
  else if (length > 0)
    run_items(runner, k, outputs * blocks, outputs * length, threads, values.data(), bytes);
  hci::detail::PreciseFloatMode mode;
  std::vector<Acc> results(static_cast<size_t>(outputs));
  for (int64_t o = 0; o < outputs; ++o) {
    const Acc* value = values.data() + o * blocks;
    Acc total = value[0];
    for (int64_t b = 1; b < blocks; ++b) total = reducer.combine(total, value[b]);
    results[size_t(o)] = root.op == OpKind::Mean ? total / Acc(length) : total;
  }
  interp::round_to_dtype(results.data(), int(results.size()), root.dtype);
  runner.store_output(k, [&](const Kernel& output) { interp::store_reduced(output, results); });
}

// A reduction over the outer dim of a matrix runs on its transposed twin, walking it row by row.
inline std::optional<Kernel> by_rows_twin(const Kernel& k) {
  const bool outer = k.structure.is_reduction() && cpu::interp::reduces_outer_dim(k);
  return outer ? std::optional(cpu::interp::transposed_to_rows(k)) : std::nullopt;
}

// Runs k (whose code is that of `by_rows` where given) through the runner.
inline void run_compiled(const Kernel& k, const Kernel* by_rows, CodeRunner& runner, int threads) {
  if (k.structure.is_reduction()) {
    cpu::interp::visit_compute_type(k.structure.ops.back().in_dtype,
                                    [&](auto zero) { run_reduction<decltype(zero)>(k, by_rows, runner, threads); });
    return;
  }
  if (k.structure.root() == OpKind::Matmul) {  // GPU code only: one tile per item
    const int64_t tiles = matmul_tiles(k.params.sizes);
    if (tiles > 0) run_items(runner, k, tiles, hci::detail::numel(k.params.sizes), threads);
    return;
  }
  if (k.structure.is_row_wise()) {  // one row per item, several rows per part
    const auto [rows, length] = cpu::interp::outputs_and_length(k);
    if (rows > 0 && length > 0) run_items(runner, k, rows, rows * length, threads);
    return;
  }
  const int64_t total = hci::detail::numel(k.params.sizes);
  if (total == 0) return;
  const int64_t blocks = (total + kBlock - 1) / kBlock;
  check_status(runner.run(k, total, kBlock, int(std::clamp<int64_t>(blocks, 1, threads)), nullptr, 0));
}

// run_compiled, where an index out of bounds is reported by the interpreter, which names it.
inline void run_compiled_or_report(const Kernel& k, const Kernel* by_rows, CodeRunner& runner, int threads,
                                   const std::function<void(const Kernel&)>& interpret = nullptr) {
  try {
    run_compiled(k, by_rows, runner, threads);
  } catch (const IndexOutOfBounds&) {
    if (interpret)  // each throws the error
      interpret(k);
    else
      cpu::interp::run_kernel(k, *cpu::thread_pool());
    HCI_CHECK(false, "a compiled kernel found an index out of bounds that the interpreter did not");
  }
}

inline void count_interpreted() {
  JitState& s = state();
  std::lock_guard lock(s.mutex);
  ++s.stats.interpreted;
}

}  // namespace jit::detail

HCI_RUNTIME_DEF bool jit::enabled() {
  const detail::JitState& s = detail::state();
  return s.env_allows && s.switched_on.load() && CpuCompiler::instance() != nullptr;
}

HCI_RUNTIME_DEF void jit::set_enabled(bool on) { detail::state().switched_on = on; }

HCI_RUNTIME_DEF jit::Stats jit::stats() {
  detail::JitState& s = detail::state();
  std::lock_guard lock(s.mutex);
  return s.stats;
}

HCI_RUNTIME_DEF void jit::reset_stats() {
  detail::JitState& s = detail::state();
  std::lock_guard lock(s.mutex);
  s.stats = Stats{};
}

HCI_RUNTIME_DEF void jit::clear_memory_cache() {
  detail::JitState& s = detail::state();
  std::lock_guard lock(s.mutex);
  s.kernels.clear();
  s.kernels_per_site.clear();
}

HCI_RUNTIME_DEF std::string jit::cache_directory() {
  const std::shared_ptr<detail::DiskCache> cache = detail::disk_cache();
  return cache ? cache->directory() : std::string();
}

HCI_RUNTIME_DEF void jit::set_cache_directory(const std::string& directory, uint64_t max_bytes) {
  std::shared_ptr<detail::DiskCache> cache = detail::open_disk_cache(directory, max_bytes);
  detail::JitState& s = detail::state();
  std::lock_guard lock(s.mutex);
  s.disk_cache_chosen = true;
  s.disk_cache = std::move(cache);
}

HCI_RUNTIME_DEF std::string jit::status() {
  const CpuCompiler* compiler = CpuCompiler::instance();
  if (!compiler) return "unavailable: " + CpuCompiler::reason();
  const LlvmApi& api = compiler->api();
  std::string text = hci::detail::format("LLVM {}.{}.{} ({}), host code for {} with {} x float32 vectors", api.major,
                                         api.minor, api.patch, api.path, compiler->cpu(), compiler->vector_bytes() / 4);
  if (!detail::state().env_allows) text += "; switched off by HCI_JIT=0";
  const std::vector<GpuTarget> targets = gpu_targets();
  for (size_t i = 0; i < targets.size(); ++i) text += (i ? ", " : "; GPU code for ") + targets[i].name();
  return text;
}

HCI_RUNTIME_DEF std::vector<jit::GpuTarget> jit::gpu_targets() { return detail::chosen_gpu_targets(); }

HCI_RUNTIME_DEF void jit::set_gpu_targets(std::vector<GpuTarget> targets) {
  detail::JitState& s = detail::state();
  std::lock_guard lock(s.mutex);
  s.gpu_targets = std::move(targets);
}

HCI_RUNTIME_DEF std::string jit::gpu_code(const KernelStructure& s, const GpuTarget& target) {
  bool from_disk = false;
  std::string code = detail::make_gpu_code(s, s.hash(), target, "", from_disk);  // the caller sees a failure
  detail::count_gpu_code(false, from_disk);
  return code;
}

HCI_RUNTIME_DEF void* jit::emulated_gpu_code(const KernelStructure& s) {
  CpuCompiler* compiler = CpuCompiler::instance();
  HCI_CHECK(compiler != nullptr, "emulating GPU kernels needs LLVM: {}", CpuCompiler::reason());
  static std::mutex mutex;
  static std::unordered_map<uint64_t, std::vector<std::pair<KernelStructure, void*>>> made;
  std::lock_guard lock(mutex);  // compiles one at a time: emulation is for tests
  std::vector<std::pair<KernelStructure, void*>>& same_hash = made[s.hash()];
  for (const auto& [structure, code] : same_hash)
    if (structure == s) return code;
  const auto begin = std::chrono::steady_clock::now();
  detail::HostCodeOutcome outcome;
  void* code = nullptr;
  try {
    const std::string ir = emit_gpu_kernel(s, GpuTarget::emulated(), "hci_kernel");
    code = reinterpret_cast<void*>(detail::host_code(ir, *compiler, s.hash(), "", outcome));
  } catch (const Error&) {
    outcome.failed = true;
    detail::count_host_code(outcome, begin);
    throw;
  }
  detail::count_host_code(outcome, begin);
  same_hash.emplace_back(s, code);
  return code;
}

HCI_RUNTIME_DEF bool jit::detail::traced_kernels_enabled() { return enabled(); }

HCI_RUNTIME_DEF void* jit::detail::compile_traced_kernel(const std::string& ir) {
  const auto begin = std::chrono::steady_clock::now();
  HostCodeOutcome outcome;
  KernelFn fn = nullptr;
  try {
    fn = host_code(ir, *CpuCompiler::instance(), 0, dump_path(0), outcome);
  } catch (const Error& e) {
    outcome.failed = true;
    std::fprintf(stderr, "hci: the JIT could not compile a portable kernel: %s\n", e.what());
  }
  count_host_code(outcome, begin);
  return reinterpret_cast<void*>(fn);
}

HCI_RUNTIME_DEF std::string jit::detail::compile_traced_gpu_kernel(const std::string& ir, const GpuTarget& target) {
  bool from_disk = false;
  return gpu_code_of_ir(ir, 0, target, "", from_disk);
}

HCI_RUNTIME_DEF void jit::detail::compile_traced_for_gpu_targets(
    const std::function<std::string(const GpuTarget&)>& ir_for) {
  compile_for_gpu_targets(ir_for, 0, dump_path(0));
}

HCI_RUNTIME_DEF void jit::detail::run_traced_kernel(void* fn, const std::vector<int64_t>& params, int64_t n) {
  cpu::ThreadPool& pool = *cpu::thread_pool();
  const int parts = int(std::clamp<int64_t>((n + kBlock - 1) / kBlock, 1, pool.size()));
  const int32_t status = run_parts(reinterpret_cast<KernelFn>(fn), params, n, kBlock, parts, pool);
  HCI_CHECK(status != 1, "a kernel indexed a buffer outside its elements");
  HCI_CHECK(status != 2, "a kernel divided an integer by zero");
  HCI_CHECK(status == 0, "a kernel failed with status {}", status);
  std::lock_guard lock(state().mutex);
  ++state().stats.launches;
}

HCI_RUNTIME_DEF void* jit::detail::compiled_code(const Kernel& k) {
  return takes(k) ? reinterpret_cast<void*>(lookup(k, false)) : nullptr;
}

HCI_RUNTIME_DEF bool jit::detail::run_kernel(const Kernel& k, cpu::ThreadPool& pool) {
  const std::optional<Kernel> by_rows = by_rows_twin(k);
  const Kernel& compiled = by_rows ? *by_rows : k;
  const KernelFn fn = takes(compiled) ? lookup(compiled, true) : nullptr;
  if (!fn) {
    count_interpreted();
    return false;
  }
  HostRunner runner(fn, pool);
  run_compiled_or_report(k, by_rows ? &*by_rows : nullptr, runner, pool.size());
  return true;
}

namespace jit::detail {
// Whether the GPU emitter takes the kernel as it is compiled (its by-rows twin, if it has one).
inline bool gpu_takes_compiled(const Kernel& compiled) {
  return gpu_kernel_supported(compiled.structure) && params_match(compiled);
}
}  // namespace jit::detail

HCI_RUNTIME_DEF bool jit::gpu_takes(const Kernel& k) {
  const std::optional<Kernel> by_rows = detail::by_rows_twin(k);
  return detail::gpu_takes_compiled(by_rows ? *by_rows : k);
}

HCI_RUNTIME_DEF void jit::run_with(const Kernel& k, CodeRunner& runner, int threads,
                                   const std::function<void(const Kernel&)>& interpret) {
  const std::optional<Kernel> by_rows = detail::by_rows_twin(k);
  HCI_CHECK(detail::gpu_takes_compiled(by_rows ? *by_rows : k),
            "jit::run_with: this kernel ({} ops ending in {}) has no GPU code", k.structure.ops.size(),
            op_name(k.structure.root()));
  detail::run_compiled_or_report(k, by_rows ? &*by_rows : nullptr, runner, std::max(threads, 1), interpret);
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
