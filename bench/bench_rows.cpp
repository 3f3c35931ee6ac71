// Row-wise work on a 4096 x 4096 float32 matrix, each beside a hand-written loop in the same
// binary (same pool, same allocator, hci::math::exp for the exponentials): softmax over rows,
// and sums over each axis. Run: build/bench/bench_rows
#include "reference.hpp"

#include <hci/hci.hpp>
#include <hci/math.hpp>

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
    parallel(kRows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* in = px + r * kCols;
        float* o = out + r * kCols;
        float max = in[0];
        for (int64_t j = 1; j < kCols; ++j) max = in[j] > max ? in[j] : max;
        float sum = 0;
        for (int64_t j = 0; j < kCols; ++j) sum += (o[j] = hci::math::exp(in[j] - max));
        for (int64_t j = 0; j < kCols; ++j) o[j] /= sum;
      }
    });
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

// Row sums: eight accumulators per row, combined at the end.
void BM_sum_rows_reference(benchmark::State& state) {
  const hci::Tensor x = matrix();
  const float* px = x.const_data_ptr<float>();
  for (auto _ : state) {
    float* out = new_output(kRows);
    parallel(kRows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        float lanes[8] = {};
        for (int64_t j = 0; j < kCols; j += 8)
          for (int l = 0; l < 8; ++l) lanes[l] += px[r * kCols + j + l];
        out[r] = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
      }
    });
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
    parallel(kCols, [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) out[j] = 0;
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t j = begin; j < end; ++j) out[j] += px[r * kCols + j];
    });
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
