// Factories: tensors made from shapes, numbers, host data, foreign memory and random draws.
#pragma once

#include <hci/ops/access.hpp>
#include <hci/ops/views.hpp>
#include <hci/philox.hpp>
#include <hci/precise_fp.hpp>

#include <cmath>
#include <functional>
#include <numbers>

HCI_PRECISE_FP_BEGIN
HCI_BEGIN_NAMESPACE

// Uninitialised memory of the given shape.
HCI_RUNTIME_DECL Tensor empty(IntList shape, TensorOptions options = {}, Loc loc = Loc::current());

// A contiguous tensor filled with value: computed by a kernel on the device (lazily, so it
// fuses into its first consumer when nothing else holds it).
HCI_RUNTIME_DECL Tensor full(IntList shape, Scalar value, TensorOptions options = {}, Loc loc = Loc::current());
inline Tensor zeros(IntList shape, TensorOptions options = {}, Loc loc = Loc::current()) {
  return full(shape, 0, options, loc);
}
inline Tensor ones(IntList shape, TensorOptions options = {}, Loc loc = Loc::current()) {
  return full(shape, 1, options, loc);
}
inline Tensor empty_like(const Tensor& t, Loc loc = Loc::current()) { return empty(t.sizes(), t.options(), loc); }
inline Tensor zeros_like(const Tensor& t, Loc loc = Loc::current()) { return zeros(t.sizes(), t.options(), loc); }
inline Tensor ones_like(const Tensor& t, Loc loc = Loc::current()) { return ones(t.sizes(), t.options(), loc); }
inline Tensor full_like(const Tensor& t, Scalar value, Loc loc = Loc::current()) {
  return full(t.sizes(), value, t.options(), loc);
}

// A copy of host data with the given shape (1-D when no shape is given; full({}, v) makes 0-dim).
template <Element T>
Tensor from_vector(const std::vector<T>& data, IntList shape = {}, TensorOptions options = {},
                   Loc loc = Loc::current()) {
  const Dims dims = shape.empty() ? Dims{int64_t(data.size())} : shape.vec();
  HCI_CHECK(detail::checked_numel(dims, "from_vector") == int64_t(data.size()),
            "from_vector: shape {} needs {} elements, but {} were given", detail::shape_str(dims), detail::numel(dims),
            data.size());
  Tensor t;
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(data.begin(), data.end());
    t = detail::from_host(bytes.data(), kBool, dims, options.device(), loc);
  } else {
    t = detail::from_host(data.data(), dtype_v<T>, dims, options.device(), loc);
  }
  return t;
}

// A tensor over memory hci does not own (host memory, CPU device). The contract: hci may read
// the memory until every result computed from it has been evaluated, and writes to it only
// through hci's own in-place ops. Before the owner writes through its own pointer, it calls
// data_ptr() on the tensor (which evaluates every pending reader first); a const pointer makes
// the tensor read-only. The deleter, if any, runs once no tensor or pending work refers to it.
HCI_RUNTIME_DECL Tensor from_blob(const void* data, IntList shape, IntList strides, DType dtype,
                                  std::function<void(void*)> deleter = nullptr, Loc loc = Loc::current());

namespace detail {
// from_blob for the operation `op` (which its messages name): a read-only tensor over memory of
// `device`.
HCI_RUNTIME_DECL Tensor borrow_memory(const void* data, IntList shape, IntList strides, DType dtype,
                                      std::function<void(void*)> deleter, const Loc& loc, const char* op,
                                      Device device = Device::cpu());
}  // namespace detail

inline Tensor from_blob(void* data, IntList shape, IntList strides, DType dtype,
                        std::function<void(void*)> deleter = nullptr, Loc loc = Loc::current()) {
  Tensor t = from_blob(static_cast<const void*>(data), shape, strides, dtype, std::move(deleter), loc);
  t.impl().node->storage->read_only = false;
  return t;
}

inline Tensor from_blob(void* data, IntList shape, DType dtype, std::function<void(void*)> deleter = nullptr,
                        Loc loc = Loc::current()) {
  return from_blob(data, shape, detail::contiguous_strides(shape), dtype, std::move(deleter), loc);
}
inline Tensor from_blob(const void* data, IntList shape, DType dtype, std::function<void(void*)> deleter = nullptr,
                        Loc loc = Loc::current()) {
  return from_blob(data, shape, detail::contiguous_strides(shape), dtype, std::move(deleter), loc);
}

// [start, end) in steps; int64 unless a bound or the step is a float (then float32).
HCI_RUNTIME_DECL Tensor arange(Scalar start, Scalar end, Scalar step = 1,
                               std::optional<TensorOptions> options = std::nullopt, Loc loc = Loc::current());
