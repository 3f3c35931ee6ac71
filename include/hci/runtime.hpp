// Evaluation: when a result is observed, the scheduler cuts the pending graph into kernels
// and enqueues them on the device. Also eager mode, the launch hook and hci::eval.
#pragma once

#include <hci/registry.hpp>
#include <hci/tensor_decl.hpp>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string_view>

HCI_BEGIN_NAMESPACE

// Called with every kernel before it is launched (tests count and inspect kernels; the energy
// governor reads their cost hints). Not called concurrently with itself.
using LaunchHook = std::function<void(const Kernel&)>;

namespace detail {

// Evaluation is serialised: a subgraph shared by several threads is computed once, by
// whichever gets there first, and the others find it done.
inline std::recursive_mutex& eval_mutex() {
  static std::recursive_mutex m;
  return m;
}

inline LaunchHook& launch_hook() {
  static LaunchHook hook;
  return hook;
}

inline bool eager_mode() {
  static const bool eager = [] {
    const char* env = std::getenv("HCI_EAGER");
    return env && std::string_view(env) != "0" && std::string_view(env) != "";
  }();
  return eager;
}

// Graph size caps: past them, a new node is evaluated at once, which bounds the stack used
// to evaluate and destroy long chains and the size of one kernel.
inline constexpr int32_t kMaxLazyDepth = 128;

inline std::shared_ptr<Storage> allocate_storage(Device device, size_t bytes) {
  auto s = std::make_shared<Storage>();
  s->device = device;
  s->backend = &backend_for(device);
  s->nbytes = bytes;
  s->data = s->backend->allocate(device.index(), std::max<size_t>(bytes, 1));
  return s;
}

// Computes a node into `target` (a view of another node's storage) or, without one, into a
// new contiguous buffer of its own.
struct Target {
  NodePtr node;
  Dims strides;
  int64_t offset = 0;
  bool counts_as_write = true;  // false while a node fills its own new storage part by part (concat)
};

// Evaluation, compiled with the runtime (see HCI_SEPARATE_RUNTIME in config.hpp). Callers hold
// eval_mutex().
HCI_RUNTIME_DECL void compute_locked(const NodePtr& node, const Target* target);
HCI_RUNTIME_DECL void materialize_locked(const NodePtr& node);
// Before a write to a node's storage: every lazy reader of it is computed first, so laziness
// never lets a pending read see the new value.
HCI_RUNTIME_DECL void flush_readers_locked(Node& node);
// Before the memory is handed out for writing through a raw pointer (data_ptr, a DLPack export):
// pending readers computed, then the write counted, since hci cannot see when it happens.
inline void begin_external_write_locked(Node& node) {
  flush_readers_locked(node);
  node.version.fetch_add(1);
}

inline void materialize(const NodePtr& node) {
  if (node->materialized()) return;
  std::lock_guard lock(eval_mutex());
  materialize_locked(node);
}

#if HCI_RUNTIME_DEFINITIONS

// A view (strides over an iteration space, offset) of a lazy node's contiguous result,
// rewritten in terms of the node's own multi-index when it is affine in it.
struct Composition {
  std::vector<int> dim_of;  // per iteration dim: the node's dim it walks, or -1
  Dims step;                // per iteration dim
  Dims start;               // per node dim
};

inline std::optional<Composition> compose_view(IntList node_shape, IntList iter_sizes, IntList strides,
                                               int64_t offset) {
  const size_t m = node_shape.size();
  Composition c;
  c.start.assign(m, 0);
  const Dims contiguous = contiguous_strides(node_shape);
  for (size_t j = 0; j < m; ++j) {
    if (node_shape[j] == 0) return std::nullopt;
    c.start[j] = offset / contiguous[j];
    offset -= c.start[j] * contiguous[j];
  }
  Dims extent = c.start;
  c.dim_of.assign(iter_sizes.size(), -1);
  c.step.assign(iter_sizes.size(), 0);
  for (size_t k = 0; k < iter_sizes.size(); ++k) {
    if (iter_sizes[k] == 1 || strides[k] == 0) continue;
    int found = -1;
    for (size_t j = 0; j < m; ++j) {
      if (node_shape[j] > 1 && strides[k] > 0 && strides[k] % contiguous[j] == 0) {
        found = int(j);
        break;
      }
    }
    if (found < 0) return std::nullopt;
    c.dim_of[k] = found;
    c.step[k] = strides[k] / contiguous[found];
    extent[found] += (iter_sizes[k] - 1) * c.step[k];
  }
  for (size_t j = 0; j < m; ++j)
    if (extent[j] >= node_shape[j]) return std::nullopt;
  return c;
}

// Builds the kernel that computes one node, fusing lazy elementwise producers (and views of
// them) into it. A producer is fused when nothing else needs its value: no tensor handle
// refers to it and it has this one consumer. Otherwise, or when a view of it is not affine in
// its index (a reshape merging dims, say), it is computed first into a buffer of its own.
class KernelBuilder {
 public:
  explicit KernelBuilder(const IntList iter_sizes) : iter_sizes_(iter_sizes.vec()) {}

