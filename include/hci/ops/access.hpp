// Host access and conversions: item, to_vector, data_ptr, accessor, to, clone, contiguous.
#pragma once

#include <hci/ops/record.hpp>

#include <cstdio>
#include <cstring>
#include <new>

HCI_BEGIN_NAMESPACE

namespace detail {

// Host memory for staging a tensor's bytes; running out is an hci::Error like any other.
inline std::vector<std::byte> host_buffer(size_t bytes, IntList shape) {
  try {
    return std::vector<std::byte>(bytes);
  } catch (const std::bad_alloc&) {
    throw_error("out of host memory staging {} bytes for a tensor of shape {}", bytes, shape_str(shape));
  }
}

// A computed node whose storage is the given bytes, copied to the device.
HCI_RUNTIME_DECL Tensor from_host(const void* data, DType dtype, Dims shape, Device device, const Loc& loc);

// Test hook: with HCI_READ_LOG=path, every host read appends its dtype, shape and a hash of
// its bytes, so the logs of an eager and a lazy run of the same program can be compared.
HCI_RUNTIME_DECL void log_host_read(const Tensor& t, const std::vector<std::byte>& bytes);

#if HCI_RUNTIME_DEFINITIONS
HCI_RUNTIME_DEF void log_host_read(const Tensor& t, const std::vector<std::byte>& bytes) {
  static const char* path = std::getenv("HCI_READ_LOG");
  if (!path || !*path) return;
  uint64_t h = 1469598103934665603ull;
  for (std::byte b : bytes) h = (h ^ uint64_t(b)) * 1099511628211ull;
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (FILE* f = std::fopen(path, "a")) {
    fmt::print(f, "{} {} {:016x}\n", t.dtype(), shape_str(t.sizes()), h);
    std::fclose(f);
  }
}

#endif

// The elements of t in row-major order, copied to the host.
HCI_RUNTIME_DECL std::vector<std::byte> read_to_host(const Tensor& t, const Loc& loc);

// The address of a computed tensor's first element, in its storage's memory (a device's or the
// host's).
inline std::byte* first_element(const Tensor& t) {
  return static_cast<std::byte*>(t.impl().node->storage->data) + t.storage_offset() * int64_t(element_size(t.dtype()));
}

}  // namespace detail

inline Tensor Tensor::to(DType t, Loc loc) const { return detail::cast(*this, t, loc); }

inline Tensor Tensor::contiguous(Loc loc) const { return is_contiguous() ? *this : clone(loc); }

template <Element T>
std::vector<T> Tensor::to_vector(Loc loc) const {
  const Tensor src = dtype() == dtype_v<T> ? *this : to(dtype_v<T>, loc);
  const auto bytes = detail::read_to_host(src, loc);
  std::vector<T> out(static_cast<size_t>(numel()));
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = bytes[i] != std::byte{0};
  } else {
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  }
  return out;
}

template <Element T>
T Tensor::item(Loc loc) const {
  HCI_CHECK(numel() == 1, "item: a tensor with {} elements (shape {}) cannot be converted to a number", numel(),
            detail::shape_str(sizes()));
  return to_vector<T>(loc)[0];
}

template <Element T>
const T* Tensor::const_data_ptr() const {
  HCI_CHECK(dtype_v<T> == dtype(), "data_ptr: expected the tensor's element type {}, but got {}", dtype(), dtype_v<T>);
  detail::materialize(impl().node);
  const detail::Storage& s = *impl().node->storage;
  s.wait_ready();
  return static_cast<const T*>(s.data) + impl().offset;
}

template <Element T>
T* Tensor::data_ptr() const {
  HCI_CHECK(dtype_v<T> == dtype(), "data_ptr: expected the tensor's element type {}, but got {}", dtype(), dtype_v<T>);
  detail::Node& n = *impl().node;
  {
    std::lock_guard lock(detail::eval_mutex());
    detail::materialize_locked(impl().node);
    HCI_CHECK(!n.storage->read_only,
              "data_ptr: the tensor's memory is read-only (shape {}); use "
              "const_data_ptr() to read it, or clone() it to write",
              detail::shape_str(sizes()));
    detail::begin_external_write_locked(n);
  }
  n.storage->wait_ready();
  n.storage->wait_for_readers();
  return static_cast<T*>(n.storage->data) + impl().offset;
}

template <Element T, size_t N>
TensorAccessor<T, N> Tensor::accessor() const {
  static_assert(N > 0, "accessor: use item() for 0-dim tensors");
  HCI_CHECK(dim() == int64_t(N), "accessor: expected a {}-dim tensor, got shape {}", N, detail::shape_str(sizes()));
  HCI_CHECK(device().is_cpu(),
            "accessor: the tensor is on {}, whose memory the host cannot address; "
            "use to(Device::cpu()) first",
            device().str());
  return TensorAccessor<T, N>(data_ptr<T>(), impl().sizes.data(), impl().strides.data());
}

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

