// Elementwise operations, their operators, and the dtype rules each follows (PyTorch's).
#pragma once

#include <hci/ops/record.hpp>

HCI_BEGIN_NAMESPACE

namespace detail {

HCI_RUNTIME_DECL Tensor arithmetic(OpKind op, const Operand& a, const Operand& b, const Loc& loc);

HCI_RUNTIME_DECL Tensor comparison(OpKind op, const Operand& a, const Operand& b, const Loc& loc);

// exp, log, ...: integer and bool inputs compute in float32.
HCI_RUNTIME_DECL Tensor floating_unary(OpKind op, const Tensor& x, const Loc& loc);

HCI_RUNTIME_DECL Tensor same_type_unary(OpKind op, const Tensor& x, const Loc& loc);

}  // namespace detail

// A tensor operand of an operator, capturing where the expression was written: operators
// cannot take a defaulted source_location, but the conversion into this type can.
struct TracedTensor {
  const Tensor& tensor;
  Loc loc;
  TracedTensor(const Tensor& t, Loc l = Loc::current()) : tensor(t), loc(l) {}  // NOLINT: implicit on purpose
};

#define HCI_DEFINE_BINARY(name, kind, family)                                      \
  inline Tensor name(const Tensor& a, const Tensor& b, Loc loc = Loc::current()) { \
    return detail::family(OpKind::kind, a, b, loc);                                \
  }                                                                                \
  inline Tensor name(const Tensor& a, Scalar b, Loc loc = Loc::current()) {        \
    return detail::family(OpKind::kind, a, b, loc);                                \
  }                                                                                \
  inline Tensor name(Scalar a, const Tensor& b, Loc loc = Loc::current()) {        \
    return detail::family(OpKind::kind, a, b, loc);                                \
  }

HCI_DEFINE_BINARY(add, Add, arithmetic)
HCI_DEFINE_BINARY(sub, Sub, arithmetic)
HCI_DEFINE_BINARY(mul, Mul, arithmetic)
HCI_DEFINE_BINARY(div, Div, arithmetic)
HCI_DEFINE_BINARY(maximum, Maximum, arithmetic)
HCI_DEFINE_BINARY(minimum, Minimum, arithmetic)
HCI_DEFINE_BINARY(eq, Eq, comparison)
HCI_DEFINE_BINARY(ne, Ne, comparison)
HCI_DEFINE_BINARY(lt, Lt, comparison)
HCI_DEFINE_BINARY(le, Le, comparison)
HCI_DEFINE_BINARY(gt, Gt, comparison)
HCI_DEFINE_BINARY(ge, Ge, comparison)
#undef HCI_DEFINE_BINARY

#define HCI_DEFINE_OPERATOR(symbol, name)                                                             \
  inline Tensor operator symbol(TracedTensor a, const Tensor& b) { return name(a.tensor, b, a.loc); } \
  inline Tensor operator symbol(TracedTensor a, Scalar b) { return name(a.tensor, b, a.loc); }        \
  inline Tensor operator symbol(Scalar a, TracedTensor b) { return name(a, b.tensor, b.loc); }

HCI_DEFINE_OPERATOR(+, add)
HCI_DEFINE_OPERATOR(-, sub)
HCI_DEFINE_OPERATOR(*, mul)
HCI_DEFINE_OPERATOR(/, div)
HCI_DEFINE_OPERATOR(==, eq)
HCI_DEFINE_OPERATOR(!=, ne)
HCI_DEFINE_OPERATOR(<, lt)
HCI_DEFINE_OPERATOR(<=, le)
HCI_DEFINE_OPERATOR(>, gt)
HCI_DEFINE_OPERATOR(>=, ge)
#undef HCI_DEFINE_OPERATOR

