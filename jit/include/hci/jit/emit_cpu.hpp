// LLVM IR text for a scheduled elementwise kernel on the host.
//
// The function is `i32 @name(i64 %start, i64 %end, ptr %params)`: it computes linear indices
// [start, end) of the iteration space and returns 0. Pointers, sizes, offsets, strides and
// scalars are all read from `params` (see pack_params), never baked in, so one compiled kernel
// serves every tensor of the same structure. The text is canonical: the same structure and
// vector width always give the same text. Values are explicit vectors of the host's width; the
// last, partial vector runs with its lanes past the end masked off. A kernel whose buffers are
// all contiguous or broadcast walks the linear index, any other walks rows of the last dim with
// per-row base offsets.
//
// Each op computes exactly what the interpreter computes, in the same compute types (int64,
// float, double) with the same rounding after each op, so the two agree bit for bit; the math
// library and float16/bfloat16 rounding are traced from the interpreter's own generic code.
#pragma once

#include <hci/kernel.hpp>

#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit {

// Whether emit_cpu_kernel handles this structure (the interpreter runs the rest).
HCI_RUNTIME_DECL bool cpu_kernel_supported(const KernelStructure& s);
// The module text defining `name` at `lanes` elements per vector.
HCI_RUNTIME_DECL std::string emit_cpu_kernel(const KernelStructure& s, int lanes, const std::string& name);
// The parameter block the kernel reads: sizes; per buffer its address, offset and strides; scalars.
HCI_RUNTIME_DECL std::vector<int64_t> pack_params(const KernelParams& p);

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/jit/ir_builder.hpp>
#include <hci/jit/symbolic.hpp>
#include <hci/math.hpp>

#include <functional>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// A reduction combines its blocks' elements in kAccumulators lanes over blocks of kReduceBlock
// elements, as the interpreter does (cpu::interp::kLanes and kBlock).
inline constexpr int kAccumulators = 8;
inline constexpr int64_t kReduceBlock = 4096;
// Outputs per item of a reduction over the outer dim: each reduced row is read a strip at a time.
inline constexpr int64_t kStrip = 512;

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
    case OpKind::Erf: return true;
    case OpKind::Pow: return true;  // floats only; see cpu_kernel_supported
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
// range only the first `active` lanes are elements: `mask` says which.
struct Site {
  explicit Site(int lane_count) : lanes(lane_count) {}
  int lanes = 1;
  std::vector<std::string> first;  // per buffer
  std::string mask;                // empty: every lane is active
  std::string active;              // the number of active lanes, when masked
  std::string position;            // the first lane's linear position in the range walked
};

class CpuKernelEmitter : IrBuilder {
 public:
  CpuKernelEmitter(const KernelStructure& s, int lanes) : s_(s), lanes_(lanes) {}

  std::string module(const std::string& name) {
    const int rank = s_.rank;
    start_block("entry");
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

    bool any_strided = false;
    for (Layout l : s_.layouts) any_strided = any_strided || l == Layout::Strided;
    if (s_.is_row_wise())
      emit_softmax();
    else if (s_.reduces_leading)
      emit_reduction_by_rows();
    else if (s_.is_reduction())
      emit_reduction();
    else if (!any_strided || rank == 0)
      emit_linear();
    else
      emit_rows();
    line("ret i32 0");
    // no-builtins: LLVM must not turn loops into calls (memset, memcpy); nothing is linked in.
    return function(format("i32 @{}(i64 %start, i64 %end, ptr noalias nocapture readonly %p) #0", name),
                    "attributes #0 = { nounwind \"no-builtins\" \"no-trapping-math\"=\"true\" }\n");
  }

 private:
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

