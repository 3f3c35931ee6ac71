// softmax and log_softmax over a dim: one row-wise node, computed row by row while the row
// sits in cache (see run_softmax in the interpreter). Floating-point inputs only; float16 and
// bfloat16 compute in float32 and round once.
#pragma once

#include <hci/ops/reduce.hpp>

HCI_BEGIN_NAMESPACE

inline Tensor softmax(const Tensor& x, int64_t dim, Loc loc = Loc::current()) {
  HCI_CHECK(is_floating_point(x.dtype()), "softmax: expected a floating-point tensor, got {} {}", x.dtype(),
            detail::shape_str(x.sizes()));
  return detail::row_wise(OpKind::Softmax, x, dim, x.dtype(), loc);
}

inline Tensor log_softmax(const Tensor& x, int64_t dim, Loc loc = Loc::current()) {
  HCI_CHECK(is_floating_point(x.dtype()), "log_softmax: expected a floating-point tensor, got {} {}", x.dtype(),
            detail::shape_str(x.sizes()));
  return detail::row_wise(OpKind::LogSoftmax, x, dim, x.dtype(), loc);
}

inline Tensor Tensor::softmax(int64_t dim, Loc loc) const { return hci::softmax(*this, dim, loc); }
inline Tensor Tensor::log_softmax(int64_t dim, Loc loc) const { return hci::log_softmax(*this, dim, loc); }

HCI_END_NAMESPACE
