// The values of a scheduled kernel's ops, as LLVM IR text: what the host and GPU emitters share.
//
// A kernel reads its parameters from one block of int64 (see jit::pack_params): sizes; per buffer
// its address, offset and strides; scalars. At a Site (where the buffers' elements are, for the
// lanes being computed) KernelValues loads the inputs, computes each op exactly as the
// interpreter does, in the same compute types (int64, float, double) with the same rounding
// after each op, and stores the result; the math library and float16/bfloat16 rounding are
// traced from the interpreter's own generic code. The emitters around it decide how a kernel
// walks its iteration space: host vectors of several lanes, or one element per GPU thread.
#pragma once

#include <hci/jit/ir_builder.hpp>
#include <hci/jit/symbolic.hpp>
#include <hci/kernel.hpp>
#include <hci/math.hpp>

#include <functional>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// Statuses a host kernel returns (0: done): an integer fmod or remainder by zero, ...
inline constexpr int kIntegerFmodByZero = 3;
inline constexpr int kIntegerRemainderByZero = 4;
// ... or a gather's index outside the dim it indexes.
inline constexpr int kIndexOutOfBounds = 5;

// A reduction combines its blocks' elements in kAccumulators lanes over blocks of kReduceBlock
// elements, as the interpreter does (cpu::interp::kLanes and kBlock).
inline constexpr int kAccumulators = 8;
inline constexpr int64_t kReduceBlock = 4096;
// Outputs per item of a reduction over the outer dim: each reduced row is read a strip at a time.
inline constexpr int64_t kStrip = 512;

// The number of scalar parameters a kernel reads: the scratch pointer of a reduction follows them.
inline int scalar_count(const KernelStructure& s) {
  int count = 0;
  for (const KernelOp& op : s.ops) {
    if (op.op == OpKind::Scalar) count = std::max(count, op.args[0] + 1);
    if (op.op == OpKind::Gather) count = std::max(count, op.args[2] + 2);  // the dim's stride and size
  }
  return count;
}

inline bool supported_op(OpKind op) {
  switch (op) {
    case OpKind::Load:
    case OpKind::Scalar:
    case OpKind::Cast:
    case OpKind::Neg:
    case OpKind::Abs:
    case OpKind::Sqrt:
    case OpKind::Rsqrt:
    case OpKind::Relu:
    case OpKind::Sign:
    case OpKind::LogicalNot:
    case OpKind::IsNan:
    case OpKind::IsInf:
    case OpKind::IsFinite:
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Maximum:
    case OpKind::Minimum:
    case OpKind::Eq:
    case OpKind::Ne:
    case OpKind::Lt:
    case OpKind::Le:
    case OpKind::Gt:
    case OpKind::Ge:
    case OpKind::LogicalAnd:
    case OpKind::LogicalOr:
    case OpKind::Where: return true;
    case OpKind::Floor:
    case OpKind::Ceil:
    case OpKind::Round:
    case OpKind::Trunc:
    case OpKind::Exp:
    case OpKind::Exp2:
    case OpKind::Expm1:
    case OpKind::Log:
    case OpKind::Log2:
    case OpKind::Log1p:
    case OpKind::Tanh:
    case OpKind::Sigmoid:
    case OpKind::Silu:
    case OpKind::Gelu:
    case OpKind::Erf:
    case OpKind::Sin:
    case OpKind::Cos:
    case OpKind::Tan: return true;
    case OpKind::Pow: return true;
    case OpKind::Fmod:
    case OpKind::Remainder:
    case OpKind::Gather: return true;
    default: return false;
  }
}

inline std::string_view compute_ir(ComputeType c) {
  switch (c) {
    case ComputeType::Int64: return "i64";
    case ComputeType::Float32: return "float";
    case ComputeType::Float64: return "double";
  }
  return "";
}

inline std::string_view storage_ir(DType t) {
  switch (t) {
    case kBool:
    case kUInt8:
    case kInt8: return "i8";
    case kInt16:
    case kFloat16:
    case kBFloat16: return "i16";
    case kInt32: return "i32";
    case kInt64: return "i64";
    case kFloat32: return "float";
    case kFloat64: return "double";
    default: return "";
  }
}

// Where a buffer's elements are, for the lanes being computed: the first lane's element offset;
// the others follow at the buffer's innermost stride (1 for contiguous buffers). At the end of a
// range only the first `active` lanes are elements: `mask` says which. A site of one lane (a GPU
// thread's element) is that element's offset, whatever the buffer's layout.
struct Site {
  explicit Site(int lane_count) : lanes(lane_count) {}
  int lanes = 1;
  std::vector<std::string> first;  // per buffer
  std::string mask;                // empty: every lane is active
  std::string active;              // the number of active lanes, when masked
  std::string position;            // the first lane's linear position in the range walked
};

class KernelValues : protected IrBuilder {
 protected:
  KernelValues(const KernelStructure& s, int lanes) : s_(s), lanes_(lanes) {}

  // How a kernel walks its iteration space, which decides the loops around its ops.
  enum class Walk {
    Rows,            // softmax and log_softmax: one row at a time
    OuterReduction,  // a reduction over the outer dim, transposed (reduces_leading)
    Reduction,       // a reduction over the trailing dims
    Linear,          // elementwise, every buffer contiguous or broadcast: one linear index
    Strided,         // elementwise with strided buffers: an index per dim
  };
  Walk walk() const {
    bool any_strided = false;
    for (Layout l : s_.layouts) any_strided = any_strided || l == Layout::Strided;
    return s_.is_row_wise()               ? Walk::Rows
           : s_.reduces_leading           ? Walk::OuterReduction
           : s_.is_reduction()            ? Walk::Reduction
           : !any_strided || s_.rank == 0 ? Walk::Linear
                                          : Walk::Strided;
  }