  // -- loops ----------------------------------------------------------------------------------
  // for (i = begin; i < end; i += step): body returns the step (it may add blocks).
  void loop(const std::string& begin, const std::string& end,
            const std::function<std::string(const std::string&)>& body) {
    // Counters live in memory until mem2reg makes them SSA, so loops need no phi bookkeeping.
    const std::string counter = alloca_slot("i64");
    line(format("store i64 {}, ptr {}", begin, counter));
    const std::string head = label(), inside = label(), after = label();
    line("br label %" + head);
    start_block(head);
    const std::string i = def("load i64, ptr {}", counter);
    const std::string more = def("icmp slt i64 {}, {}", i, end);
    line(format("br i1 {}, label %{}, label %{}", more, inside, after));
    start_block(inside);
    const std::string step = body(i);
    line(format("store i64 {}, ptr {}", def("add i64 {}, {}", i, step), counter));
    line("br label %" + head);
    start_block(after);
  }

  // [begin, end) in whole vectors, then the rest as one vector with the lanes past the end
  // masked off (one copy of the computation, not a second scalar one); `site(i)` places the
  // lanes, `body` computes there.
  void vectors(const std::string& begin, const std::string& end, const std::function<Site(const std::string&)>& site,
               const std::function<void(const Site&)>& body) {
    const std::string count = def("sub i64 {}, {}", end, begin);
    const std::string whole = def("and i64 {}, {}", count, -int64_t(lanes_));
    const std::string vector_end = def("add i64 {}, {}", begin, whole);
    loop(begin, vector_end, [&](const std::string& i) {
      Site at = site(i);
      at.position = i;
      body(at);
      return std::to_string(lanes_);
    });
    const std::string left = def("sub i64 {}, {}", end, vector_end);
    const std::string tail = label(), after = label();
    line(format("br i1 {}, label %{}, label %{}", def("icmp sgt i64 {}, 0", left), tail, after));
    start_block(tail);
    Site last = site(vector_end);
    last.position = vector_end;
    last.active = left;
    last.mask = def("icmp slt {} {}, {}", vec("i64", lanes_), iota(lanes_), splat("i64", left, lanes_));
    body(last);
    line("br label %" + after);
    start_block(after);
  }

  // Every buffer contiguous or broadcast: the linear index is each buffer's position.
  Site linear_site(const std::string& i) {
    Site site(lanes_);
    for (size_t b = 0; b < s_.layouts.size(); ++b)
      site.first.push_back(s_.layouts[b] == Layout::Broadcast ? offsets_[b] : def("add i64 {}, {}", offsets_[b], i));
    return site;
  }
  void emit_linear() {
    vectors(
        "%start", "%end", [&](const std::string& i) { return linear_site(i); },
        [&](const Site& site) { compute(site); });
  }

  // A reduction (every input contiguous or broadcast), in the interpreter's order. The range
  // [start, end) counts items `output * blocks + block`: each reduces up to kReduceBlock elements
  // of its output into the accumulator lanes, combines them to one value and writes it to the
  // scratch array that follows the scalars among the parameters. The host combines the blocks
  // left to right.
  void emit_reduction() {
    const std::string length = reduced_length();
    const std::string blocks = def("sdiv i64 {}, {}", def("add i64 {}, {}", length, kReduceBlock - 1), kReduceBlock);
    const std::string scratch = def("load ptr, ptr {}", param_ptr(scalars_base_ + scalar_count()));
    const KernelOp& root = s_.ops.back();
    const ComputeType acc = compute_type(root.in_dtype);
    loop("%start", "%end", [&](const std::string& item) {
      const std::string output = def("sdiv i64 {}, {}", item, blocks);
      const std::string block = def("sub i64 {}, {}", item, def("mul i64 {}, {}", output, blocks));
      const std::string skipped = def("mul i64 {}, {}", block, kReduceBlock);
      const std::string begin = def("add i64 {}, {}", def("mul i64 {}, {}", output, length), skipped);
      const std::string left = def("sub i64 {}, {}", length, skipped);
      const std::string count =
          def("select i1 {}, i64 {}, i64 {}", def("icmp slt i64 {}, {}", left, kReduceBlock), left, kReduceBlock);
      const std::string accumulators = start_accumulators(root.op, acc);
      vectors(
          begin, def("add i64 {}, {}", begin, count), [&](const std::string& i) { return linear_site(i); },
          [&](const Site& site) {
            accumulate(root.op, acc, accumulators, compute_values(site, s_.ops.size() - 1), site);
          });
      line(format("store {} {}, ptr {}", compute_ir(acc), combine_accumulators(root.op, acc, accumulators),
                  def("getelementptr {}, ptr {}, i64 {}", compute_ir(acc), scratch, item)));
      return std::string("1");
    });
  }

