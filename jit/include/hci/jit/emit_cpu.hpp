// LLVM IR text for a scheduled elementwise kernel on the host.
//
// The function is `i32 @name(i64 %start, i64 %end, ptr %params)`: it computes linear indices
// [start, end) of the iteration space and returns 0. Pointers, sizes, offsets, strides and
// scalars are all read from `params` (see pack_params), never baked in, so one compiled kernel
// serves every tensor of the same structure. The text is canonical: the same structure and
// vector width always give the same text. Values are explicit vectors of the host's width; the
// last, partial vector runs with its lanes past the end masked off. A kernel whose buffers are
// all contiguous or broadcast walks the linear index, any other walks rows of the last dim with
// per-row base offsets. The ops themselves are KernelValues' (kernel_values.hpp), shared with
// the GPU emitter, and agree with the interpreter bit for bit.
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

// The parameter block as kernels of structure `s` read it: its length in int64 slots (for a
// reduction, the scratch array's address after the scalars included), and the slots that hold
// addresses (each buffer's, then the scratch array's), which a host emulation of a device maps.
struct ParamLayout {
  size_t slots = 0;
  std::vector<size_t> addresses;
};
HCI_RUNTIME_DECL ParamLayout param_layout(const KernelStructure& s);

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/jit/kernel_values.hpp>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

class CpuKernelEmitter : KernelValues {
 public:
  CpuKernelEmitter(const KernelStructure& s, int lanes) : KernelValues(s, lanes) {}

  std::string module(const std::string& name) {
    start_block("entry");
    read_params();
    switch (walk()) {
      case Walk::Rows: emit_softmax(); break;
      case Walk::OuterReduction: emit_reduction_by_rows(); break;
      case Walk::Reduction: emit_reduction(); break;
      case Walk::Linear: emit_linear(); break;
      case Walk::Strided: emit_rows(); break;
    }
    line("ret i32 0");
    // no-builtins: LLVM must not turn loops into calls (memset, memcpy); nothing is linked in.
    return function(format("i32 @{}(i64 %start, i64 %end, ptr noalias nocapture readonly %p) #0", name),
                    "attributes #0 = { nounwind \"no-builtins\" \"no-trapping-math\"=\"true\" }\n");
  }

 private:
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

  void emit_linear() {
    vectors(
        "%start", "%end", [&](const std::string& i) { return linear_site(i); },
        [&](const Site& site) { compute(site); });
  }

