// LLVM IR text for a scheduled kernel on a GPU (NVPTX or AMDGPU): one element per thread.
//
// The kernel is `void @name(i64 %start, i64 %end, ptr %params, ptr %failure)`, launched in blocks of
// any multiple of kGpuBlockGranule threads (up to kGpuBlockSize on AMD GPUs), on any number of
// blocks: a grid-stride loop covers [start, end), counted
// as the host kernel counts it (elements; a reduction's items `output * blocks + block`, each
// written to the scratch array for the host to combine in order; softmax rows; strips of kStrip
// outputs of a reduction over the outer dim, one output per thread; tiles of a matrix product,
// one per block). The parameter block is jit::pack_params's, holding device addresses. The ops are the host emitter's
// (KernelValues), so GPU results agree with the interpreter bit for bit: a reduction keeps the interpreter's 8
// accumulator lanes as 8 neighbouring threads, which combine in its fixed tree through shuffles. Index arithmetic is
// 32-bit where the range allows.
//
// Thread and block indices, shuffles, barriers and the block's shared memory are calls to
// @hci.simt.* functions, which the module defines for its target with the vendor's intrinsics. For the emulated target
// (host code, see jit/simt_emulator.hpp) the kernel takes a fifth parameter, `ptr %simt`, the emulator's state of the
// thread, which the functions read and call back into.
//
// The code carries the kernel's structure (jit::structure_text), naming what it computes: PTX as a
// comment, AMD code objects in their section .hci.structure.
#pragma once

#include <hci/jit/gpu_target.hpp>
#include <hci/jit/ir_builder.hpp>
#include <hci/kernel.hpp>

#include <string>
#include <utility>

HCI_BEGIN_NAMESPACE