  // A reduction over the outer dim, walked row by row over the iteration space [reduced,
  // outputs], in the interpreter's order (run_reduction_by_rows): each item of [start, end) is a
  // strip of kStrip outputs. Per block of kReduceBlock rows, row i goes into accumulator row
  // (i - block start) % 8 of the strip; the 8 rows combine as the fixed tree, and the blocks in
  // order. The strip's results go to the scratch array.
  void emit_reduction_by_rows() {
    const std::string &rows = sizes_[0], &outputs = sizes_[1];
    const KernelOp& root = s_.ops.back();
    const ComputeType acc = compute_type(root.in_dtype);
    const std::string t = std::string(compute_ir(acc)), tv = vec(t, lanes_);
    const int align = acc == ComputeType::Float32 ? 4 : 8;  // vectors in the slots are at element alignment
    const std::string scratch = def("load ptr, ptr {}", param_ptr(scalars_base_ + scalar_count()));
    const std::string accumulators = alloca_slot(format("[{} x {}]", kAccumulators * kStrip, t));
    const std::string totals = alloca_slot(format("[{} x {}]", kStrip, t));
    auto nowhere = [&](const std::string&) { return Site(lanes_); };  // for loops over the strip alone
    loop("%start", "%end", [&](const std::string& strip) {
      const std::string first = def("mul i64 {}, {}", strip, kStrip);
      const std::string left = def("sub i64 {}, {}", outputs, first);
      const std::string last =
          def("add i64 {}, {}", first,
              def("select i1 {}, i64 {}, i64 {}", def("icmp slt i64 {}, {}", left, kStrip), left, kStrip));
      // Element `at` of accumulator row `row` (or of the totals), as a vector: the strip's slots
      // cover whole vectors, so these loads and stores never need a mask.
      auto slot = [&](const std::string& base, const std::string& row, const Site& at) {
        std::string index = def("sub i64 {}, {}", at.position, first);
        if (!row.empty()) index = def("add i64 {}, {}", index, def("mul i64 {}, {}", row, kStrip));
        return def("getelementptr {}, ptr {}, i64 {}", t, base, index);
      };
      auto row_site = [&](const std::string& i) {
        return [&, i](const std::string& j) {
          Site at(lanes_);
          for (size_t b = 0; b < s_.layouts.size(); ++b) {
            if (s_.layouts[b] == Layout::Broadcast) {
              at.first.push_back(offsets_[b]);
              continue;
            }
            const std::string row = def("mul i64 {}, {}", i, strides_[b][0]);
            at.first.push_back(def("add i64 {}, {}", def("add i64 {}, {}", offsets_[b], row),
                                   def("mul i64 {}, {}", j, strides_[b][1])));
          }
          return at;
        };
      };
      // Defined before the first block replaces them (it does not combine with them).
      vectors(first, last, nowhere, [&](const Site& at) {
        line(format("store {} {}, ptr {}, align {}", tv, identity(root.op, acc, lanes_), slot(totals, "", at), align));
      });
      loop("0", rows, [&](const std::string& block) {
        for (int row = 0; row < kAccumulators; ++row)
          vectors(first, last, nowhere, [&](const Site& at) {
            line(format("store {} {}, ptr {}, align {}", tv, identity(root.op, acc, lanes_),
                        slot(accumulators, std::to_string(row), at), align));
          });
        const std::string block_end = def("select i1 {}, i64 {}, i64 {}",
                                          def("icmp slt i64 {}, {}", rows, def("add i64 {}, {}", block, kReduceBlock)),
                                          rows, def("add i64 {}, {}", block, kReduceBlock));
        loop(block, block_end, [&](const std::string& i) {
          const std::string row = def("and i64 {}, {}", def("sub i64 {}, {}", i, block), kAccumulators - 1);
          vectors(first, last, row_site(i), [&](const Site& at) {
            const std::string values = compute_values(at, s_.ops.size() - 1);
            const std::string where = slot(accumulators, row, at);
            const std::string before = def("load {}, ptr {}, align {}", tv, where, align);
            std::string after = combine(root.op, acc, before, values, lanes_);
            if (!at.mask.empty()) after = select(at.mask, after, before, tv, lanes_);
            line(format("store {} {}, ptr {}, align {}", tv, after, where, align));
          });
          return std::string("1");
        });
        // The block's value per output, then the running total.
        vectors(first, last, nowhere, [&](const Site& at) {
          // The tree of combine_lanes, in place: pairs (0 1) (2 3) (4 5) (6 7), then pairs of those.
          std::vector<std::string> level(kAccumulators);
          for (int row = 0; row < kAccumulators; ++row)
            level[size_t(row)] =
                def("load {}, ptr {}, align {}", tv, slot(accumulators, std::to_string(row), at), align);
          for (size_t n = level.size(); n > 1; n /= 2)
            for (size_t k = 0; k < n / 2; ++k) level[k] = combine(root.op, acc, level[2 * k], level[2 * k + 1], lanes_);
          const std::string where = slot(totals, "", at);
          const std::string running =
              combine(root.op, acc, def("load {}, ptr {}, align {}", tv, where, align), level[0], lanes_);
          line(format("store {} {}, ptr {}, align {}", tv,
                      def("select i1 {}, {} {}, {} {}", def("icmp eq i64 {}, 0", block), tv, level[0], tv, running),
                      where, align));
        });
        return std::to_string(kReduceBlock);
      });
      vectors(first, last, nowhere, [&](const Site& at) {
        const std::string value = def("load {}, ptr {}, align {}", tv, slot(totals, "", at), align);
        const std::string out = def("getelementptr {}, ptr {}, i64 {}", t, scratch, at.position);
        if (at.mask.empty()) {
          line(format("store {} {}, ptr {}, align {}", tv, value, out, align));
          return;
        }
        const std::string suffix = overload_suffix(t, lanes_);
        declare(format("declare void @llvm.masked.store.{}.p0({}, ptr, i32, <{} x i1>)", suffix, tv, lanes_));
        line(format("call void @llvm.masked.store.{}.p0({} {}, ptr {}, i32 {}, <{} x i1> {})", suffix, tv, value, out,
                    align, lanes_, at.mask));
      });
      return std::string("1");
    });
  }

