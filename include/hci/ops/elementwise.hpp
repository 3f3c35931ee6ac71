// Elementwise operations, their operators, and the dtype rules each family follows (PyTorch's).
#pragma once

#include <hci/ops/record.hpp>

#include <optional>

HCI_BEGIN_NAMESPACE

namespace detail {

HCI_RUNTIME_DECL Tensor arithmetic(OpKind op, const Operand& a, const Operand& b, const Loc& loc);
HCI_RUNTIME_DECL Tensor predicate(OpKind op, const Operand& a, const Operand& b, const Loc& loc);
HCI_RUNTIME_DECL Tensor unary(OpKind op, const Tensor& x, const Loc& loc);

}  // namespace detail

// A tensor operand of an operator, capturing where the expression was written: operators
// cannot take a defaulted source_location, but the conversion into this type can.
struct TracedTensor {
  const Tensor& tensor;
  Loc loc;
  TracedTensor(const Tensor& t, Loc l = Loc::current()) : tensor(t), loc(l) {}  // NOLINT: implicit on purpose
};

#define HCI_DEFINE_UNARY(name, kind)                                                                            \
  inline Tensor name(const Tensor& x, Loc loc = Loc::current()) { return detail::unary(OpKind::kind, x, loc); } \
  inline Tensor Tensor::name(Loc loc) const { return hci::name(*this, loc); }
HCI_UNARY_OPS(HCI_DEFINE_UNARY)
#undef HCI_DEFINE_UNARY

#define HCI_DEFINE_BINARY(name, kind, family)                                      \
  inline Tensor name(const Tensor& a, const Tensor& b, Loc loc = Loc::current()) { \
    return detail::family(OpKind::kind, a, b, loc);                                \
  }                                                                                \
  inline Tensor name(const Tensor& a, Scalar b, Loc loc = Loc::current()) {        \
    return detail::family(OpKind::kind, a, b, loc);                                \
  }                                                                                \
  inline Tensor name(Scalar a, const Tensor& b, Loc loc = Loc::current()) {        \
    return detail::family(OpKind::kind, a, b, loc);                                \
  }                                                                                \
  inline Tensor Tensor::name(const Tensor& other, Loc loc) const {                 \
    return detail::family(OpKind::kind, *this, other, loc);                        \
  }                                                                                \
  inline Tensor Tensor::name(Scalar other, Loc loc) const { return detail::family(OpKind::kind, *this, other, loc); }
#define HCI_DEFINE_ARITHMETIC(name, kind) HCI_DEFINE_BINARY(name, kind, arithmetic)
#define HCI_DEFINE_PREDICATE(name, kind) HCI_DEFINE_BINARY(name, kind, predicate)
HCI_ARITHMETIC_OPS(HCI_DEFINE_ARITHMETIC)
HCI_PREDICATE_BINARY_OPS(HCI_DEFINE_PREDICATE)
#undef HCI_DEFINE_ARITHMETIC
#undef HCI_DEFINE_PREDICATE
#undef HCI_DEFINE_BINARY

#define HCI_DEFINE_OPERATOR(symbol, name)                                                             \
  inline Tensor operator symbol(TracedTensor a, const Tensor& b) { return name(a.tensor, b, a.loc); } \
  inline Tensor operator symbol(TracedTensor a, Scalar b) { return name(a.tensor, b, a.loc); }        \
  inline Tensor operator symbol(Scalar a, TracedTensor b) { return name(a, b.tensor, b.loc); }

HCI_DEFINE_OPERATOR(+, add)
HCI_DEFINE_OPERATOR(-, sub)
HCI_DEFINE_OPERATOR(*, mul)
HCI_DEFINE_OPERATOR(/, div)
HCI_DEFINE_OPERATOR(%, remainder)
HCI_DEFINE_OPERATOR(==, eq)
HCI_DEFINE_OPERATOR(!=, ne)
HCI_DEFINE_OPERATOR(<, lt)
HCI_DEFINE_OPERATOR(<=, le)
HCI_DEFINE_OPERATOR(>, gt)
HCI_DEFINE_OPERATOR(>=, ge)
#undef HCI_DEFINE_OPERATOR