  // Loads the parameters every kernel reads (sizes_, data_, offsets_, strides_), in the entry block.
  void read_params() {
    const int rank = s_.rank;
    // Parameters: sizes, then per buffer its address, offset and strides, then scalars.
    for (int d = 0; d < rank; ++d) sizes_.push_back(param_i64(d));
    const int per_buffer = 2 + rank;
    for (size_t b = 0; b < s_.layouts.size(); ++b) {
      const int base = rank + int(b) * per_buffer;
      data_.push_back(def("load ptr, ptr {}", param_ptr(base)));
      offsets_.push_back(param_i64(base + 1));
      std::vector<std::string> strides(static_cast<size_t>(rank));
      for (int d = 0; d < rank; ++d) strides[size_t(d)] = param_i64(base + 2 + d);
      strides_.push_back(std::move(strides));
    }
    scalars_base_ = rank + int(s_.layouts.size()) * per_buffer;
  }

  // -- text helpers -------------------------------------------------------------------------
  std::string param_ptr(int index) { return def("getelementptr i64, ptr %p, i64 {}", index); }
  std::string param_i64(int index) { return def("load i64, ptr {}", param_ptr(index)); }

  std::string constant(ComputeType c, double v, int lanes) const {
    const std::string text = c == ComputeType::Int64 ? std::to_string(int64_t(v)) : float_constant(v);
    return splat_constant(compute_ir(c), text, lanes);
  }
  std::string iota(int lanes) const {
    std::string text = "<";
    for (int i = 0; i < lanes; ++i) text += format("{}i64 {}", i ? ", " : "", i);
    return text + ">";
  }

  // Element offsets of the lanes: first + lane * stride.
  std::string lane_offsets(const std::string& first, const std::string& stride, int lanes) {
    const std::string v = vec("i64", lanes);
    const std::string steps = def("mul {} {}, {}", v, iota(lanes), splat("i64", stride, lanes));
    return def("add {} {}, {}", v, splat("i64", first, lanes), steps);
  }

  // The smaller of two i64 values.
  std::string smaller(const std::string& a, const std::string& b) {
    return def("select i1 {}, i64 {}, i64 {}", def("icmp slt i64 {}, {}", a, b), a, b);
  }

  // Every buffer contiguous or broadcast: the linear index is each buffer's position.
  Site linear_site(const std::string& i) {
    Site site(lanes_);
    for (size_t b = 0; b < s_.layouts.size(); ++b)
      site.first.push_back(s_.layouts[b] == Layout::Broadcast ? offsets_[b] : def("add i64 {}, {}", offsets_[b], i));
    return site;
  }

  // The array a reduction writes its values to: its address follows the scalars.
  std::string scratch_array() { return def("load ptr, ptr {}", param_ptr(scalars_base_ + scalar_count(s_))); }

  // Item `item` of a reduction over the trailing dims (outputs of `length` elements, in blocks of
  // kReduceBlock): its output, the elements of that output before its block, and how many it
  // reduces.
  struct ReductionItem {
    std::string output, skipped, count;
  };
  std::string reduction_blocks(const std::string& length) {
    return def("sdiv i64 {}, {}", def("add i64 {}, {}", length, kReduceBlock - 1), kReduceBlock);
  }
  ReductionItem reduction_item(const std::string& item, const std::string& length, const std::string& blocks) {
    const std::string output = def("sdiv i64 {}, {}", item, blocks);
    const std::string block = def("sub i64 {}, {}", item, def("mul i64 {}, {}", output, blocks));
    const std::string skipped = def("mul i64 {}, {}", block, kReduceBlock);
    return {output, skipped, smaller(def("sub i64 {}, {}", length, skipped), std::to_string(kReduceBlock))};
  }

  // The site of reduced element k of `output` (of `length` elements each), by buffer: a broadcast
  // one at its offset; a strided one (reductions over one dim) at its offset, plus the output's
  // index in the outer dims times their strides, plus k times the last stride; any other at
  // linear position output * length + k.
  std::function<Site(const std::string&)> reduction_sites(const std::string& output, const std::string& length) {
    std::vector<std::string> base(s_.layouts.size());
    std::vector<size_t> strided;
    for (size_t b = 0; b < s_.layouts.size(); ++b) {
      if (s_.layouts[b] == Layout::Strided)
        strided.push_back(b);
      else if (s_.layouts[b] == Layout::Broadcast)
        base[b] = offsets_[b];
      else
        base[b] = def("add i64 {}, {}", offsets_[b], def("mul i64 {}, {}", output, length));
    }
    if (!strided.empty()) {
      for (size_t b : strided) base[b] = offsets_[b];
      std::string rest = output;
      for (int d = s_.rank - 2; d >= 0; --d) {
        const std::string index = d == 0 ? rest : def("srem i64 {}, {}", rest, sizes_[size_t(d)]);
        if (d > 0) rest = def("sdiv i64 {}, {}", rest, sizes_[size_t(d)]);
        for (size_t b : strided)
          base[b] = def("add i64 {}, {}", base[b], def("mul i64 {}, {}", index, strides_[b][size_t(d)]));
      }
    }
    return [this, base](const std::string& k) {
      Site site(lanes_);
      for (size_t b = 0; b < s_.layouts.size(); ++b) {
        const Layout l = s_.layouts[b];
        site.first.push_back(l == Layout::Broadcast ? base[b]
                             : l == Layout::Strided ? def("add i64 {}, {}", base[b],
                                                          def("mul i64 {}, {}", k, strides_[b][size_t(s_.rank - 1)]))
                                                    : def("add i64 {}, {}", base[b], k));
      }
      return site;
    };
  }

  // The number of elements each output reduces (each row of a row-wise op): the trailing dims.
  std::string reduced_length() {
    std::string length = "1";
    for (int d = s_.rank - s_.reduce_rank; d < s_.rank; ++d) length = def("mul i64 {}, {}", length, sizes_[size_t(d)]);
    return length;
  }

  // Whether grouping the combines differently cannot change a result's bits: max and min (the
  // first maximal element, or the first NaN, wins in any grouping), all and any, and integer
  // arithmetic, which wraps. Float sums and products round differently in another grouping.
  static bool regroupable(OpKind op, ComputeType c) {
    return op == OpKind::Amax || op == OpKind::Amin || op == OpKind::All || op == OpKind::Any ||
           c == ComputeType::Int64;
  }

