// The operations of the graph IR and of scheduled kernels, with their static properties.
#pragma once

#include <hci/config.hpp>

#include <cstdint>
#include <iterator>
#include <string_view>

HCI_BEGIN_NAMESPACE

// Grouped by arity, in the order of kOpInfo below.
enum class OpKind : uint8_t {
  // Leaves
  Load,    // a buffer, read through strides
  Scalar,  // a number held in the kernel's parameters, so `x * lr` compiles once for every lr
  // Unary
  Cast,
  Neg,
  Abs,
  Exp,
  Exp2,
  Expm1,
  Log,
  Log2,
  Log1p,
  Sqrt,
  Rsqrt,
  Sin,
  Cos,
  Tan,
  Tanh,
  Sigmoid,
  Relu,
  Silu,
  Gelu,
  Erf,
  Floor,
  Ceil,
  Round,  // half to even
  Trunc,
  Sign,
  LogicalNot,
  IsNan,
  IsInf,
  IsFinite,
  // Binary
  Add,
  Sub,
  Mul,
  Div,
  Maximum,
  Minimum,
  Pow,
  Fmod,       // the dividend's sign (C's fmod)
  Remainder,  // the divisor's sign (Python's %)
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  LogicalAnd,
  LogicalOr,
  Gather,  // a buffer read at index values: args = buffer, index value, scalars (stride, size)
  // Ternary
  Where,
  // Library calls (the whole kernel: loads of its operands, then the call)
  Matmul,  // over [batch..., M, N, K]: out[b, m, n] = sum over k of a[b, m, k] * b[b, k, n]
  // Graph nodes computed by several kernels, never a kernel op themselves
  Concat,  // one copy kernel per input into its slice
  // Indexed writes (the root of an in-place kernel): args = index value, source value, scalars
  // (stride, bound, accumulate); output position = the buffer's strides + index * stride
  Scatter,
  // Row-wise ops (the last op of a row kernel: each output depends on its whole row, the
  // last iteration dim)
  Cumsum,
  Softmax,
  LogSoftmax,
  Argsort,  // the int64 positions that sort each row (stable; NaN sorts as the largest); scalar: descending
  // Reductions (the last op of a reduction kernel)
  Sum,
  Mean,
  Amax,
  Amin,
  Prod,
  All,
  Any,
  Argmax,  // the index of the first maximum (NaN counts as the maximum)
  Argmin,
};

struct OpInfo {
  std::string_view name;
  double flops;  // rough FLOPs per element: the cost hint schedulers and the energy governor read
};

inline constexpr OpInfo kOpInfo[] = {
    {"load", 0},     {"scalar", 0},       {"to", 0},       {"neg", 1},         {"abs", 1},         {"exp", 20},
    {"exp2", 20},    {"expm1", 20},       {"log", 20},     {"log2", 20},       {"log1p", 25},      {"sqrt", 4},
    {"rsqrt", 8},    {"sin", 30},         {"cos", 30},     {"tan", 35},        {"tanh", 20},       {"sigmoid", 20},
    {"relu", 1},     {"silu", 24},        {"gelu", 50},    {"erf", 45},        {"floor", 2},       {"ceil", 2},
    {"round", 2},    {"trunc", 2},        {"sign", 2},     {"logical_not", 1}, {"isnan", 1},       {"isinf", 1},
    {"isfinite", 1}, {"add", 1},          {"sub", 1},      {"mul", 1},         {"div", 4},         {"maximum", 1},
    {"minimum", 1},  {"pow", 60},         {"fmod", 10},    {"remainder", 12},  {"eq", 1},          {"ne", 1},
    {"lt", 1},       {"le", 1},           {"gt", 1},       {"ge", 1},          {"logical_and", 1}, {"logical_or", 1},
    {"gather", 1},   {"where", 1},        {"matmul", 2},   {"cat", 0},         {"scatter", 1},     {"cumsum", 1},
    {"softmax", 25}, {"log_softmax", 25}, {"argsort", 20}, {"sum", 1},         {"mean", 1},        {"amax", 1},
    {"amin", 1},     {"prod", 1},         {"all", 1},      {"any", 1},         {"argmax", 2},      {"argmin", 2},
};
static_assert(std::size(kOpInfo) == size_t(OpKind::Argmin) + 1, "one kOpInfo entry per OpKind, in order");

constexpr int op_arity(OpKind op) {
  if (op <= OpKind::Scalar) return 0;
  if (op <= OpKind::IsFinite) return 1;
  if (op <= OpKind::Gather) return 2;
  if (op == OpKind::Where) return 3;
  if (op == OpKind::Matmul) return 2;
  return 1;
}
constexpr bool is_elementwise(OpKind op) { return op <= OpKind::Where; }
constexpr bool is_library_call(OpKind op) { return op == OpKind::Matmul; }
constexpr bool is_row_wise(OpKind op) { return op >= OpKind::Cumsum && op <= OpKind::Argsort; }
constexpr bool is_reduction(OpKind op) { return op >= OpKind::Sum; }
constexpr bool is_arg_reduction(OpKind op) { return op == OpKind::Argmax || op == OpKind::Argmin; }
constexpr bool is_comparison(OpKind op) { return op >= OpKind::Eq && op <= OpKind::Ge; }
// Ops whose operands have another compute type than their result: casts, and the predicates
// (comparisons, logical ops, isnan and friends), which give bool from any operand dtype.
constexpr bool is_predicate(OpKind op) {
  return (op >= OpKind::LogicalNot && op <= OpKind::IsFinite) || (op >= OpKind::Eq && op <= OpKind::LogicalOr);
}
constexpr std::string_view op_name(OpKind op) { return kOpInfo[static_cast<int>(op)].name; }
constexpr double op_flops(OpKind op) { return kOpInfo[static_cast<int>(op)].flops; }

HCI_END_NAMESPACE