inline Tensor operator-(TracedTensor x) { return neg(x.tensor, x.loc); }

// where(condition, a, b): a where condition is true, else b; a and b promote together.
HCI_RUNTIME_DECL Tensor where(const Tensor& condition, const detail::Operand& a, const detail::Operand& b,
                              Loc loc = Loc::current());

// min(max(x, min), max) in the dtype x, min and max promote to; NaN propagates from any of
// them, and where min > max every element is max.
HCI_RUNTIME_DECL Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt,
                              Loc loc = Loc::current());
HCI_RUNTIME_DECL Tensor clamp(const Tensor& x, const std::optional<Tensor>& min,
                              const std::optional<Tensor>& max = std::nullopt, Loc loc = Loc::current());
inline Tensor clamp_min(const Tensor& x, Scalar min, Loc loc = Loc::current()) {
  return clamp(x, std::optional<Scalar>(min), std::nullopt, loc);
}
inline Tensor clamp_max(const Tensor& x, Scalar max, Loc loc = Loc::current()) {
  return clamp(x, std::nullopt, std::optional<Scalar>(max), loc);
}

inline Tensor Tensor::clamp(std::optional<Scalar> min, std::optional<Scalar> max, Loc loc) const {
  return hci::clamp(*this, min, max, loc);
}
inline Tensor Tensor::clamp(const std::optional<Tensor>& min, const std::optional<Tensor>& max, Loc loc) const {
  return hci::clamp(*this, min, max, loc);
}
inline Tensor Tensor::clamp_min(Scalar min, Loc loc) const { return hci::clamp_min(*this, min, loc); }
inline Tensor Tensor::clamp_max(Scalar max, Loc loc) const { return hci::clamp_max(*this, max, loc); }

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

inline bool is_bool_operand(const Operand& o) {
  const Tensor* x = std::get_if<Tensor>(&o);
  return x ? x->dtype() == kBool : std::get<Scalar>(o).kind() == Scalar::Kind::Bool;
}

inline bool is_integral_operand(const Operand& o) {
  const Tensor* x = std::get_if<Tensor>(&o);
  return x ? is_integral(x->dtype(), true) : !std::get<Scalar>(o).is_floating_point();
}

// pow with a number as exponent: PyTorch's fast paths (exact squares, sqrt, reciprocal) and its
// refusal of negative integer powers of integers.
inline std::optional<Tensor> pow_special_case(const Tensor& base, Scalar exponent, DType t, const Loc& loc) {
  const double e = exponent.to_double();
  HCI_CHECK(!(is_integral(base.dtype(), true) && !exponent.is_floating_point() && e < 0),
            "pow: Integers to negative integer powers are not allowed (base {} {}, exponent {})", base.dtype(),
            shape_str(base.sizes()), exponent.to_int64());
  const Operand x = base;
  if (e == 2) return elementwise(OpKind::Mul, {&x, &x}, t, t, loc);
  if (e == 1) return cast(base, t, loc).clone(loc);
  // sqrt and rsqrt differ from pow at -0 and -inf; PyTorch takes them for all but float16.
  if (is_floating_point(t) && t != kFloat16 && (e == 0.5 || e == -0.5))
    return elementwise(e > 0 ? OpKind::Sqrt : OpKind::Rsqrt, {&x}, t, t, loc);
  if (is_floating_point(t) && e == -1) {
    const Operand one = Scalar(1);
    return elementwise(OpKind::Div, {&one, &x}, t, t, loc);
  }
  return std::nullopt;
}