  // A reduction's starting value and combining step, as the interpreter's Reducer.
  std::string identity(OpKind op, ComputeType c, int lanes) const {
    const bool integer = c == ComputeType::Int64;
    switch (op) {
      case OpKind::Amax:
        return integer ? splat_constant("i64", std::to_string(INT64_MIN), lanes) : constant(c, -INFINITY, lanes);
      case OpKind::Amin:
        return integer ? splat_constant("i64", std::to_string(INT64_MAX), lanes) : constant(c, INFINITY, lanes);
      case OpKind::Prod:
      case OpKind::All: return constant(c, 1, lanes);
      default: return constant(c, 0, lanes);
    }
  }
  std::string combine(OpKind op, ComputeType c, const std::string& a, const std::string& b, int lanes) {
    const bool integer = c == ComputeType::Int64;
    const std::string t = vec(compute_ir(c), lanes);
    auto as_value = [&](const std::string& mask) {
      return integer ? bool_to_i64(mask, lanes) : def("uitofp {} {} to {}", vec("i1", lanes), mask, t);
    };
    switch (op) {
      case OpKind::Sum:
      case OpKind::Mean: return def("{} {} {}, {}", integer ? "add" : "fadd", t, a, b);
      case OpKind::Prod: return def("{} {} {}, {}", integer ? "mul" : "fmul", t, a, b);
      case OpKind::Amax:  // NaN wins, as maximum and minimum
      case OpKind::Amin: {
        const KernelOp pairwise{op == OpKind::Amax ? OpKind::Maximum : OpKind::Minimum, kFloat32, kFloat32};
        return arithmetic(pairwise, {a, b}, c, lanes);
      }
      case OpKind::All:
      case OpKind::Any:
        return as_value(def("{} {} {}, {}", op == OpKind::All ? "and" : "or", vec("i1", lanes), nonzero(a, c, lanes),
                            nonzero(b, c, lanes)));
      default: hci::detail::throw_error("the CPU JIT cannot reduce with {}", op_name(op));
    }
  }

  // -- memory ---------------------------------------------------------------------------------
  // The addresses of the lanes of a strided buffer, for a gather or scatter.
  std::string lane_pointers(size_t b, DType dtype, const Site& site) {
    const std::string offsets = lane_offsets(site.first[b], strides_[b][size_t(s_.rank - 1)], site.lanes);
    return def("getelementptr {}, ptr {}, {} {}", storage_ir(dtype), data_[b], vec("i64", site.lanes), offsets);
  }

  // The site's lane mask: every lane, or the active ones.
  std::string mask_of(const Site& site) const {
    return site.mask.empty() ? splat_constant("i1", "true", site.lanes) : site.mask;
  }

  // A buffer's value at the site, in its storage type; masked-off lanes read nothing and are 0.
  std::string load_storage(size_t b, DType dtype, const Site& site) {
    const std::string_view s = storage_ir(dtype);
    const size_t align = element_size(dtype);
    const std::string v = vec(s, site.lanes), suffix = overload_suffix(s, site.lanes);
    if (s_.layouts[b] == Layout::Broadcast) {  // one element, and at least one lane is active
      const std::string ptr = def("getelementptr {}, ptr {}, i64 {}", s, data_[b], site.first[b]);
      return splat(s, def("load {}, ptr {}, align {}", s, ptr, align), site.lanes);
    }
    if (s_.layouts[b] == Layout::Contiguous || site.lanes == 1) {
      const std::string ptr = def("getelementptr {}, ptr {}, i64 {}", s, data_[b], site.first[b]);
      if (site.mask.empty()) return def("load {}, ptr {}, align {}", v, ptr, align);
      declare(format("declare {} @llvm.masked.load.{}.p0(ptr, i32, <{} x i1>, {})", v, suffix, site.lanes, v));
      return def("call {} @llvm.masked.load.{}.p0(ptr {}, i32 {}, <{} x i1> {}, {} zeroinitializer)", v, suffix, ptr,
                 align, site.lanes, site.mask, v);
    }
    const std::string ptrs = lane_pointers(b, dtype, site);
    declare(format("declare {} @llvm.masked.gather.{}.v{}p0(<{} x ptr>, i32, <{} x i1>, {})", v, suffix, site.lanes,
                   site.lanes, site.lanes, v));
    return def("call {} @llvm.masked.gather.{}.v{}p0(<{} x ptr> {}, i32 {}, <{} x i1> {}, {} zeroinitializer)", v,
               suffix, site.lanes, site.lanes, ptrs, align, site.lanes, mask_of(site), v);
  }

  // Whether `mask` holds in any active lane of the site being computed, as an i1.
  std::string any_active(std::string mask, int lanes) {
    const std::string masks = vec("i1", lanes);
    if (!active_mask_.empty()) mask = def("and {} {}, {}", masks, mask, active_mask_);
    if (lanes == 1) return mask;
    const std::string reduce = format("llvm.vector.reduce.or.v{}i1", lanes);
    declare(format("declare i1 @{}({})", reduce, masks));
    return def("call i1 @{}({} {})", reduce, masks, mask);
  }
  // Where `condition` holds, a host kernel ends with `status`. A GPU kernel stores `status` to its
  // failure word and goes on (a thread must not leave early: its neighbours may wait for it in a
  // shuffle), its results to be thrown away; the code after must therefore stay safe to run.
  void fail_if(const std::string& condition, int status) {
    const std::string fail = label(), ok = label();
    line(format("br i1 {}, label %{}, label %{}", condition, fail, ok));
    start_block(fail);
    if (failure_word_.empty()) {
      line(format("ret i32 {}", status));
    } else {
      line(format("store i32 {}, ptr {}", status, failure_word_));
      line(format("br label %{}", ok));
    }
    start_block(ok);
  }