namespace jit {

// Whether emit_gpu_kernel handles this structure: what the host emitter does, and matrix
// products.
HCI_RUNTIME_DECL bool gpu_kernel_supported(const KernelStructure& s);
// Whether the kernel can fail (a gather's index out of bounds, an integer fmod or remainder by
// zero): then a thread that fails stores the host kernel's status (kIndexOutOfBounds, ...) to
// the i32 %failure points to, which the launcher zeroes before and reads after the launch.
HCI_RUNTIME_DECL bool gpu_kernel_can_fail(const KernelStructure& s);

// A matrix product (OpKind::Matmul over the iteration space [batch..., M, N, K]) runs in tiles of
// kMatmulTile x kMatmulTile outputs of one matrix, a block of kMatmulThreads threads per tile,
// each thread computing 4 x 4 outputs from kMatmulDepth-deep slices of both operands that the
// block stages in shared memory. Products and sums are in the operands' compute type (float32
// for 16-bit floats, int64 for integers and bool), each output summed over k in order and
// rounded to its dtype once, as the CPU's matmul does (which sums in another order: floats agree
// to rounding, integers exactly).
inline constexpr int kMatmulTile = 64, kMatmulDepth = 16, kMatmulThreads = 256;
// The tiles of a matrix product with these sizes: the items its kernel's range counts.
HCI_RUNTIME_DECL int64_t matmul_tiles(const Dims& sizes);
// The block size a kernel must be launched in: kMatmulThreads for a matrix product's tiles, 0
// where any multiple of kGpuBlockGranule does.
HCI_RUNTIME_DECL int gpu_block_size(const KernelStructure& s);
// The module text defining kernel `name` for `target`, for a structure gpu_kernel_supported takes.
HCI_RUNTIME_DECL std::string emit_gpu_kernel(const KernelStructure& s, const GpuTarget& target,
                                             const std::string& name);

// Threads the kernel gives each item of its range: 8 for a reduction over the inner dims and for
// softmax rows (the interpreter's 8 accumulator lanes), kStrip for the strips of a reduction over
// the outer dim, kMatmulThreads for a matrix product's tiles, 1 for elementwise kernels. A launch needs at most count
// times this many threads.
HCI_RUNTIME_DECL int64_t gpu_threads_per_item(const KernelStructure& s);

namespace detail {
// A call of the function @hci.simt.NAME returning `type`, with `args` ("i32 %a, i32 %b"), as a
// value of `fn`.
HCI_RUNTIME_DECL std::string simt_call(IrBuilder& fn, const GpuTarget& target, std::string_view type,
                                       std::string_view name, std::string_view args = "");
// This thread's first index of a grid-stride loop over [%start, %end), and the step (the
// grid's thread count), as values of `fn`.
HCI_RUNTIME_DECL std::pair<std::string, std::string> grid_stride(IrBuilder& fn, const GpuTarget& target);
// The module of GPU kernel `name` whose body `fn` holds (parameters i64 %start, i64 %end, ptr
// %p, ptr %failure, and for the emulated target ptr %simt), with the definitions of the
// @hci.simt.* functions for the target, shared memory of `shared_bytes` included (at most
// kGpuSharedBytes). `description`, if any, heads PTX as a comment.
HCI_RUNTIME_DECL std::string gpu_module(const IrBuilder& fn, const GpuTarget& target, const std::string& name,
                                        const std::string& description = "", int shared_bytes = 0);
}  // namespace detail

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/jit/emit_cpu.hpp>
#include <hci/jit/kernel_values.hpp>
#include <hci/jit/structure_text.hpp>

#include <algorithm>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// The emulator's state of one thread, which the emulated target's @hci.simt.* functions read
// (jit::SimtThread): five i32 (thread_index, block_index, block_size, block_count, lane_index),
// then at byte 24 and 32 the shuffle and barrier functions, called with the state first, and at
// byte 48 the block's shared memory.
inline std::string emulated_simt_definitions() {
  std::string text;
  const char* fields[] = {"thread_index", "block_index", "block_size", "block_count", "lane_index"};
  for (int i = 0; i < 5; ++i)
    text += format(
        "define internal i32 @hci.simt.{}(ptr %s) alwaysinline nounwind {{\n"
        "  %at = getelementptr i8, ptr %s, i64 {}\n  %r = load i32, ptr %at\n  ret i32 %r\n}}\n",
        fields[i], 4 * i);
  return text +
         "define internal i32 @hci.simt.shuffle(ptr %s, i32 %value, i32 %source, i32 %members) alwaysinline nounwind "
         "{\n"
         "  %at = getelementptr i8, ptr %s, i64 24\n  %f = load ptr, ptr %at\n"
         "  %r = call i32 %f(ptr %s, i32 %value, i32 %source, i32 %members)\n  ret i32 %r\n}\n"
         "define internal void @hci.simt.barrier(ptr %s) alwaysinline nounwind {\n"
         "  %at = getelementptr i8, ptr %s, i64 32\n  %f = load ptr, ptr %at\n  call void %f(ptr %s)\n  ret void\n}\n"
         "define internal ptr @hci.simt.shared(ptr %s) alwaysinline nounwind {\n"
         "  %at = getelementptr i8, ptr %s, i64 48\n  %r = load ptr, ptr %at\n  ret ptr %r\n}\n";
}

// The @hci.simt.* functions for a target: thread_index, block_index, block_size, block_count,
// lane_index (in the warp or wave), shuffle(value, source lane, member mask) and barrier; with
// `shared_bytes`, shared (the block's shared memory, as a generic pointer, which LLVM's address
// space inference turns back into shared loads and stores).
inline std::string simt_definitions(const GpuTarget& t, int shared_bytes) {
  if (t.vendor == GpuTarget::Vendor::Emulated) return emulated_simt_definitions();
  auto fn = [](std::string_view signature, std::string_view body) {
    return format("define internal {} alwaysinline nounwind {{\n{}}}\n", signature, body);
  };
  const std::string shared =
      shared_bytes == 0
          ? ""
          : format("@hci.shared = internal addrspace(3) global [{} x i8] undef, align 16\n", shared_bytes) +
                fn("ptr @hci.simt.shared()", "  ret ptr addrspacecast (ptr addrspace(3) @hci.shared to ptr)\n");
  auto read = [&](std::string_view name, std::string_view intrinsic) {
    return fn(format("i32 @hci.simt.{}()", name), format("  %r = call i32 @{}()\n  ret i32 %r\n", intrinsic));
  };
  const std::string barrier_sig = "void @hci.simt.barrier()";
  const std::string shuffle_sig = "i32 @hci.simt.shuffle(i32 %value, i32 %source, i32 %members)";
  if (t.vendor == GpuTarget::Vendor::Nvidia) {
    return shared + read("thread_index", "llvm.nvvm.read.ptx.sreg.tid.x") +
           read("block_index", "llvm.nvvm.read.ptx.sreg.ctaid.x") +
           read("block_size", "llvm.nvvm.read.ptx.sreg.ntid.x") +
           read("block_count", "llvm.nvvm.read.ptx.sreg.nctaid.x") +
           read("lane_index", "llvm.nvvm.read.ptx.sreg.laneid") +
           fn(shuffle_sig,
              "  %r = call i32 @llvm.nvvm.shfl.sync.idx.i32(i32 %members, i32 %value, i32 %source, i32 31)\n"
              "  ret i32 %r\n") +
           fn(barrier_sig, "  call void @llvm.nvvm.barrier0()\n  ret void\n") +
           "declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()\n"
           "declare i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()\n"
           "declare i32 @llvm.nvvm.read.ptx.sreg.ntid.x()\n"
           "declare i32 @llvm.nvvm.read.ptx.sreg.nctaid.x()\n"
           "declare i32 @llvm.nvvm.read.ptx.sreg.laneid()\n"
           "declare i32 @llvm.nvvm.shfl.sync.idx.i32(i32, i32, i32, i32)\n"
           "declare void @llvm.nvvm.barrier0()\n";
  }
  // AMD: the block size and grid size (in threads) come from the dispatch packet.
  const std::string lane = t.wave == 64 ? "  %low = call i32 @llvm.amdgcn.mbcnt.lo(i32 -1, i32 0)\n"
                                          "  %r = call i32 @llvm.amdgcn.mbcnt.hi(i32 -1, i32 %low)\n"
                                        : "  %r = call i32 @llvm.amdgcn.mbcnt.lo(i32 -1, i32 0)\n";
  const std::string packet_size =
      "  %packet = call ptr addrspace(4) @llvm.amdgcn.dispatch.ptr()\n"
      "  %at = getelementptr i8, ptr addrspace(4) %packet, i64 4\n"
      "  %size16 = load i16, ptr addrspace(4) %at, align 4\n"
      "  %size = zext i16 %size16 to i32\n";
  return shared + read("thread_index", "llvm.amdgcn.workitem.id.x") +
         read("block_index", "llvm.amdgcn.workgroup.id.x") +
         fn("i32 @hci.simt.block_size()", packet_size + "  ret i32 %size\n") +
         fn("i32 @hci.simt.block_count()", packet_size +
                                               "  %grid_at = getelementptr i8, ptr addrspace(4) %packet, i64 12\n"
                                               "  %grid = load i32, ptr addrspace(4) %grid_at, align 4\n"
                                               "  %r = udiv i32 %grid, %size\n  ret i32 %r\n") +
         fn("i32 @hci.simt.lane_index()", lane + "  ret i32 %r\n") +
         fn(shuffle_sig,
            "  %address = shl i32 %source, 2\n"
            "  %r = call i32 @llvm.amdgcn.ds.bpermute(i32 %address, i32 %value)\n  ret i32 %r\n") +
         fn(barrier_sig,
            "  fence syncscope(\"workgroup\") release\n  call void @llvm.amdgcn.s.barrier()\n"
            "  fence syncscope(\"workgroup\") acquire\n  ret void\n") +
         "declare i32 @llvm.amdgcn.workitem.id.x()\n"
         "declare i32 @llvm.amdgcn.workgroup.id.x()\n"
         "declare ptr addrspace(4) @llvm.amdgcn.dispatch.ptr()\n"
         "declare i32 @llvm.amdgcn.mbcnt.lo(i32, i32)\n"
         "declare i32 @llvm.amdgcn.mbcnt.hi(i32, i32)\n"
         "declare i32 @llvm.amdgcn.ds.bpermute(i32, i32)\n"
         "declare void @llvm.amdgcn.s.barrier()\n";
}

class GpuKernelEmitter : KernelValues {
 public:
  GpuKernelEmitter(const KernelStructure& s, const GpuTarget& target) : KernelValues(s, 1), target_(target) {
    inline_helpers_ = true;  // AMD code objects are linked by hci's linker, which takes no calls
    failure_word_ = "%failure";
  }

