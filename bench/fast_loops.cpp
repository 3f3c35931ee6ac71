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

}  // namespace bench
