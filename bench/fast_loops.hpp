// Reference loops compiled with the most aggressive flags (fast_loops.cpp).
#pragma once

#include <cstdint>

namespace bench {

// out[i] = relu(a[i] * b[i] + c[i]) * 0.5 + exp(-d[i]) for i in [begin, end).
void chain_loop(const float* a, const float* b, const float* c, const float* d, float* out, int64_t begin, int64_t end);

// Softmax of rows [begin, end) of a row-major matrix: maximum, exponentials and their sum, scaling.
void softmax_rows_loop(const float* in, float* out, int64_t columns, int64_t begin, int64_t end);
// out[i] = in[i] through `length` steps alternating v * 0.999 and v + 0.25 (hci-bench's chains).
void alternating_chain_loop(const float* in, float* out, int length, int64_t begin, int64_t end);
// Rows [begin, end) normalised: (x - mean) / sqrt(variance + 1e-5) * gamma + beta, per column.
void layer_norm_rows_loop(const float* in, const float* gamma, const float* beta, float* out, int64_t columns,
                          int64_t begin, int64_t end);
// out[i] = a[i] + 3 b[i]: STREAM's triad, the measure of a machine's memory bandwidth.
void triad_loop(const float* a, const float* b, float* out, int64_t begin, int64_t end);
// out[r] = the sum of row r, for rows [begin, end).
void sum_rows_loop(const float* in, float* out, int64_t columns, int64_t begin, int64_t end);
// out[j] = the sum of column j, for columns [begin, end), adding rows in order.
void sum_columns_loop(const float* in, float* out, int64_t rows, int64_t columns, int64_t begin, int64_t end);

}  // namespace bench
