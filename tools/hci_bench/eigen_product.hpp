// Eigen's matrix product, the CPU reference of hci-bench's matmul cases, in a file of its own built
// with -O3 -march=native and OpenMP (see bench/CMakeLists.txt): Eigen at its best on this machine.
#pragma once

#include <cstdint>

namespace hci_bench {

enum class EigenScalar { Float32, Float64 };

// Whether hci-bench was built with Eigen.
bool eigen_available();
// c = a b for row-major n x n matrices, with `threads` OpenMP threads.
void eigen_product(EigenScalar scalar, const void* a, const void* b, void* c, int64_t n, int threads);

}  // namespace hci_bench