  // A gather: the source buffer read at its strides plus index * the gathered dim's stride, once
  // every active lane's index is known to be within that dim (otherwise the kernel ends with
  // kIndexOutOfBounds, and the executor reports the interpreter's error). The value is in the
  // compute type.
  std::string gather(const KernelOp& op, const std::string& index, const Site& site) {
    const size_t b = size_t(op.args[0]);
    const int lanes = site.lanes;
    const std::string v64 = vec("i64", lanes), masks = vec("i1", lanes);
    const std::string stride = def("load i64, ptr {}", param_ptr(scalars_base_ + op.args[2]));
    const std::string size = def("load i64, ptr {}", param_ptr(scalars_base_ + op.args[2] + 1));
    std::string outside = def("or {} {}, {}", masks, def("icmp slt {} {}, zeroinitializer", v64, index),
                              def("icmp sge {} {}, {}", v64, index, splat("i64", size, lanes)));
    fail_if(any_active(outside, lanes), kIndexOutOfBounds);
    const std::string_view s = storage_ir(op.dtype);
    const size_t align = element_size(op.dtype);
    const std::string moved = def("mul {} {}, {}", v64, index, splat("i64", stride, lanes));
    if (lanes == 1) {
      const std::string ptr =
          def("getelementptr {}, ptr {}, i64 {}", s, data_[b], def("add i64 {}, {}", site.first[b], moved));
      if (failure_word_.empty()) return from_storage(def("load {}, ptr {}, align {}", s, ptr, align), op.dtype, 1);
      // A GPU thread goes on past the failure: an index outside the dim reads nothing and gives 0.
      const std::string value = alloca_slot(s), read = label(), after = label();
      line(format("store {} zeroinitializer, ptr {}", s, value));
      line(format("br i1 {}, label %{}, label %{}", outside, after, read));
      start_block(read);
      line(format("store {} {}, ptr {}", s, def("load {}, ptr {}, align {}", s, ptr, align), value));
      line(format("br label %{}", after));
      start_block(after);
      return from_storage(def("load {}, ptr {}", s, value), op.dtype, 1);
    }
    const std::string base = s_.layouts[b] == Layout::Broadcast
                                 ? splat("i64", site.first[b], lanes)
                                 : lane_offsets(site.first[b], strides_[b][size_t(s_.rank - 1)], lanes);
    const std::string ptrs =
        def("getelementptr {}, ptr {}, {} {}", s, data_[b], v64, def("add {} {}, {}", v64, base, moved));
    const std::string v = vec(s, lanes), suffix = overload_suffix(s, lanes);
    declare(format("declare {} @llvm.masked.gather.{}.v{}p0(<{} x ptr>, i32, <{} x i1>, {})", v, suffix, lanes, lanes,
                   lanes, v));
    return from_storage(
        def("call {} @llvm.masked.gather.{}.v{}p0(<{} x ptr> {}, i32 {}, <{} x i1> {}, {} zeroinitializer)", v, suffix,
            lanes, lanes, ptrs, align, lanes, mask_of(site), v),
        op.dtype, lanes);
  }

  // Stores the active lanes of the kernel's result.
  void store_output(const std::string& value, ComputeType c, const Site& site) {
    const DType dtype = s_.ops.back().dtype;
    const std::string_view s = storage_ir(dtype);
    const std::string stored = to_storage(value, c, dtype, site.lanes);
    const size_t align = element_size(dtype);
    const std::string v = vec(s, site.lanes), suffix = overload_suffix(s, site.lanes);
    if (s_.layouts[0] == Layout::Strided && site.lanes > 1) {
      const std::string ptrs = lane_pointers(0, dtype, site);
      declare(format("declare void @llvm.masked.scatter.{}.v{}p0({}, <{} x ptr>, i32, <{} x i1>)", suffix, site.lanes,
                     v, site.lanes, site.lanes));
      line(format("call void @llvm.masked.scatter.{}.v{}p0({} {}, <{} x ptr> {}, i32 {}, <{} x i1> {})", suffix,
                  site.lanes, v, stored, site.lanes, ptrs, align, site.lanes, mask_of(site)));
      return;
    }
    const std::string ptr = def("getelementptr {}, ptr {}, i64 {}", s, data_[0], site.first[0]);
    if (site.lanes == 1) {
      line(format("store {} {}, ptr {}, align {}", s, stored, ptr, align));
    } else if (s_.layouts[0] == Layout::Broadcast) {
      // A broadcast output has one element: every lane writes the same value, the last one wins.
      const std::string last = site.mask.empty() ? std::to_string(site.lanes - 1) : def("sub i64 {}, 1", site.active);
      line(
          format("store {} {}, ptr {}, align {}", s, def("extractelement {} {}, i64 {}", v, stored, last), ptr, align));
    } else if (site.mask.empty()) {
      line(format("store {} {}, ptr {}, align {}", v, stored, ptr, align));
    } else {
      declare(format("declare void @llvm.masked.store.{}.p0({}, ptr, i32, <{} x i1>)", suffix, v, site.lanes));
      line(format("call void @llvm.masked.store.{}.p0({} {}, ptr {}, i32 {}, <{} x i1> {})", suffix, v, stored, ptr,
                  align, site.lanes, site.mask));
    }
  }

  // storage -> compute, as the interpreter's convert_value.
  std::string from_storage(const std::string& v, DType dtype, int lanes) {
    const std::string_view s = storage_ir(dtype);
    switch (dtype) {
      case kBool:
      case kUInt8: return def("zext {} {} to {}", vec(s, lanes), v, vec("i64", lanes));
      case kInt8:
      case kInt16:
      case kInt32: return def("sext {} {} to {}", vec(s, lanes), v, vec("i64", lanes));
      case kFloat16:
      case kBFloat16: {
        Trace trace(*this, lanes);
        const auto bits = Sym<int32_t>::value(def("zext {} {} to {}", vec(s, lanes), v, vec("i32", lanes)));
        return (dtype == kFloat16 ? math::float16_bits_to_float<Sym<float>>(bits)
                                  : math::bfloat16_bits_to_float<Sym<float>>(bits))
            .ir();
      }
      default: return v;
    }
  }

  // compute -> storage, as the interpreter's store: bool is `!= 0`, integers truncate.
  std::string to_storage(const std::string& v, ComputeType c, DType dtype, int lanes) {
    const std::string_view s = storage_ir(dtype);
    if (dtype == kBool) return def("zext {} {} to {}", vec("i1", lanes), nonzero(v, c, lanes), vec("i8", lanes));
    if (c == ComputeType::Int64 && dtype != kInt64)
      return def("trunc {} {} to {}", vec("i64", lanes), v, vec(s, lanes));
    if (dtype == kFloat16 || dtype == kBFloat16) {
      Trace trace(*this, lanes);
      const auto x = Sym<float>::value(v);
      const auto bits = dtype == kFloat16 ? math::float_to_float16_bits(x) : math::float_to_bfloat16_bits(x);
      return def("trunc {} {} to {}", vec("i32", lanes), bits.ir(), vec(s, lanes));
    }
    return v;
  }

