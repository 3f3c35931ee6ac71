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

// self with src's entries added at the positions index gives along dim: for dim 0,
// out[index[i][j]][j] += src[i][j]. Repeated positions add up in index order.
HCI_RUNTIME_DECL Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                                    Loc loc = Loc::current());

// self with values written (or, with accumulate, added) at the positions the index tensors give
// for its leading dims (x[i0, i1] = v); int64/int32 indices (negative ones count from the end)
// broadcast together; bool masks select their true positions. Without accumulate, the last of
// repeated positions wins.
HCI_RUNTIME_DECL Tensor index_put(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                                  bool accumulate = false, Loc loc = Loc::current());

// The int64 coordinates, shape [n, x.dim()], of x's n nonzero entries (NaN counts) in row-major
// order. The result's size depends on x's values, so they are computed now.
HCI_RUNTIME_DECL Tensor nonzero(const Tensor& x, Loc loc = Loc::current());

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
inline Tensor Tensor::scatter_add(int64_t dim, const Tensor& index, const Tensor& src, Loc loc) const {
  return hci::scatter_add(*this, dim, index, src, loc);
}
inline Tensor Tensor::index_put(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate,
                                Loc loc) const {
  return hci::index_put(*this, indices, values, accumulate, loc);
}
inline Tensor Tensor::nonzero(Loc loc) const { return hci::nonzero(*this, loc); }
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

namespace detail {

// Writes (or adds) values into self's memory at self's strides over an iteration space plus
// index * index_stride; index values at or past bound (when bound >= 0) are an error. Evaluated
// at once, after every pending reader of self, in one kernel.
inline void scatter_into(Tensor& self, const char* op, IntList iteration, Dims out_strides, const Tensor& index,
                         const Dims& index_strides, int64_t index_stride, int64_t bound, const Tensor& values,
                         const Dims& value_strides, bool accumulate, const Loc& loc) {
  for (const Tensor* t : {&index, &values})
    HCI_CHECK(t->impl().node != self.impl().node,
              "{}: the index and the values must not share memory with the tensor written to; clone() them first", op);
  HCI_CHECK(values.dtype() == self.dtype(), "{}: expected values of the tensor's dtype {}, got {}", op, self.dtype(),
            values.dtype());
  std::lock_guard lock(eval_mutex());
  begin_write_locked(self, op);
  const TensorImpl& impl = self.impl();
  try {
    KernelBuilder builder(iteration);
    builder.params().sizes = iteration.vec();
    const int index_value = builder.emit(index.impl().node, index_strides, index.storage_offset(), index.version());
    const int source_value = builder.emit(values.impl().node, value_strides, values.storage_offset(), values.version());
    const int32_t scalars = builder.add_scalar(ScalarParam{.i = index_stride});
    builder.add_scalar(ScalarParam{.i = bound});
    builder.add_scalar(ScalarParam{.i = accumulate ? 1 : 0});
    builder.push({OpKind::Scatter, self.dtype(), self.dtype(), 0, {index_value, source_value, scalars}});
    builder.set_output(impl.node->storage->data, self.dtype(), std::move(out_strides), impl.offset);
    impl.node->storage->wait_for_readers();
    impl.node->storage->ready = finish_and_launch(builder, self.device(), loc);
    impl.node->version.fetch_add(1);
  } catch (const Error& e) {
    throw Error(detail::format("{} (while evaluating {} recorded at {})", e.what(), op, location_str(loc)));
  }
}

}  // namespace detail

