// Hand-written loops built with -O3 -march=native -ffast-math (see CMakeLists.txt): the fastest
// code a compiler makes of them for this machine, including vectorised exp from libmvec. The
// benchmarks hold hci's kernels to these, so they live in a file of their own with those flags.
#include "fast_loops.hpp"

#include <cmath>

namespace bench {

void chain_loop(const float* a, const float* b, const float* c, const float* d, float* out, int64_t begin,
                int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float t = a[i] * b[i] + c[i];
    out[i] = (t > 0 ? t : 0) * 0.5f + std::exp(-d[i]);
  }
}

void softmax_rows_loop(const float* in, float* out, int64_t columns, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* x = in + r * columns;
    float* y = out + r * columns;
    float max = x[0];
    for (int64_t j = 1; j < columns; ++j) max = x[j] > max ? x[j] : max;
    float sum = 0;
    for (int64_t j = 0; j < columns; ++j) sum += (y[j] = std::exp(x[j] - max));
    const float scale = 1 / sum;
    for (int64_t j = 0; j < columns; ++j) y[j] *= scale;
  }
}

void sum_rows_loop(const float* in, float* out, int64_t columns, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    float sum = 0;
    for (int64_t j = 0; j < columns; ++j) sum += in[r * columns + j];
    out[r] = sum;
  }
}

void sum_columns_loop(const float* in, float* out, int64_t rows, int64_t columns, int64_t begin, int64_t end) {
  for (int64_t j = begin; j < end; ++j) out[j] = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = begin; j < end; ++j) out[j] += in[r * columns + j];
}

}  // namespace bench
