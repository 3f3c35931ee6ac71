// A scheduled kernel: a plain value holding structure (what to compute) apart from
// parameters (where and how large), a structural hash, and cost hints.
#pragma once

#include <hci/dtype.hpp>
#include <hci/ir.hpp>
#include <hci/shape.hpp>

#include <cstdint>
#include <source_location>
#include <vector>

HCI_BEGIN_NAMESPACE

// How a buffer is walked over the iteration space; part of the structure, so executors may
// specialise on it. Decided after dims are coalesced.
enum class Layout : uint8_t {
  Contiguous,  // one stride-1 run over the whole space
  Broadcast,   // every stride 0: one element
  Strided,     // anything else
};

// The layout of a buffer walked with `strides` over an iteration space whose contiguous strides
// are `contiguous`.
inline Layout layout_of(const Dims& strides, const Dims& contiguous) {
  bool broadcast = true;
  for (int64_t s : strides) broadcast = broadcast && s == 0;
  return broadcast ? Layout::Broadcast : strides == contiguous ? Layout::Contiguous : Layout::Strided;
}

// One SSA value of a kernel. Operands refer to earlier values by index; leaves refer to a
// buffer (Load) or scalar (Scalar) parameter by index.
struct KernelOp {
  OpKind op;
  DType dtype;     // of the result; narrower than its compute type means rounding after the op
  DType in_dtype;  // of the operands (comparisons and casts differ from dtype); for Load, the buffer's
  uint8_t pad = 0;
  int32_t args[3] = {-1, -1, -1};
  friend bool operator==(const KernelOp&, const KernelOp&) = default;
};

struct KernelStructure {
  std::vector<KernelOp> ops;    // topological; the last value is stored (or reduced, then stored)
  std::vector<Layout> layouts;  // per buffer; buffer 0 is the output
  int32_t rank = 0;             // of the iteration space, after coalescing
  int32_t reduce_rank = 0;      // trailing dims that are reduced, or the row of a row-wise op
  // A reduction over the outer dim of a matrix, transposed for executors that walk it row by
  // row: the iteration space is [reduced, outputs] instead of [outputs, reduced].
  bool reduces_leading = false;

  OpKind root() const { return ops.empty() ? OpKind::Load : ops.back().op; }
  bool is_reduction() const { return hci::is_reduction(root()); }
  bool is_row_wise() const { return hci::is_row_wise(root()); }
  friend bool operator==(const KernelStructure&, const KernelStructure&) = default;

  uint64_t hash() const {
    // FNV-1a over the fields: stable across runs and builds, so it can key on-disk caches.
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t v) {
      for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
      }
    };
    mix(uint64_t(rank) | uint64_t(reduce_rank) << 32);
    mix(uint64_t(reduces_leading));
    for (const KernelOp& op : ops)
      mix(uint64_t(op.op) | uint64_t(op.dtype) << 8 | uint64_t(op.in_dtype) << 16 |
          uint64_t(uint32_t(op.args[0])) << 32),
          mix(uint64_t(uint32_t(op.args[1])) | uint64_t(uint32_t(op.args[2])) << 32);
    for (Layout l : layouts) mix(uint64_t(l));
    return h;
  }
};

struct BufferParam {
  void* data = nullptr;  // device address of element 0 of the storage
  DType dtype = kFloat32;
  int64_t offset = 0;  // in elements
  Dims strides;        // in elements, one per iteration dim (0 where broadcast or reduced)
};

union ScalarParam {
  int64_t i;
  float f;
  double d;
};

struct KernelParams {
  Dims sizes;  // the iteration space: output dims, then reduced dims
  std::vector<BufferParam> buffers;
  std::vector<ScalarParam> scalars;
};

struct Kernel {
  KernelStructure structure;
  KernelParams params;
  uint64_t hash = 0;
  double bytes = 0;  // moved to and from memory
  double flops = 0;
  std::source_location recorded_at;  // of the op whose result this kernel materialises
};

HCI_END_NAMESPACE
