// Reductions over any set of dims (or all of them), arg-reductions and cumsum.
#pragma once

#include <hci/ops/elementwise.hpp>
#include <hci/ops/views.hpp>

#include <optional>

HCI_BEGIN_NAMESPACE

namespace detail {

// Records a reduction. Its iteration space is the kept dims followed by the reduced ones, so
// executors reduce the trailing dims; the result is laid out with reduced dims of size 1.
HCI_RUNTIME_DECL Tensor reduce(OpKind op, const Tensor& x, IntList dims, bool keepdim, DType out, const Loc& loc);

// Records a row-wise op (cumsum, softmax) along one dim; the iteration space puts that dim last.
HCI_RUNTIME_DECL Tensor row_wise(OpKind op, const Tensor& x, int64_t dim, DType out, const Loc& loc,
                                 Dims attributes = {});

// The accumulating dtype of sum, prod and cumsum: integers and bools accumulate in int64.
constexpr DType accumulate_dtype(DType t) { return is_integral(t, true) ? kInt64 : t; }

}  // namespace detail

// Sums in the input's dtype; integers and bools sum to int64.
inline Tensor sum(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) {
  return detail::reduce(OpKind::Sum, x, dims, keepdim, detail::accumulate_dtype(x.dtype()), loc);
}

inline Tensor prod(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) {
  return detail::reduce(OpKind::Prod, x, dims, keepdim, detail::accumulate_dtype(x.dtype()), loc);
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

// Whether every (any) element is nonzero; NaN counts as nonzero. Bool results, but uint8 for
// uint8 inputs, as PyTorch's.
HCI_RUNTIME_DECL Tensor all(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current());
HCI_RUNTIME_DECL Tensor any(const Tensor& x, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current());

// The int64 index of the first maximum (minimum) along dim, or into the flattened tensor
// without one. NaN counts as the maximum and as the minimum.
HCI_RUNTIME_DECL Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false,
                               Loc loc = Loc::current());
HCI_RUNTIME_DECL Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false,
                               Loc loc = Loc::current());

// Variance with Bessel's correction by default (divisor n - correction, never below 0), and
// standard deviation; floating-point inputs only. float16 and bfloat16 compute in float32.
HCI_RUNTIME_DECL Tensor var(const Tensor& x, IntList dims = {}, double correction = 1, bool keepdim = false,
                            Loc loc = Loc::current());
inline Tensor std(const Tensor& x, IntList dims = {}, double correction = 1, bool keepdim = false,
                  Loc loc = Loc::current()) {
  return sqrt(var(x, dims, correction, keepdim, loc), loc);
}

// The p-norm (p = 2 by default; also 1, 0 (the count of nonzeros), inf, -inf and any other p).
HCI_RUNTIME_DECL Tensor norm(const Tensor& x, double p = 2, IntList dims = {}, bool keepdim = false,
                             Loc loc = Loc::current());

// Running sums along dim: integers and bools to int64.
inline Tensor cumsum(const Tensor& x, int64_t dim, Loc loc = Loc::current()) {
  return detail::row_wise(OpKind::Cumsum, x, dim, detail::accumulate_dtype(x.dtype()), loc);
}

inline Tensor Tensor::sum(Loc loc) const { return hci::sum(*this, {}, false, loc); }
inline Tensor Tensor::sum(IntList dims, bool keepdim, Loc loc) const { return hci::sum(*this, dims, keepdim, loc); }
inline Tensor Tensor::prod(IntList dims, bool keepdim, Loc loc) const { return hci::prod(*this, dims, keepdim, loc); }
inline Tensor Tensor::mean(Loc loc) const { return hci::mean(*this, {}, false, loc); }
inline Tensor Tensor::mean(IntList dims, bool keepdim, Loc loc) const { return hci::mean(*this, dims, keepdim, loc); }
inline Tensor Tensor::amax(IntList dims, bool keepdim, Loc loc) const { return hci::amax(*this, dims, keepdim, loc); }
inline Tensor Tensor::amin(IntList dims, bool keepdim, Loc loc) const { return hci::amin(*this, dims, keepdim, loc); }
inline Tensor Tensor::all(IntList dims, bool keepdim, Loc loc) const { return hci::all(*this, dims, keepdim, loc); }
inline Tensor Tensor::any(IntList dims, bool keepdim, Loc loc) const { return hci::any(*this, dims, keepdim, loc); }
inline Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim, Loc loc) const {
  return hci::argmax(*this, dim, keepdim, loc);
}
inline Tensor Tensor::argmin(std::optional<int64_t> dim, bool keepdim, Loc loc) const {
  return hci::argmin(*this, dim, keepdim, loc);
}
inline Tensor Tensor::var(IntList dims, double correction, bool keepdim, Loc loc) const {
  return hci::var(*this, dims, correction, keepdim, loc);
}
inline Tensor Tensor::std(IntList dims, double correction, bool keepdim, Loc loc) const {
  return hci::std(*this, dims, correction, keepdim, loc);
}
inline Tensor Tensor::norm(double p, IntList dims, bool keepdim, Loc loc) const {
  return hci::norm(*this, p, dims, keepdim, loc);
}
inline Tensor Tensor::cumsum(int64_t dim, Loc loc) const { return hci::cumsum(*this, dim, loc); }

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
  // These have no identity: an empty reduction has no answer.
  const bool needs_elements = op == OpKind::Amax || op == OpKind::Amin || is_arg_reduction(op);
  int32_t reduce_rank = 0;
  for (int64_t d = 0; d < n; ++d) {
    if (reduced[d]) {
      ++reduce_rank;
      HCI_CHECK(!needs_elements || x.size(d) > 0,
                "{}: expected reduction dim {} to have non-zero size (input shape {})", name, d, shape_str(x.sizes()));
      shape[d] = 1;
    } else {
      squeezed.push_back(x.size(d));
    }
  }
  if (needs_elements && n == 0) HCI_CHECK(x.numel() > 0, "{}: empty input", name);
  NodePtr node = new_node(op, out, x.dtype(), x.device(), shape, loc);
  node->iter_sizes = iter;
  node->reduce_rank = reduce_rank;
  node->inputs.push_back(Input{x.impl().node, strides, x.storage_offset(), 0});
  Tensor result = record(node);
  return keepdim ? result : result.view(squeezed);
}