  int emit(const NodePtr& p, const Dims& strides, int64_t offset, uint64_t version) {
    if (!p->materialized()) {
      if (p->op == OpKind::Scalar) return push({OpKind::Scalar, p->dtype, p->dtype, 0, {add_scalar(p->scalar)}});
      const bool fusible = is_elementwise(p->op) && p->handles.load() == 0 && p.use_count() == 1;
      if (fusible) {
        if (auto c = compose_view(p->shape, iter_sizes_, strides, offset)) return emit_node(*p, *c);
      }
      materialize_locked(p);
      version = p->version.load();
    }
    check_version(*p, version);
    return load(p, strides, offset);
  }

  // The node's own operation over its inputs (views already in the iteration space).
  int emit_root(const Node& n) {
    return emit_op(n, [](const Input& in) { return std::pair(in.strides, in.offset); });
  }

  KernelParams& params() { return params_; }
  KernelStructure& structure() { return structure_; }

  int32_t add_scalar(ScalarParam s) {
    params_.scalars.push_back(s);
    return int32_t(params_.scalars.size() - 1);
  }

  int push(KernelOp op) {
    structure_.ops.push_back(op);
    return int(structure_.ops.size() - 1);
  }

  // The output is buffer 0; loads add buffers after it.
  void set_output(void* data, DType dtype, Dims strides, int64_t offset) {
    params_.buffers.insert(params_.buffers.begin(), BufferParam{data, dtype, offset, std::move(strides)});
    for (KernelOp& op : structure_.ops)
      if (op.op == OpKind::Load || op.op == OpKind::Gather) ++op.args[0];
  }

 private:
  // A fused producer: its inputs' views rewritten through the composition.
  int emit_node(const Node& p, const Composition& c) {
    return emit_op(p, [&](const Input& in) {
      Dims strides(iter_sizes_.size(), 0);
      for (size_t k = 0; k < strides.size(); ++k)
        if (c.dim_of[k] >= 0) strides[k] = c.step[k] * in.strides[c.dim_of[k]];
      int64_t offset = in.offset;
      for (size_t j = 0; j < c.start.size(); ++j) offset += c.start[j] * in.strides[j];
      return std::pair(std::move(strides), offset);
    });
  }

  // Node n's op over its inputs, each seen through view(input) = (strides, offset). A gather
  // reads its source through computed positions, so the source is a buffer, never fused.
  template <class View>
  int emit_op(const Node& n, const View& view) {
    int args[3] = {-1, -1, -1};
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Input& in = n.inputs[i];
      auto [strides, offset] = view(in);
      args[i] = n.op == OpKind::Gather && i == 0 ? gather_source(in.node, strides, offset, in.version)
                                                 : emit(in.node, strides, offset, in.version);
    }
    if (n.op == OpKind::Gather) {  // the source's stride and size along the gathered dim
      args[2] = add_scalar(ScalarParam{.i = n.attributes[0]});
      add_scalar(ScalarParam{.i = n.attributes[1]});
    }
    if (n.op == OpKind::Argsort) args[1] = add_scalar(ScalarParam{.i = n.attributes[0]});  // descending
    return push({n.op, n.dtype, n.in_dtype, 0, {args[0], args[1], args[2]}});
  }

  int gather_source(const NodePtr& p, const Dims& strides, int64_t offset, uint64_t version) {
    if (!p->materialized()) {
      materialize_locked(p);
      version = p->version.load();
    }
    check_version(*p, version);
    p->storage->wait_for_device_writes();
    params_.buffers.push_back(BufferParam{p->storage->data, p->dtype, offset, strides});
    return int(params_.buffers.size() - 1);
  }

