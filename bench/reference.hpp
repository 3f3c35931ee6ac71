// What the hand-written references of the benchmarks share with hci: its thread pool (the work
// split the same way) and its caching allocator (outputs from the same buffers).
#pragma once

#include <hci/hci.hpp>

namespace bench {

// Runs body(begin, end) over [0, n) split evenly across hci's pool.
template <class F>
void parallel(int64_t n, F body) {
  auto pool = hci::cpu::thread_pool();
  const int parts = pool->size();
  pool->run(parts, [&](int p) { body(n * p / parts, n * (p + 1) / parts); });
}

inline float* new_output(int64_t n) { return static_cast<float*>(hci::cpu::allocator().allocate(size_t(n) * 4)); }
inline void free_output(float* p, int64_t n) { hci::cpu::allocator().deallocate(p, size_t(n) * 4); }

}  // namespace bench