  std::string module(const std::string& name) {
    start_block("entry");
    read_params();
    // This thread's first index, and the grid's size, in threads.
    std::tie(first_, threads_) = grid_stride(*this, target_);
    if (s_.root() == OpKind::Matmul) {
      const int shared_bytes = emit_tiled_matmul();
      line("ret void");
      return gpu_module(*this, target_, name, structure_text(s_), shared_bytes);
    }
    switch (walk()) {
      case Walk::Rows: emit_softmax(); break;
      case Walk::OuterReduction: emit_reduction_by_rows(); break;
      case Walk::Reduction: emit_reduction(); break;
      case Walk::Linear:
        loop(first_, "%end", [&](const std::string& i) {
          compute(linear_site(i));
          return threads_;
        });
        break;
      case Walk::Strided: emit_strided(); break;
    }
    line("ret void");
    return gpu_module(*this, target_, name, structure_text(s_));
  }

 private:
  std::string simt(std::string_view name) { return simt_call(*this, target_, "i32", name); }

  // Elementwise over strided buffers: each element's offsets from its index in every dim, in
  // 32-bit arithmetic when the range fits (a division per dim is the costly part).
  void emit_strided() {
    const std::string narrow = label(), wide = label(), after = label();
    // Narrow when no index a thread reaches, its last step past the end included, passes INT32_MAX.
    const std::string reach = def("add i64 %end, {}", threads_);
    line(format("br i1 {}, label %{}, label %{}", def("icmp sle i64 {}, {}", reach, INT32_MAX), narrow, wide));
    for (const bool is_narrow : {true, false}) {
      start_block(is_narrow ? narrow : wide);
      const std::string type = is_narrow ? "i32" : "i64";
      auto index = [&](const std::string& v) { return is_narrow ? def("trunc i64 {} to i32", v) : v; };
      std::vector<std::string> sizes(sizes_.size());
      for (size_t d = 0; d < sizes.size(); ++d) sizes[d] = index(sizes_[d]);
      loop(
          index(first_), index("%end"),
          [&](const std::string& i) {
            // The element's index in each dim, innermost first.
            std::vector<std::string> at(sizes.size());
            std::string rest = i;
            for (size_t d = sizes.size(); d-- > 0;) {
              at[d] = d == 0 ? rest : def("urem {} {}, {}", type, rest, sizes[d]);
              if (d > 0) rest = def("udiv {} {}, {}", type, rest, sizes[d]);
              if (is_narrow) at[d] = def("zext i32 {} to i64", at[d]);
            }
            Site site(1);
            for (size_t b = 0; b < s_.layouts.size(); ++b) {
              std::string first = offsets_[b];
              if (s_.layouts[b] != Layout::Broadcast)
                for (size_t d = 0; d < at.size(); ++d)
                  first = def("add i64 {}, {}", first, def("mul i64 {}, {}", at[d], strides_[b][d]));
              site.first.push_back(first);
            }
            compute(site);
            return index(threads_);
          },
          type);
      line("br label %" + after);
    }
    start_block(after);
  }