  // softmax and log_softmax as the interpreter's run_softmax, one row per item of [start, end)
  // (inputs contiguous or broadcast, the output contiguous in the compute type): the row's
  // maximum; e^(x - max) written out and summed (x - max written and e^(x - max) summed for
  // log_softmax); the written row divided by the sum (less the sum's log). The maximum and sum
  // combine in accumulator lanes over the whole row.
  void emit_softmax() {
    const std::string length = reduced_length();
    const KernelOp& root = s_.ops.back();
    const bool log = root.op == OpKind::LogSoftmax;
    const ComputeType acc = compute_type(root.dtype);
    const std::string t = vec(compute_ir(acc), lanes_);
    const size_t count = s_.ops.size() - 1;
    auto site = [&](const std::string& i) { return linear_site(i); };
    loop("%start", "%end", [&](const std::string& row) {
      const std::string begin = def("mul i64 {}, {}", row, length), end = def("add i64 {}, {}", begin, length);
      const std::string max_lanes = start_accumulators(OpKind::Amax, acc);
      vectors(begin, end, site,
              [&](const Site& at) { accumulate(OpKind::Amax, acc, max_lanes, compute_values(at, count), at); });
      const std::string max = splat(compute_ir(acc), combine_accumulators(OpKind::Amax, acc, max_lanes), lanes_);
      const std::string sum_lanes = start_accumulators(OpKind::Sum, acc);
      vectors(begin, end, site, [&](const Site& at) {
        const std::string shifted = def("fsub {} {}, {}", t, compute_values(at, count), max);
        const std::string e = traced(acc, lanes_, {shifted}, [](const auto& x) { return math::exp(x); });
        store_output(log ? shifted : e, acc, at);
        accumulate(OpKind::Sum, acc, sum_lanes, e, at);
      });
      std::string sum = combine_accumulators(OpKind::Sum, acc, sum_lanes);
      if (log) sum = traced(acc, 1, {sum}, [](const auto& x) { return math::log(x); });
      const std::string divisor = splat(compute_ir(acc), sum, lanes_);
      vectors(begin, end, site, [&](const Site& at) {
        const std::string written = load_storage(0, root.dtype, at);
        store_output(def("{} {} {}, {}", log ? "fsub" : "fdiv", t, written, divisor), acc, at);
      });
      return std::string("1");
    });
  }