HCI_RUNTIME_DEF Tensor arithmetic(OpKind op, const Operand& a, const Operand& b, const Loc& loc) {
  DType t = result_type({&a, &b});
  if (op == OpKind::Sub)
    HCI_CHECK(!is_bool_operand(a) && !is_bool_operand(b),
              "sub: subtraction, the `-` operator, with a bool operand is not "
              "supported (operands {} and {}); to invert a mask use logical_not()",
              operand_str(a), operand_str(b));
  if (op == OpKind::Div && !is_floating_point(t)) t = kFloat32;  // true division
  if ((op == OpKind::Fmod || op == OpKind::Remainder || op == OpKind::Pow) && t == kBool) t = kInt64;
  if (op == OpKind::Pow && std::holds_alternative<Tensor>(a) && std::holds_alternative<Scalar>(b))
    if (auto special = pow_special_case(std::get<Tensor>(a), std::get<Scalar>(b), t, loc)) return *special;
  return elementwise(op, {&a, &b}, t, t, loc);
}

HCI_RUNTIME_DEF Tensor predicate(OpKind op, const Operand& a, const Operand& b, const Loc& loc) {
  return elementwise(op, {&a, &b}, result_type({&a, &b}), kBool, loc);
}

HCI_RUNTIME_DEF Tensor unary(OpKind op, const Tensor& x, const Loc& loc) {
  const Operand a = x;
  const DType t = x.dtype();
  switch (op) {
#define HCI_CASE(name, kind) case OpKind::kind:
    HCI_FLOATING_UNARY_OPS(HCI_CASE) {  // integers and bools compute in float32
      const DType f = is_floating_point(t) ? t : kFloat32;
      return elementwise(op, {&a}, f, f, loc);
    }
    HCI_FLOAT_ONLY_UNARY_OPS(HCI_CASE)
    HCI_CHECK(is_floating_point(t), "{}: expected a floating-point tensor, got {} {}", op_name(op), t,
              shape_str(x.sizes()));
    return elementwise(op, {&a}, t, t, loc);
    HCI_PREDICATE_UNARY_OPS(HCI_CASE) return elementwise(op, {&a}, t, kBool, loc);
#undef HCI_CASE
    default:
      HCI_CHECK(t != kBool || op == OpKind::Sign, "{}: not supported for bool tensors (shape {}){}", op_name(op),
                shape_str(x.sizes()), op == OpKind::Neg ? "; to invert a mask use logical_not() instead" : "");
      return elementwise(op, {&a}, t, t, loc);
  }
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor where(const Tensor& condition, const detail::Operand& a, const detail::Operand& b, Loc loc) {
  HCI_CHECK(condition.dtype() == kBool, "where: expected a bool condition, got {} {}", condition.dtype(),
            detail::shape_str(condition.sizes()));
  const DType t = detail::result_type({&a, &b});
  // The condition joins the other operands in their dtype (as 0 or 1) through a cast node.
  const detail::Operand c_cast = detail::cast(condition, t, loc);
  return detail::elementwise(OpKind::Where, {&c_cast, &a, &b}, t, t, loc);
}

namespace detail {

inline Tensor clamp_operands(const Tensor& x, const std::optional<Operand>& min, const std::optional<Operand>& max,
                             const Loc& loc) {
  HCI_CHECK(min || max, "clamp: at least one of min and max must be given (shape {})", shape_str(x.sizes()));
  const Operand value = x;
  const DType t = min && max ? result_type({&value, &*min, &*max})
                  : min      ? result_type({&value, &*min})
                             : result_type({&value, &*max});
  Operand r = value;
  if (min) r = elementwise(OpKind::Maximum, {&r, &*min}, t, t, loc);
  if (max) r = elementwise(OpKind::Minimum, {&r, &*max}, t, t, loc);
  return std::get<Tensor>(r);
}

}  // namespace detail

namespace detail {

template <class T>
std::optional<Operand> optional_operand(const std::optional<T>& bound) {
  return bound ? std::optional<Operand>(*bound) : std::nullopt;
}

}  // namespace detail

HCI_RUNTIME_DEF Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max, Loc loc) {
  return detail::clamp_operands(x, detail::optional_operand(min), detail::optional_operand(max), loc);
}

HCI_RUNTIME_DEF Tensor clamp(const Tensor& x, const std::optional<Tensor>& min, const std::optional<Tensor>& max,
                             Loc loc) {
  return detail::clamp_operands(x, detail::optional_operand(min), detail::optional_operand(max), loc);
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