  // Eight neighbouring threads per item, as the interpreter's 8 accumulator lanes: thread
  // `lane` of item's group takes elements lane, lane + 8, ... of the item's range.
  // `body(item, lane)` runs for each; the range is [start, end) of items.
  void groups_of_eight(const std::function<void(const std::string&, const std::string&)>& body) {
    const std::string first =
        def("add i64 {}, {}", def("mul i64 %start, {}", kAccumulators), def("sub i64 {}, %start", first_));
    loop(first, def("mul i64 %end, {}", kAccumulators), [&](const std::string& t) {
      body(def("lshr i64 {}, 3", t), def("and i64 {}, 7", t));
      return threads_;
    });
  }

  // A value of compute type c from thread `source` of the warp (one i32 shuffle per 32 bits).
  std::string shuffle(const std::string& v, ComputeType c, const std::string& source) {
    const std::string members = group_members();
    auto move32 = [&](const std::string& bits) {
      return simt_call(*this, target_, "i32", "shuffle", format("i32 {}, i32 {}, i32 {}", bits, source, members));
    };
    if (c == ComputeType::Float32) return def("bitcast i32 {} to float", move32(def("bitcast float {} to i32", v)));
    const std::string bits = c == ComputeType::Float64 ? def("bitcast double {} to i64", v) : v;
    const std::string low = move32(def("trunc i64 {} to i32", bits));
    const std::string high = move32(def("trunc i64 {} to i32", def("lshr i64 {}, 32", bits)));
    const std::string joined =
        def("or i64 {}, {}", def("zext i32 {} to i64", low), def("shl i64 {}, 32", def("zext i32 {} to i64", high)));
    return c == ComputeType::Float64 ? def("bitcast i64 {} to double", joined) : joined;
  }
  // The 8 threads of this thread's group, as a warp mask (AMD's shuffle takes none).
  std::string group_members() {
    const std::string lane = simt("lane_index");
    return def("shl i32 255, {}", def("and i32 {}, 24", lane));
  }
  // The group's 8 values combined as the interpreter's tree, (0 1) (2 3) (4 5) (6 7) then pairs
  // of those, in the group's first thread; with `everywhere`, handed to all 8.
  std::string group_tree(OpKind op, ComputeType c, std::string v, bool everywhere) {
    const std::string lane = simt("lane_index");
    for (int distance = 1; distance < kAccumulators; distance *= 2)
      v = combine(op, c, v, shuffle(v, c, def("xor i32 {}, {}", lane, distance)), 1);
    return everywhere ? shuffle(v, c, def("and i32 {}, -8", lane)) : v;
  }

  // A scalar accumulator in a stack slot, starting at the op's identity.
  std::string accumulator(OpKind op, ComputeType c) {
    const std::string slot = alloca_slot(compute_ir(c));
    line(format("store {} {}, ptr {}", compute_ir(c), identity(op, c, 1), slot));
    return slot;
  }
  void accumulate(OpKind op, ComputeType c, const std::string& slot, const std::string& value) {
    const std::string before = def("load {}, ptr {}", compute_ir(c), slot);
    line(format("store {} {}, ptr {}", compute_ir(c), combine(op, c, before, value, 1), slot));
  }
  // for (j = begin + lane; j < end; j += 8) body(j)
  void lane_elements(const std::string& begin, const std::string& end, const std::string& lane,
                     const std::function<void(const std::string&)>& body) {
    loop(def("add i64 {}, {}", begin, lane), end, [&](const std::string& j) {
      body(j);
      return std::to_string(kAccumulators);
    });
  }

  // A reduction over the inner dims, as the host's emit_reduction: each item reduces up to
  // kReduceBlock elements of one output in its group of 8 threads; the first writes the result.
  void emit_reduction() {
    const std::string length = reduced_length();
    const std::string blocks = reduction_blocks(length);
    const std::string scratch = scratch_array();
    const KernelOp& root = s_.ops.back();
    const ComputeType acc = compute_type(root.in_dtype);
    groups_of_eight([&](const std::string& item, const std::string& lane) {
      const auto [output, skipped, count] = reduction_item(item, length, blocks);
      const std::string slot = accumulator(root.op, acc);
      const auto site = reduction_sites(output, length);
      lane_elements(skipped, def("add i64 {}, {}", skipped, count), lane, [&](const std::string& k) {
        accumulate(root.op, acc, slot, compute_values(site(k), s_.ops.size() - 1));
      });
      const std::string value = group_tree(root.op, acc, def("load {}, ptr {}", compute_ir(acc), slot), false);
      if_true(def("icmp eq i64 {}, 0", lane), [&] {
        line(format("store {} {}, ptr {}", compute_ir(acc), value,
                    def("getelementptr {}, ptr {}, i64 {}", compute_ir(acc), scratch, item)));
      });
    });
  }