  // The number of elements each output reduces (each row of a row-wise op): the trailing dims.
  std::string reduced_length() {
    std::string length = "1";
    for (int d = s_.rank - s_.reduce_rank; d < s_.rank; ++d) length = def("mul i64 {}, {}", length, sizes_[size_t(d)]);
    return length;
  }

  // Accumulators as the interpreter's Reducer keeps them: kAccumulators lanes, element i of a
  // block (or row) into lane i % kAccumulators, combined as a fixed tree at the end. They live in
  // a stack slot, which LLVM turns into registers.
  std::string start_accumulators(OpKind op, ComputeType c) {
    const std::string type = vec(compute_ir(c), kAccumulators), slot = alloca_slot(type);
    line(format("store {} {}, ptr {}", type, identity(op, c, kAccumulators), slot));
    return slot;
  }
  // Adds the site's values: lanes of a vector wider than the accumulators in order (lane l takes
  // l, then l + 8, ...); masked-off lanes leave their accumulators as they were (combining with
  // an identity would not: -0 + 0 is +0).
  void accumulate(OpKind op, ComputeType c, const std::string& slot, const std::string& values, const Site& site) {
    const std::string type = vec(compute_ir(c), kAccumulators);
    std::string lanes = def("load {}, ptr {}", type, slot);
    if (regroupable(op, c) && lanes_ > kAccumulators) {
      // The vector's parts combine among themselves first (masked-off lanes as the identity,
      // which these ops leave exact), so the running accumulators wait on one combine, not two.
      std::string merged;
      for (int first = 0; first < lanes_; first += kAccumulators) {
        std::string part = lanes_part(values, compute_ir(c), lanes_, first, kAccumulators);
        if (!site.mask.empty())
          part = select(lanes_part(site.mask, "i1", lanes_, first, kAccumulators), part, identity(op, c, kAccumulators),
                        type, kAccumulators);
        merged = merged.empty() ? part : combine(op, c, merged, part, kAccumulators);
      }
      line(format("store {} {}, ptr {}", type, combine(op, c, lanes, merged, kAccumulators), slot));
      return;
    }
    for (int first = 0; first < lanes_; first += kAccumulators) {
      const std::string part = lanes_part(values, compute_ir(c), lanes_, first, kAccumulators);
      const std::string combined = combine(op, c, lanes, part, kAccumulators);
      lanes = site.mask.empty() ? combined
                                : select(lanes_part(site.mask, "i1", lanes_, first, kAccumulators), combined, lanes,
                                         type, kAccumulators);
    }
    line(format("store {} {}, ptr {}", type, lanes, slot));
  }
  // The accumulators combined as Reducer::combine_lanes: (0 1) (2 3) (4 5) (6 7), then pairs of
  // those, then the last pair; a scalar.
  std::string combine_accumulators(OpKind op, ComputeType c, const std::string& slot) {
    std::string tree = def("load {}, ptr {}", vec(compute_ir(c), kAccumulators), slot);
    for (int n = kAccumulators; n > 1; n /= 2)
      tree = combine(op, c, lanes_part(tree, compute_ir(c), n, 0, n / 2, 2),
                     lanes_part(tree, compute_ir(c), n, 1, n / 2, 2), n / 2);
    return tree;
  }

