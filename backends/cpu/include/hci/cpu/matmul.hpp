// Matrix multiply kernels on the CPU: float32 and float64 through the BLAS when one is found,
// everything else (and everything without a BLAS) through the built-in kernel.
#pragma once

#include <hci/cpu/blas.hpp>
#include <hci/cpu/gemm.hpp>
#include <hci/kernel.hpp>

HCI_BEGIN_NAMESPACE

namespace cpu {

// Runs a kernel whose root is OpKind::Matmul; compiled with the runtime.
HCI_RUNTIME_DECL void run_matmul(const Kernel& kernel, ThreadPool& pool);

}  // namespace cpu

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/half.hpp>

#include <climits>
#include <optional>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace cpu {

namespace detail {

// How BLAS reads a matrix: row-major (NoTrans) or column-major (Trans) with a leading dimension;
// none for other layouts. Strides of size-1 dims are never used, so they do not count.
struct BlasView {
  int trans = kCblasNoTrans;
  int ld = 1;
};
template <class T>
std::optional<BlasView> blas_view(const gemm::Matrix<T>& x) {
  const int64_t limit = INT_MAX;
  if (x.rows > limit || x.cols > limit) return std::nullopt;
  if ((x.cols == 1 || x.col_stride == 1) && (x.rows == 1 || x.row_stride >= x.cols)) {
    const int64_t ld = x.rows == 1 ? x.cols : x.row_stride;
    if (ld <= limit) return BlasView{kCblasNoTrans, int(std::max<int64_t>(1, ld))};
  }
  if ((x.rows == 1 || x.row_stride == 1) && (x.cols == 1 || x.col_stride >= x.rows)) {
    const int64_t ld = x.cols == 1 ? x.rows : x.col_stride;
    if (ld <= limit) return BlasView{kCblasTrans, int(std::max<int64_t>(1, ld))};
  }
  return std::nullopt;
}

template <class T>
gemm::Matrix<const T> contiguous_copy(const gemm::Matrix<const T>& x, std::vector<T>& storage) {
  storage.resize(size_t(x.rows * x.cols));
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j) storage[size_t(i * x.cols + j)] = x.data[i * x.row_stride + j * x.col_stride];
  return {storage.data(), x.rows, x.cols, x.cols, 1};
}

// How BLAS reads x, copying it to a contiguous buffer first when it cannot read it in place.
template <class T>
BlasView view_or_copy(gemm::Matrix<const T>& x, std::vector<T>& storage) {
  if (const std::optional<BlasView> view = blas_view(x)) return *view;
  x = contiguous_copy(x, storage);
  return BlasView{kCblasNoTrans, int(std::max<int64_t>(1, x.cols))};
}

// C = A * B through cblas_?gemm; C is row-major with leading dimension ldc.
template <class T>
void blas_multiply(const Blas& blas, gemm::Matrix<const T> a, gemm::Matrix<const T> b, gemm::Matrix<T> c, int ldc,
                   ThreadPool& pool) {
  std::vector<T> a_copy, b_copy;
  const BlasView va = view_or_copy(a, a_copy), vb = view_or_copy(b, b_copy);
  if (blas.set_num_threads) {
    static thread_local int threads = 0;
    if (threads != pool.size()) blas.set_num_threads(threads = pool.size());
  }
  const int m = int(c.rows), n = int(c.cols), k = int(a.cols);
  if constexpr (std::is_same_v<T, float>)
    blas.sgemm(kCblasRowMajor, va.trans, vb.trans, m, n, k, 1.0f, a.data, va.ld, b.data, vb.ld, 0.0f, c.data, ldc);
  else
    blas.dgemm(kCblasRowMajor, va.trans, vb.trans, m, n, k, 1.0, a.data, va.ld, b.data, vb.ld, 0.0, c.data, ldc);
}

// The C++ type S's products accumulate in: float for the 16-bit floats, int64 for integers.
template <class S>
using GemmAcc =
    std::conditional_t<std::is_same_v<S, double>, double, std::conditional_t<std::is_integral_v<S>, int64_t, float>>;

}  // namespace detail

HCI_RUNTIME_DEF void run_matmul(const Kernel& k, ThreadPool& pool) {
  const auto& ops = k.structure.ops;
  const KernelOp& root = ops.back();
  const BufferParam& out = k.params.buffers[0];
  const BufferParam& lhs = k.params.buffers[size_t(ops[size_t(root.args[0])].args[0])];
  const BufferParam& rhs = k.params.buffers[size_t(ops[size_t(root.args[1])].args[0])];
  const Dims& sizes = k.params.sizes;
  const size_t batch_rank = sizes.size() - 3;
  const int64_t m = sizes[batch_rank], n = sizes[batch_rank + 1], depth = sizes[batch_rank + 2];
  int64_t batches = 1;
  for (size_t d = 0; d < batch_rank; ++d) batches *= sizes[d];
  visit_dtype(out.dtype, [&](auto zero) {
    using S = decltype(zero);
    using Acc = detail::GemmAcc<S>;
    constexpr bool blas_type = std::is_same_v<S, float> || std::is_same_v<S, double>;
    const Blas& blas = cpu::blas();
    std::vector<Acc> scratch(std::is_same_v<S, Acc> ? 0 : size_t(m * n));
    for (int64_t batch = 0; batch < batches; ++batch) {
      int64_t offsets[3] = {out.offset, lhs.offset, rhs.offset}, rest = batch;
      for (size_t d = batch_rank; d-- > 0;) {
        const int64_t index = rest % sizes[d];
        rest /= sizes[d];
        offsets[0] += index * out.strides[d];
        offsets[1] += index * lhs.strides[d];
        offsets[2] += index * rhs.strides[d];
      }
      const S* a_data = static_cast<const S*>(lhs.data) + offsets[1];
      const S* b_data = static_cast<const S*>(rhs.data) + offsets[2];
      const gemm::Matrix<const S> a{a_data, m, depth, lhs.strides[batch_rank], lhs.strides[batch_rank + 2]};
      const gemm::Matrix<const S> b{b_data, depth, n, rhs.strides[batch_rank + 2], rhs.strides[batch_rank + 1]};
      S* c_data = static_cast<S*>(out.data) + offsets[0];
      const int64_t c_row = out.strides[batch_rank], c_col = out.strides[batch_rank + 1];
      if constexpr (std::is_same_v<S, Acc>) {
        const gemm::Matrix<S> c{c_data, m, n, c_row, c_col};
        const std::optional<detail::BlasView> c_view = detail::blas_view(c);
        const bool use_blas = blas_type && blas.available() && blas_enabled().load() && depth <= INT_MAX;
        if (use_blas && c_view && c_view->trans == kCblasNoTrans) {
          if constexpr (blas_type) detail::blas_multiply(blas, a, b, c, c_view->ld, pool);
        } else {
          gemm::multiply(a, b, c, pool);
        }
      } else {  // accumulate in Acc, then round (float16, bfloat16) or wrap (narrow integers) once
        gemm::multiply(a, b, gemm::Matrix<Acc>{scratch.data(), m, n, n, 1}, pool);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const Acc v = scratch[size_t(i * n + j)];
            if constexpr (std::is_same_v<S, bool>)
              c_data[i * c_row + j * c_col] = v != 0;
            else
              c_data[i * c_row + j * c_col] = S(v);
          }
      }
    }
  });
}

}  // namespace cpu

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
