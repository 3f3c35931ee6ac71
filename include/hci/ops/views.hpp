// Views: new sizes, strides and offset over the same node, never a copy.
#pragma once

#include <hci/ops/record.hpp>

#include <algorithm>
#include <numeric>

HCI_BEGIN_NAMESPACE

namespace detail {

inline Tensor make_view(const Tensor& t, Dims sizes, Dims strides, int64_t offset) {
  return Tensor(std::make_shared<TensorImpl>(t.impl().node, std::move(sizes), std::move(strides), offset));
}

}  // namespace detail

inline Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) {
    detail::wrap_dim(d, 0, "squeeze");
    return *this;
  }
  d = detail::wrap_dim(d, dim(), "squeeze");
  if (impl().sizes[d] != 1) return *this;
  Dims s = impl().sizes, st = impl().strides;
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return detail::make_view(*this, std::move(s), std::move(st), impl().offset);
}

#if HCI_RUNTIME_DEFINITIONS

HCI_RUNTIME_DEF Tensor Tensor::expand(IntList shape) const {
  const int64_t n = int64_t(shape.size());
  HCI_CHECK(n >= dim(),
            "expand: the number of sizes provided ({}) must be greater or equal to the number of "
            "dimensions in the tensor ({}), shape {}",
            n, dim(), detail::shape_str(sizes()));
  // PyTorch's inferExpandGeometry: a new leading dim takes the stride a contiguous layout
  // would give it, then 0 if it is expanded.
  Dims s(n), st(n);
  if (dim() == 0) {  // a 0-dim tensor expands with all strides 0
    for (int64_t i = 0; i < n; ++i) {
      HCI_CHECK(shape[i] >= 0, "expand: the expanded size {} is not allowed in a leading, non-existing dimension {}",
                shape[i], i);
      s[i] = shape[i];
    }
    return detail::make_view(*this, std::move(s), std::move(st), impl().offset);
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t d = i - (n - dim());
    int64_t size = d >= 0 ? impl().sizes[d] : 1;
    int64_t stride = d >= 0 ? impl().strides[d] : (i == n - 1 ? 1 : s[i + 1] * st[i + 1]);
    int64_t want = shape[i];
    if (want == -1) {
      HCI_CHECK(d >= 0,
                "expand: the expanded size -1 is not allowed in a leading, non-existing dimension {} "
                "(target sizes {}, tensor shape {})",
                i, detail::shape_str(shape), detail::shape_str(sizes()));
      want = size;
    }
    if (size != want) {
      HCI_CHECK(size == 1 && want >= 0,
                "expand: the expanded size of the tensor ({}) must match the existing "
                "size ({}) at non-singleton dimension {}; target sizes {}, tensor shape {}",
                want, size, i, detail::shape_str(shape), detail::shape_str(sizes()));
      size = want;
      stride = 0;
    }
    s[i] = size;
    st[i] = stride;
  }
  return detail::make_view(*this, std::move(s), std::move(st), impl().offset);
}

HCI_RUNTIME_DEF Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim, Loc loc) const {
  if (dim() == 0) {
    detail::wrap_dim(start_dim, 0, "flatten");
    detail::wrap_dim(end_dim, 0, "flatten");
    return reshape({1}, loc);
  }
  start_dim = detail::wrap_dim(start_dim, dim(), "flatten");
  end_dim = detail::wrap_dim(end_dim, dim(), "flatten");
  HCI_CHECK(start_dim <= end_dim, "flatten: start_dim ({}) cannot come after end_dim ({})", start_dim, end_dim);
  Dims s(impl().sizes.begin(), impl().sizes.begin() + start_dim);
  int64_t merged = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) merged *= impl().sizes[d];
  s.push_back(merged);
  s.insert(s.end(), impl().sizes.begin() + end_dim + 1, impl().sizes.end());
  return reshape(s, loc);
}

HCI_RUNTIME_DEF Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  HCI_CHECK(dim() > 0, "narrow: cannot be applied to a 0-dim tensor");
  d = detail::wrap_dim(d, dim(), "narrow");
  const int64_t size = impl().sizes[d];
  HCI_CHECK(length >= 0, "narrow: length must be non-negative, got {}", length);
  if (start != size) start = detail::wrap_dim(start, size, "narrow");  // an empty dim wraps like size 1
  HCI_CHECK(length >= 0 && start + length <= size,
            "narrow: start ({}) + length ({}) exceeds dimension size ({}) of dimension {}", start, length, size, d);
  return slice(d, start, start + length);
}

HCI_RUNTIME_DEF Tensor Tensor::permute(IntList dims) const {
  const int64_t n = dim();
  HCI_CHECK(int64_t(dims.size()) == n, "permute: number of dims {} does not match the tensor's {} (shape {})",
            dims.size(), n, detail::shape_str(sizes()));
  Dims sizes(n), strides(n);
  std::vector<bool> seen(n, false);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t d = detail::wrap_dim(dims[i], n, "permute");
    HCI_CHECK(!seen[d], "permute: dim {} appears twice in {}", d, detail::shape_str(dims));
    seen[d] = true;
    sizes[i] = impl().sizes[d];
    strides[i] = impl().strides[d];
  }
  return detail::make_view(*this, std::move(sizes), std::move(strides), impl().offset);
}