  // A reduction over the outer dim of a matrix, one thread per output (column) of the range's
  // strips of kStrip outputs: per block of kReduceBlock rows, row i into accumulator
  // (i - block start) % 8, the 8 combined as the tree, the blocks in order, as the interpreter's
  // run_reduction_by_rows. Neighbouring threads read neighbouring columns of a row.
  void emit_reduction_by_rows() {
    const std::string& rows = sizes_[0];
    const KernelOp& root = s_.ops.back();
    const ComputeType acc = compute_type(root.in_dtype);
    const std::string t = std::string(compute_ir(acc));
    const std::string scratch = scratch_array();
    const std::string first =
        def("add i64 {}, {}", def("mul i64 %start, {}", kStrip), def("sub i64 {}, %start", first_));
    const std::string end = smaller(def("mul i64 %end, {}", kStrip), sizes_[1]);
    loop(first, end, [&](const std::string& column) {
      auto value_at = [&](const std::string& row) {
        Site at(1);
        for (size_t b = 0; b < s_.layouts.size(); ++b)
          at.first.push_back(s_.layouts[b] == Layout::Broadcast
                                 ? offsets_[b]
                                 : def("add i64 {}, {}",
                                       def("add i64 {}, {}", offsets_[b], def("mul i64 {}, {}", row, strides_[b][0])),
                                       def("mul i64 {}, {}", column, strides_[b][1])));
        return compute_values(at, s_.ops.size() - 1);
      };
      const std::string total = alloca_slot(t);
      loop("0", rows, [&](const std::string& block) {
        std::vector<std::string> slots(kAccumulators);
        for (std::string& slot : slots) slot = accumulator(root.op, acc);
        const std::string block_end = smaller(rows, def("add i64 {}, {}", block, kReduceBlock));
        const std::string whole_end =
            def("add i64 {}, {}", block, def("and i64 {}, -8", def("sub i64 {}, {}", block_end, block)));
        loop(block, whole_end, [&](const std::string& i) {
          for (int k = 0; k < kAccumulators; ++k)
            accumulate(root.op, acc, slots[size_t(k)], value_at(def("add i64 {}, {}", i, k)));
          return std::to_string(kAccumulators);
        });
        for (int k = 0; k + 1 < kAccumulators; ++k) {  // the block's last rows, fewer than 8
          const std::string row = def("add i64 {}, {}", whole_end, k);
          if_true(def("icmp slt i64 {}, {}", row, block_end),
                  [&] { accumulate(root.op, acc, slots[size_t(k)], value_at(row)); });
        }
        std::vector<std::string> level(kAccumulators);
        for (int k = 0; k < kAccumulators; ++k) level[size_t(k)] = def("load {}, ptr {}", t, slots[size_t(k)]);
        for (size_t n = level.size(); n > 1; n /= 2)
          for (size_t k = 0; k < n / 2; ++k) level[k] = combine(root.op, acc, level[2 * k], level[2 * k + 1], 1);
        const std::string running = combine(root.op, acc, def("load {}, ptr {}", t, total), level[0], 1);
        line(format("store {} {}, ptr {}", t,
                    def("select i1 {}, {} {}, {} {}", def("icmp eq i64 {}, 0", block), t, level[0], t, running),
                    total));
        return std::to_string(kReduceBlock);
      });
      line(format("store {} {}, ptr {}", t, def("load {}, ptr {}", t, total),
                  def("getelementptr {}, ptr {}, i64 {}", t, scratch, column)));
      return threads_;
    });
  }

  // softmax and log_softmax as the host's emit_softmax, one row per group of 8 threads: the
  // maximum and the sum combine over the row in the group's 8 lanes and tree; each thread writes
  // and then rescales its own elements.
  void emit_softmax() {
    const std::string length = reduced_length();
    const KernelOp& root = s_.ops.back();
    const bool log = root.op == OpKind::LogSoftmax;
    const ComputeType acc = compute_type(root.dtype);
    const std::string t = std::string(compute_ir(acc));
    const size_t count = s_.ops.size() - 1;
    groups_of_eight([&](const std::string& row, const std::string& lane) {
      const std::string begin = def("mul i64 {}, {}", row, length), end = def("add i64 {}, {}", begin, length);
      const std::string max_slot = accumulator(OpKind::Amax, acc);
      lane_elements(begin, end, lane, [&](const std::string& j) {
        accumulate(OpKind::Amax, acc, max_slot, compute_values(linear_site(j), count));
      });
      const std::string max = group_tree(OpKind::Amax, acc, def("load {}, ptr {}", t, max_slot), true);
      const std::string sum_slot = accumulator(OpKind::Sum, acc);
      lane_elements(begin, end, lane, [&](const std::string& j) {
        const Site at = linear_site(j);
        const std::string shifted = def("fsub {} {}, {}", t, compute_values(at, count), max);
        const std::string e = traced(acc, 1, {shifted}, [](const auto& x) { return math::exp(x); });
        store_output(log ? shifted : e, acc, at);
        accumulate(OpKind::Sum, acc, sum_slot, e);
      });
      const std::string sum = group_tree(OpKind::Sum, acc, def("load {}, ptr {}", t, sum_slot), true);
      // log_softmax subtracts log(sum); softmax multiplies by 1 / sum, as the interpreter.
      const std::string operand = log ? traced(acc, 1, {sum}, [](const auto& x) { return math::log(x); })
                                      : def("fdiv {} {}, {}", t, float_constant(1.0), sum);
      lane_elements(begin, end, lane, [&](const std::string& j) {
        const Site at = linear_site(j);
        const std::string written = load_storage(0, root.dtype, at);
        store_output(def("{} {} {}, {}", log ? "fsub" : "fmul", t, written, operand), acc, at);
      });
    });
  }

