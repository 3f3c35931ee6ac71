// The hci::Tensor class: a cheap reference-counted handle to a lazily computed, strided view.
// Its operations are defined by the headers <hci/tensor.hpp> gathers.
#pragma once

#include <hci/device.hpp>
#include <hci/dtype.hpp>
#include <hci/graph.hpp>
#include <hci/ops/op_lists.hpp>
#include <hci/scalar.hpp>
#include <hci/shape.hpp>

#include <memory>
#include <optional>
#include <source_location>
#include <tuple>
#include <utility>
#include <vector>

HCI_BEGIN_NAMESPACE

class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(DType dtype) : dtype_(dtype) {}      // NOLINT: as LibTorch's
  TensorOptions(Device device) : device_(device) {}  // NOLINT
  TensorOptions dtype(DType dtype) const {
    TensorOptions o = *this;
    o.dtype_ = dtype;
    return o;
  }
  TensorOptions device(Device device) const {
    TensorOptions o = *this;
    o.device_ = device;
    return o;
  }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

 private:
  DType dtype_ = kFloat32;
  Device device_ = Device::cpu();
};

inline TensorOptions dtype(DType t) { return TensorOptions().dtype(t); }
inline TensorOptions device(Device d) { return TensorOptions().device(d); }

namespace detail {

struct TensorImpl {
  NodePtr node;
  Dims sizes;
  Dims strides;  // in elements of the node's layout
  int64_t offset = 0;

  TensorImpl(NodePtr n, Dims s, Dims st, int64_t off)
      : node(std::move(n)), sizes(std::move(s)), strides(std::move(st)), offset(off) {
    node->handles.fetch_add(1, std::memory_order_relaxed);
  }
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;
  ~TensorImpl() { node->handles.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace detail

template <class T, size_t N>
class TensorAccessor;

using Loc = std::source_location;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<detail::TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  int64_t dim() const { return int64_t(impl().sizes.size()); }
  int64_t ndimension() const { return dim(); }
  int64_t size(int64_t d) const { return impl().sizes[detail::wrap_dim(d, dim(), "size")]; }
  int64_t stride(int64_t d) const { return impl().strides[detail::wrap_dim(d, dim(), "stride")]; }
  IntList sizes() const { return impl().sizes; }
  IntList strides() const { return impl().strides; }
  int64_t numel() const { return detail::numel(impl().sizes); }
  int64_t storage_offset() const { return impl().offset; }
  DType dtype() const { return impl().node->dtype; }
  DType scalar_type() const { return dtype(); }
  Device device() const { return impl().node->device; }
  TensorOptions options() const { return TensorOptions().dtype(dtype()).device(device()); }
  size_t element_size() const { return hci::element_size(dtype()); }
  bool is_contiguous() const { return detail::is_contiguous(impl().sizes, impl().strides); }
  bool is_floating_point() const { return hci::is_floating_point(dtype()); }
  // Whether the value has been computed (false while only recorded).
  bool is_evaluated() const { return impl().node->materialized(); }
  // Bumped by every write to the storage, as PyTorch's _version.
  uint64_t version() const { return impl().node->version.load(); }

  // Host reads: evaluate, wait, and copy out. item and to_vector convert to T as `to` would.
  template <Element T>
  T item(Loc loc = Loc::current()) const;
  template <Element T>
  std::vector<T> to_vector(Loc loc = Loc::current()) const;
  // Direct access to the data on its device. data_ptr is writable: it first evaluates every
  // pending reader of the storage and counts as a write. T must be the dtype's type.
  template <Element T>
  T* data_ptr() const;
  template <Element T>
  const T* const_data_ptr() const;
  template <Element T, size_t N>
  TensorAccessor<T, N> accessor() const;

  Tensor to(DType dtype, Loc loc = Loc::current()) const;
  Tensor to(Device device, Loc loc = Loc::current()) const;
  // A copy on the CPU in page-locked memory of a GPU backend (the one Device::best() picks),
  // which GPUs copy to and from directly, without staging; an hci::Error without a GPU.
  Tensor pin_memory(Loc loc = Loc::current()) const;
  bool is_pinned() const;  // in such memory
  Tensor contiguous(Loc loc = Loc::current()) const;
  Tensor clone(Loc loc = Loc::current()) const;

  // Views: index arithmetic over the same data, never a copy (reshape copies only when
  // the strides make a view impossible, exactly when PyTorch's does).
  Tensor reshape(IntList shape, Loc loc = Loc::current()) const;
  Tensor view(IntList shape) const;
  Tensor permute(IntList dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(IntList sizes) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start = std::nullopt, std::optional<int64_t> end = std::nullopt,
               int64_t step = 1) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1, Loc loc = Loc::current()) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  Tensor operator[](int64_t index) const { return select(0, index); }

