// Joining tensors: cat along an existing dim, stack along a new one. One graph node; when
// computed, each input is copied into its slice by a kernel that fuses the input's producers.
#pragma once

#include <hci/ops/views.hpp>

#include <vector>

HCI_BEGIN_NAMESPACE

// The inputs promote to one dtype (as torch.cat); all have the same rank and sizes but along
// dim. 1-D empty tensors are skipped, as PyTorch allows.
HCI_RUNTIME_DECL Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0, Loc loc = Loc::current());

// Inputs of one shape, joined along a new dim.
HCI_RUNTIME_DECL Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0, Loc loc = Loc::current());

#if HCI_RUNTIME_DEFINITIONS

HCI_RUNTIME_DEF Tensor cat(const std::vector<Tensor>& tensors, int64_t dim, Loc loc) {
  HCI_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  std::vector<const Tensor*> parts;
  for (const Tensor& t : tensors)
    if (!(t.dim() == 1 && t.numel() == 0)) parts.push_back(&t);
  if (parts.empty()) return tensors[0].clone(loc);
  const Tensor& first = *parts[0];
  HCI_CHECK(first.dim() > 0, "cat: zero-dimensional tensor (at position 0) cannot be concatenated");
  const int64_t d = detail::wrap_dim(dim, first.dim(), "cat");
  Dims shape = first.sizes().vec();
  shape[size_t(d)] = 0;
  DType dtype = first.dtype();
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& t = *parts[i];
    HCI_CHECK(t.dim() == first.dim(), "cat: tensors must have the same number of dims: {} and {} (input {})",
              detail::shape_str(first.sizes()), detail::shape_str(t.sizes()), i);
    HCI_CHECK(t.device() == first.device(), "cat: expected all tensors on the same device, got {} and {}",
              first.device().str(), t.device().str());
    for (int64_t k = 0; k < t.dim(); ++k)
      HCI_CHECK(k == d || t.size(k) == first.size(k),
                "cat: sizes of tensors must match except in dim {}: expected size {} but got size {} for input {} "
                "(shapes {} and {})",
                d, first.size(k), t.size(k), i, detail::shape_str(first.sizes()), detail::shape_str(t.sizes()));
    shape[size_t(d)] += t.size(d);
    dtype = promote_types(dtype, t.dtype());
  }
  detail::NodePtr node = detail::new_node(OpKind::Concat, dtype, dtype, first.device(), shape, loc);
  node->attributes.push_back(d);
  for (const Tensor* t : parts) {
    node->attributes.push_back(t->size(d));
    node->inputs.push_back(detail::Input{t->impl().node, t->strides().vec(), t->storage_offset(), 0});
  }
  return detail::record(node);
}

HCI_RUNTIME_DEF Tensor stack(const std::vector<Tensor>& tensors, int64_t dim, Loc loc) {
  HCI_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  const int64_t d = detail::wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (size_t i = 0; i < tensors.size(); ++i) {
    HCI_CHECK(tensors[i].sizes().vec() == tensors[0].sizes().vec(),
              "stack: expects each tensor to be equal size, but got {} at entry 0 and {} at entry {}",
              detail::shape_str(tensors[0].sizes()), detail::shape_str(tensors[i].sizes()), i);
    expanded.push_back(tensors[i].unsqueeze(d));
  }
  return cat(expanded, d, loc);
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