  // A matrix product in tiles (see kMatmulTile). The block's threads take its tiles in turn, all
  // of them the same tiles, so that the barriers are the whole block's. Thread (ty, tx) of the
  // 16 x 16 computes rows ty + 16 i and columns tx + 16 j of the tile (i, j < 4), whose
  // neighbouring threads then read neighbouring columns of B's slice. Per slice of kMatmulDepth
  // along k, the block stages its rows of A k-major (a thread's 4 rows at one k side by side; a
  // column of padding spreads the staging writes over the memory banks) and its columns of B as
  // they are, elements past the matrix as 0. The barrier after the products keeps the next
  // slice from overwriting one still being read. Returns the shared memory used, in bytes.
  int emit_tiled_matmul() {
    constexpr int side = 16, per_thread = kMatmulTile / side;
    constexpr int staged = kMatmulTile * kMatmulDepth / kMatmulThreads, a_pitch = kMatmulTile + 1;
    static_assert(side * side == kMatmulThreads && staged * kMatmulThreads == kMatmulTile * kMatmulDepth);
    const KernelOp& root = s_.ops.back();
    const size_t lhs = size_t(s_.ops[size_t(root.args[0])].args[0]);
    const size_t rhs = size_t(s_.ops[size_t(root.args[1])].args[0]);
    const ComputeType c = compute_type(root.dtype);  // the operands are loads of root.dtype
    const std::string t(compute_ir(c));
    const bool floating = c != ComputeType::Int64;
    const size_t batch_rank = sizes_.size() - 3;
    const std::string &rows = sizes_[batch_rank], &columns = sizes_[batch_rank + 1], &depth = sizes_[batch_rank + 2];
    enum Dim { M, N, K };
    auto stride = [&](size_t b, Dim d) -> const std::string& { return strides_[b][batch_rank + size_t(d)]; };
    auto add = [&](const std::string& a, const std::string& b) { return def("add i64 {}, {}", a, b); };
    auto mul = [&](const std::string& a, const auto& b) { return def("mul i64 {}, {}", a, b); };
    auto below = [&](const std::string& a, const std::string& b) { return def("icmp slt i64 {}, {}", a, b); };
    auto both = [&](const std::string& a, const std::string& b) { return def("and i1 {}, {}", a, b); };
    auto element = [&](const std::string& tile, const std::string& at) {
      return def("getelementptr {}, ptr {}, i64 {}", t, tile, at);
    };

    const std::string a_tile = simt_call(*this, target_, "ptr", "shared");
    const std::string b_tile = element(a_tile, std::to_string(kMatmulDepth * a_pitch));
    const std::string thread = def("zext i32 {} to i64", simt("thread_index"));
    const std::string ty = def("udiv i64 {}, {}", thread, side), tx = def("urem i64 {}, {}", thread, side);
    auto tiles_along = [&](const std::string& extent) {
      return def("udiv i64 {}, {}", add(extent, std::to_string(kMatmulTile - 1)), kMatmulTile);
    };
    const std::string tiles_n = tiles_along(columns), per_matrix = mul(tiles_along(rows), tiles_n);
    std::vector<std::string> sums(per_thread * per_thread);
    for (std::string& sum : sums) sum = alloca_slot(t);
    // Operand b's element (i, j) of the matrix at `base`, as the compute type; 0 outside the
    // matrix, where the load reads the matrix's first element instead.
    auto operand = [&](size_t b, const std::string& base, const std::string& i, Dim di, const std::string& j, Dim dj,
                       const std::string& inside) {
      Site site(1);
      site.first.assign(s_.layouts.size(), base);
      site.first[b] = def("select i1 {}, i64 {}, i64 {}", inside,
                          add(add(base, mul(i, stride(b, di))), mul(j, stride(b, dj))), base);
      const std::string v = from_storage(load_storage(b, root.dtype, site), root.dtype, 1);
      return def("select i1 {}, {} {}, {} {}", inside, t, v, t, constant(c, 0, 1));
    };

    const std::string first = add("%start", def("zext i32 {} to i64", simt("block_index")));
    loop(first, "%end", [&](const std::string& item) {
      const std::string tile = def("urem i64 {}, {}", item, per_matrix);
      const std::string row0 = mul(def("udiv i64 {}, {}", tile, tiles_n), kMatmulTile);
      const std::string column0 = mul(def("urem i64 {}, {}", tile, tiles_n), kMatmulTile);
      // Each buffer's offset of the item's matrix of the batch.
      std::vector<std::string> base = offsets_;
      std::string rest = def("udiv i64 {}, {}", item, per_matrix);
      for (size_t d = batch_rank; d-- > 0;) {
        const std::string index = d == 0 ? rest : def("urem i64 {}, {}", rest, sizes_[d]);
        if (d > 0) rest = def("udiv i64 {}, {}", rest, sizes_[d]);
        for (size_t b = 0; b < base.size(); ++b) base[b] = add(base[b], mul(index, strides_[b][d]));
      }
      for (const std::string& sum : sums) line(format("store {} {}, ptr {}", t, constant(c, 0, 1), sum));
      loop("0", depth, [&](const std::string& k0) {
        for (int r = 0; r < staged; ++r) {
          const std::string e = add(thread, std::to_string(r * kMatmulThreads));
          // A's (m, k) with k fastest, as A's rows are usually contiguous; B's (k, n) with n fastest.
          const std::string am = def("udiv i64 {}, {}", e, kMatmulDepth), ak = def("urem i64 {}, {}", e, kMatmulDepth);
          const std::string a_row = add(row0, am), a_k = add(k0, ak);
          const std::string a = operand(lhs, base[lhs], a_row, M, a_k, K, both(below(a_row, rows), below(a_k, depth)));
          line(format("store {} {}, ptr {}", t, a, element(a_tile, add(mul(ak, a_pitch), am))));
          const std::string bk = def("udiv i64 {}, {}", e, kMatmulTile), bn = def("urem i64 {}, {}", e, kMatmulTile);
          const std::string b_k = add(k0, bk), b_column = add(column0, bn);
          const std::string b =
              operand(rhs, base[rhs], b_k, K, b_column, N, both(below(b_k, depth), below(b_column, columns)));
          line(format("store {} {}, ptr {}", t, b, element(b_tile, add(mul(bk, kMatmulTile), bn))));
        }
        barrier();
        loop("0", std::to_string(kMatmulDepth), [&](const std::string& k) {
          std::vector<std::string> a(per_thread), b(per_thread);
          for (int i = 0; i < per_thread; ++i) {
            a[size_t(i)] =
                def("load {}, ptr {}", t, element(a_tile, add(mul(k, a_pitch), add(ty, std::to_string(side * i)))));
            b[size_t(i)] =
                def("load {}, ptr {}", t, element(b_tile, add(mul(k, kMatmulTile), add(tx, std::to_string(side * i)))));
          }
          for (int i = 0; i < per_thread; ++i)
            for (int j = 0; j < per_thread; ++j) {
              const std::string& sum = sums[size_t(i) * per_thread + size_t(j)];
              const std::string product = def("{} {} {}, {}", floating ? "fmul" : "mul", t, a[size_t(i)], b[size_t(j)]);
              line(format("store {} {}, ptr {}", t,
                          def("{} {} {}, {}", floating ? "fadd" : "add", t, def("load {}, ptr {}", t, sum), product),
                          sum));
            }
          return std::string("1");
        });
        barrier();
        return std::to_string(kMatmulDepth);
      });
      for (int i = 0; i < per_thread; ++i)
        for (int j = 0; j < per_thread; ++j) {
          const std::string row = add(row0, add(ty, std::to_string(side * i)));
          const std::string column = add(column0, add(tx, std::to_string(side * j)));
          if_true(both(below(row, rows), below(column, columns)), [&] {
            Site site(1);
            site.first.assign(s_.layouts.size(), base[0]);
            site.first[0] = add(base[0], add(mul(row, stride(0, M)), mul(column, stride(0, N))));
            store_output(def("load {}, ptr {}", t, sums[size_t(i) * per_thread + size_t(j)]), c, site);
          });
        }
      return def("zext i32 {} to i64", simt("block_count"));
    });
    return (kMatmulDepth * a_pitch + kMatmulDepth * kMatmulTile) * (c == ComputeType::Float32 ? 4 : 8);
  }

