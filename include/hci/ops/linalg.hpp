// Matrix products: matmul (as torch.matmul: 1-D, 2-D and batched with broadcasting), mm, bmm.
// Each records one library-call node: its operands are computed first, then the CPU runs it
// through a BLAS (float32, float64) or the built-in kernel (every other dtype).
#pragma once

#include <hci/ops/views.hpp>

HCI_BEGIN_NAMESPACE

HCI_RUNTIME_DECL Tensor matmul(const Tensor& a, const Tensor& b, Loc loc = Loc::current());

// 2-D by 2-D only.
HCI_RUNTIME_DECL Tensor mm(const Tensor& a, const Tensor& b, Loc loc = Loc::current());

// 3-D by 3-D with equal batch sizes, no broadcasting.
HCI_RUNTIME_DECL Tensor bmm(const Tensor& a, const Tensor& b, Loc loc = Loc::current());

inline Tensor Tensor::matmul(const Tensor& other, Loc loc) const { return hci::matmul(*this, other, loc); }
inline Tensor Tensor::mm(const Tensor& other, Loc loc) const { return hci::mm(*this, other, loc); }
inline Tensor Tensor::bmm(const Tensor& other, Loc loc) const { return hci::bmm(*this, other, loc); }

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

// a [..., M, K] times b [..., K, N], the batch dims broadcast.
inline Tensor batched_matmul(const char* name, const Tensor& a, const Tensor& b, const Loc& loc) {
  HCI_CHECK(a.dtype() == b.dtype(), "{}: expected both operands to have the same dtype, got {} {} and {} {}", name,
            a.dtype(), shape_str(a.sizes()), b.dtype(), shape_str(b.sizes()));
  HCI_CHECK(a.device() == b.device(), "{}: expected both operands on the same device, got {} and {}", name,
            a.device().str(), b.device().str());
  const int64_t ra = a.dim(), rb = b.dim();
  const int64_t m = a.size(ra - 2), depth = a.size(ra - 1), n = b.size(rb - 1);
  HCI_CHECK(b.size(rb - 2) == depth, "{}: shapes {} and {} cannot be multiplied ({} != {})", name, shape_str(a.sizes()),
            shape_str(b.sizes()), depth, b.size(rb - 2));
  const Dims batch = broadcast_shapes(a.sizes().first(size_t(ra - 2)), b.sizes().first(size_t(rb - 2)), name);
  const size_t nb = batch.size();
  Dims shape = batch, iter = batch;
  shape.insert(shape.end(), {m, n});
  iter.insert(iter.end(), {m, n, depth});
  // Operand strides over [batch..., M, N, K]; broadcast batch dims (and size-1 ones) stride 0.
  auto strides_of = [&](const Tensor& t, bool lhs) {
    Dims s(nb + 3, 0);
    const int64_t r = t.dim(), lead = int64_t(nb) - (r - 2);
    for (int64_t d = 0; d < r - 2; ++d)
      if (t.size(d) != 1) s[size_t(lead + d)] = t.stride(d);
    if (lhs) {
      s[nb] = t.stride(r - 2);
      s[nb + 2] = t.stride(r - 1);
    } else {
      s[nb + 1] = t.stride(r - 1);
      s[nb + 2] = t.stride(r - 2);
    }
    return s;
  };
  NodePtr node = new_node(OpKind::Matmul, a.dtype(), a.dtype(), a.device(), shape, loc);
  node->iter_sizes = iter;
  node->reduce_rank = 1;
  node->inputs.push_back(Input{a.impl().node, strides_of(a, true), a.storage_offset(), 0});
  node->inputs.push_back(Input{b.impl().node, strides_of(b, false), b.storage_offset(), 0});
  return record(node);
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor matmul(const Tensor& a, const Tensor& b, Loc loc) {
  HCI_CHECK(a.dim() >= 1 && b.dim() >= 1,
            "matmul: both arguments need at least 1 dim, but they have {} and {} ({} and {})", a.dim(), b.dim(),
            detail::shape_str(a.sizes()), detail::shape_str(b.sizes()));
  // A vector is a matrix with a dim of 1 added (before for the left operand, after for the
  // right one) and removed from the result.
  const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  Tensor r = detail::batched_matmul("matmul", a2, b2, loc);
  if (b.dim() == 1) r = r.squeeze(-1);
  if (a.dim() == 1) r = r.squeeze(-2 + (b.dim() == 1 ? 1 : 0));
  return r;
}

HCI_RUNTIME_DEF Tensor mm(const Tensor& a, const Tensor& b, Loc loc) {
  HCI_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D tensors, got {} and {}", detail::shape_str(a.sizes()),
            detail::shape_str(b.sizes()));
  return detail::batched_matmul("mm", a, b, loc);
}

HCI_RUNTIME_DEF Tensor bmm(const Tensor& a, const Tensor& b, Loc loc) {
  HCI_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors, got {} and {}", detail::shape_str(a.sizes()),
            detail::shape_str(b.sizes()));
  HCI_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ: {} and {}", detail::shape_str(a.sizes()),
            detail::shape_str(b.sizes()));
  return detail::batched_matmul("bmm", a, b, loc);
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