inline Tensor neg(const Tensor& x, Loc loc = Loc::current()) { return detail::same_type_unary(OpKind::Neg, x, loc); }
inline Tensor abs(const Tensor& x, Loc loc = Loc::current()) { return detail::same_type_unary(OpKind::Abs, x, loc); }
inline Tensor relu(const Tensor& x, Loc loc = Loc::current()) { return detail::same_type_unary(OpKind::Relu, x, loc); }
inline Tensor exp(const Tensor& x, Loc loc = Loc::current()) { return detail::floating_unary(OpKind::Exp, x, loc); }
inline Tensor log(const Tensor& x, Loc loc = Loc::current()) { return detail::floating_unary(OpKind::Log, x, loc); }
inline Tensor sqrt(const Tensor& x, Loc loc = Loc::current()) { return detail::floating_unary(OpKind::Sqrt, x, loc); }
inline Tensor tanh(const Tensor& x, Loc loc = Loc::current()) { return detail::floating_unary(OpKind::Tanh, x, loc); }
inline Tensor sigmoid(const Tensor& x, Loc loc = Loc::current()) {
  return detail::floating_unary(OpKind::Sigmoid, x, loc);
}
inline Tensor operator-(TracedTensor x) { return neg(x.tensor, x.loc); }

// where(condition, a, b): a where condition is true, else b; a and b promote together.
HCI_RUNTIME_DECL Tensor where(const Tensor& condition, const detail::Operand& a, const detail::Operand& b,
                              Loc loc = Loc::current());

inline Tensor Tensor::add(const Tensor& o, Loc loc) const { return hci::add(*this, o, loc); }
inline Tensor Tensor::sub(const Tensor& o, Loc loc) const { return hci::sub(*this, o, loc); }
inline Tensor Tensor::mul(const Tensor& o, Loc loc) const { return hci::mul(*this, o, loc); }
inline Tensor Tensor::div(const Tensor& o, Loc loc) const { return hci::div(*this, o, loc); }
inline Tensor Tensor::maximum(const Tensor& o, Loc loc) const { return hci::maximum(*this, o, loc); }
inline Tensor Tensor::minimum(const Tensor& o, Loc loc) const { return hci::minimum(*this, o, loc); }
inline Tensor Tensor::neg(Loc loc) const { return hci::neg(*this, loc); }
inline Tensor Tensor::abs(Loc loc) const { return hci::abs(*this, loc); }
inline Tensor Tensor::relu(Loc loc) const { return hci::relu(*this, loc); }
inline Tensor Tensor::exp(Loc loc) const { return hci::exp(*this, loc); }
inline Tensor Tensor::log(Loc loc) const { return hci::log(*this, loc); }
inline Tensor Tensor::sqrt(Loc loc) const { return hci::sqrt(*this, loc); }
inline Tensor Tensor::tanh(Loc loc) const { return hci::tanh(*this, loc); }
inline Tensor Tensor::sigmoid(Loc loc) const { return hci::sigmoid(*this, loc); }

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

HCI_RUNTIME_DEF Tensor arithmetic(OpKind op, const Operand& a, const Operand& b, const Loc& loc) {
  DType t = result_type({&a, &b});
  if (op == OpKind::Sub) {
    auto is_bool = [](const Operand& o) {
      const Tensor* x = std::get_if<Tensor>(&o);
      return x ? x->dtype() == kBool : std::get<Scalar>(o).kind() == Scalar::Kind::Bool;
    };
    HCI_CHECK(!is_bool(a) && !is_bool(b),
              "sub: subtraction, the `-` operator, with a bool operand is not "
              "supported (operands {} and {}); to invert a mask use logical_not() or `~`",
              operand_str(a), operand_str(b));
  }
  if (op == OpKind::Div && !is_floating_point(t)) t = kFloat32;  // true division
  return elementwise(op, {&a, &b}, t, t, loc);
}

HCI_RUNTIME_DEF Tensor comparison(OpKind op, const Operand& a, const Operand& b, const Loc& loc) {
  return elementwise(op, {&a, &b}, result_type({&a, &b}), kBool, loc);
}

HCI_RUNTIME_DEF Tensor floating_unary(OpKind op, const Tensor& x, const Loc& loc) {
  const Operand a = x;
  const DType t = is_floating_point(x.dtype()) ? x.dtype() : kFloat32;
  return elementwise(op, {&a}, t, t, loc);
}

HCI_RUNTIME_DEF Tensor same_type_unary(OpKind op, const Tensor& x, const Loc& loc) {
  const Operand a = x;
  HCI_CHECK(x.dtype() != kBool, "{}: not supported for bool tensors (shape {}){}", op_name(op), shape_str(x.sizes()),
            op == OpKind::Neg ? "; to invert a mask use logical_not() or `~` instead" : "");
  return elementwise(op, {&a}, x.dtype(), x.dtype(), loc);
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

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
