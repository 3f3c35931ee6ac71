// A kernel structure as one line of text, and back: GPU code carries it (PTX as a comment), so
// that a reader of the code sees what it computes, and a host emulation of the GPU can rebuild
// the kernel from the code alone. For example, the sum of a float32 row times a scalar:
//
//   hci-kernel 1 rank 2 reduce 1 leading 0 layouts C C ops load/float32/float32/1/-1/-1
//   scalar/float32/float32/0/-1/-1 mul/float32/float32/0/1/-1 sum/float32/float32/2/-1/-1
//
// (one line): format version, ranks, whether the reduced dim leads, each buffer's layout
// (C contiguous, B broadcast, S strided), then each op as name/dtype/operand dtype/args.
#pragma once

#include <hci/kernel.hpp>

#include <string>
#include <string_view>

HCI_BEGIN_NAMESPACE

namespace jit {

HCI_RUNTIME_DECL std::string structure_text(const KernelStructure& s);
// Throws hci::Error naming what is malformed: unknown names, numbers out of range, an operand
// that is not an earlier op.
HCI_RUNTIME_DECL KernelStructure parse_structure_text(std::string_view text);

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>

#include <charconv>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

inline constexpr std::string_view kStructureTextMagic = "hci-kernel";
inline constexpr int kStructureTextVersion = 1;
inline constexpr std::string_view kLayoutLetters = "CBS";  // in Layout's order

}  // namespace jit::detail

HCI_RUNTIME_DEF std::string jit::structure_text(const KernelStructure& s) {
  std::string text = hci::detail::format("{} {} rank {} reduce {} leading {} layouts", detail::kStructureTextMagic,
                                         detail::kStructureTextVersion, s.rank, s.reduce_rank, int(s.reduces_leading));
  for (Layout l : s.layouts) text += hci::detail::format(" {}", detail::kLayoutLetters[size_t(l)]);
  text += " ops";
  for (const KernelOp& op : s.ops)
    text += hci::detail::format(" {}/{}/{}/{}/{}/{}", op_name(op.op), dtype_name(op.dtype), dtype_name(op.in_dtype),
                                op.args[0], op.args[1], op.args[2]);
  return text;
}

HCI_RUNTIME_DEF KernelStructure jit::parse_structure_text(std::string_view text) {
  std::vector<std::string_view> words;
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find(' ', at), text.size());
    if (end > at) words.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  size_t next = 0;
  auto fail = [&](std::string_view what) {
    hci::detail::throw_error("malformed kernel structure text ({}): {}", what, text);
  };
  auto word = [&]() -> std::string_view {
    if (next == words.size()) fail("it ends early");
    return words[next++];
  };
  auto number = [&](std::string_view w, int low, int high) {
    int value = 0;
    const auto [end, error] = std::from_chars(w.data(), w.data() + w.size(), value);
    if (error != std::errc() || end != w.data() + w.size() || value < low || value > high)
      fail(hci::detail::format("'{}' is not a number from {} to {}", w, low, high));
    return value;
  };
  auto expect = [&](std::string_view label) {
    if (word() != label) fail(hci::detail::format("'{}' expected", label));
  };
  auto dtype = [&](std::string_view name) {
    for (int t = 0; t < kNumDTypes; ++t)
      if (dtype_name(DType(t)) == name) return DType(t);
    fail(hci::detail::format("unknown dtype '{}'", name));
    return DType::Bool;
  };

  expect(detail::kStructureTextMagic);
  if (number(word(), 0, 1 << 20) != detail::kStructureTextVersion) fail("another format version");
  KernelStructure s;
  expect("rank");
  s.rank = number(word(), 0, 64);
  expect("reduce");
  s.reduce_rank = number(word(), 0, s.rank);
  expect("leading");
  s.reduces_leading = number(word(), 0, 1) == 1;
  expect("layouts");
  while (next < words.size() && words[next] != "ops") {
    const size_t letter = detail::kLayoutLetters.find(word());
    if (letter == std::string_view::npos || words[next - 1].size() != 1) fail("a layout is C, B or S");
    s.layouts.push_back(Layout(letter));
  }
  expect("ops");
  while (next < words.size()) {
    const std::string_view w = word();
    std::vector<std::string_view> fields;
    for (size_t at = 0; at <= w.size();) {
      const size_t end = std::min(w.find('/', at), w.size());
      fields.push_back(w.substr(at, end - at));
      at = end + 1;
    }
    if (fields.size() != 6) fail(hci::detail::format("'{}' is not name/dtype/dtype/arg/arg/arg", w));
    KernelOp op{};
    bool known = false;
    for (int k = 0; k <= int(OpKind::Argmin) && !known; ++k)
      if (op_name(OpKind(k)) == fields[0]) op.op = OpKind(k), known = true;
    if (!known) fail(hci::detail::format("unknown op '{}'", fields[0]));
    op.dtype = dtype(fields[1]);
    op.in_dtype = dtype(fields[2]);
    for (size_t a = 0; a < 3; ++a) op.args[a] = number(fields[3 + a], -1, 1 << 20);
    // Operands are earlier ops; a leaf's first arg is a buffer or scalar, a gather's first its buffer.
    const int position = int(s.ops.size());
    const bool leaf = op.op == OpKind::Load || op.op == OpKind::Scalar;
    for (int a = leaf ? 3 : (op.op == OpKind::Gather ? 1 : 0); a < std::min(op_arity(op.op), 3); ++a)
      if (op.args[a] < 0 || op.args[a] >= position) fail(hci::detail::format("op {} reads a later value", position));
    if ((op.op == OpKind::Load || op.op == OpKind::Gather) && size_t(op.args[0]) >= s.layouts.size())
      fail(hci::detail::format("op {} reads a buffer past the layouts", position));
    s.ops.push_back(op);
  }
  if (s.ops.empty()) fail("no ops");
  return s;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