HCI_RUNTIME_DEF Tensor Tensor::reshape(IntList shape, Loc loc) const {
  const Dims sizes = detail::infer_size(shape, numel(), "reshape");
  if (auto strides = detail::view_strides(impl().sizes, impl().strides, sizes))
    return detail::make_view(*this, sizes, std::move(*strides), impl().offset);
  return clone(loc).view(sizes);
}

HCI_RUNTIME_DEF Tensor Tensor::select(int64_t d, int64_t index) const {
  HCI_CHECK(dim() > 0, "select: cannot be applied to a 0-dim tensor");
  d = detail::wrap_dim(d, dim(), "select");
  const int64_t size = impl().sizes[d];
  HCI_CHECK(index >= -size && index < size, "select: index {} is out of bounds for dimension {} with size {}", index, d,
            size);
  if (index < 0) index += size;
  Dims s = impl().sizes, st = impl().strides;
  const int64_t offset = impl().offset + index * st[d];
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return detail::make_view(*this, std::move(s), std::move(st), offset);
}

HCI_RUNTIME_DEF Tensor Tensor::slice(int64_t d, std::optional<int64_t> start, std::optional<int64_t> end,
                                     int64_t step) const {
  HCI_CHECK(dim() > 0, "slice: cannot be applied to a 0-dim tensor");
  d = detail::wrap_dim(d, dim(), "slice");
  HCI_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const int64_t size = impl().sizes[d];
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v < 0 ? *v + size : *v;
    return std::clamp<int64_t>(x, 0, size);
  };
  const int64_t b = clamp(start, 0);
  const int64_t e = std::max(b, clamp(end, size));
  Dims s = impl().sizes, st = impl().strides;
  s[d] = (e - b + step - 1) / step;
  st[d] *= step;
  return detail::make_view(*this, std::move(s), std::move(st), impl().offset + b * impl().strides[d]);
}

HCI_RUNTIME_DEF Tensor Tensor::squeeze() const {
  Dims s, st;
  for (int64_t d = 0; d < dim(); ++d)
    if (impl().sizes[d] != 1) {
      s.push_back(impl().sizes[d]);
      st.push_back(impl().strides[d]);
    }
  return detail::make_view(*this, std::move(s), std::move(st), impl().offset);
}

HCI_RUNTIME_DEF Tensor Tensor::t() const {
  HCI_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dimensions, but got shape {}", detail::shape_str(sizes()));
  return dim() < 2 ? *this : transpose(0, 1);
}

HCI_RUNTIME_DEF Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  const int64_t n = dim();
  if (n == 0) {
    detail::wrap_dim(dim0, n, "transpose");
    detail::wrap_dim(dim1, n, "transpose");
    return *this;
  }
  Dims order(n);
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[detail::wrap_dim(dim0, n, "transpose")], order[detail::wrap_dim(dim1, n, "transpose")]);
  return permute(order);
}

HCI_RUNTIME_DEF Tensor Tensor::unsqueeze(int64_t d) const {
  d = detail::wrap_dim(d, dim() + 1, "unsqueeze");
  Dims s = impl().sizes, st = impl().strides;
  const int64_t stride = d < dim() ? st[d] * s[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return detail::make_view(*this, std::move(s), std::move(st), impl().offset);
}

HCI_RUNTIME_DEF Tensor Tensor::view(IntList shape) const {
  const Dims sizes = detail::infer_size(shape, numel(), "view");
  auto strides = detail::view_strides(impl().sizes, impl().strides, sizes);
  HCI_CHECK(strides,
            "view: size {} is not compatible with input tensor's size {} and stride {} (at least one "
            "dimension spans across two contiguous subspaces); use reshape() instead",
            detail::shape_str(sizes), detail::shape_str(impl().sizes), detail::shape_str(impl().strides));
  return detail::make_view(*this, sizes, std::move(*strides), impl().offset);
}

HCI_RUNTIME_DEF std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t d) const {
  HCI_CHECK(chunks > 0, "chunk: number of chunks must be positive, got {}", chunks);
  HCI_CHECK(dim() > 0, "chunk: cannot be applied to a 0-dim tensor");
  const int64_t size = impl().sizes[detail::wrap_dim(d, dim(), "chunk")];
  if (size == 0) return std::vector<Tensor>(size_t(chunks), *this);  // PyTorch: `chunks` empty parts
  return split((size + chunks - 1) / chunks, d);
}

HCI_RUNTIME_DEF std::vector<Tensor> Tensor::split(int64_t split_size, int64_t d) const {
  HCI_CHECK(dim() > 0, "split: cannot be applied to a 0-dim tensor");
  d = detail::wrap_dim(d, dim(), "split");
  const int64_t size = impl().sizes[d];
  HCI_CHECK(split_size > 0 || (split_size == 0 && size == 0),
            "split: split_size must be positive (got {}) for dimension {} of size {}", split_size, d, size);
  std::vector<Tensor> parts;
  if (size == 0) return {*this};
  for (int64_t start = 0; start < size; start += split_size)
    parts.push_back(narrow(d, start, std::min(split_size, size - start)));
  return parts;
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