  void barrier() {
    line(format("call void @hci.simt.barrier({})", target_.vendor == GpuTarget::Vendor::Emulated ? "ptr %simt" : ""));
  }

  // if (condition) body()
  void if_true(const std::string& condition, const std::function<void()>& body) {
    const std::string then = label(), after = label();
    line(format("br i1 {}, label %{}, label %{}", condition, then, after));
    start_block(then);
    body();
    line("br label %" + after);
    start_block(after);
  }

  const GpuTarget& target_;
  std::string first_, threads_;  // %start plus this thread's index in the grid; the grid's size
};

}  // namespace jit::detail

HCI_RUNTIME_DEF std::string jit::detail::simt_call(IrBuilder& fn, const GpuTarget& target, std::string_view type,
                                                   std::string_view name, std::string_view args) {
  const bool emulated = target.vendor == GpuTarget::Vendor::Emulated;
  const std::string all = emulated ? format("ptr %simt{}{}", args.empty() ? "" : ", ", args) : std::string(args);
  return fn.def("call {} @hci.simt.{}({})", type, name, all);
}

HCI_RUNTIME_DEF std::pair<std::string, std::string> jit::detail::grid_stride(IrBuilder& fn, const GpuTarget& target) {
  auto read = [&](std::string_view name) { return fn.def("zext i32 {} to i64", simt_call(fn, target, "i32", name)); };
  const std::string block = read("block_index"), size = read("block_size");
  const std::string thread = fn.def("add i64 {}, {}", fn.def("mul i64 {}, {}", block, size), read("thread_index"));
  return {fn.def("add i64 %start, {}", thread), fn.def("mul i64 {}, {}", read("block_count"), size)};
}

