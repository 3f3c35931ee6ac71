// Row-wise work on a 4096 x 4096 float32 matrix, each beside a hand-written loop in the same
// binary (same pool, same allocator; the loops built with -O3 -march=native -ffast-math and a
// vectorised exp, in fast_loops.cpp): softmax over rows, and sums over each axis.
// Run: build/bench/bench_rows
#include "fast_loops.hpp"
#include "reference.hpp"

#include <hci/hci.hpp>

#include <benchmark/benchmark.h>

namespace {

constexpr int64_t kRows = 4096, kCols = 4096;

using bench::free_output;
using bench::new_output;
using bench::parallel;

hci::Tensor matrix() {
  hci::Tensor x = hci::randn({kRows, kCols});
  hci::eval(x);
  return x;
}

void BM_softmax_rows_hci(benchmark::State& state) {
  const hci::Tensor x = matrix();
  for (auto _ : state) {
    hci::Tensor y = hci::softmax(x, 1);
    hci::eval(y);
    benchmark::DoNotOptimize(y.const_data_ptr<float>());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * 8);
}

// Each row: its maximum, then e^(x - max) written out with its sum, then the row scaled, while
// the row is in cache.
void BM_softmax_rows_reference(benchmark::State& state) {
  const hci::Tensor x = matrix();
  const float* px = x.const_data_ptr<float>();
  for (auto _ : state) {
    float* out = new_output(kRows * kCols);
    parallel(kRows, [&](int64_t begin, int64_t end) { bench::softmax_rows_loop(px, out, kCols, begin, end); });
    benchmark::DoNotOptimize(out);
    free_output(out, kRows * kCols);
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * 8);
}

void sum_hci(benchmark::State& state, int64_t dim) {
  const hci::Tensor x = matrix();
  for (auto _ : state) {
    hci::Tensor y = x.sum({dim});
    hci::eval(y);
    benchmark::DoNotOptimize(y.const_data_ptr<float>());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * 4);
}

void BM_sum_rows_hci(benchmark::State& state) { sum_hci(state, 1); }
void BM_sum_columns_hci(benchmark::State& state) { sum_hci(state, 0); }

void BM_sum_rows_reference(benchmark::State& state) {
  const hci::Tensor x = matrix();
  const float* px = x.const_data_ptr<float>();
  for (auto _ : state) {
    float* out = new_output(kRows);
    parallel(kRows, [&](int64_t begin, int64_t end) { bench::sum_rows_loop(px, out, kCols, begin, end); });
    benchmark::DoNotOptimize(out);
    free_output(out, kRows);
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * 4);
}

// Column sums: rows added into a vector of column accumulators, the columns split over threads.
void BM_sum_columns_reference(benchmark::State& state) {
  const hci::Tensor x = matrix();
  const float* px = x.const_data_ptr<float>();
  for (auto _ : state) {
    float* out = new_output(kCols);
    parallel(kCols, [&](int64_t begin, int64_t end) { bench::sum_columns_loop(px, out, kRows, kCols, begin, end); });
    benchmark::DoNotOptimize(out);
    free_output(out, kCols);
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * 4);
}

}  // namespace

BENCHMARK(BM_softmax_rows_hci)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_softmax_rows_reference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_rows_hci)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_rows_reference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_columns_hci)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_columns_reference)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
