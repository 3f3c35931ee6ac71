// The operations of the graph IR and of scheduled kernels, with their static properties.
#pragma once

#include <hci/config.hpp>

#include <cstdint>
#include <string_view>

HCI_BEGIN_NAMESPACE

enum class OpKind : uint8_t {
  // Leaves
  Load,    // a buffer, read through strides
  Scalar,  // a number held in the kernel's parameters, so `x * lr` compiles once for every lr
  // Unary
  Cast,
  Neg,
  Abs,
  Exp,
  Log,
  Sqrt,
  Tanh,
  Sigmoid,
  Relu,
  // Binary
  Add,
  Sub,
  Mul,
  Div,
  Maximum,
  Minimum,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  // Ternary
  Where,
  // Reductions (the last op of a reduction kernel)
  Sum,
  Mean,
  Amax,
  Amin,
};

constexpr int op_arity(OpKind op) {
  if (op <= OpKind::Scalar) return 0;
  if (op <= OpKind::Relu) return 1;
  if (op <= OpKind::Ge) return 2;
  if (op == OpKind::Where) return 3;
  return 1;
}
constexpr bool is_reduction(OpKind op) { return op >= OpKind::Sum; }
constexpr bool is_comparison(OpKind op) { return op >= OpKind::Eq && op <= OpKind::Ge; }

constexpr std::string_view op_name(OpKind op) {
  constexpr std::string_view names[] = {"load", "scalar",  "to",      "neg",  "abs",  "exp",  "log",
                                        "sqrt", "tanh",    "sigmoid", "relu", "add",  "sub",  "mul",
                                        "div",  "maximum", "minimum", "eq",   "ne",   "lt",   "le",
                                        "gt",   "ge",      "where",   "sum",  "mean", "amax", "amin"};
  return names[static_cast<int>(op)];
}

// Rough FLOPs per element, the cost hint schedulers and the energy governor read.
constexpr double op_flops(OpKind op) {
  switch (op) {
    case OpKind::Load:
    case OpKind::Scalar:
    case OpKind::Cast: return 0;
    case OpKind::Exp:
    case OpKind::Log:
    case OpKind::Tanh:
    case OpKind::Sigmoid: return 20;
    case OpKind::Sqrt:
    case OpKind::Div: return 4;
    default: return 1;
  }
}

HCI_END_NAMESPACE