  // -- ops ------------------------------------------------------------------------------------
  // Rounds an int64 result to its dtype's range, as the interpreter's round_to_dtype.
  std::string wrap_to_dtype(const std::string& v, DType dtype, int lanes) {
    const std::string v64 = vec("i64", lanes);
    switch (dtype) {
      case kBool: return bool_to_i64(nonzero(v, ComputeType::Int64, lanes), lanes);
      case kUInt8:
      case kInt8:
      case kInt16:
      case kInt32: {
        const std::string narrow = vec(storage_ir(dtype), lanes);
        return def("{} {} {} to {}", dtype == kUInt8 ? "zext" : "sext", narrow,
                   def("trunc {} {} to {}", v64, v, narrow), v64);
      }
      default: return v;
    }
  }

  // Rounds (float16, bfloat16) or wraps (integers) a result to its dtype, as the interpreter.
  std::string round_to_dtype(const std::string& v, DType dtype, int lanes) {
    if (compute_type(dtype) == ComputeType::Int64) return wrap_to_dtype(v, dtype, lanes);
    if (dtype != kFloat16 && dtype != kBFloat16) return v;
    Trace trace(*this, lanes);
    const auto x = Sym<float>::value(v);
    return (dtype == kFloat16 ? math::round_to_float16(x) : math::round_to_bfloat16(x)).ir();
  }

  // a <cc> b as a mask: `icmp int_cc` on integers, `fcmp float_cc` on floats.
  std::string compare(std::string_view int_cc, std::string_view float_cc, const std::string& a, const std::string& b,
                      ComputeType c, int lanes) {
    const std::string t = vec(compute_ir(c), lanes);
    return c == ComputeType::Int64 ? def("icmp {} {} {}, {}", int_cc, t, a, b)
                                   : def("fcmp {} {} {}, {}", float_cc, t, a, b);
  }
  std::string is_nan(const std::string& v, ComputeType c, int lanes) { return compare("", "uno", v, v, c, lanes); }
  // NaN is nonzero, as the interpreter's `x != 0`.
  std::string nonzero(const std::string& v, ComputeType c, int lanes) {
    return compare("ne", "une", v, "zeroinitializer", c, lanes);
  }
  std::string bool_to_i64(const std::string& mask, int lanes) {
    return def("zext {} {} to {}", vec("i1", lanes), mask, vec("i64", lanes));
  }
  std::string select(const std::string& mask, const std::string& a, const std::string& b, const std::string& type,
                     int lanes) {
    return def("select {} {}, {} {}, {} {}", vec("i1", lanes), mask, type, a, type, b);
  }

  // float -> int64 as the interpreter's float_to_int: NaN is 0, beyond int64 saturates.
  std::string float_to_int(const std::string& v, ComputeType c, int lanes) {
    const std::string t = vec(compute_ir(c), lanes), i64 = vec("i64", lanes);
    const std::string converted = def("fptosi {} {} to {}", t, v, i64);
    const std::string limit = constant(c, 9.2233720368547758e18, lanes);
    const std::string too_big = def("fcmp oge {} {}, {}", t, v, limit);
    const std::string too_small = def("fcmp ole {} {}, {}", t, v, constant(c, -9.2233720368547758e18, lanes));
    std::string r = select(too_small, splat_constant("i64", std::to_string(INT64_MIN), lanes), converted, i64, lanes);
    r = select(too_big, splat_constant("i64", std::to_string(INT64_MAX), lanes), r, i64, lanes);
    return select(is_nan(v, c, lanes), "zeroinitializer", r, i64, lanes);
  }

  std::string cast(const std::string& v, ComputeType from, const KernelOp& op, int lanes) {
    const ComputeType to = compute_type(op.dtype);
    if (op.dtype == kBool) return bool_to_i64(nonzero(v, from, lanes), lanes);
    const std::string src = vec(compute_ir(from), lanes), dst = vec(compute_ir(to), lanes);
    if (from == to) return v;
    if (from == ComputeType::Int64) return def("sitofp {} {} to {}", src, v, dst);
    if (to == ComputeType::Int64) return float_to_int(v, from, lanes);
    return def("{} {} {} to {}", from == ComputeType::Float32 ? "fpext" : "fptrunc", src, v, dst);
  }

  std::string predicate(const KernelOp& op, const std::vector<std::string>& args, ComputeType in, int lanes) {
    const bool integer = in == ComputeType::Int64;
    const std::string& a = args[0];
    switch (op.op) {
      case OpKind::LogicalNot: return bool_to_i64(compare("eq", "oeq", a, "zeroinitializer", in, lanes), lanes);
      case OpKind::IsNan:
        return integer ? constant(ComputeType::Int64, 0, lanes) : bool_to_i64(is_nan(a, in, lanes), lanes);
      case OpKind::IsInf:
      case OpKind::IsFinite: {
        if (integer) return constant(ComputeType::Int64, op.op == OpKind::IsFinite ? 1 : 0, lanes);
        return bool_to_i64(op.op == OpKind::IsInf
                               ? traced(in, lanes, args, [](const auto& x) { return math::is_inf(x); })
                               : traced(in, lanes, args, [](const auto& x) { return math::is_finite(x); }),
                           lanes);
      }
      default: break;
    }
    const std::string& b = args[1];
    if (op.op == OpKind::LogicalAnd || op.op == OpKind::LogicalOr)
      return bool_to_i64(def("{} {} {}, {}", op.op == OpKind::LogicalAnd ? "and" : "or", vec("i1", lanes),
                             nonzero(a, in, lanes), nonzero(b, in, lanes)),
                         lanes);
    // Comparisons: ordered for floats (NaN compares false), except != (unordered: NaN is unequal).
    static constexpr std::string_view int_cc[] = {"eq", "ne", "slt", "sle", "sgt", "sge"};
    static constexpr std::string_view float_cc[] = {"oeq", "une", "olt", "ole", "ogt", "oge"};
    const size_t k = size_t(op.op) - size_t(OpKind::Eq);
    return bool_to_i64(compare(int_cc[k], float_cc[k], a, b, in, lanes), lanes);
  }

