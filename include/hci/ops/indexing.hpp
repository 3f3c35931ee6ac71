// Indexing: index_select and gather (a gather op reading the source at index values, fused like
// any elementwise op), masked_fill; and comparisons of whole tensors: equal, allclose.
#pragma once

#include <hci/ops/inplace.hpp>
#include <hci/ops/reduce.hpp>

HCI_BEGIN_NAMESPACE

// The entries of x along dim at the positions a 1-D integer index gives.
HCI_RUNTIME_DECL Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index, Loc loc = Loc::current());

// out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and likewise for other dims); index has
// x's rank and no dim larger than x's, but along dim.
HCI_RUNTIME_DECL Tensor gather(const Tensor& x, int64_t dim, const Tensor& index, Loc loc = Loc::current());

// x where mask is false, value where it is true; x's dtype, mask broadcast to x's shape.
HCI_RUNTIME_DECL Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value, Loc loc = Loc::current());

// Same shape and the same values (NaN equals nothing).
HCI_RUNTIME_DECL bool equal(const Tensor& a, const Tensor& b, Loc loc = Loc::current());

// Every |a - b| <= atol + rtol |b|, a and b broadcast; equal infinities are close, NaN only to
// NaN with equal_nan.
HCI_RUNTIME_DECL bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
                               bool equal_nan = false, Loc loc = Loc::current());

inline Tensor Tensor::index_select(int64_t dim, const Tensor& index, Loc loc) const {
  return hci::index_select(*this, dim, index, loc);
}
inline Tensor Tensor::gather(int64_t dim, const Tensor& index, Loc loc) const {
  return hci::gather(*this, dim, index, loc);
}
inline Tensor Tensor::masked_fill(const Tensor& mask, Scalar value, Loc loc) const {
  return hci::masked_fill(*this, mask, value, loc);
}
inline Tensor& Tensor::masked_fill_(const Tensor& mask, Scalar value, Loc loc) {
  return detail::inplace(*this, "masked_fill_", &mask, [&] { return hci::masked_fill(*this, mask, value, loc); }, loc);
}
inline bool Tensor::equal(const Tensor& other, Loc loc) const { return hci::equal(*this, other, loc); }
inline bool Tensor::allclose(const Tensor& other, double rtol, double atol, bool equal_nan, Loc loc) const {
  return hci::allclose(*this, other, rtol, atol, equal_nan, loc);
}

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

inline Tensor index_tensor(const char* op, const Tensor& index) {
  HCI_CHECK(index.dtype() == kInt64 || index.dtype() == kInt32, "{}: expected an int64 or int32 index, got {} {}", op,
            index.dtype(), shape_str(index.sizes()));
  return index.dtype() == kInt64 ? index : index.to(kInt64);
}

// Records a gather over an iteration space of `shape`: source read through source_strides
// (0 along dim) plus index * x.stride(dim), index read through index_strides.
inline Tensor record_gather(const Tensor& x, int64_t dim, const Tensor& index, Dims shape, Dims source_strides,
                            Dims index_strides, const Loc& loc) {
  HCI_CHECK(x.device() == index.device(), "gather: expected the index on {}, got {}", x.device().str(),
            index.device().str());
  NodePtr node = new_node(OpKind::Gather, x.dtype(), x.dtype(), x.device(), std::move(shape), loc);
  node->attributes = {x.stride(dim), x.size(dim)};
  node->inputs.push_back(Input{x.impl().node, std::move(source_strides), x.storage_offset(), 0});
  node->inputs.push_back(Input{index.impl().node, std::move(index_strides), index.storage_offset(), 0});
  return record(node);
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index, Loc loc) {
  const Tensor idx = detail::index_tensor("index_select", index);
  HCI_CHECK(idx.dim() <= 1, "index_select: expected a 1-D index, got {}", detail::shape_str(idx.sizes()));
  HCI_CHECK(x.dim() > 0, "index_select: expected a tensor with dims, got a 0-dim one");
  const int64_t d = detail::wrap_dim(dim, x.dim(), "index_select");
  Dims shape = x.sizes().vec(), source = x.strides().vec(), index_strides(size_t(x.dim()), 0);
  shape[size_t(d)] = idx.numel();
  source[size_t(d)] = 0;
  if (idx.dim() == 1) index_strides[size_t(d)] = idx.stride(0);
  return detail::record_gather(x, d, idx, shape, source, index_strides, loc);
}

HCI_RUNTIME_DEF Tensor gather(const Tensor& x, int64_t dim, const Tensor& index, Loc loc) {
  const Tensor idx = detail::index_tensor("gather", index);
  HCI_CHECK(idx.dim() == x.dim(), "gather: index {} and input {} must have the same number of dims",
            detail::shape_str(idx.sizes()), detail::shape_str(x.sizes()));
  const int64_t d = detail::wrap_dim(dim, std::max<int64_t>(x.dim(), 1), "gather");
  if (x.dim() == 0) return detail::record_gather(x.view({1}), 0, idx.view({1}), {1}, {0}, {1}, loc).view({});
  Dims source = x.strides().vec();
  for (int64_t k = 0; k < x.dim(); ++k)
    HCI_CHECK(k == d || idx.size(k) <= x.size(k),
              "gather: size {} of index {} along dim {} is larger than the input's {} (shape {})", idx.size(k),
              detail::shape_str(idx.sizes()), k, x.size(k), detail::shape_str(x.sizes()));
  source[size_t(d)] = 0;
  return detail::record_gather(x, d, idx, idx.sizes().vec(), source, idx.strides().vec(), loc);
}

HCI_RUNTIME_DEF Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value, Loc loc) {
  HCI_CHECK(mask.dtype() == kBool, "masked_fill: expected a bool mask, got {} {}", mask.dtype(),
            detail::shape_str(mask.sizes()));
  const Dims shape = detail::broadcast_shapes(x.sizes(), mask.sizes(), "masked_fill");
  HCI_CHECK(shape == x.sizes().vec(), "masked_fill: the mask {} does not broadcast to the input's shape {}",
            detail::shape_str(mask.sizes()), detail::shape_str(x.sizes()));
  // The value as a 0-dim tensor of x's dtype, so that it never changes the result's dtype.
  return where(mask, detail::scalar_tensor(value, x.dtype(), x.device(), loc), x, loc);
}

HCI_RUNTIME_DEF bool equal(const Tensor& a, const Tensor& b, Loc loc) {
  if (a.sizes().vec() != b.sizes().vec()) return false;
  return eq(a, b, loc).all({}, false, loc).item<bool>(loc);
}

HCI_RUNTIME_DEF bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan, Loc loc) {
  // PyTorch's isclose: finite values by the tolerance (in a floating type), others by equality.
  const Tensor af = a.is_floating_point() ? a : a.to(kFloat64, loc);
  const Tensor bf = b.is_floating_point() ? b : b.to(kFloat64, loc);
  const Tensor finite = logical_and(hci::isfinite(af, loc), hci::isfinite(bf, loc), loc);
  const Tensor within = le(hci::abs(sub(af, bf, loc), loc), add(mul(hci::abs(bf, loc), rtol, loc), atol, loc), loc);
  Tensor close = logical_or(eq(af, bf, loc), logical_and(finite, within, loc), loc);
  if (equal_nan) close = logical_or(close, logical_and(hci::isnan(af, loc), hci::isnan(bf, loc), loc), loc);
  return close.all({}, false, loc).item<bool>(loc);
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