HCI_RUNTIME_DEF Tensor from_host(const void* data, DType dtype, Dims shape, Device device, const Loc& loc) {
  const size_t bytes = size_t(checked_numel(shape, "tensor")) * element_size(dtype);
  auto storage = allocate_storage(device, bytes);
  if (bytes) storage->backend->copy_from_host(device.index(), storage->data, data, bytes);
  NodePtr n = new_node(OpKind::Load, dtype, dtype, device, std::move(shape), loc);
  n->set_storage(std::move(storage));
  return wrap_node(std::move(n));
}

HCI_RUNTIME_DEF std::vector<std::byte> read_to_host(const Tensor& t, const Loc& loc) {
  const Tensor c = t.contiguous(loc);
  materialize(c.impl().node);
  const Node& n = *c.impl().node;
  std::vector<std::byte> out = host_buffer(size_t(c.numel()) * element_size(c.dtype()), c.sizes());
  if (!out.empty()) {
    n.storage->wait_ready();
    n.storage->backend->copy_to_host(n.device.index(), out.data(), first_element(c), out.size());
  }
  log_host_read(t, out);
  return out;
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor Tensor::clone(Loc loc) const {
  detail::NodePtr n = detail::new_node(OpKind::Cast, dtype(), dtype(), device(), sizes().vec(), loc);
  n->inputs.push_back(detail::input_of(*this, sizes()));
  return detail::record(n);
}

HCI_RUNTIME_DEF Tensor Tensor::pin_memory(Loc loc) const {
  const Device gpu = Device::best();
  HCI_CHECK(!gpu.is_cpu(),
            "pin_memory: page-locked host memory comes from a GPU's driver, and no CUDA or ROCm "
            "device is usable here");
  Backend& backend = backend_for(gpu);
  const std::vector<std::byte> contents = detail::read_to_host(*this, loc);
  void* memory = contents.empty() ? nullptr : backend.allocate_pinned(gpu.index(), contents.size());
  HCI_CHECK(memory || contents.empty(), "pin_memory: {} gives no page-locked memory", gpu.str());
  if (memory) std::memcpy(memory, contents.data(), contents.size());
  auto storage = std::make_shared<detail::Storage>();
  storage->device = Device::cpu();
  storage->backend = &backend_for(Device::cpu());
  storage->data = memory;
  storage->nbytes = contents.size();
  storage->borrowed = true;  // freed by its deleter, as the GPU backend's
  storage->pinned = true;
  storage->deleter = [&backend, gpu](void* data) {
    if (data) backend.free_pinned(gpu.index(), data);
  };
  detail::NodePtr n = detail::new_node(OpKind::Load, dtype(), dtype(), Device::cpu(), sizes().vec(), loc);
  n->set_storage(std::move(storage));
  return detail::wrap_node(std::move(n));
}

HCI_RUNTIME_DEF bool Tensor::is_pinned() const {
  const detail::Node& n = *impl().node;
  return n.storage && n.storage->pinned;
}

// Directly between two devices of one backend where it can (GPU to GPU), from pinned host memory
// without the host waiting, else through a host copy.
HCI_RUNTIME_DEF Tensor Tensor::to(Device target, Loc loc) const {
  if (target == device()) return *this;
  Backend& backend = backend_for(target);  // fail before computing anything if the target is unusable
  if (device().is_cpu() && is_pinned() && is_contiguous()) {
    detail::Storage& pinned = *impl().node->storage;
    const size_t bytes = size_t(numel()) * hci::element_size(dtype());
    auto storage = detail::allocate_storage(target, bytes);
    pinned.wait_ready();        // writes queued before the copy
    pinned.wait_for_readers();  // and one copy in flight at a time
    pinned.copy_in_flight =
        backend.copy_from_pinned_host(target.index(), storage->data, detail::first_element(*this), bytes);
    detail::NodePtr moved = detail::new_node(OpKind::Load, dtype(), dtype(), target, sizes().vec(), loc);
    moved->set_storage(std::move(storage));
    return detail::wrap_node(std::move(moved));
  }
  if (target.type() == device().type()) {
    const Tensor c = contiguous(loc);
    detail::materialize(c.impl().node);
    const detail::Node& n = *c.impl().node;
    const size_t bytes = size_t(c.numel()) * hci::element_size(dtype());
    auto storage = detail::allocate_storage(target, bytes);
    if (backend.copy_between_devices(target.index(), storage->data, n.device.index(), detail::first_element(c),
                                     bytes)) {
      detail::NodePtr moved = detail::new_node(OpKind::Load, dtype(), dtype(), target, sizes().vec(), loc);
      moved->set_storage(std::move(storage));
      return detail::wrap_node(std::move(moved));
    }
  }
  const auto bytes = detail::read_to_host(*this, loc);
  return detail::from_host(bytes.data(), dtype(), sizes().vec(), target, loc);
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