  std::string arithmetic(const KernelOp& op, const std::vector<std::string>& args, ComputeType c, int lanes) {
    const std::string t = vec(compute_ir(c), lanes);
    const bool integer = c == ComputeType::Int64;
    const std::string zero = "zeroinitializer";
    const std::string& a = args[0];
    switch (op.op) {
      case OpKind::Neg: return integer ? def("sub {} zeroinitializer, {}", t, a) : def("fneg {} {}", t, a);
      case OpKind::Abs:
        if (integer)
          return select(compare("slt", "", a, zero, c, lanes), def("sub {} zeroinitializer, {}", t, a), a, t, lanes);
        return traced(c, lanes, args, [](const auto& x) { return math::abs_(x); });
      case OpKind::Relu: return select(compare("slt", "olt", a, zero, c, lanes), zero, a, t, lanes);
      case OpKind::Sign: {  // (a > 0) - (a < 0): NaN gives 0
        const std::string positive = compare("sgt", "ogt", a, zero, c, lanes);
        const std::string negative = compare("slt", "olt", a, zero, c, lanes);
        if (integer) return def("sub {} {}, {}", t, bool_to_i64(positive, lanes), bool_to_i64(negative, lanes));
        return def("fsub {} {}, {}", t, def("uitofp {} {} to {}", vec("i1", lanes), positive, t),
                   def("uitofp {} {} to {}", vec("i1", lanes), negative, t));
      }
      case OpKind::Floor: return integer ? a : traced(c, lanes, args, [](const auto& x) { return math::floor_(x); });
      case OpKind::Ceil: return integer ? a : traced(c, lanes, args, [](const auto& x) { return math::ceil_(x); });
      case OpKind::Round:
        return integer ? a : traced(c, lanes, args, [](const auto& x) { return math::round_half_even(x); });
      case OpKind::Trunc: return integer ? a : traced(c, lanes, args, [](const auto& x) { return math::trunc_(x); });
      case OpKind::Exp: return traced(c, lanes, args, [](const auto& x) { return math::exp(x); });
      case OpKind::Exp2: return traced(c, lanes, args, [](const auto& x) { return math::exp2(x); });
      case OpKind::Expm1: return traced(c, lanes, args, [](const auto& x) { return math::expm1(x); });
      case OpKind::Log: return traced(c, lanes, args, [](const auto& x) { return math::log(x); });
      case OpKind::Log2: return traced(c, lanes, args, [](const auto& x) { return math::log2(x); });
      case OpKind::Log1p: return traced(c, lanes, args, [](const auto& x) { return math::log1p(x); });
      case OpKind::Tanh: return traced(c, lanes, args, [](const auto& x) { return math::tanh(x); });
      case OpKind::Sigmoid: return traced(c, lanes, args, [](const auto& x) { return math::sigmoid(x); });
      case OpKind::Silu: return traced(c, lanes, args, [](const auto& x) { return math::silu(x); });
      case OpKind::Gelu: return traced(c, lanes, args, [](const auto& x) { return math::gelu(x); });
      case OpKind::Erf: return traced(c, lanes, args, [](const auto& x) { return math::erf(x); });
      case OpKind::Sin:
      case OpKind::Cos:
      case OpKind::Tan: return trig(op.op, a, c, lanes);
      case OpKind::Sqrt: return traced(c, lanes, args, [](const auto& x) { return math::sqrt_(x); });
      case OpKind::Rsqrt:  // as the interpreter: 1 / sqrt(x), two roundings
        return traced(c, lanes, args, [](const auto& x) {
          using V = std::decay_t<decltype(x)>;
          return V(math::scalar_t<V>(1)) / math::sqrt_(x);
        });
      default: break;
    }
    const std::string& b = args[1];
    switch (op.op) {
      case OpKind::Add: return def("{} {} {}, {}", integer ? "add" : "fadd", t, a, b);
      case OpKind::Sub: return def("{} {} {}, {}", integer ? "sub" : "fsub", t, a, b);
      case OpKind::Mul: return def("{} {} {}, {}", integer ? "mul" : "fmul", t, a, b);
      case OpKind::Div: return def("fdiv {} {}, {}", t, a, b);
      case OpKind::Pow:
        if (integer) return integer_pow(a, b, lanes);
        return traced(c, lanes, args, [](const auto& x, const auto& y) { return math::pow(x, y); });
      case OpKind::Fmod:
      case OpKind::Remainder:
        return integer ? integer_remainder(op.op, a, b, lanes) : float_remainder(op.op, a, b, c, lanes);
      case OpKind::Maximum:
      case OpKind::Minimum: {
        const bool max = op.op == OpKind::Maximum;
        // max: a < b ? b : a; min: b < a ? b : a; a NaN operand wins, the first one first.
        const std::string less = compare("slt", "olt", max ? a : b, max ? b : a, c, lanes);
        std::string r = select(less, b, a, t, lanes);
        if (!integer) {
          r = select(is_nan(b, c, lanes), b, r, t, lanes);
          r = select(is_nan(a, c, lanes), a, r, t, lanes);
        }
        return r;
      }
      case OpKind::Where: return select(nonzero(a, c, lanes), b, args[2], t, lanes);
      default: break;
    }
    hci::detail::throw_error("the CPU JIT cannot emit {}", op_name(op.op));
  }

