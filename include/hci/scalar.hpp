// hci::Scalar: a number passed to an op, remembering whether it was a bool, integer or float.
#pragma once

#include <hci/dtype.hpp>

#include <concepts>
#include <cstdint>

HCI_BEGIN_NAMESPACE

class Scalar {
 public:
  enum class Kind : uint8_t { Bool, Int, Float };

  Scalar(bool v) : kind_(Kind::Bool), int_(v), float_(v) {}  // NOLINT: numbers convert implicitly
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Scalar(T v) : kind_(Kind::Int), int_(static_cast<int64_t>(v)), float_(static_cast<double>(v)) {}  // NOLINT
  template <std::floating_point T>
  Scalar(T v) : kind_(Kind::Float), int_(0), float_(static_cast<double>(v)) {}  // NOLINT
  Scalar(Half v) : Scalar(static_cast<float>(v)) {}                             // NOLINT
  Scalar(BFloat16 v) : Scalar(static_cast<float>(v)) {}                         // NOLINT

  Kind kind() const { return kind_; }
  bool is_floating_point() const { return kind_ == Kind::Float; }
  double to_double() const { return float_; }
  int64_t to_int64() const { return kind_ == Kind::Float ? static_cast<int64_t>(float_) : int_; }

  // The dtype a number of this kind takes in type promotion (PyTorch's wrapped numbers).
  DType default_dtype() const { return kind_ == Kind::Bool ? kBool : kind_ == Kind::Int ? kInt64 : kFloat32; }

 private:
  Kind kind_;
  int64_t int_;
  double float_;
};

HCI_END_NAMESPACE
