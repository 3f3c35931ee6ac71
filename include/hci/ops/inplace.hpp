// In-place operations. They are evaluated at once: every pending reader of the storage is
// computed first (so `b = a * 2; a.add_(1);` leaves b as it was), then one kernel writes the
// result through the destination's strides.
#pragma once

#include <hci/ops/elementwise.hpp>
#include <hci/ops/factories.hpp>

#include <functional>

HCI_BEGIN_NAMESPACE

namespace detail {

// torch.can_cast: no floating result into an integer, nor a non-bool into a bool.
constexpr bool can_cast(DType from, DType to) {
  if (is_floating_point(from) && !is_floating_point(to)) return false;
  return !(from != kBool && to == kBool);
}

inline std::pair<int64_t, int64_t> element_range(const Tensor& t) {
  int64_t hi = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) > 1) hi += (t.size(d) - 1) * t.stride(d);
  return {t.storage_offset(), hi};
}

inline void check_no_partial_overlap(const Tensor& dst, const Tensor& src, const char* op) {
  if (dst.impl().node != src.impl().node || dst.numel() == 0 || src.numel() == 0) return;
  const auto [a0, a1] = element_range(dst);
  const auto [b0, b1] = element_range(src);
  const bool same_view = dst.sizes().vec() == src.sizes().vec() && dst.strides().vec() == src.strides().vec() &&
                         dst.storage_offset() == src.storage_offset();
  HCI_CHECK(same_view || a1 < b0 || b1 < a0,
            "{}: unsupported operation: some elements of the input tensor and the written-to tensor refer to a "
            "single memory location (shapes {} and {}); clone() the input first",
            op, shape_str(dst.sizes()), shape_str(src.sizes()));
}

// Before an in-place write to dst's memory: dst computed, writable, and every pending reader of
// its storage computed first. Callers hold eval_mutex().
inline void begin_write_locked(const Tensor& dst, const char* op) {
  const NodePtr& node = dst.impl().node;
  materialize_locked(node);
  HCI_CHECK(!node->storage->read_only, "{}: the tensor's memory is read-only (shape {})", op, shape_str(dst.sizes()));
  flush_readers_locked(*node);
}

// Writes make_value() (a tensor broadcastable to dst) into dst's memory. fill_ may write a
// tensor whose elements share memory (each write stores the same value), as PyTorch allows.
template <class F>
Tensor& write_inplace(Tensor& dst, const char* op, const Loc& loc, bool check_cast, bool allow_shared_elements,
                      const F& make_value) {
  const TensorImpl& impl = dst.impl();
  for (int64_t d = 0; d < dst.dim() && !allow_shared_elements && dst.numel() > 0; ++d)
    HCI_CHECK(impl.strides[d] != 0 || impl.sizes[d] <= 1,
              "{}: unsupported operation: more than one element of the written-to tensor (shape {}, strides {}) "
              "refers to a single memory location; clone() it first",
              op, shape_str(dst.sizes()), shape_str(dst.strides()));
  std::lock_guard lock(eval_mutex());
  begin_write_locked(dst, op);
  NodePtr copy;
  {
    const Tensor value = make_value();
    HCI_CHECK(!check_cast || can_cast(value.dtype(), dst.dtype()),
              "{}: result type {} can't be cast to the desired output type {}", op, value.dtype(), dst.dtype());
    const Dims shape = broadcast_shapes(dst.sizes(), value.sizes(), op);
    HCI_CHECK(shape == dst.sizes().vec(), "{}: output with shape {} doesn't match the broadcast shape {}", op,
              shape_str(dst.sizes()), shape_str(shape));
    HCI_CHECK(value.device() == dst.device(), "{}: expected all tensors to be on the same device, but found {} and {}",
              op, dst.device().str(), value.device().str());
    copy = new_node(OpKind::Cast, dst.dtype(), value.dtype(), dst.device(), dst.sizes().vec(), loc);
    copy->inputs.push_back(input_of(value, dst.sizes()));
    copy->inputs[0].version = copy->inputs[0].node->version.load();
  }  // the value's handle is gone, so its kernel fuses into the write
  const Target target{impl.node, impl.strides, impl.offset};
  compute_locked(copy, &target);
  return dst;
}

