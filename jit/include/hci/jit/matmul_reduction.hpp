// A matrix product as the JIT's own kernel, for GPUs without a vendor BLAS: out[b, m, n] is the
// sum over k of a[b, m, k] * b[b, k, n], which is a product of two loads reduced over the
// innermost dim of the matmul kernel's iteration space [batch..., M, N, K], each output element
// one reduction row. So GPU backends run matrix products through the code (and emulation) every
// reduction has. Products and sums are in the compute type (float32 for 16-bit floats, int64
// for integers), rounded to the output's dtype once; the order of the sum is the reduction's, so
// results agree with the CPU's matmul to rounding, not bit for bit. Not tiled: each row reads
// its operands from memory, which suits a fallback, not speed.
#pragma once

#include <hci/kernel.hpp>

#include <optional>

HCI_BEGIN_NAMESPACE

namespace jit {

// The reduction computing matmul kernel `k` (root OpKind::Matmul, operands loaded from buffers 1
// and 2), over the same parameters; none for bool products.
inline std::optional<Kernel> matmul_as_reduction(const Kernel& k) {
  const KernelStructure& s = k.structure;
  const KernelOp& root = s.ops.back();
  if (root.op != OpKind::Matmul || root.dtype == kBool) return std::nullopt;
  const DType accumulate = is_floating_point(root.dtype) ? (root.dtype == kFloat64 ? kFloat64 : kFloat32) : kInt64;
  Kernel sum = k;
  KernelStructure& r = sum.structure;
  r.ops.assign(s.ops.begin(), s.ops.end() - 1);  // the operands' loads
  KernelOp product{OpKind::Mul, accumulate, accumulate};
  product.args[0] = root.args[0];
  product.args[1] = root.args[1];
  r.ops.push_back(product);
  KernelOp reduce{OpKind::Sum, root.dtype, accumulate};
  reduce.args[0] = int32_t(r.ops.size() - 1);
  r.ops.push_back(reduce);
  r.rank = int32_t(k.params.sizes.size());
  r.reduce_rank = 1;
  r.reduces_leading = false;
  for (size_t b = 0; b < r.layouts.size(); ++b) {
    bool broadcast = true;
    for (int64_t stride : k.params.buffers[b].strides) broadcast = broadcast && stride == 0;
    r.layouts[b] = broadcast ? Layout::Broadcast : Layout::Strided;
  }
  sum.hash = r.hash();
  return sum;
}

}  // namespace jit

HCI_END_NAMESPACE
