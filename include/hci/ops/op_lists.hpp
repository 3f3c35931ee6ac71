// The elementwise ops by family, as X-macro lists: each family shares its dtype rule, and the
// lists generate the free functions, the Tensor methods and their in-place forms.
#pragma once

// Integer and bool inputs compute in float32 (exp, sin, ...).
#define HCI_FLOATING_UNARY_OPS(X) \
  X(exp, Exp)                     \
  X(exp2, Exp2)                   \
  X(expm1, Expm1)                 \
  X(log, Log)                     \
  X(log2, Log2)                   \
  X(log1p, Log1p)                 \
  X(sqrt, Sqrt)                   \
  X(rsqrt, Rsqrt)                 \
  X(sin, Sin)                     \
  X(cos, Cos)                     \
  X(tan, Tan)                     \
  X(tanh, Tanh)                   \
  X(sigmoid, Sigmoid)             \
  X(erf, Erf)

// Floating-point inputs only.
#define HCI_FLOAT_ONLY_UNARY_OPS(X) \
  X(gelu, Gelu)                     \
  X(silu, Silu)

// The input's dtype (bool refused, except by sign).
#define HCI_SAME_TYPE_UNARY_OPS(X) \
  X(neg, Neg)                      \
  X(abs, Abs)                      \
  X(relu, Relu)                    \
  X(floor, Floor)                  \
  X(ceil, Ceil)                    \
  X(round, Round)                  \
  X(trunc, Trunc)                  \
  X(sign, Sign)

// Bool results from any dtype.
#define HCI_PREDICATE_UNARY_OPS(X) \
  X(logical_not, LogicalNot)       \
  X(isnan, IsNan)                  \
  X(isinf, IsInf)                  \
  X(isfinite, IsFinite)

#define HCI_UNARY_OPS(X)      \
  HCI_FLOATING_UNARY_OPS(X)   \
  HCI_FLOAT_ONLY_UNARY_OPS(X) \
  HCI_SAME_TYPE_UNARY_OPS(X)  \
  HCI_PREDICATE_UNARY_OPS(X)

// The operands' promoted dtype (true division gives floats).
#define HCI_ARITHMETIC_OPS(X) \
  X(add, Add)                 \
  X(sub, Sub)                 \
  X(mul, Mul)                 \
  X(div, Div)                 \
  X(maximum, Maximum)         \
  X(minimum, Minimum)         \
  X(pow, Pow)                 \
  X(fmod, Fmod)               \
  X(remainder, Remainder)

// Bool results, the operands compared in their promoted dtype.
#define HCI_PREDICATE_BINARY_OPS(X) \
  X(eq, Eq)                         \
  X(ne, Ne)                         \
  X(lt, Lt)                         \
  X(le, Le)                         \
  X(gt, Gt)                         \
  X(ge, Ge)                         \
  X(logical_and, LogicalAnd)        \
  X(logical_or, LogicalOr)

#define HCI_BINARY_OPS(X) \
  HCI_ARITHMETIC_OPS(X)   \
  HCI_PREDICATE_BINARY_OPS(X)