inline Tensor arange(Scalar end, std::optional<TensorOptions> options = std::nullopt, Loc loc = Loc::current()) {
  return arange(end.is_floating_point() ? Scalar(0.0) : Scalar(0), end, 1, options, loc);
}

// `steps` points from start to end inclusive, computed from both ends as PyTorch does.
HCI_RUNTIME_DECL Tensor linspace(Scalar start, Scalar end, int64_t steps, TensorOptions options = {},
                                 Loc loc = Loc::current());

HCI_RUNTIME_DECL Tensor eye(int64_t n, int64_t m = -1, TensorOptions options = {}, Loc loc = Loc::current());

// Uniform on [0, 1).
HCI_RUNTIME_DECL Tensor rand(IntList shape, TensorOptions options = {}, Loc loc = Loc::current());

// Standard normal, by the Box-Muller transform of two uniforms.
HCI_RUNTIME_DECL Tensor randn(IntList shape, TensorOptions options = {}, Loc loc = Loc::current());

#if HCI_RUNTIME_DEFINITIONS

HCI_RUNTIME_DEF Tensor empty(IntList shape, TensorOptions options, Loc loc) {
  const size_t bytes = size_t(detail::checked_numel(shape, "empty")) * element_size(options.dtype());
  auto storage = detail::allocate_storage(options.device(), bytes);
  auto n = detail::new_node(OpKind::Load, options.dtype(), options.dtype(), options.device(), shape.vec(), loc);
  n->set_storage(std::move(storage));
  return detail::wrap_node(std::move(n));
}

HCI_RUNTIME_DEF Tensor full(IntList shape, Scalar value, TensorOptions options, Loc loc) {
  detail::checked_numel(shape, "full");
  backend_for(options.device());  // an unusable device is an error here, not at first use
  return detail::scalar_tensor(value, options.dtype(), options.device(), loc).expand(shape).clone(loc);
}
HCI_RUNTIME_DEF Tensor from_blob(const void* data, IntList shape, IntList strides, DType dtype,
                                 std::function<void(void*)> deleter, Loc loc) {
  return detail::borrow_memory(data, shape, strides, dtype, std::move(deleter), loc, "from_blob");
}

HCI_RUNTIME_DEF Tensor detail::borrow_memory(const void* data, IntList shape, IntList strides, DType dtype,
                                             std::function<void(void*)> deleter, const Loc& loc, const char* op,
                                             Device device) {
  const int64_t numel = detail::checked_numel(shape, op);
  HCI_CHECK(data || numel == 0, "{}: null data pointer for shape {}", op, detail::shape_str(shape));
  HCI_CHECK(shape.size() == strides.size(), "{}: shape {} and strides {} differ in length", op,
            detail::shape_str(shape), detail::shape_str(strides));
  // The storage spans the elements from the first to the last one addressed.
  int64_t elements = 1, nbytes = 0;
  bool overflow = false;
  for (size_t d = 0; d < shape.size(); ++d) {
    HCI_CHECK(strides[d] >= 0, "{}: negative strides are not supported (strides {}); copy the memory first", op,
              detail::shape_str(strides));
    int64_t span = 0;
    overflow |= shape[d] > 0 && (__builtin_mul_overflow(shape[d] - 1, strides[d], &span) ||
                                 __builtin_add_overflow(elements, span, &elements));
  }
  overflow |= __builtin_mul_overflow(elements, int64_t(element_size(dtype)), &nbytes);
  HCI_CHECK(!overflow, "{}: shape {} with strides {} spans more bytes than int64 holds", op, detail::shape_str(shape),
            detail::shape_str(strides));
  auto storage = std::make_shared<detail::Storage>();
  storage->device = device;
  storage->backend = &backend_for(device);  // an unusable device is an error here
  storage->data = const_cast<void*>(data);  // NOLINT: read_only guards writes
  storage->nbytes = size_t(nbytes);
  storage->borrowed = true;
  storage->read_only = true;
  storage->deleter = std::move(deleter);
  auto n = detail::new_node(OpKind::Load, dtype, dtype, device, shape.vec(), loc);
  n->set_storage(std::move(storage));
  return Tensor(std::make_shared<detail::TensorImpl>(std::move(n), shape.vec(), strides.vec(), 0));
}

