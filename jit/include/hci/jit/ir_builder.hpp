// Text of one LLVM IR function under construction: numbered values, blocks, declarations of the
// intrinsics it calls, and the IR spelling of types and constants. Kernel emitters and the
// symbolic values of jit/symbolic.hpp append to it.
#pragma once

#include <hci/error.hpp>

#include <bit>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

using hci::detail::format;

class IrBuilder {
 public:
  void line(const std::string& text) { body_ += "  " + text + "\n"; }
  // Appends `%tN = <instruction>` and returns %tN.
  template <class... A>
  std::string def(fmt::format_string<A...> f, const A&... args) {
    std::string name = format("%t{}", next_++);
    line(name + " = " + hci::detail::vformat_string(f, fmt::make_format_args(args...)));
    return name;
  }
  std::string label() { return format("L{}", next_label_++); }
  void start_block(const std::string& l) { body_ += l + ":\n"; }
  // A stack slot in the entry block (mem2reg turns it into SSA values).
  std::string alloca_slot(std::string_view type) {
    const std::string name = format("%c{}", next_slot_++);
    allocas_ += format("  {} = alloca {}\n", name, type);
    return name;
  }
  // A declaration (or a helper function's definition) the module needs, once.
  void declare(const std::string& d) {
    for (const std::string& x : declarations_)
      if (x == d) return;
    declarations_.push_back(d);
  }
  // `call type @name(type arg, ...)` of an intrinsic taking and returning `type`.
  std::string call_intrinsic(const std::string& name, const std::string& type, const std::vector<std::string>& args) {
    std::string params, values;
    for (size_t i = 0; i < args.size(); ++i) {
      params += format("{}{}", i ? ", " : "", type);
      values += format("{}{} {}", i ? ", " : "", type, args[i]);
    }
    declare(format("declare {} @{}({})", type, name, params));
    return def("call {} @{}({})", type, name, values);
  }

  // for (i = begin; i < end; i += step), i of the integer type `type`: body returns the step (it
  // may add blocks).
  void loop(const std::string& begin, const std::string& end,
            const std::function<std::string(const std::string&)>& body, std::string_view type = "i64") {
    // Counters live in memory until mem2reg makes them SSA, so loops need no phi bookkeeping.
    const std::string counter = alloca_slot(type);
    line(format("store {} {}, ptr {}", type, begin, counter));
    const std::string head = label(), inside = label(), after = label();
    line("br label %" + head);
    start_block(head);
    const std::string i = def("load {}, ptr {}", type, counter);
    const std::string more = def("icmp slt {} {}, {}", type, i, end);
    line(format("br i1 {}, label %{}, label %{}", more, inside, after));
    start_block(inside);
    const std::string step = body(i);
    line(format("store {} {}, ptr {}", type, def("add {} {}, {}", type, i, step), counter));
    line("br label %" + head);
    start_block(after);
  }

  // The function `define <signature> { body }`.
  std::string definition(const std::string& signature) const {
    // Stack slots go first in the entry block, whose label is the body's first line.
    const size_t first_line = body_.find('\n') + 1;
    return "define " + signature + " {\n" + body_.substr(0, first_line) + allocas_ + body_.substr(first_line) + "}\n";
  }
  // What the function declares (and defines besides itself), one entry per line.
  const std::vector<std::string>& declarations() const { return declarations_; }
  // The function followed by its declarations and `attributes`: a module.
  std::string function(const std::string& signature, const std::string& attributes) const {
    std::string text = definition(signature) + "\n";
    for (const std::string& d : declarations_) text += d + "\n";
    return text + attributes;
  }

  // -- spelling of types and constants ------------------------------------------------------
  static std::string vec(std::string_view scalar, int lanes) {
    return lanes == 1 ? std::string(scalar) : format("<{} x {}>", lanes, scalar);
  }
  // A constant of every lane: `value` is the scalar's IR text.
  static std::string splat_constant(std::string_view scalar, const std::string& value, int lanes) {
    if (lanes == 1) return value;
    std::string text = "<";
    for (int i = 0; i < lanes; ++i) text += format("{}{} {}", i ? ", " : "", scalar, value);
    return text + ">";
  }
  // IR writes float and double constants alike as the double's bits.
  static std::string float_constant(double v) { return format("0x{:016X}", std::bit_cast<uint64_t>(v)); }
  // The type part of an overloaded intrinsic's name: f32, v16f32, v16i8, ...
  static std::string overload_suffix(std::string_view scalar, int lanes) {
    const std::string element = scalar == "float" ? "f32" : scalar == "double" ? "f64" : std::string(scalar);
    return lanes == 1 ? element : format("v{}{}", lanes, element);
  }
  // A scalar value in every lane.
  std::string splat(std::string_view scalar, const std::string& value, int lanes) {
    if (lanes == 1) return value;
    const std::string v = vec(scalar, lanes);
    const std::string one = def("insertelement {} poison, {} {}, i64 0", v, scalar, value);
    return def("shufflevector {} {}, {} poison, <{} x i32> zeroinitializer", v, one, v, lanes);
  }

 private:
  std::string body_, allocas_;
  std::vector<std::string> declarations_;
  int next_ = 0, next_label_ = 0, next_slot_ = 0;
};

}  // namespace jit::detail

HCI_END_NAMESPACE
