// hci::DType: the element types, their properties, and PyTorch's type-promotion rules.
#pragma once

#include <hci/config.hpp>
#include <hci/half.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

HCI_BEGIN_NAMESPACE

enum class DType : uint8_t { Bool, UInt8, Int8, Int16, Int32, Int64, Float16, BFloat16, Float32, Float64 };

inline constexpr DType kBool = DType::Bool;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kInt8 = DType::Int8;
inline constexpr DType kInt16 = DType::Int16;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr int kNumDTypes = 10;

// Every dtype computes in one of three types; narrower results are rounded (floats) or
// wrapped (integers) back to their dtype after each operation, as eager PyTorch does.
enum class ComputeType : uint8_t { Int64, Float32, Float64 };

constexpr std::string_view dtype_name(DType t) {
  constexpr std::string_view names[] = {"bool",  "uint8",   "int8",     "int16",   "int32",
                                        "int64", "float16", "bfloat16", "float32", "float64"};
  return names[static_cast<int>(t)];
}

constexpr size_t element_size(DType t) {
  constexpr size_t sizes[] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8};
  return sizes[static_cast<int>(t)];
}

constexpr bool is_floating_point(DType t) { return t >= DType::Float16; }
constexpr bool is_integral(DType t, bool include_bool = false) {
  return t == DType::Bool ? include_bool : t < DType::Float16;
}
constexpr bool is_signed(DType t) { return t != DType::Bool && t != DType::UInt8; }

constexpr ComputeType compute_type(DType t) {
  if (t == DType::Float64) return ComputeType::Float64;
  return is_floating_point(t) ? ComputeType::Float32 : ComputeType::Int64;
}

// The C++ type stored for each dtype, both ways.
template <class T>
struct dtype_of;
template <>
struct dtype_of<bool> {
  static constexpr DType value = kBool;
};
template <>
struct dtype_of<uint8_t> {
  static constexpr DType value = kUInt8;
};
template <>
struct dtype_of<int8_t> {
  static constexpr DType value = kInt8;
};
template <>
struct dtype_of<int16_t> {
  static constexpr DType value = kInt16;
};
template <>
struct dtype_of<int32_t> {
  static constexpr DType value = kInt32;
};
template <>
struct dtype_of<int64_t> {
  static constexpr DType value = kInt64;
};
template <>
struct dtype_of<Half> {
  static constexpr DType value = kFloat16;
};
template <>
struct dtype_of<BFloat16> {
  static constexpr DType value = kBFloat16;
};
template <>
struct dtype_of<float> {
  static constexpr DType value = kFloat32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = kFloat64;
};
template <class T>
inline constexpr DType dtype_v = dtype_of<std::remove_cv_t<T>>::value;
template <class T>
concept Element = requires { dtype_of<std::remove_cv_t<T>>::value; };

// Calls f(T{}) with the C++ type of dtype t.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case kBool: return f(bool{});
    case kUInt8: return f(uint8_t{});
    case kInt8: return f(int8_t{});
    case kInt16: return f(int16_t{});
    case kInt32: return f(int32_t{});
    case kInt64: return f(int64_t{});
    case kFloat16: return f(Half{});
    case kBFloat16: return f(BFloat16{});
    case kFloat32: return f(float{});
    case kFloat64: return f(double{});
  }
  return f(float{});
}

// torch.promote_types.
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == kBool) return b;
  if (b == kBool) return a;
  const bool fa = is_floating_point(a), fb = is_floating_point(b);
  if (fa != fb) return fa ? a : b;
  if (fa) {  // float16 and bfloat16 meet in float32
    if ((a == kFloat16 && b == kBFloat16) || (a == kBFloat16 && b == kFloat16)) return kFloat32;
    return a > b ? a : b;
  }
  if (a == kUInt8 || b == kUInt8) {  // uint8 with a signed type needs the next wider signed one
    const DType other = a == kUInt8 ? b : a;
    return other == kInt8 ? kInt16 : other;
  }
  return a > b ? a : b;
}

HCI_END_NAMESPACE

// Printed as text without format specs: a plain formatter keeps fmt's spec parsing out of every
// translation unit that formats one.
template <>
struct fmt::formatter<hci::DType> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  auto format(hci::DType t, format_context& ctx) const {
    const auto text = hci::dtype_name(t);
    return std::copy(text.begin(), text.end(), ctx.out());
  }
};