HCI_RUNTIME_DEF std::string jit::detail::gpu_module(const IrBuilder& fn, const GpuTarget& target,
                                                    const std::string& name, const std::string& description,
                                                    int shared_bytes) {
  HCI_CHECK(shared_bytes >= 0 && shared_bytes <= kGpuSharedBytes,
            "a GPU kernel may use up to {} bytes of shared memory, not {}", kGpuSharedBytes, shared_bytes);
  const bool nvidia = target.vendor == GpuTarget::Vendor::Nvidia, amd = target.vendor == GpuTarget::Vendor::Amd;
  std::string tail = format("attributes #0 = {{ nounwind \"no-builtins\" {}}}\n",
                            amd ? format("\"amdgpu-flat-work-group-size\"=\"1,{}\" ", kGpuBlockSize) : "");
  if (amd)
    tail += format("!llvm.module.flags = !{{!0}}\n!0 = !{{i32 1, !\"amdhsa_code_object_version\", i32 {}}}\n",
                   kAmdCodeObjectVersion * 100);
  // The description travels with the code: a comment in PTX, a read-only section of AMD code
  // objects (a few hundred bytes the GPU never reads).
  std::string head;
  if (nvidia && !description.empty()) head = format("module asm \"// {}\"\n", description);
  if (amd && !description.empty())
    head = format(
        "module asm \".pushsection .hci.structure,\\22a\\22,@progbits\"\n"
        "module asm \".asciz \\22{}\\22\"\nmodule asm \".popsection\"\n",
        description);
  const std::string convention = nvidia ? "ptx_kernel " : amd ? "amdgpu_kernel " : "";
  const std::string simt = amd || nvidia ? "" : ", ptr %simt";
  return head +
         fn.function(format("{}void @{}(i64 %start, i64 %end, ptr noalias nocapture readonly %p, ptr %failure{}) #0",
                            convention, name, simt),
                     tail) +
         "\n" + simt_definitions(target, shared_bytes);
}

namespace jit::detail {
// A matrix product of two loads of the output's dtype, as the CPU's matmul takes it.
inline bool is_matmul_of_loads(const KernelStructure& s) {
  if (s.root() != OpKind::Matmul || s.rank < 3) return false;
  const KernelOp& root = s.ops.back();
  for (const int32_t arg : {root.args[0], root.args[1]}) {
    if (arg < 0 || size_t(arg) + 1 >= s.ops.size()) return false;
    const KernelOp& load = s.ops[size_t(arg)];
    if (load.op != OpKind::Load || load.dtype != root.dtype || load.in_dtype != root.dtype) return false;
  }
  return true;
}
}  // namespace jit::detail

HCI_RUNTIME_DEF bool jit::gpu_kernel_supported(const KernelStructure& s) {
  return cpu_kernel_supported(s) || detail::is_matmul_of_loads(s);
}

HCI_RUNTIME_DEF int64_t jit::matmul_tiles(const Dims& sizes) {
  if (sizes.size() < 3) return 0;
  const size_t batch_rank = sizes.size() - 3;
  int64_t tiles = 1;
  for (size_t d = 0; d < batch_rank; ++d) tiles *= sizes[d];
  auto across = [](int64_t extent) { return (extent + kMatmulTile - 1) / kMatmulTile; };
  return tiles * across(sizes[batch_rank]) * across(sizes[batch_rank + 1]);
}

HCI_RUNTIME_DEF int jit::gpu_block_size(const KernelStructure& s) {
  return s.root() == OpKind::Matmul ? kMatmulThreads : 0;
}

HCI_RUNTIME_DEF bool jit::gpu_kernel_can_fail(const KernelStructure& s) {
  return std::any_of(s.ops.begin(), s.ops.end(), [](const KernelOp& op) {
    return op.op == OpKind::Gather ||
           ((op.op == OpKind::Fmod || op.op == OpKind::Remainder) && compute_type(op.dtype) == ComputeType::Int64);
  });
}

HCI_RUNTIME_DEF int64_t jit::gpu_threads_per_item(const KernelStructure& s) {
  if (s.root() == OpKind::Matmul) return kMatmulThreads;
  if (s.is_row_wise() || (s.is_reduction() && !s.reduces_leading)) return detail::kAccumulators;
  return s.is_reduction() ? detail::kStrip : 1;
}

HCI_RUNTIME_DEF std::string jit::emit_gpu_kernel(const KernelStructure& s, const GpuTarget& target,
                                                 const std::string& name) {
  HCI_CHECK(gpu_kernel_supported(s), "the GPU kernel emitter does not handle this kernel ({})", op_name(s.root()));
  return detail::GpuKernelEmitter(s, target).module(name);
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