namespace detail {

inline void scatter_add_into(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, const Loc& loc) {
  const Tensor idx = detail::index_tensor("scatter_add", index);
  HCI_CHECK(idx.dim() == self.dim() && src.dim() == self.dim(),
            "scatter_add: index {}, input {} and src {} must have the same number of dims",
            detail::shape_str(idx.sizes()), detail::shape_str(self.sizes()), detail::shape_str(src.sizes()));
  const int64_t d = detail::wrap_dim(dim, std::max<int64_t>(self.dim(), 1), "scatter_add");
  for (int64_t k = 0; k < self.dim(); ++k)
    HCI_CHECK(idx.size(k) <= src.size(k) && (k == d || idx.size(k) <= self.size(k)),
              "scatter_add: index {} is larger than src {} or, along dims other than {}, than the input {}",
              detail::shape_str(idx.sizes()), detail::shape_str(src.sizes()), d, detail::shape_str(self.sizes()));
  if (self.dim() == 0 || idx.numel() == 0) return;
  Dims out_strides = self.strides().vec();
  out_strides[size_t(d)] = 0;
  detail::scatter_into(self, "scatter_add", idx.sizes(), out_strides, idx, idx.strides().vec(), self.stride(d),
                       self.size(d), src, src.strides().vec(), true, loc);
}

inline void index_put_into(Tensor& self, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate,
                           const Loc& loc) {
  // Bool masks become the int64 positions of their true entries, one index per masked dim.
  std::vector<Tensor> positions;
  for (const Tensor& index : indices) {
    if (index.dtype() != kBool) {
      positions.push_back(detail::index_tensor("index_put", index));
      continue;
    }
    const Tensor coordinates = nonzero(index, loc);
    for (int64_t d = 0; d < index.dim(); ++d) positions.push_back(coordinates.select(1, d));
  }
  HCI_CHECK(int64_t(positions.size()) <= self.dim(), "index_put: too many indices ({}) for a tensor of shape {}",
            positions.size(), detail::shape_str(self.sizes()));
  // The broadcast index shape, then the dims not indexed.
  Dims iteration;
  for (const Tensor& p : positions) iteration = detail::broadcast_shapes(iteration, p.sizes(), "index_put");
  const size_t batch = iteration.size();
  Dims out_strides(batch, 0);
  Tensor linear = zeros({}, kInt64);
  for (size_t j = 0; j < positions.size(); ++j) {
    const int64_t size = self.size(int64_t(j));
    const Tensor& p = positions[j];
    const Tensor outside = logical_or(lt(p, -size, loc), ge(p, size, loc), loc);
    HCI_CHECK(!outside.any().item<bool>(loc), "index_put: an index for dim {} is out of bounds for size {}", j, size);
    linear = add(linear, mul(where(lt(p, 0, loc), add(p, size, loc), p, loc), self.stride(int64_t(j)), loc), loc);
  }
  for (int64_t d = int64_t(positions.size()); d < self.dim(); ++d) {
    iteration.push_back(self.size(d));
    out_strides.push_back(self.stride(d));
  }
  Dims linear_strides = detail::input_of(linear, IntList(iteration).first(batch)).strides;
  linear_strides.resize(iteration.size(), 0);
  const Dims shape = detail::broadcast_shapes(iteration, values.sizes(), "index_put");
  HCI_CHECK(shape == iteration, "index_put: values of shape {} do not broadcast to the indexed shape {}",
            detail::shape_str(values.sizes()), detail::shape_str(iteration));
  if (detail::numel(iteration) > 0)
    detail::scatter_into(self, "index_put", iteration, out_strides, linear, linear_strides, 1, -1, values,
                         detail::input_of(values, iteration).strides, accumulate, loc);
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src, Loc loc) {
  Tensor out = self.clone(loc);
  detail::scatter_add_into(out, dim, index, src, loc);
  return out;
}

HCI_RUNTIME_DEF Tensor index_put(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                                 bool accumulate, Loc loc) {
  Tensor out = self.clone(loc);
  detail::index_put_into(out, indices, values, accumulate, loc);
  return out;
}

HCI_RUNTIME_DEF Tensor& Tensor::scatter_add_(int64_t dim, const Tensor& index, const Tensor& src, Loc loc) {
  detail::scatter_add_into(*this, dim, index, src, loc);
  return *this;
}

HCI_RUNTIME_DEF Tensor& Tensor::index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate,
                                           Loc loc) {
  detail::index_put_into(*this, indices, values, accumulate, loc);
  return *this;
}

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

HCI_RUNTIME_DEF Tensor nonzero(const Tensor& x, Loc loc) {
  const std::vector<bool> flags = x.to_vector<bool>(loc);
  const auto rank = size_t(x.dim());
  std::vector<int64_t> coordinates;
  int64_t count = 0;
  for (size_t i = 0; i < flags.size(); ++i) {
    if (!flags[i]) continue;
    ++count;
    coordinates.resize(coordinates.size() + rank);
    auto rest = int64_t(i);
    for (size_t d = rank; d-- > 0;) {
      coordinates[coordinates.size() - rank + d] = rest % x.size(int64_t(d));
      rest /= x.size(int64_t(d));
    }
  }
  return from_vector(coordinates, {count, int64_t(rank)}, TensorOptions(kInt64).device(x.device()), loc);
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