  // base^exponent on int64 as the interpreter's integer_pow: squaring, wrapping around in two's
  // complement, over the exponent's 64 bits; a negative exponent gives 0 unless the base is 1 or -1.
  std::string integer_pow(const std::string& base, const std::string& exponent, int lanes) {
    const std::string t = vec("i64", lanes);
    auto splat64 = [&](int64_t v) { return splat_constant("i64", std::to_string(v), lanes); };
    const std::string result = alloca_slot(t), power = alloca_slot(t), bits = alloca_slot(t);
    line(format("store {} {}, ptr {}", t, splat64(1), result));
    line(format("store {} {}, ptr {}", t, base, power));
    line(format("store {} {}, ptr {}", t, exponent, bits));
    loop("0", "64", [&](const std::string&) {
      const std::string r = def("load {}, ptr {}", t, result), p = def("load {}, ptr {}", t, power);
      const std::string e = def("load {}, ptr {}", t, bits);
      const std::string odd = def("icmp ne {} {}, zeroinitializer", t, def("and {} {}, {}", t, e, splat64(1)));
      line(format("store {} {}, ptr {}", t, select(odd, def("mul {} {}, {}", t, r, p), r, t, lanes), result));
      line(format("store {} {}, ptr {}", t, def("mul {} {}, {}", t, p, p), power));
      line(format("store {} {}, ptr {}", t, def("lshr {} {}, {}", t, e, splat64(1)), bits));
      return std::string("1");
    });
    const std::string positive = def("load {}, ptr {}", t, result);
    // Negative exponents: 1 for base 1; for base -1, 1 or -1 as the exponent is even or odd.
    const std::string even = def("icmp eq {} {}, zeroinitializer", t, def("and {} {}, {}", t, exponent, splat64(1)));
    std::string negative = select(def("icmp eq {} {}, {}", t, base, splat64(-1)),
                                  select(even, splat64(1), splat64(-1), t, lanes), "zeroinitializer", t, lanes);
    negative = select(def("icmp eq {} {}, {}", t, base, splat64(1)), splat64(1), negative, t, lanes);
    return select(def("icmp slt {} {}, zeroinitializer", t, exponent), negative, positive, t, lanes);
  }

  // fmod (the dividend's sign) and remainder (the divisor's) on int64, as the interpreter's: a
  // zero divisor in an active lane ends the kernel with status kIntegerFmodByZero (or
  // kIntegerRemainderByZero); -1 divides everything (INT64_MIN % -1 would trap).
  std::string integer_remainder(OpKind op, const std::string& a, const std::string& b, int lanes) {
    const std::string t = vec("i64", lanes);
    fail_if(any_active(def("icmp eq {} {}, zeroinitializer", t, b), lanes),
            op == OpKind::Fmod ? kIntegerFmodByZero : kIntegerRemainderByZero);
    const std::string one = splat_constant("i64", "1", lanes);
    const std::string trivial = def("or {} {}, {}", vec("i1", lanes), def("icmp eq {} {}, zeroinitializer", t, b),
                                    def("icmp eq {} {}, {}", t, b, splat_constant("i64", "-1", lanes)));
    std::string r =
        select(trivial, "zeroinitializer", def("srem {} {}, {}", t, a, select(trivial, one, b, t, lanes)), t, lanes);
    if (op == OpKind::Remainder) {  // moved to the divisor's sign
      const std::string differ = def("xor {} {}, {}", vec("i1", lanes), def("icmp slt {} {}, zeroinitializer", t, r),
                                     def("icmp slt {} {}, zeroinitializer", t, b));
      const std::string move =
          def("and {} {}, {}", vec("i1", lanes), differ, def("icmp ne {} {}, zeroinitializer", t, r));
      r = select(move, def("add {} {}, {}", t, r, b), r, t, lanes);
    }
    return r;
  }

  // fmod and remainder of floats as the interpreter's math::fmod, in double: fmod_step in every
  // lane, again while any active lane still needs one; remainder then moves the result to the
  // divisor's sign, in the compute type.
  std::string float_remainder(OpKind op, const std::string& a, const std::string& b, ComputeType c, int lanes) {
    const std::string t = vec(compute_ir(c), lanes), wide = vec("double", lanes), masks = vec("i1", lanes);
    auto widen = [&](const std::string& v) {
      return c == ComputeType::Float32 ? def("fpext {} {} to {}", t, v, wide) : v;
    };
    const std::string x = widen(a), y = widen(b);
    std::string nan, ay, start;
    {
      Trace trace(*this, lanes);
      nan = math::fmod_is_nan(Sym<double>::value(x), Sym<double>::value(y)).ir();
      ay = math::abs_(Sym<double>::value(y)).ir();
      start = math::abs_(Sym<double>::value(x)).ir();
    }
    const std::string slot = alloca_slot(wide);
    line(format("store {} {}, ptr {}", wide, start, slot));
    const std::string head = label(), body = label(), done = label();
    line("br label %" + head);
    start_block(head);
    const std::string r = def("load {}, ptr {}", wide, slot);
    const std::string active = def("and {} {}, {}", masks, def("fcmp oge {} {}, {}", wide, r, ay),
                                   def("xor {} {}, {}", masks, nan, splat_constant("i1", "true", lanes)));
    line(format("br i1 {}, label %{}, label %{}", any_active(active, lanes), body, done));
    start_block(body);
    std::string step;
    {
      Trace trace(*this, lanes);
      step = math::fmod_step(Sym<double>::value(r), Sym<double>::value(ay)).ir();
    }
    line(format("store {} {}, ptr {}", wide, select(active, step, r, wide, lanes), slot));
    line("br label %" + head);
    start_block(done);
    const std::string rest = def("load {}, ptr {}", wide, slot);
    std::string result;
    {
      Trace trace(*this, lanes);
      const auto X = Sym<double>::value(x), R = Sym<double>::value(rest);
      const auto untouched = !(Sym<double>::value(start) >= Sym<double>::value(ay));  // also for an infinite y
      result = math::select(Sym<bool>::value(nan), math::quiet_nan<Sym<double>>(),
                            math::select(untouched, X, math::copysign_(R, X)))
                   .ir();
    }
    if (c == ComputeType::Float32) result = def("fptrunc {} {} to {}", wide, result, t);
    if (op == OpKind::Fmod) return result;
    // remainder: mod != 0 && (y < 0) != (mod < 0) adds y, as math::remainder.
    const std::string zero = "zeroinitializer";
    const std::string differ =
        def("xor {} {}, {}", masks, def("fcmp olt {} {}, {}", t, b, zero), def("fcmp olt {} {}, {}", t, result, zero));
    const std::string move = def("and {} {}, {}", masks, def("fcmp une {} {}, {}", t, result, zero), differ);
    return select(move, def("fadd {} {}, {}", t, result, b), result, t, lanes);
  }

