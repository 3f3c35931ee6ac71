// Reference loops compiled with the most aggressive flags (fast_loops.cpp).
#pragma once

#include <cstdint>

namespace bench {

// out[i] = relu(a[i] * b[i] + c[i]) * 0.5 + exp(-d[i]) for i in [begin, end).
void chain_loop(const float* a, const float* b, const float* c, const float* d, float* out, int64_t begin, int64_t end);

}  // namespace bench