  static void check_version(const Node& p, uint64_t version) {
    HCI_CHECK(p.version.load() == version,
              "a tensor's memory was written while an operation reading it was still pending; write "
              "to memory hci reads only through data_ptr() (which evaluates pending readers first)");
  }

  int load(const NodePtr& p, const Dims& strides, int64_t offset) {
    // The same view of the same buffer is loaded once.
    for (const auto& [buffer, value] : loads_) {
      const BufferParam& b = params_.buffers[size_t(buffer)];
      if (b.data == p->storage->data && b.dtype == p->dtype && b.offset == offset && b.strides == strides) return value;
    }
    p->storage->wait_for_device_writes();
    params_.buffers.push_back(BufferParam{p->storage->data, p->dtype, offset, strides});
    const int index = push({OpKind::Load, p->dtype, p->dtype, 0, {int32_t(params_.buffers.size() - 1)}});
    loads_.emplace_back(int(params_.buffers.size() - 1), index);
    return index;
  }

  Dims iter_sizes_;
  KernelStructure structure_;
  KernelParams params_;
  std::vector<std::pair<int, int>> loads_;  // (buffer, value) of each load emitted
};

// Merges adjacent iteration dims that every buffer walks as one (never across the boundary
// between kept and reduced dims), drops size-1 dims, and classifies each buffer's layout.
inline void coalesce(KernelStructure& s, KernelParams& p, int reduce_rank) {
  const size_t rank = p.sizes.size();
  const size_t kept = rank - size_t(reduce_rank);
  Dims sizes;
  std::vector<Dims> strides(p.buffers.size());
  int new_reduce = 0;
  for (size_t d = 0; d < rank; ++d) {
    if (p.sizes[d] == 1) continue;
    const bool reduced = d >= kept;
    bool can_merge = !sizes.empty() && reduced == (new_reduce > 0);
    for (size_t b = 0; can_merge && b < p.buffers.size(); ++b)
      can_merge = strides[b].back() == p.buffers[b].strides[d] * p.sizes[d];
    if (can_merge) {
      sizes.back() *= p.sizes[d];
      for (size_t b = 0; b < p.buffers.size(); ++b) strides[b].back() = p.buffers[b].strides[d];
    } else {
      sizes.push_back(p.sizes[d]);
      for (size_t b = 0; b < p.buffers.size(); ++b) strides[b].push_back(p.buffers[b].strides[d]);
      if (reduced) ++new_reduce;
    }
  }
  p.sizes = sizes;
  s.rank = int32_t(sizes.size());
  s.reduce_rank = new_reduce;
  const Dims contiguous = contiguous_strides(sizes);
  s.layouts.clear();
  for (size_t b = 0; b < p.buffers.size(); ++b) {
    p.buffers[b].strides = strides[b];
    s.layouts.push_back(layout_of(strides[b], contiguous));
  }
}

inline EventPtr finish_and_launch(KernelBuilder& builder, Device device, const std::source_location& loc) {
  Kernel kernel;
  kernel.structure = std::move(builder.structure());
  kernel.params = std::move(builder.params());
  if (is_library_call(kernel.structure.root())) {  // the callee reads its operands' dims as they are
    kernel.structure.rank = int32_t(kernel.params.sizes.size());
    kernel.structure.layouts.assign(kernel.params.buffers.size(), Layout::Strided);
  } else {
    coalesce(kernel.structure, kernel.params, kernel.structure.reduce_rank);
  }
  kernel.hash = kernel.structure.hash();
  const int64_t n = numel(kernel.params.sizes);
  for (size_t b = 0; b < kernel.params.buffers.size(); ++b) {
    const auto& buf = kernel.params.buffers[b];
    int64_t touched = 1;
    for (size_t d = 0; d < buf.strides.size(); ++d)
      if (buf.strides[d] != 0) touched *= kernel.params.sizes[d];
    kernel.bytes += double(touched) * double(hci::element_size(buf.dtype));
  }
  for (const KernelOp& op : kernel.structure.ops) kernel.flops += op_flops(op.op) * double(n);
  kernel.recorded_at = loc;
  if (auto& hook = launch_hook()) hook(kernel);
  Backend& backend = backend_for(device);
  return backend.launch(device.index(), kernel);
}

inline std::string with_origin(const std::string& message, const Node& n) {
  if (message.find("recorded at ") != std::string::npos) return message;
  return detail::format("{} (while evaluating {} recorded at {})", message, op_name(n.op), location_str(n.recorded_at));
}