  // f(std::integral_constant<TrigFn, F>) for op's F.
  template <class F>
  static auto trig_of(OpKind op, F f) {
    using math::TrigFn;
    if (op == OpKind::Sin) return f(std::integral_constant<TrigFn, TrigFn::Sin>{});
    if (op == OpKind::Cos) return f(std::integral_constant<TrigFn, TrigFn::Cos>{});
    return f(std::integral_constant<TrigFn, TrigFn::Tan>{});
  }
  // sin, cos and tan as the interpreter computes them: the medium-range function in every lane,
  // then the lanes holding a finite |x| >= kMediumLimit again, one by one, through the
  // Payne-Hanek reduction in a function of the module's own (rare: kept off the common path).
  std::string trig(OpKind op, const std::string& x, ComputeType c, int lanes) {
    std::string value, needs;
    {
      Trace trace(*this, lanes);
      auto run = [&]<class T>(T) {
        const auto v = Sym<T>::value(x);
        value = trig_of(op, [&](auto f) { return math::trig<decltype(f)::value>(v); }).ir();
        needs = (math::is_finite(v) & !(math::abs_(math::widen(v)) < Sym<double>(math::kMediumLimit))).ir();
      };
      c == ComputeType::Float32 ? run(0.0f) : run(0.0);
    }
    const std::string t = vec(compute_ir(c), lanes);
    const std::string slot = alloca_slot(t);
    line(format("store {} {}, ptr {}", t, value, slot));
    const std::string large = label(), done = label();
    line(format("br i1 {}, label %{}, label %{}", any_active(needs, lanes), large, done));
    start_block(large);
    const std::string function = large_trig_function(op);
    const std::string scalar(compute_ir(c));
    std::string v = value;
    for (int lane = 0; lane < lanes; ++lane) {
      auto element = [&](const std::string& vector, std::string_view type) {
        return lanes == 1 ? vector : def("extractelement {} {}, i64 {}", vec(type, lanes), vector, lane);
      };
      const std::string need = element(needs, "i1"), old = element(v, scalar);
      std::string arg = element(x, scalar);
      if (c == ComputeType::Float32) arg = def("fpext float {} to double", arg);
      arg = def("select i1 {}, double {}, double {}", need, arg, float_constant(math::kMediumLimit));
      std::string result = def("call double {}(double {})", function, arg);
      if (c == ComputeType::Float32) result = def("fptrunc double {} to float", result);
      result = def("select i1 {}, {} {}, {} {}", need, scalar, result, scalar, old);
      v = lanes == 1 ? result : def("insertelement {} {}, {} {}, i64 {}", t, v, scalar, result, lane);
    }
    line(format("store {} {}, ptr {}", t, v, slot));
    line("br label %" + done);
    start_block(done);
    return def("load {}, ptr {}", t, slot);
  }
  // The module's function `double @hci.trig_large.<op>(double)`: op of a finite |x| >=
  // kMediumLimit, reduced by reduce_large, traced from the interpreter's source. GPU kernels
  // take it inlined (their code objects hold no calls); host kernels call it.
  std::string large_trig_function(OpKind op) {
    const std::string name = format("@hci.trig_large.{}", op_name(op));
    IrBuilder f;
    f.start_block("entry");
    {
      Trace trace(f, 1);
      const auto reduced = math::reduce_large(Sym<double>::value("%x"));
      f.line("ret double " +
             trig_of(op, [&](auto g) { return math::trig_of_reduced<decltype(g)::value>(reduced); }).ir());
    }
    declare(f.definition(
        format("internal double {}(double %x) {} nounwind", name, inline_helpers_ ? "alwaysinline" : "noinline")));
    for (const std::string& d : f.declarations()) declare(d);
    return name;
  }

  // A function of the math library, traced on symbolic values of the float compute type c.
  template <class F>
  std::string traced(ComputeType c, int lanes, const std::vector<std::string>& args, F f) {
    Trace trace(*this, lanes);
    auto run = [&]<class T>(T) {
      if constexpr (std::is_invocable_v<F, Sym<T>>)
        return f(Sym<T>::value(args[0])).ir();
      else
        return f(Sym<T>::value(args[0]), Sym<T>::value(args[1])).ir();
    };
    return c == ComputeType::Float32 ? run(0.0f) : run(0.0);
  }

  // Computes every op at the site and stores the last.
  void compute(const Site& site) {
    store_output(compute_values(site, s_.ops.size()), compute_type(s_.ops.back().dtype), site);
  }

  // The first `count` ops at the site: the last one's value.
  std::string compute_values(const Site& site, size_t count) {
    active_mask_ = site.mask;
    std::vector<std::string> values(count);
    const int lanes = site.lanes;
    for (size_t i = 0; i < count; ++i) {
      const KernelOp& op = s_.ops[i];
      const ComputeType c = compute_type(op.dtype);
      if (op.op == OpKind::Load) {
        const size_t b = size_t(op.args[0]);
        values[i] = from_storage(load_storage(b, op.in_dtype, site), op.in_dtype, lanes);
        continue;
      }
      if (op.op == OpKind::Gather) {
        values[i] = gather(op, values[size_t(op.args[1])], site);
        continue;
      }
      if (op.op == OpKind::Scalar) {
        const std::string ptr = param_ptr(scalars_base_ + op.args[0]);
        values[i] = splat(compute_ir(c), def("load {}, ptr {}", compute_ir(c), ptr), lanes);
        continue;
      }
      std::vector<std::string> args(static_cast<size_t>(op_arity(op.op)));
      for (size_t a = 0; a < args.size(); ++a) args[a] = values[size_t(op.args[a])];
      std::string v;
      if (op.op == OpKind::Cast)
        v = cast(args[0], compute_type(op.in_dtype), op, lanes);
      else if (is_predicate(op.op))
        v = predicate(op, args, compute_type(op.in_dtype), lanes);
      else
        v = arithmetic(op, args, c, lanes);
      values[i] = round_to_dtype(v, op.dtype, lanes);
    }
    return values.back();
  }

  const KernelStructure& s_;
  const int lanes_;
  std::vector<std::string> sizes_, data_, offsets_;
  std::vector<std::vector<std::string>> strides_;
  int scalars_base_ = 0;
  std::string active_mask_;      // of the site being computed: empty when every lane is active
  bool inline_helpers_ = false;  // the module's helper functions inlined into the kernel
  std::string failure_word_;     // a GPU kernel's i32 for fail_if; empty on the host
};

}  // namespace jit::detail

HCI_END_NAMESPACE
