// Recording: how an operation becomes a node, with broadcasting and PyTorch's type promotion.
#pragma once

#include <hci/precise_fp.hpp>
#include <hci/runtime.hpp>

#include <initializer_list>
#include <optional>
#include <variant>

HCI_BEGIN_NAMESPACE

namespace detail {

inline Tensor wrap_node(NodePtr node) {
  Dims shape = node->shape;
  Dims strides = contiguous_strides(shape);
  return Tensor(std::make_shared<TensorImpl>(std::move(node), std::move(shape), std::move(strides), 0));
}

inline NodePtr new_node(OpKind op, DType dtype, DType in_dtype, Device device, Dims shape, const Loc& loc) {
  auto n = std::make_shared<Node>();
  n->op = op;
  n->dtype = dtype;
  n->in_dtype = in_dtype;
  n->device = device;
  n->iter_sizes = shape;
  n->shape = std::move(shape);
  n->recorded_at = loc;
  return n;
}

// The operand view of t in an iteration space of `sizes`, broadcasting t to it.
inline Input input_of(const Tensor& t, IntList sizes) {
  const TensorImpl& impl = t.impl();
  Input in{impl.node, Dims(sizes.size(), 0), impl.offset, 0};
  const size_t lead = sizes.size() - impl.sizes.size();
  for (size_t d = 0; d < impl.sizes.size(); ++d)
    if (impl.sizes[d] != 1) in.strides[lead + d] = impl.strides[d];
  return in;
}

// Registers the node with what it reads and returns a tensor of it; in eager mode, or past
// the graph caps, evaluates it at once.
HCI_RUNTIME_DECL Tensor record(const NodePtr& node);

// A number, as a 0-dim lazy constant of the dtype it takes part in.
HCI_RUNTIME_DECL Tensor scalar_tensor(Scalar value, DType dtype, Device device, const Loc& loc);

// An operand of an op: a tensor, or a number that joins type promotion as a "wrapped number".
using Operand = std::variant<Tensor, Scalar>;

// torch.result_type: tensors with dims first, then 0-dim tensors, then numbers; a later group
// only changes the result when it brings a higher category (bool < integer < float).
HCI_RUNTIME_DECL DType result_type(std::initializer_list<const Operand*> operands);

inline Tensor cast(const Tensor& t, DType dtype, const Loc& loc) {
  if (t.dtype() == dtype) return t;
  NodePtr n = new_node(OpKind::Cast, dtype, t.dtype(), t.device(), t.sizes().vec(), loc);
  n->inputs.push_back(input_of(t, t.sizes()));
  return record(n);
}

inline std::string operand_str(const Operand& op) {
  if (const Tensor* t = std::get_if<Tensor>(&op)) return detail::format("{} {}", t->dtype(), shape_str(t->sizes()));
  return std::get<Scalar>(op).kind() == Scalar::Kind::Bool ? "a bool" : "a number";
}

// Records op over operands promoted to `compute` dtype; the result has dtype `result`.
HCI_RUNTIME_DECL Tensor elementwise(OpKind op, std::initializer_list<const Operand*> operands, DType compute,
                                    DType result, const Loc& loc);

}  // namespace detail

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

HCI_RUNTIME_DEF Tensor record(const NodePtr& node) {
  int32_t depth = 0;
  for (Input& in : node->inputs) {
    if (in.node->op == OpKind::Scalar && !in.node->materialized()) continue;
    in.version = in.node->version.load();
    in.node->add_reader(node);
    if (!in.node->materialized()) depth = std::max(depth, in.node->depth.load() + 1);
  }
  node->depth.store(depth);
  if (depth >= kMaxLazyDepth || eager_mode()) materialize(node);
  return wrap_node(node);
}

HCI_RUNTIME_DEF Tensor scalar_tensor(Scalar value, DType dtype, Device device, const Loc& loc) {
  NodePtr n = new_node(OpKind::Scalar, dtype, dtype, device, {}, loc);
  const PreciseFloatMode mode;  // a subnormal number must not flush to zero on conversion
  switch (compute_type(dtype)) {
    case ComputeType::Int64:
      n->scalar.i = dtype == kBool ? int64_t(value.to_double() != 0) : value.to_int64();
      if (dtype != kBool)
        visit_dtype(dtype, [&](auto t) { n->scalar.i = int64_t(static_cast<decltype(t)>(n->scalar.i)); });
      break;
    case ComputeType::Float32:
      n->scalar.f = dtype == kFloat16    ? float(Half(float(value.to_double())))
                    : dtype == kBFloat16 ? float(BFloat16(float(value.to_double())))
                                         : float(value.to_double());
      break;
    case ComputeType::Float64: n->scalar.d = value.to_double(); break;
  }
  return wrap_node(n);
}

HCI_RUNTIME_DEF DType result_type(std::initializer_list<const Operand*> operands) {
  std::optional<DType> dim_result, zero_result, wrapped_result;
  auto update = [](std::optional<DType>& r, DType t) { r = r ? promote_types(*r, t) : t; };
  for (const Operand* op : operands) {
    if (const Tensor* t = std::get_if<Tensor>(op))
      update(t->dim() > 0 ? dim_result : zero_result, t->dtype());
    else
      update(wrapped_result, std::get<Scalar>(*op).default_dtype());
  }
  auto combine = [](std::optional<DType> higher, std::optional<DType> lower) -> std::optional<DType> {
    if (!higher) return lower;
    if (!lower) return higher;
    if (is_floating_point(*higher)) return higher;
    if (*higher == kBool || is_floating_point(*lower)) return promote_types(*higher, *lower);
    return higher;
  };
  const std::optional<DType> result = combine(dim_result, combine(zero_result, wrapped_result));
  HCI_CHECK(result.has_value(), "result_type: no operands");
  return *result;
}

HCI_RUNTIME_DEF Tensor elementwise(OpKind op, std::initializer_list<const Operand*> operands, DType compute,
                                   DType result, const Loc& loc) {
  const Tensor* first = nullptr;
  Dims shape;
  for (const Operand* o : operands) {
    if (const Tensor* t = std::get_if<Tensor>(o)) {
      (void)t->impl();  // undefined tensors are an error here
      if (!first) {
        first = t;
        shape = t->sizes().vec();
      } else {
        HCI_CHECK(t->device() == first->device(),
                  "{}: expected all tensors to be on the same device, but found {} and {}", op_name(op),
                  first->device().str(), t->device().str());
        shape = broadcast_shapes(shape, t->sizes(), std::string(op_name(op)).c_str());
      }
    }
  }
  HCI_CHECK(first, "{}: needs at least one tensor operand", op_name(op));
  NodePtr n = new_node(op, result, compute, first->device(), shape, loc);
  for (const Operand* o : operands) {
    const Tensor operand = std::holds_alternative<Tensor>(*o)
                               ? cast(std::get<Tensor>(*o), compute, loc)
                               : scalar_tensor(std::get<Scalar>(*o), compute, first->device(), loc);
    n->inputs.push_back(input_of(operand, shape));
  }
  return record(n);
}

}  // namespace detail

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
