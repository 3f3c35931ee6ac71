// Core benchmarks, each beside a hand-written reference in the same binary: same flags, same
// thread pool and the same buffer policy (outputs from hci's caching allocator).
#include "fast_loops.hpp"
#include "reference.hpp"

#include <hci/hci.hpp>
#include <hci/launch.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

constexpr int64_t kN = int64_t(1) << 24;  // 16M float32

hci::Tensor filled(float value) { return hci::full({kN}, value); }

using bench::free_output;
using bench::new_output;
using bench::parallel;

void BM_add_hci(benchmark::State& state) {
  const hci::Tensor a = filled(1), b = filled(2);
  hci::eval(a, b);
  for (auto _ : state) {
    hci::Tensor c = a + b;
    hci::eval(c);
    benchmark::DoNotOptimize(c.const_data_ptr<float>());
  }
  state.SetBytesProcessed(state.iterations() * kN * 12);
}

void BM_add_reference(benchmark::State& state) {
  const hci::Tensor a = filled(1), b = filled(2);
  const float* pa = a.const_data_ptr<float>();
  const float* pb = b.const_data_ptr<float>();
  for (auto _ : state) {
    float* out = new_output(kN);
    parallel(kN, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[i] = pa[i] + pb[i];
    });
    benchmark::DoNotOptimize(out);
    free_output(out, kN);
  }
  state.SetBytesProcessed(state.iterations() * kN * 12);
}

void BM_chain_hci(benchmark::State& state) {
  const hci::Tensor a = hci::rand({kN}), b = hci::rand({kN}), c = hci::rand({kN}), d = hci::rand({kN});
  hci::eval(a, b, c, d);
  for (auto _ : state) {
    hci::Tensor y = hci::relu(a * b + c) * 0.5 + hci::exp(-d);
    hci::eval(y);
    benchmark::DoNotOptimize(y.const_data_ptr<float>());
  }
  state.SetBytesProcessed(state.iterations() * kN * 20);
}

// The same chain as one hand-written loop, vectorised with fast math (fast_loops.cpp).
void BM_chain_reference(benchmark::State& state) {
  const hci::Tensor a = hci::rand({kN}), b = hci::rand({kN}), c = hci::rand({kN}), d = hci::rand({kN});
  const float *pa = a.const_data_ptr<float>(), *pb = b.const_data_ptr<float>(), *pc = c.const_data_ptr<float>(),
              *pd = d.const_data_ptr<float>();
  for (auto _ : state) {
    float* out = new_output(kN);
    parallel(kN, [&](int64_t begin, int64_t end) { bench::chain_loop(pa, pb, pc, pd, out, begin, end); });
    benchmark::DoNotOptimize(out);
    free_output(out, kN);
  }
  state.SetBytesProcessed(state.iterations() * kN * 20);
}

// A portable kernel (hci::launch) against the loop it stands for: y = a x + y in place.
const auto saxpy_kernel = hci::kernel<hci::Buffer<float>, hci::Buffer<float>, float>(
    [](auto i, auto x, auto y, auto a) { y.store(i, a * x.load(i) + y.load(i)); });

void BM_kernel_saxpy_hci(benchmark::State& state) {
  const hci::Tensor x = filled(1), y = filled(2);
  hci::eval(x, y);
  for (auto _ : state) {
    hci::launch(saxpy_kernel, kN, x, y, 0.5f);
    benchmark::DoNotOptimize(y.const_data_ptr<float>());
  }
  state.SetBytesProcessed(state.iterations() * kN * 12);
}

void BM_kernel_saxpy_reference(benchmark::State& state) {
  const hci::Tensor x = filled(1), y = filled(2);
  const float* px = x.const_data_ptr<float>();
  float* py = y.data_ptr<float>();
  for (auto _ : state) {
    parallel(kN, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) py[i] = 0.5f * px[i] + py[i];
    });
    benchmark::DoNotOptimize(py);
  }
  state.SetBytesProcessed(state.iterations() * kN * 12);
}

void BM_sum_hci(benchmark::State& state) {
  const hci::Tensor a = hci::rand({kN});
  hci::eval(a);
  for (auto _ : state) benchmark::DoNotOptimize(a.sum().item<float>());
  state.SetBytesProcessed(state.iterations() * kN * 4);
}

