#include "eigen_product.hpp"

#if HCI_BENCH_EIGEN
#include <Eigen/Core>
#endif

namespace hci_bench {

#if HCI_BENCH_EIGEN
namespace {
template <class T>
void product(const void* a, const void* b, void* c, int64_t n) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<Matrix>(static_cast<T*>(c), n, n).noalias() = Eigen::Map<const Matrix>(static_cast<const T*>(a), n, n) *
                                                           Eigen::Map<const Matrix>(static_cast<const T*>(b), n, n);
}
}  // namespace

bool eigen_available() { return true; }

void eigen_product(EigenScalar scalar, const void* a, const void* b, void* c, int64_t n, int threads) {
  Eigen::setNbThreads(threads);
  if (scalar == EigenScalar::Float32) product<float>(a, b, c, n);
  if (scalar == EigenScalar::Float64) product<double>(a, b, c, n);
}
#else
bool eigen_available() { return false; }
void eigen_product(EigenScalar, const void*, const void*, void*, int64_t, int) {}
#endif

}  // namespace hci_bench
