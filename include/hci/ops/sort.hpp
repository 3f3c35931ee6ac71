// Sorting along a dim: argsort records one row-wise node giving positions; sort and topk gather
// the values at them. Sorting is stable, and NaN sorts as the largest value (last ascending,
// first descending), as PyTorch.
#pragma once

#include <hci/ops/indexing.hpp>

#include <tuple>

HCI_BEGIN_NAMESPACE

inline Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, Loc loc = Loc::current()) {
  return detail::row_wise(OpKind::Argsort, x, dim, kInt64, loc, {descending ? 1 : 0});
}

// (values, indices) of x sorted along dim.
inline std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false,
                                       Loc loc = Loc::current()) {
  const Tensor indices = argsort(x, dim, descending, loc);
  const Tensor values = x.dim() == 0 ? x.clone(loc) : gather(x, dim, indices, loc);
  return {values, indices};
}

// (values, indices) of the k largest (or smallest) entries along dim, in sorted order.
HCI_RUNTIME_DECL std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true,
                                                 bool sorted = true, Loc loc = Loc::current());

inline Tensor Tensor::argsort(int64_t dim, bool descending, Loc loc) const {
  return hci::argsort(*this, dim, descending, loc);
}
inline std::tuple<Tensor, Tensor> Tensor::sort(int64_t dim, bool descending, Loc loc) const {
  return hci::sort(*this, dim, descending, loc);
}
inline std::tuple<Tensor, Tensor> Tensor::topk(int64_t k, int64_t dim, bool largest, bool sorted, Loc loc) const {
  return hci::topk(*this, k, dim, largest, sorted, loc);
}

#if HCI_RUNTIME_DEFINITIONS

HCI_RUNTIME_DEF std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted,
                                                Loc loc) {
  (void)sorted;  // the entries always come sorted
  const int64_t d = x.dim() == 0 ? 0 : detail::wrap_dim(dim, x.dim(), "topk");
  const int64_t size = x.dim() == 0 ? 1 : x.size(d);
  HCI_CHECK(k >= 0 && k <= size, "topk: k ({}) is out of range for a dim of size {} (shape {})", k, size,
            detail::shape_str(x.sizes()));
  if (x.dim() == 0) return {x.clone(loc), zeros({}, kInt64)};
  const Tensor indices = argsort(x, d, largest, loc).narrow(d, 0, k);
  return {gather(x, d, indices, loc), indices};
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
