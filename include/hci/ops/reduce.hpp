// Reductions over any set of dims (or all of them): sum, mean, amax, amin.
#pragma once

#include <hci/ops/views.hpp>

HCI_BEGIN_NAMESPACE

namespace detail {

// Records a reduction. Its iteration space is the kept dims followed by the reduced ones, so
// executors reduce the trailing dims; the result is laid out with reduced dims of size 1.
HCI_RUNTIME_DECL Tensor reduce(OpKind op, const Tensor& x, IntList dims, bool keepdim, DType out, const Loc& loc);

}  // namespace detail

// Sums in the input's dtype; integers and bools sum to int64.
inline Tensor sum(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) {
  const DType out = is_integral(x.dtype(), true) ? kInt64 : x.dtype();
  return detail::reduce(OpKind::Sum, x, dims, keepdim, out, loc);
}

inline Tensor mean(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) {
  HCI_CHECK(is_floating_point(x.dtype()),
            "mean: could not infer the output dtype; the input must be a "
            "floating-point tensor, got {} {}",
            x.dtype(), detail::shape_str(x.sizes()));
  return detail::reduce(OpKind::Mean, x, dims, keepdim, x.dtype(), loc);
}

inline Tensor amax(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) {
  return detail::reduce(OpKind::Amax, x, dims, keepdim, x.dtype(), loc);
}

inline Tensor amin(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) {
  return detail::reduce(OpKind::Amin, x, dims, keepdim, x.dtype(), loc);
}

inline Tensor Tensor::sum(Loc loc) const { return hci::sum(*this, {}, false, loc); }
inline Tensor Tensor::sum(IntList dims, bool keepdim, Loc loc) const { return hci::sum(*this, dims, keepdim, loc); }
inline Tensor Tensor::mean(Loc loc) const { return hci::mean(*this, {}, false, loc); }
inline Tensor Tensor::mean(IntList dims, bool keepdim, Loc loc) const { return hci::mean(*this, dims, keepdim, loc); }
inline Tensor Tensor::amax(IntList dims, bool keepdim, Loc loc) const { return hci::amax(*this, dims, keepdim, loc); }
inline Tensor Tensor::amin(IntList dims, bool keepdim, Loc loc) const { return hci::amin(*this, dims, keepdim, loc); }

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

HCI_RUNTIME_DEF Tensor reduce(OpKind op, const Tensor& x, IntList dims, bool keepdim, DType out, const Loc& loc) {
  const std::string name(op_name(op));
  const int64_t n = x.dim();
  std::vector<bool> reduced(size_t(n), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, n, name.c_str());
    if (n == 0) continue;
    HCI_CHECK(!reduced[w], "{}: dim {} appears multiple times in the list of dims {}", name, w, shape_str(dims));
    reduced[w] = true;
  }
  Dims iter, strides, shape = x.sizes().vec(), squeezed;
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t d = 0; d < n; ++d)
      if (reduced[d] == (pass == 1)) {
        iter.push_back(x.size(d));
        strides.push_back(x.stride(d));
      }
  int32_t reduce_rank = 0;
  for (int64_t d = 0; d < n; ++d) {
    if (reduced[d]) {
      ++reduce_rank;
      if (op == OpKind::Amax || op == OpKind::Amin)
        HCI_CHECK(x.size(d) > 0, "{}: expected reduction dim {} to have non-zero size (input shape {})", name, d,
                  shape_str(x.sizes()));
      shape[d] = 1;
    } else {
      squeezed.push_back(x.size(d));
    }
  }
  if ((op == OpKind::Amax || op == OpKind::Amin) && n == 0) HCI_CHECK(x.numel() > 0, "{}: empty input", name);
  NodePtr node = new_node(op, out, x.dtype(), x.device(), shape, loc);
  node->iter_sizes = iter;
  node->reduce_rank = reduce_rank;
  node->inputs.push_back(Input{x.impl().node, strides, x.storage_offset(), 0});
  Tensor result = record(node);
  return keepdim ? result : result.view(squeezed);
}

}  // namespace detail

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