// concat: one copy kernel per input into its slice of a new buffer, each fusing the input's
// producers. attributes = [dim, length of input 0 along dim, length of input 1, ...].
inline void compute_concat_locked(const NodePtr& node) {
  auto out = allocate_storage(node->device, size_t(numel(node->shape)) * hci::element_size(node->dtype));
  node->storage = out;
  const Dims strides = contiguous_strides(node->shape);
  const size_t dim = size_t(node->attributes[0]);
  std::vector<NodePtr> copies;
  try {
    int64_t start = 0;
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      Dims shape = node->shape;
      shape[dim] = node->attributes[i + 1];
      NodePtr copy = copies.emplace_back(std::make_shared<Node>());
      copy->op = OpKind::Cast;
      copy->dtype = node->dtype;
      copy->in_dtype = node->inputs[i].node->dtype;
      copy->device = node->device;
      copy->shape = copy->iter_sizes = shape;
      copy->recorded_at = node->recorded_at;
      copy->inputs.push_back(std::move(node->inputs[i]));  // so that its producers may fuse into the copy
      const Target part{node, strides, start * strides[dim], false};
      if (numel(shape) > 0) compute_locked(copy, &part);
      start += shape[dim];
    }
  } catch (...) {  // left as it was, so that a later read raises the same error again
    for (size_t i = 0; i < copies.size(); ++i) node->inputs[i] = std::move(copies[i]->inputs[0]);
    node->storage = nullptr;
    throw;
  }
  node->storage = nullptr;
  node->set_storage(std::move(out));
  node->inputs.clear();
}

HCI_RUNTIME_DEF void compute_locked(const NodePtr& node, const Target* target) {
  if (node->op == OpKind::Concat && !target) return compute_concat_locked(node);
  try {
    if (is_library_call(node->op))  // a library reads buffers: its operands are computed first
      for (const Input& in : node->inputs) materialize_locked(in.node);
    KernelBuilder builder(node->iter_sizes);
    builder.structure().reduce_rank = node->reduce_rank;
    builder.params().sizes = node->iter_sizes;
    builder.emit_root(*node);
    std::shared_ptr<Storage> out;
    if (target) {
      out = target->node->storage;
      out->wait_for_readers();
      out->wait_for_device_writes();
      builder.set_output(out->data, target->node->dtype, target->strides, target->offset);
    } else {
      out = allocate_storage(node->device, size_t(numel(node->shape)) * hci::element_size(node->dtype));
      // By default the kept dims in order, contiguous, and the reduced ones not at all.
      Dims strides = node->output_strides;
      if (strides.empty()) {
        const size_t kept = node->iter_sizes.size() - size_t(node->reduce_rank);
        strides = contiguous_strides(IntList(std::span<const int64_t>(node->iter_sizes.data(), kept)));
        strides.resize(node->iter_sizes.size(), 0);
      }
      builder.set_output(out->data, node->dtype, std::move(strides), 0);
    }
    out->ready = finish_and_launch(builder, node->device, node->recorded_at);
    if (target) {
      if (target->counts_as_write) target->node->version.fetch_add(1);
    } else {
      node->set_storage(std::move(out));
      node->inputs.clear();
    }
  } catch (const Error& e) {
    throw Error(with_origin(e.what(), *node));
  }
}

HCI_RUNTIME_DEF void materialize_locked(const NodePtr& node) {
  if (!node->materialized()) compute_locked(node, nullptr);
}

HCI_RUNTIME_DEF void flush_readers_locked(Node& node) {
  for (const NodePtr& reader : node.pending_readers()) materialize_locked(reader);
}

#endif  // HCI_RUNTIME_DEFINITIONS

}  // namespace detail

inline void set_launch_hook(LaunchHook hook) {
  std::lock_guard lock(detail::eval_mutex());
  detail::launch_hook() = std::move(hook);
}

// Evaluates the given tensors now (they are also evaluated whenever observed).
template <class... Tensors>
  requires(std::is_same_v<std::remove_cvref_t<Tensors>, Tensor> && ...)
void eval(const Tensors&... tensors) {
  (detail::materialize(tensors.impl().node), ...);
}

inline void eval(const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) detail::materialize(t.impl().node);
}

// Waits for all work enqueued on a device.
inline void synchronize(Device device = Device::cpu()) { backend_for(device).synchronize(device.index()); }

HCI_END_NAMESPACE