// The in-place form of an elementwise op: `value` computes the result from dst, which is then
// cast into dst's dtype (refused where PyTorch's can_cast refuses it).
HCI_RUNTIME_DECL Tensor& inplace(Tensor& dst, const char* name, const Tensor* other,
                                 const std::function<Tensor()>& value, const Loc& loc);

}  // namespace detail

#define HCI_DEFINE_INPLACE_UNARY(name, kind)                                           \
  inline Tensor& Tensor::name##_(Loc loc) {                                            \
    return detail::inplace(*this, #name "_", nullptr, [&] { return name(loc); }, loc); \
  }
HCI_UNARY_OPS(HCI_DEFINE_INPLACE_UNARY)
#undef HCI_DEFINE_INPLACE_UNARY

#define HCI_DEFINE_INPLACE_BINARY(name, kind)                                                 \
  inline Tensor& Tensor::name##_(const Tensor& other, Loc loc) {                              \
    return detail::inplace(*this, #name "_", &other, [&] { return name(other, loc); }, loc);  \
  }                                                                                           \
  inline Tensor& Tensor::name##_(Scalar other, Loc loc) {                                     \
    return detail::inplace(*this, #name "_", nullptr, [&] { return name(other, loc); }, loc); \
  }
HCI_BINARY_OPS(HCI_DEFINE_INPLACE_BINARY)
#undef HCI_DEFINE_INPLACE_BINARY

inline Tensor& Tensor::clamp_(std::optional<Scalar> min, std::optional<Scalar> max, Loc loc) {
  return detail::inplace(*this, "clamp_", nullptr, [&] { return clamp(min, max, loc); }, loc);
}
inline Tensor& Tensor::clamp_(const std::optional<Tensor>& min, const std::optional<Tensor>& max, Loc loc) {
  for (const auto* bound : {&min, &max})
    if (*bound) detail::check_no_partial_overlap(*this, **bound, "clamp_");
  return detail::inplace(*this, "clamp_", nullptr, [&] { return clamp(min, max, loc); }, loc);
}

inline Tensor& Tensor::zero_(Loc loc) { return fill_(0, loc); }

inline Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
inline Tensor& operator+=(Tensor& a, Scalar b) { return a.add_(b); }
inline Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
inline Tensor& operator-=(Tensor& a, Scalar b) { return a.sub_(b); }
inline Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
inline Tensor& operator*=(Tensor& a, Scalar b) { return a.mul_(b); }
inline Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
inline Tensor& operator/=(Tensor& a, Scalar b) { return a.div_(b); }

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

HCI_RUNTIME_DEF Tensor& inplace(Tensor& dst, const char* name, const Tensor* other,
                                const std::function<Tensor()>& value, const Loc& loc) {
  if (other) check_no_partial_overlap(dst, *other, name);
  return write_inplace(dst, name, loc, true, false, value);
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor& Tensor::copy_(const Tensor& src, Loc loc) {
  detail::check_no_partial_overlap(*this, src, "copy_");
  if (src.device() == device()) return detail::write_inplace(*this, "copy_", loc, false, false, [&] { return src; });
  // From a device into pinned host memory of the same shape and dtype: queued after the device's
  // work without the host waiting; what reads or writes this memory waits for the copy.
  if (device().is_cpu() && is_pinned() && is_contiguous() && src.dtype() == dtype() &&
      src.sizes().vec() == sizes().vec()) {
    const Tensor from = src.contiguous(loc);
    detail::materialize(from.impl().node);
    std::lock_guard lock(detail::eval_mutex());
    detail::begin_write_locked(*this, "copy_");
    detail::Node& node = *impl().node;
    node.storage->wait_for_readers();  // a copy from it to a GPU
    node.storage->wait_ready();        // an earlier copy into it
    const detail::Storage& source = *from.impl().node->storage;
    node.storage->ready =
        source.backend->copy_to_pinned_host(source.device.index(), detail::first_element(*this),
                                            detail::first_element(from), size_t(numel()) * element_size());
    node.version.fetch_add(1);
    return *this;
  }
  Tensor here = src.to(device(), loc);  // outside the lock write_inplace takes; then converted and broadcast
  return detail::write_inplace(*this, "copy_", loc, false, false, [&] { return here; });
}

HCI_RUNTIME_DEF Tensor& Tensor::fill_(Scalar value, Loc loc) {
  return detail::write_inplace(*this, "fill_", loc, false, true,
                               [&] { return detail::scalar_tensor(value, dtype(), device(), loc); });
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