  // Lanes first, first + step, ... (count of them) of a vector of `lanes` elements of `scalar`;
  // one lane is a scalar.
  std::string lanes_part(const std::string& v, std::string_view scalar, int lanes, int first, int count, int step = 1) {
    if (first == 0 && count == lanes && step == 1) return v;
    if (count == 1) return def("extractelement {} {}, i64 {}", vec(scalar, lanes), v, first);
    std::string indices = "<";
    for (int i = 0; i < count; ++i) indices += format("{}i32 {}", i ? ", " : "", first + i * step);
    return def("shufflevector {} {}, {} poison, <{} x i32> {}>", vec(scalar, lanes), v, vec(scalar, lanes), count,
               indices);
  }

  // The number of scalar parameters: the scratch pointer of a reduction follows them.
  int scalar_count() const {
    int count = 0;
    for (const KernelOp& op : s_.ops)
      if (op.op == OpKind::Scalar) count = std::max(count, op.args[0] + 1);
    return count;
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

  // Rows of the last dim: per row, each buffer's base from the row's index in the outer dims.
  void emit_rows() {
    const int rank = s_.rank;
    const std::string& length = sizes_[size_t(rank - 1)];
    loop("%start", "%end", [&](const std::string& i) {
      const std::string row = def("sdiv i64 {}, {}", i, length);
      const std::string column = def("sub i64 {}, {}", i, def("mul i64 {}, {}", row, length));
      const std::string left_in_row = def("sub i64 {}, {}", length, column);
      const std::string left = def("sub i64 %end, {}", i);
      const std::string run =
          def("select i1 {}, i64 {}, i64 {}", def("icmp slt i64 {}, {}", left_in_row, left), left_in_row, left);
      // The row's index in each outer dim, innermost first.
      std::vector<std::string> index(size_t(rank - 1));
      std::string rest = row;
      for (int d = rank - 2; d >= 0; --d) {
        index[size_t(d)] = def("srem i64 {}, {}", rest, sizes_[size_t(d)]);
        if (d > 0) rest = def("sdiv i64 {}, {}", rest, sizes_[size_t(d)]);
      }
      std::vector<std::string> row_base;
      for (size_t b = 0; b < s_.layouts.size(); ++b) {
        std::string base = offsets_[b];
        if (s_.layouts[b] != Layout::Broadcast)
          for (int d = 0; d < rank - 1; ++d)
            base = def("add i64 {}, {}", base, def("mul i64 {}, {}", index[size_t(d)], strides_[b][size_t(d)]));
        row_base.push_back(base);
      }
      const std::string column_end = def("add i64 {}, {}", column, run);
      auto site = [&](const std::string& k) {
        Site site(lanes_);
        for (size_t b = 0; b < s_.layouts.size(); ++b) {
          if (s_.layouts[b] == Layout::Broadcast)
            site.first.push_back(row_base[b]);
          else
            site.first.push_back(
                def("add i64 {}, {}", row_base[b], def("mul i64 {}, {}", k, strides_[b][size_t(rank - 1)])));
        }
        return site;
      };
      vectors(column, column_end, site, [&](const Site& at) { compute(at); });
      return run;
    });
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
    if (s_.layouts[b] == Layout::Contiguous) {
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

  // Stores the active lanes of the kernel's result.
  void store_output(const std::string& value, ComputeType c, const Site& site) {
    const DType dtype = s_.ops.back().dtype;
    const std::string_view s = storage_ir(dtype);
    const std::string stored = to_storage(value, c, dtype, site.lanes);
    const size_t align = element_size(dtype);
    const std::string v = vec(s, site.lanes), suffix = overload_suffix(s, site.lanes);
    if (s_.layouts[0] == Layout::Strided) {
      const std::string ptrs = lane_pointers(0, dtype, site);
      declare(format("declare void @llvm.masked.scatter.{}.v{}p0({}, <{} x ptr>, i32, <{} x i1>)", suffix, site.lanes,
                     v, site.lanes, site.lanes));
      line(format("call void @llvm.masked.scatter.{}.v{}p0({} {}, <{} x ptr> {}, i32 {}, <{} x i1> {})", suffix,
                  site.lanes, v, stored, site.lanes, ptrs, align, site.lanes, mask_of(site)));
      return;
    }
    const std::string ptr = def("getelementptr {}, ptr {}, i64 {}", s, data_[0], site.first[0]);
    if (s_.layouts[0] == Layout::Broadcast) {
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
      case OpKind::Pow: return traced(c, lanes, args, [](const auto& x, const auto& y) { return math::pow(x, y); });
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
};

}  // namespace jit::detail

HCI_RUNTIME_DEF bool jit::cpu_kernel_supported(const KernelStructure& s) {
  if (s.ops.empty()) return false;
  const KernelOp& root = s.ops.back();
  // A reduction or row op reads the value just before it, which has its accumulator's compute
  // type (as the interpreter's evaluation hands it over), from inputs read in linear order.
  const bool reads_previous = s.ops.size() >= 2 && root.args[0] == int(s.ops.size()) - 2;
  auto inputs_linear = [&] {
    for (size_t b = 1; b < s.layouts.size(); ++b)
      if (s.layouts[b] == Layout::Strided) return false;
    return true;
  };
  if (s.is_row_wise()) {  // softmax and log_softmax, writing float32 or float64 rows in place
    if ((root.op != OpKind::Softmax && root.op != OpKind::LogSoftmax) || !reads_previous || !inputs_linear() ||
        (root.dtype != kFloat32 && root.dtype != kFloat64) || s.layouts[0] != Layout::Contiguous ||
        compute_type(s.ops[s.ops.size() - 2].dtype) != compute_type(root.dtype))
      return false;
  } else if (s.is_reduction()) {
    const bool by_rows = s.reduces_leading && s.rank == 2 && s.reduce_rank == 1;  // any strides
    if (is_arg_reduction(root.op) || !reads_previous || (!by_rows && (s.reduces_leading || !inputs_linear())) ||
        compute_type(s.ops[s.ops.size() - 2].dtype) != compute_type(root.in_dtype))
      return false;
  } else if (!is_elementwise(s.root())) {
    return false;
  }
  const bool elementwise = is_elementwise(root.op);
  for (size_t i = 0; i + (elementwise ? 0 : 1) < s.ops.size(); ++i) {
    const KernelOp& op = s.ops[i];
    if (!detail::supported_op(op.op)) return false;
    const bool integer = compute_type(op.dtype) == ComputeType::Int64;
    if (integer && (op.op == OpKind::Div || op.op == OpKind::Pow)) return false;
  }
  return true;
}

HCI_RUNTIME_DEF std::string jit::emit_cpu_kernel(const KernelStructure& s, int lanes, const std::string& name) {
  HCI_CHECK(lanes >= 2, "the CPU kernel emitter needs vectors of at least 2 lanes, not {}", lanes);
  // Reductions and row ops: vectors hold whole groups of their accumulator lanes.
  if (!is_elementwise(s.root())) lanes = std::max(lanes, detail::kAccumulators);
  return detail::CpuKernelEmitter(s, lanes).module(name);
}

HCI_RUNTIME_DEF std::vector<int64_t> jit::pack_params(const KernelParams& p) {
  std::vector<int64_t> packed(p.sizes.begin(), p.sizes.end());
  for (const BufferParam& b : p.buffers) {
    packed.push_back(int64_t(reinterpret_cast<uintptr_t>(b.data)));
    packed.push_back(b.offset);
    packed.insert(packed.end(), b.strides.begin(), b.strides.end());
  }
  for (const ScalarParam& s : p.scalars) {
    int64_t raw = 0;
    std::memcpy(&raw, &s, sizeof raw);
    packed.push_back(raw);
  }
  return packed;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