  // A reduction (inputs strided only over one reduced dim), in the interpreter's order. The range
  // [start, end) counts items `output * blocks + block`: each reduces up to kReduceBlock elements
  // of its output into the accumulator lanes, combines them to one value and writes it to the
  // scratch array that follows the scalars among the parameters. The host combines the blocks
  // left to right.
  void emit_reduction() {
    const std::string length = reduced_length();
    const std::string blocks = reduction_blocks(length);
    const std::string scratch = scratch_array();
    const KernelOp& root = s_.ops.back();
    const ComputeType acc = compute_type(root.in_dtype);
    loop("%start", "%end", [&](const std::string& item) {
      const auto [output, skipped, count] = reduction_item(item, length, blocks);
      const std::string accumulators = start_accumulators(root.op, acc);
      vectors(skipped, def("add i64 {}, {}", skipped, count), reduction_sites(output, length), [&](const Site& site) {
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
    const std::string scratch = scratch_array();
    const std::string accumulators = alloca_slot(format("[{} x {}]", kAccumulators * kStrip, t));
    const std::string totals = alloca_slot(format("[{} x {}]", kStrip, t));
    auto nowhere = [&](const std::string&) { return Site(lanes_); };  // for loops over the strip alone
    loop("%start", "%end", [&](const std::string& strip) {
      const std::string first = def("mul i64 {}, {}", strip, kStrip);
      const std::string left = def("sub i64 {}, {}", outputs, first);
      const std::string last = def("add i64 {}, {}", first, smaller(left, std::to_string(kStrip)));
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
        const std::string block_end = smaller(rows, def("add i64 {}, {}", block, kReduceBlock));
        loop(block, block_end, [&](const std::string& i) {
          const std::string row = def("and i64 {}, {}", def("sub i64 {}, {}", i, block), kAccumulators - 1);
          vectors(first, last, row_site(i), [&](const Site& at) {
            // Two rows on: each row's strip is a short run on a page of its own.
            prefetch_inputs(at, [&](size_t b) { return def("mul i64 {}, 2", strides_[b][0]); });
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
        // The next row's inputs, while this row's exponentials (from the cache) keep the
        // arithmetic busy; its maximum, a pass bound by memory, then reads the cache.
        prefetch_inputs(at, [&](size_t) -> const std::string& { return length; });
      });
      const std::string sum = combine_accumulators(OpKind::Sum, acc, sum_lanes);
      // log_softmax subtracts log(sum); softmax multiplies by 1 / sum, as the interpreter.
      const std::string scalar(compute_ir(acc));
      const std::string last = log ? traced(acc, 1, {sum}, [](const auto& x) { return math::log(x); })
                                   : def("fdiv {} {}, {}", scalar, float_constant(1.0), sum);
      const std::string operand = splat(scalar, last, lanes_);
      vectors(begin, end, site, [&](const Site& at) {
        const std::string written = load_storage(0, root.dtype, at);
        store_output(def("{} {} {}, {}", log ? "fsub" : "fmul", t, written, operand), acc, at);
      });
      return std::string("1");
    });
  }

  // Asks the cache for the inputs `ahead(b)` elements past the site's first lane in each buffer b
  // the kernel loads (not broadcast ones, which stay cached): the hardware's prefetchers do not
  // see the next row coming where a pass over cached data or a jump to another page comes first.
  // (Linear walks do better without: there they only add work.)
  template <class Ahead>
  void prefetch_inputs(const Site& at, const Ahead& ahead) {
    std::vector<bool> fetched(s_.layouts.size());
    for (const KernelOp& op : s_.ops) {
      if (op.op != OpKind::Load) continue;
      const size_t b = size_t(op.args[0]);
      if (fetched[b] || s_.layouts[b] == Layout::Broadcast) continue;
      fetched[b] = true;
      const std::string at_ahead = def("add i64 {}, {}", at.first[b], ahead(b));
      declare("declare void @llvm.prefetch.p0(ptr, i32, i32, i32)");
      line(format("call void @llvm.prefetch.p0(ptr {}, i32 0, i32 3, i32 1)",
                  def("getelementptr {}, ptr {}, i64 {}", storage_ir(op.in_dtype), data_[b], at_ahead)));
    }
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

  // Rows of the last dim: per row, each buffer's base from the row's index in the outer dims.
  void emit_rows() {
    const int rank = s_.rank;
    const std::string& length = sizes_[size_t(rank - 1)];
    loop("%start", "%end", [&](const std::string& i) {
      const std::string row = def("sdiv i64 {}, {}", i, length);
      const std::string column = def("sub i64 {}, {}", i, def("mul i64 {}, {}", row, length));
      const std::string left_in_row = def("sub i64 {}, {}", length, column);
      const std::string left = def("sub i64 %end, {}", i);
      const std::string run = smaller(left_in_row, left);
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
    // Strided inputs are walked along one reduced dim (reduction_sites).
    const bool walkable = inputs_linear() || s.reduce_rank == 1;
    if (is_arg_reduction(root.op) || !reads_previous || (!by_rows && (s.reduces_leading || !walkable)) ||
        compute_type(s.ops[s.ops.size() - 2].dtype) != compute_type(root.in_dtype))
      return false;
  } else if (!is_elementwise(s.root())) {
    return false;
  }
  const bool elementwise = is_elementwise(root.op);
  for (size_t i = 0; i + (elementwise ? 0 : 1) < s.ops.size(); ++i) {
    const KernelOp& op = s.ops[i];
    if (!detail::supported_op(op.op)) return false;
    if (op.op == OpKind::Div && compute_type(op.dtype) == ComputeType::Int64) return false;
  }
  return true;
}

HCI_RUNTIME_DEF std::string jit::emit_cpu_kernel(const KernelStructure& s, int lanes, const std::string& name) {
  HCI_CHECK(lanes >= 2, "the CPU kernel emitter needs vectors of at least 2 lanes, not {}", lanes);
  // Reductions and row ops: vectors hold whole groups of their accumulator lanes.
  if (!is_elementwise(s.root())) lanes = std::max(lanes, detail::kAccumulators);
  return detail::CpuKernelEmitter(s, lanes).module(name);
}

HCI_RUNTIME_DEF jit::ParamLayout jit::param_layout(const KernelStructure& s) {
  ParamLayout layout;
  const size_t per_buffer = 2 + size_t(s.rank);
  for (size_t b = 0; b < s.layouts.size(); ++b) layout.addresses.push_back(size_t(s.rank) + b * per_buffer);
  layout.slots = size_t(s.rank) + s.layouts.size() * per_buffer + size_t(detail::scalar_count(s));
  if (s.is_reduction()) layout.addresses.push_back(layout.slots++);
  return layout;
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