  // Elementwise ops (the free functions of the same names) and their in-place forms, which
  // write the result into this tensor's memory in its dtype.
#define HCI_DECLARE_UNARY(name, kind)          \
  Tensor name(Loc loc = Loc::current()) const; \
  Tensor& name##_(Loc loc = Loc::current());
  HCI_UNARY_OPS(HCI_DECLARE_UNARY)
#undef HCI_DECLARE_UNARY
#define HCI_DECLARE_BINARY(name, kind)                              \
  Tensor name(const Tensor& other, Loc loc = Loc::current()) const; \
  Tensor name(Scalar other, Loc loc = Loc::current()) const;        \
  Tensor& name##_(const Tensor& other, Loc loc = Loc::current());   \
  Tensor& name##_(Scalar other, Loc loc = Loc::current());
  HCI_BINARY_OPS(HCI_DECLARE_BINARY)
#undef HCI_DECLARE_BINARY
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt, Loc loc = Loc::current()) const;
  Tensor clamp(const std::optional<Tensor>& min, const std::optional<Tensor>& max = std::nullopt,
               Loc loc = Loc::current()) const;
  Tensor& clamp_(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt, Loc loc = Loc::current());
  Tensor& clamp_(const std::optional<Tensor>& min, const std::optional<Tensor>& max = std::nullopt,
                 Loc loc = Loc::current());
  Tensor clamp_min(Scalar min, Loc loc = Loc::current()) const;
  Tensor clamp_max(Scalar max, Loc loc = Loc::current()) const;

  // Reductions and scans.
  Tensor sum(Loc loc = Loc::current()) const;
  Tensor sum(IntList dims, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor prod(IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor mean(Loc loc = Loc::current()) const;
  Tensor mean(IntList dims, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor amax(IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor amin(IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor all(IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor any(IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor var(IntList dims = {}, double correction = 1, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor std(IntList dims = {}, double correction = 1, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor norm(double p = 2, IntList dims = {}, bool keepdim = false, Loc loc = Loc::current()) const;
  Tensor cumsum(int64_t dim, Loc loc = Loc::current()) const;
  Tensor softmax(int64_t dim, Loc loc = Loc::current()) const;
  Tensor log_softmax(int64_t dim, Loc loc = Loc::current()) const;

  // Indexing and whole-tensor comparisons.
  Tensor index_select(int64_t dim, const Tensor& index, Loc loc = Loc::current()) const;
  Tensor gather(int64_t dim, const Tensor& index, Loc loc = Loc::current()) const;
  Tensor masked_fill(const Tensor& mask, Scalar value, Loc loc = Loc::current()) const;
  Tensor& masked_fill_(const Tensor& mask, Scalar value, Loc loc = Loc::current());
  Tensor scatter_add(int64_t dim, const Tensor& index, const Tensor& src, Loc loc = Loc::current()) const;
  Tensor& scatter_add_(int64_t dim, const Tensor& index, const Tensor& src, Loc loc = Loc::current());
  Tensor index_put(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false,
                   Loc loc = Loc::current()) const;
  Tensor& index_put_(const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false,
                     Loc loc = Loc::current());
  Tensor nonzero(Loc loc = Loc::current()) const;
  bool equal(const Tensor& other, Loc loc = Loc::current()) const;
  bool allclose(const Tensor& other, double rtol = 1e-5, double atol = 1e-8, bool equal_nan = false,
                Loc loc = Loc::current()) const;

  // Sorting.
  Tensor argsort(int64_t dim = -1, bool descending = false, Loc loc = Loc::current()) const;
  std::tuple<Tensor, Tensor> sort(int64_t dim = -1, bool descending = false, Loc loc = Loc::current()) const;
  std::tuple<Tensor, Tensor> topk(int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true,
                                  Loc loc = Loc::current()) const;

  // Matrix products.
  Tensor matmul(const Tensor& other, Loc loc = Loc::current()) const;
  Tensor mm(const Tensor& other, Loc loc = Loc::current()) const;
  Tensor bmm(const Tensor& other, Loc loc = Loc::current()) const;

  // In place: evaluated at once, after every pending reader of the storage. copy_ takes a source
  // on any device (converted and broadcast as PyTorch's); from a GPU into a pinned tensor of the
  // same shape and dtype it is queued without the host waiting, and what reads or writes the
  // destination later waits for it.
  Tensor& copy_(const Tensor& src, Loc loc = Loc::current());
  Tensor& fill_(Scalar value, Loc loc = Loc::current());
  Tensor& zero_(Loc loc = Loc::current());

  const detail::TensorImpl& impl() const {
    HCI_CHECK(impl_, "operation on an undefined tensor (default-constructed hci::Tensor)");
    return *impl_;
  }
  const std::shared_ptr<detail::TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<detail::TensorImpl> impl_;
};

// A host view for element access: t.accessor<float, 2>()[i][j].
template <class T, size_t N>
class TensorAccessor {
 public:
  TensorAccessor(T* data, const int64_t* sizes, const int64_t* strides)
      : data_(data), sizes_(sizes), strides_(strides) {}
  decltype(auto) operator[](int64_t i) const {
    if constexpr (N == 1) {
      return data_[i * strides_[0]];
    } else {
      return TensorAccessor<T, N - 1>(data_ + i * strides_[0], sizes_ + 1, strides_ + 1);
    }
  }
  int64_t size(int64_t d) const { return sizes_[d]; }
  int64_t stride(int64_t d) const { return strides_[d]; }

 private:
  T* data_;
  const int64_t* sizes_;
  const int64_t* strides_;
};

HCI_END_NAMESPACE
