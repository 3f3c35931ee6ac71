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

// A vector's worth of elements at a time, kept in a register through every step: the careful way
// to write a chain whose length is known only at run time.
void alternating_chain_loop(const float* in, float* out, int length, int64_t begin, int64_t end) {
  constexpr int kLanes = 16;
  auto apply = [length](float* v, int lanes) {
    for (int step = 0; step < length; ++step)
      if (step % 2)
        for (int l = 0; l < lanes; ++l) v[l] += 0.25f;
      else
        for (int l = 0; l < lanes; ++l) v[l] *= 0.999f;
  };
  int64_t i = begin;
  for (; i + kLanes <= end; i += kLanes) {
    float v[kLanes];
    for (int l = 0; l < kLanes; ++l) v[l] = in[i + l];
    apply(v, kLanes);
    for (int l = 0; l < kLanes; ++l) out[i + l] = v[l];
  }
  for (; i < end; ++i) {
    float v = in[i];
    apply(&v, 1);
    out[i] = v;
  }
}

void layer_norm_rows_loop(const float* in, const float* gamma, const float* beta, float* out, int64_t columns,
                          int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* x = in + r * columns;
    float* y = out + r * columns;
    float sum = 0;
    for (int64_t j = 0; j < columns; ++j) sum += x[j];
    const float mean = sum / float(columns);
    float squares = 0;
    for (int64_t j = 0; j < columns; ++j) squares += (x[j] - mean) * (x[j] - mean);
    const float scale = 1 / std::sqrt(squares / float(columns) + 1e-5f);
    for (int64_t j = 0; j < columns; ++j) y[j] = (x[j] - mean) * scale * gamma[j] + beta[j];
  }
}

void triad_loop(const float* a, const float* b, float* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) out[i] = a[i] + 3 * b[i];
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