namespace detail {

// Fills a host buffer of dtype `dtype` element by element, then moves it to the device.
template <class F>
Tensor host_fill(Dims shape, TensorOptions options, const Loc& loc, F value_of) {
  const int64_t n = checked_numel(shape, "factory");
  std::vector<std::byte> bytes = host_buffer(size_t(n) * element_size(options.dtype()), shape);
  const PreciseFloatMode mode;
  visit_dtype(options.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = reinterpret_cast<T*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) {
      const double v = value_of(i);
      if constexpr (std::is_same_v<T, bool>)
        out[i] = v != 0;
      else if constexpr (std::is_integral_v<T>)
        out[i] = T(int64_t(v));
      else
        out[i] = T(v);
    }
  });
  return from_host(bytes.data(), options.dtype(), std::move(shape), options.device(), loc);
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<TensorOptions> options, Loc loc) {
  const bool floating = start.is_floating_point() || end.is_floating_point() || step.is_floating_point();
  const TensorOptions opts = options ? *options : TensorOptions().dtype(floating ? kFloat32 : kInt64);
  const double s = start.to_double(), e = end.to_double(), st = step.to_double();
  HCI_CHECK(st != 0, "arange: step must be nonzero");
  HCI_CHECK(std::isfinite(s) && std::isfinite(e), "arange: unsupported range {} -> {}", s, e);
  HCI_CHECK((st > 0 && e >= s) || (st < 0 && e <= s),
            "arange: upper bound and larger bound inconsistent with step sign "
            "(start {}, end {}, step {})",
            s, e, st);
  const int64_t size = int64_t(std::ceil((e - s) / st));
  if (!floating && !is_floating_point(opts.dtype()))
    return detail::host_fill({size}, opts, loc,
                             [&](int64_t i) { return double(start.to_int64() + i * step.to_int64()); });
  return detail::host_fill({size}, opts, loc, [&](int64_t i) { return s + double(i) * st; });
}
// The first half counts up from start, the second down from end (PyTorch's, so the ends are
// exact); one step is start.
HCI_RUNTIME_DEF Tensor linspace(Scalar start, Scalar end, int64_t steps, TensorOptions options, Loc loc) {
  HCI_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got {}", steps);
  const double s = start.to_double(), e = end.to_double();
  if (options.dtype() == kFloat32 || options.dtype() == kFloat16 || options.dtype() == kBFloat16) {
    const float fs = float(s), fe = float(e);
    const float step = steps > 1 ? (fe - fs) / float(steps - 1) : 0.0f;
    return detail::host_fill({steps}, options, loc, [&](int64_t i) {
      return double(i < steps / 2 || steps == 1 ? fs + step * float(i) : fe - step * float(steps - i - 1));
    });
  }
  const double step = steps > 1 ? (e - s) / double(steps - 1) : 0.0;
  return detail::host_fill({steps}, options, loc, [&](int64_t i) {
    return i < steps / 2 || steps == 1 ? s + step * double(i) : e - step * double(steps - i - 1);
  });
}

HCI_RUNTIME_DEF Tensor eye(int64_t n, int64_t m, TensorOptions options, Loc loc) {
  if (m < 0) m = n;
  HCI_CHECK(n >= 0, "eye: n must be non-negative, got {}", n);
  return detail::host_fill({n, m}, options, loc, [&](int64_t i) { return i / m == i % m ? 1.0 : 0.0; });
}

namespace detail {

template <class F>
Tensor random_fill(IntList shape, TensorOptions options, const Loc& loc, const char* op, F draw) {
  HCI_CHECK(is_floating_point(options.dtype()), "{}: expected a floating-point dtype, got {}", op, options.dtype());
  const int64_t n = checked_numel(shape, op);
  Generator& g = default_generator();
  const uint64_t seed = g.seed.load();
  const uint64_t offset = g.offset.fetch_add(uint64_t(n));
  return host_fill(shape.vec(), options, loc, [&](int64_t i) { return draw(philox_words(seed, offset, uint64_t(i))); });
}

inline double uniform53(uint32_t hi, uint32_t lo) {
  return double((uint64_t(hi) << 21) ^ (uint64_t(lo) >> 11)) * 0x1.0p-53;
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor rand(IntList shape, TensorOptions options, Loc loc) {
  const bool wide = options.dtype() == kFloat64;
  return detail::random_fill(shape, options, loc, "rand", [wide](std::array<uint32_t, 4> w) {
    return wide ? detail::uniform53(w[0], w[1]) : double(w[0] >> 8) * 0x1.0p-24;
  });
}

HCI_RUNTIME_DEF Tensor randn(IntList shape, TensorOptions options, Loc loc) {
  return detail::random_fill(shape, options, loc, "randn", [](std::array<uint32_t, 4> w) {
    const double u1 = 1.0 - detail::uniform53(w[0], w[1]);  // (0, 1]: log stays finite
    const double u2 = detail::uniform53(w[2], w[3]);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  });
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
HCI_PRECISE_FP_END