void BM_sum_reference(benchmark::State& state) {
  const hci::Tensor a = hci::rand({kN});
  const float* p = a.const_data_ptr<float>();
  for (auto _ : state) {
    float partial[64] = {};
    parallel(kN, [&](int64_t begin, int64_t end) {
      float acc[8] = {};  // several accumulators, as a careful hand-written loop has
      int64_t i = begin;
      for (; i + 8 <= end; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += p[i + l];
      for (; i < end; ++i) acc[0] += p[i];
      float s = 0;
      for (float x : acc) s += x;
      partial[begin * hci::get_num_threads() / kN] = s;
    });
    float total = 0;
    for (int t = 0; t < hci::get_num_threads(); ++t) total += partial[t];
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(state.iterations() * kN * 4);
}

// The whole life of a 1-element op: recorded, evaluated (by compiled code when the JIT is on:
// jit_launches counts per op) and read back.
void BM_tiny_add_hci(benchmark::State& state) {
  const hci::Tensor a = hci::ones({1}), b = hci::ones({1});
  hci::eval(a, b);
  const uint64_t launches = hci::jit::stats().launches;
  for (auto _ : state) benchmark::DoNotOptimize((a + b).item<float>());
  state.counters["jit_launches"] =
      benchmark::Counter(double(hci::jit::stats().launches - launches), benchmark::Counter::kAvgIterations);
}

// Benchmarks of the JIT itself report an error where it is off.
bool jit_available(benchmark::State& state) {
  if (!hci::jit::enabled()) state.SkipWithError(("the JIT is off: " + hci::jit::status()).c_str());
  return hci::jit::enabled();
}

// Uses `directory` as the JIT's disk cache ("" for none) while it lives, then the one before.
class CacheDirectory {
 public:
  explicit CacheDirectory(const std::string& directory) { hci::jit::set_cache_directory(directory); }
  ~CacheDirectory() { hci::jit::set_cache_directory(previous_); }

 private:
  std::string previous_ = hci::jit::cache_directory();
};

// Making the chain's kernel again and again once the memory cache has forgotten it, on small
// tensors so that running it costs little; `counted` picks the statistic that counts each make.
template <typename Counted>
void remake_chain_kernel(benchmark::State& state, const char* name, Counted counted) {
  const hci::Tensor a = hci::rand({64}), b = hci::rand({64}), c = hci::rand({64}), d = hci::rand({64});
  hci::eval(a, b, c, d);
  auto make = [&] {
    hci::Tensor y = hci::relu(a * b + c) * 0.5 + hci::exp(-d);
    hci::eval(y);
  };
  make();  // once untimed: a disk cache then holds the kernel
  const uint64_t before = counted(hci::jit::stats());
  for (auto _ : state) {
    state.PauseTiming();
    hci::jit::clear_memory_cache();
    state.ResumeTiming();
    make();
  }
  state.counters[name] =
      benchmark::Counter(double(counted(hci::jit::stats()) - before), benchmark::Counter::kAvgIterations);
}

// Compiling the chain's kernel from nothing (after LLVM's one-time start-up): IR, optimisation,
// code generation and linking.
void BM_jit_compile_chain(benchmark::State& state) {
  if (!jit_available(state)) return;
  const CacheDirectory memory_only("");
  remake_chain_kernel(state, "kernels_compiled", [](const hci::jit::Stats& s) { return s.kernels_compiled; });
}

// Loading the chain's kernel from the disk cache, as a new process would: IR, its digest,
// reading and checking the entry, linking.
void BM_jit_disk_hit(benchmark::State& state) {
  if (!jit_available(state)) return;
  char directory[] = "/tmp/hci_bench_cache_XXXXXX";
  if (!mkdtemp(directory)) {
    state.SkipWithError("could not make a temporary directory");
    return;
  }
  {
    const CacheDirectory cache(directory);
    remake_chain_kernel(state, "disk_hits", [](const hci::jit::Stats& s) { return s.disk_hits; });
  }
  std::filesystem::remove_all(directory);
}

// Finding the compiled code of a kernel compiled before: structural hash lookup and comparison,
// the memory-cache hit every launch after the first pays.
void BM_jit_memory_hit(benchmark::State& state) {
  if (!jit_available(state)) return;
  float out = 0, a = 1, b = 2;
  hci::Kernel k;
  k.structure.ops = {{hci::OpKind::Load, hci::kFloat32, hci::kFloat32, 0, {1, -1, -1}},
                     {hci::OpKind::Load, hci::kFloat32, hci::kFloat32, 0, {2, -1, -1}},
                     {hci::OpKind::Add, hci::kFloat32, hci::kFloat32, 0, {0, 1, -1}}};
  k.structure.layouts = {hci::Layout::Contiguous, hci::Layout::Contiguous, hci::Layout::Contiguous};
  k.structure.rank = 1;
  k.params.sizes = {1};
  for (float* p : {&out, &a, &b}) k.params.buffers.push_back({p, hci::kFloat32, 0, {1}});
  k.hash = k.structure.hash();
  if (!hci::jit::detail::compiled_code(k)) {
    state.SkipWithError("the JIT did not compile a + b");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(hci::jit::detail::compiled_code(k));
}

}  // namespace

BENCHMARK(BM_add_reference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_add_hci)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_chain_reference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_chain_hci)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_reference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_hci)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_kernel_saxpy_reference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_kernel_saxpy_hci)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_tiny_add_hci)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_jit_compile_chain)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_jit_memory_hit)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_jit_disk_hit)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
