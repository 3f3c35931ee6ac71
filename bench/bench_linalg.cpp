// matmul in float32: hci's BLAS path beside the same BLAS called directly, and hci's built-in
// kernel beside that BLAS, at 512, 1024 and 2048. Run: build/bench/bench_linalg
#include <hci/hci.hpp>

#include <benchmark/benchmark.h>

namespace {

void set_flops(benchmark::State& state, int64_t n) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * double(n) * double(n) * double(n) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void run_hci(benchmark::State& state, bool blas) {
  const int64_t n = state.range(0);
  const hci::Tensor a = hci::randn({n, n}), b = hci::randn({n, n});
  hci::eval(a, b);
  hci::cpu::set_blas_enabled(blas);
  for (auto _ : state) {
    hci::Tensor c = hci::matmul(a, b);
    hci::eval(c);
    benchmark::DoNotOptimize(c.const_data_ptr<float>());
  }
  hci::cpu::set_blas_enabled(true);
  set_flops(state, n);
}

void BM_matmul_hci_blas(benchmark::State& state) { run_hci(state, true); }
void BM_matmul_hci_builtin(benchmark::State& state) { run_hci(state, false); }

// cblas_sgemm on the same inputs, into a buffer from hci's allocator, with the BLAS running as
// many threads as hci's pool (as hci runs it).
void BM_matmul_blas_direct(benchmark::State& state) {
  const hci::cpu::Blas& blas = hci::cpu::blas();
  if (!blas.available()) {
    state.SkipWithError(blas.reason.c_str());
    return;
  }
  const int64_t n = state.range(0);
  const hci::Tensor a = hci::randn({n, n}), b = hci::randn({n, n});
  const float *pa = a.const_data_ptr<float>(), *pb = b.const_data_ptr<float>();
  if (blas.set_num_threads) blas.set_num_threads(hci::get_num_threads());
  for (auto _ : state) {
    auto* c = static_cast<float*>(hci::cpu::allocator().allocate(size_t(n * n) * 4));
    blas.sgemm(hci::cpu::kCblasRowMajor, hci::cpu::kCblasNoTrans, hci::cpu::kCblasNoTrans, int(n), int(n), int(n), 1.0f,
               pa, int(n), pb, int(n), 0.0f, c, int(n));
    benchmark::DoNotOptimize(c);
    hci::cpu::allocator().deallocate(c, size_t(n * n) * 4);
  }
  set_flops(state, n);
}

}  // namespace

BENCHMARK(BM_matmul_blas_direct)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_matmul_hci_blas)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_matmul_hci_builtin)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
