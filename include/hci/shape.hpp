// Sizes and strides: the shape arithmetic shared by tensors, views and the scheduler.
#pragma once

#include <hci/error.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

using Dims = std::vector<int64_t>;

// A read-only list of integers that binds to braces, vectors and spans alike.
class IntList {
 public:
  IntList() = default;
  IntList(std::initializer_list<int64_t> list) : data_(list.begin(), list.size()) {}  // NOLINT
  IntList(const Dims& dims) : data_(dims) {}                                          // NOLINT
  IntList(std::span<const int64_t> span) : data_(span) {}                             // NOLINT
  const int64_t* begin() const { return data_.data(); }
  const int64_t* end() const { return data_.data() + data_.size(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  int64_t operator[](size_t i) const { return data_[i]; }
  IntList first(size_t count) const { return data_.first(count); }
  Dims vec() const { return {begin(), end()}; }

 private:
  std::span<const int64_t> data_;
};

namespace detail {

inline std::string shape_str(IntList dims) { return detail::format("[{}]", fmt::join(dims, ", ")); }

inline int64_t checked_numel(IntList sizes, const char* op) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    HCI_CHECK(s >= 0, "{}: negative size in shape {}", op, shape_str(sizes));
    HCI_CHECK(!__builtin_mul_overflow(n, s, &n), "{}: shape {} has more elements than int64 holds", op,
              shape_str(sizes));
  }
  return n;
}

inline int64_t numel(IntList sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

inline Dims contiguous_strides(IntList sizes) {
  Dims strides(sizes.size());
  int64_t stride = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(sizes[i], 1);
  }
  return strides;
}

// Strides equal to contiguous ones up to dims of size 1, whose stride never matters.
inline bool is_contiguous(IntList sizes, IntList strides) {
  if (numel(sizes) == 0) return true;  // no elements: any strides will do, as in PyTorch
  int64_t expected = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] != 1 && strides[i] != expected) return false;
    expected *= sizes[i];
  }
  return true;
}

// Wraps a possibly negative dim into [0, ndim); a 0-dim tensor accepts 0 and -1 as PyTorch does.
inline int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  HCI_CHECK(dim >= -n && dim < n, "{}: dimension out of range (expected to be in range of [{}, {}], but got {})", op,
            -n, n - 1, dim);
  return dim < 0 ? dim + n : dim;
}

// Numpy broadcasting of two shapes.
inline Dims broadcast_shapes(IntList a, IntList b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Dims out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    HCI_CHECK(da == db || da == 1 || db == 1,
              "{}: shapes {} and {} cannot be broadcast together (size {} vs {} at dimension {})", op, shape_str(a),
              shape_str(b), da, db, i);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Resolves one -1 in a requested shape against numel (torch.reshape's rules).
inline Dims infer_size(IntList shape, int64_t numel, const char* op) {
  Dims out = shape.vec();
  std::optional<size_t> infer;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      HCI_CHECK(!infer, "{}: only one dimension can be inferred in shape {}", op, shape_str(shape));
      infer = i;
    } else {
      HCI_CHECK(out[i] >= 0, "{}: invalid shape dimension {} in {}", op, out[i], shape_str(shape));
      known *= out[i];
    }
  }
  if (infer) {
    HCI_CHECK(known != 0,
              "{}: cannot reshape a tensor of {} elements into shape {} because the "
              "unspecified dimension size -1 can be any value",
              op, numel, shape_str(shape));
    HCI_CHECK(numel % known == 0, "{}: shape {} is invalid for input of size {}", op, shape_str(shape), numel);
    out[*infer] = numel / known;
  } else {
    HCI_CHECK(known == numel, "{}: shape {} is invalid for input of size {}", op, shape_str(shape), numel);
  }
  return out;
}

// The strides of a reshape that can be a view of (sizes, strides), or nullopt when the
// data must be copied: PyTorch's computeStride, so views happen exactly when PyTorch's do.
inline std::optional<Dims> view_strides(IntList old_sizes, IntList old_strides, IntList new_sizes) {
  Dims new_strides(new_sizes.size());
  if (old_sizes.empty()) {
    std::fill(new_strides.begin(), new_strides.end(), 1);
    return new_strides;
  }
  if (numel(old_sizes) == 0) {
    if (old_sizes.vec() == new_sizes.vec()) return old_strides.vec();
    return contiguous_strides(new_sizes);
  }
  int64_t view_d = int64_t(new_sizes.size()) - 1;
  int64_t chunk_base_stride = old_strides[old_strides.size() - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = int64_t(old_sizes.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_sizes[tensor_d];
    if (tensor_d == 0 ||
        (old_sizes[tensor_d - 1] != 1 && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

}  // namespace detail

HCI_END_NAMESPACE