HCI_RUNTIME_DEF Tensor row_wise(OpKind op, const Tensor& x, int64_t dim, DType out, const Loc& loc, Dims attributes) {
  const int64_t n = x.dim();
  const int64_t d = n == 0 ? 0 : wrap_dim(dim, n, std::string(op_name(op)).c_str());
  if (n == 0) HCI_CHECK(dim == 0 || dim == -1, "{}: dim {} is out of range for a 0-dim tensor", op_name(op), dim);
  NodePtr node = new_node(op, out, x.dtype(), x.device(), x.sizes().vec(), loc);
  const Dims contiguous = contiguous_strides(x.sizes());
  Dims iter, strides, output_strides;
  for (int64_t pass = 0; pass < 2; ++pass)  // every dim but d, then d
    for (int64_t k = 0; k < n; ++k)
      if ((k == d) == (pass == 1)) {
        iter.push_back(x.size(k));
        strides.push_back(x.stride(k));
        output_strides.push_back(contiguous[size_t(k)]);
      }
  node->iter_sizes = iter;
  node->reduce_rank = n == 0 ? 0 : 1;
  node->output_strides = output_strides;
  node->attributes = std::move(attributes);
  node->inputs.push_back(Input{x.impl().node, strides, x.storage_offset(), 0});
  return record(node);
}

// all and any reduce the operand cast to bool.
inline Tensor logical_reduce(OpKind op, const Tensor& x, IntList dims, bool keepdim, const Loc& loc) {
  const Tensor r = reduce(op, cast(x, kBool, loc), dims, keepdim, kBool, loc);
  return x.dtype() == kUInt8 ? cast(r, kUInt8, loc) : r;
}

inline Tensor arg_reduce(OpKind op, const Tensor& x, std::optional<int64_t> dim, bool keepdim, const Loc& loc) {
  if (dim) return reduce(op, x, {*dim}, keepdim, kInt64, loc);
  const Tensor r = reduce(op, x, {}, false, kInt64, loc);
  return keepdim ? r.view(Dims(size_t(x.dim()), 1)) : r;
}

// float16 and bfloat16 compute in float32 and round the result once.
inline Tensor in_float32_if_reduced(const Tensor& x, const Loc& loc) {
  return x.dtype() == kFloat16 || x.dtype() == kBFloat16 ? cast(x, kFloat32, loc) : x;
}

inline int64_t reduced_count(const Tensor& x, IntList dims) {
  if (dims.empty()) return x.numel();
  int64_t count = 1;
  for (int64_t d : dims) count *= x.size(d);
  return count;
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor all(const Tensor& x, IntList dims, bool keepdim, Loc loc) {
  return detail::logical_reduce(OpKind::All, x, dims, keepdim, loc);
}

HCI_RUNTIME_DEF Tensor any(const Tensor& x, IntList dims, bool keepdim, Loc loc) {
  return detail::logical_reduce(OpKind::Any, x, dims, keepdim, loc);
}

HCI_RUNTIME_DEF Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim, Loc loc) {
  return detail::arg_reduce(OpKind::Argmax, x, dim, keepdim, loc);
}

HCI_RUNTIME_DEF Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim, Loc loc) {
  return detail::arg_reduce(OpKind::Argmin, x, dim, keepdim, loc);
}

HCI_RUNTIME_DEF Tensor var(const Tensor& x, IntList dims, double correction, bool keepdim, Loc loc) {
  HCI_CHECK(is_floating_point(x.dtype()), "var: expected a floating-point tensor, got {} {}", x.dtype(),
            detail::shape_str(x.sizes()));
  const Tensor xf = detail::in_float32_if_reduced(x, loc);
  const Tensor centered = xf - mean(xf, dims, true, loc);
  const double n = double(detail::reduced_count(x, dims));
  const Tensor v = sum(centered * centered, dims, keepdim, loc) / std::max(n - correction, 0.0);
  return detail::cast(v, x.dtype(), loc);
}

HCI_RUNTIME_DEF Tensor norm(const Tensor& x, double p, IntList dims, bool keepdim, Loc loc) {
  HCI_CHECK(is_floating_point(x.dtype()), "norm: expected a floating-point tensor, got {} {}", x.dtype(),
            detail::shape_str(x.sizes()));
  const Tensor xf = detail::in_float32_if_reduced(x, loc);
  const double inf = std::numeric_limits<double>::infinity();
  Tensor r;
  if (p == 2)
    r = hci::sqrt(sum(xf * xf, dims, keepdim, loc), loc);
  else if (p == 1)
    r = sum(hci::abs(xf, loc), dims, keepdim, loc);
  else if (p == 0)
    r = sum(detail::cast(ne(xf, 0, loc), xf.dtype(), loc), dims, keepdim, loc);
  else if (p == inf)
    r = amax(hci::abs(xf, loc), dims, keepdim, loc);
  else if (p == -inf)
    r = amin(hci::abs(xf, loc), dims, keepdim, loc);
  else
    r = hci::pow(sum(hci::pow(hci::abs(xf, loc), p, loc), dims, keepdim, loc), 1.0 / p, loc);
  return detail::cast(r, x.dtype(), loc);
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
