// Symbolic values: running hci's generic math library (math/value.hpp) on Sym<T> instead of T
// appends each operation it performs to an IR function, so the compiled kernel does exactly
// what the interpreter does, operation for operation, and the two agree bit for bit.
//
// A Sym<T> names an IR value of `lanes` elements of T (float, double, int32_t, int64_t, or bool
// for masks). The function and the lane count being traced are the thread's current Trace, so
// that constants written as V(1.5) in the generic code know where they go.
#pragma once

#include <hci/jit/ir_builder.hpp>
#include <hci/math/value.hpp>

#include <concepts>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// Where traced portable kernels go when they fail, blocks their wrapper defines: an index
// outside a buffer (status 1) and an integer division by zero (status 2).
inline constexpr std::string_view kOutOfBounds = "hci.out_of_bounds";
inline constexpr std::string_view kDivisionByZero = "hci.division_by_zero";

// The function being traced into, and how many lanes each value has.
class Trace {
 public:
  Trace(IrBuilder& ir, int lanes) : ir_(ir), lanes_(lanes), outer_(current_) { current_ = this; }
  ~Trace() { current_ = outer_; }
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  static Trace& current() {
    if (!current_) hci::detail::throw_error("a symbolic value was used outside a Trace");
    return *current_;
  }
  IrBuilder& ir() const { return ir_; }
  int lanes() const { return lanes_; }

 private:
  IrBuilder& ir_;
  int lanes_;
  Trace* outer_;
  static inline thread_local Trace* current_ = nullptr;
};

template <class T>
constexpr std::string_view ir_scalar() {
  if constexpr (std::is_same_v<T, float>)
    return "float";
  else if constexpr (std::is_same_v<T, double>)
    return "double";
  else if constexpr (std::is_same_v<T, int32_t>)
    return "i32";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "i64";
  else
    return "i1";
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                std::is_same_v<T, int64_t> || std::is_same_v<T, bool>);
}

template <class T>
class Sym {
  static constexpr bool kFloat = std::is_floating_point_v<T>;
  static constexpr bool kMask = std::is_same_v<T, bool>;

 public:
  using Scalar = T;

  // An IR value already defined, such as a kernel argument.
  static Sym value(std::string name) {
    Sym s;
    s.name_ = std::move(name);
    return s;
  }
  // A constant in every lane. Explicit for floats, so that generic code cannot mix in a plain
  // double where a plain float would compute differently.
  explicit(kFloat) Sym(T constant) {
    std::string text;
    if constexpr (kFloat)
      text = IrBuilder::float_constant(double(constant));
    else if constexpr (kMask)
      text = constant ? "true" : "false";
    else
      text = std::to_string(constant);
    name_ = IrBuilder::splat_constant(ir_scalar<T>(), text, Trace::current().lanes());
  }

  const std::string& ir() const { return name_; }
  static std::string type() { return IrBuilder::vec(ir_scalar<T>(), Trace::current().lanes()); }

  // -- arithmetic ---------------------------------------------------------------------------
  friend Sym operator+(const Sym& a, const Sym& b) { return op(kFloat ? "fadd" : "add", a, b); }
  friend Sym operator-(const Sym& a, const Sym& b) { return op(kFloat ? "fsub" : "sub", a, b); }
  friend Sym operator*(const Sym& a, const Sym& b) { return op(kFloat ? "fmul" : "mul", a, b); }
  friend Sym operator/(const Sym& a, const Sym& b)
    requires kFloat
  {
    return op("fdiv", a, b);
  }
  // Integer division and remainder as C++'s (truncating), in a traced function that defines the
  // block kDivisionByZero: a zero divisor goes there rather than trap; INT_MIN / -1 wraps.
  friend Sym operator/(const Sym& a, const Sym& b)
    requires(!kFloat && !kMask)
  {
    return divide("sdiv", a, b);
  }
  friend Sym operator%(const Sym& a, const Sym& b)
    requires(!kFloat && !kMask)
  {
    return divide("srem", a, b);
  }
  friend Sym operator-(const Sym& a) {
    if constexpr (kFloat)
      return value(builder().def("fneg {} {}", type(), a.name_));
    else
      return Sym(T(0)) - a;
  }
  // Bitwise on integers, logical on masks.
  friend Sym operator&(const Sym& a, const Sym& b)
    requires(!kFloat)
  {
    return op("and", a, b);
  }
  friend Sym operator|(const Sym& a, const Sym& b)
    requires(!kFloat)
  {
    return op("or", a, b);
  }
  friend Sym operator^(const Sym& a, const Sym& b)
    requires(!kFloat)
  {
    return op("xor", a, b);
  }
  friend Sym operator~(const Sym& a)
    requires(!kFloat && !kMask)
  {
    return a ^ Sym(T(-1));
  }
  friend Sym operator!(const Sym& a)
    requires kMask
  {
    return a ^ Sym(true);
  }
  // Shifts as C++'s on signed integers: arithmetic to the right.
  friend Sym operator<<(const Sym& a, const Sym& b)
    requires(!kFloat && !kMask)
  {
    return op("shl", a, b);
  }
  friend Sym operator>>(const Sym& a, const Sym& b)
    requires(!kFloat && !kMask)
  {
    return op("ashr", a, b);
  }

  // With a plain value of exactly T on the other side (a portable kernel's `x * 2.0f`); other
  // types must be converted first, so that traced and plain code compute alike.
#define HCI_SYM_MIXED(op)                      \
  template <class U>                           \
    requires std::same_as<U, T>                \
  friend auto operator op(const Sym& a, U b) { \
    return a op Sym(b);                        \
  }                                            \
  template <class U>                           \
    requires std::same_as<U, T>                \
  friend auto operator op(U a, const Sym& b) { \
    return Sym(a) op b;                        \
  }
  HCI_SYM_MIXED(+)
  HCI_SYM_MIXED(-)
  HCI_SYM_MIXED(*)
  HCI_SYM_MIXED(/)
  HCI_SYM_MIXED(%)
  HCI_SYM_MIXED(==)
  HCI_SYM_MIXED(!=)
  HCI_SYM_MIXED(<)
  HCI_SYM_MIXED(<=)
  HCI_SYM_MIXED(>)
  HCI_SYM_MIXED(>=)
#undef HCI_SYM_MIXED

  // -- comparisons: ordered on floats (false with a NaN) except !=, as C++'s; masks compare as
  // unsigned (false < true), where a signed i1 would make true -1 ------------------------------
  friend Sym<bool> operator==(const Sym& a, const Sym& b) { return compare(kFloat ? "oeq" : "eq", a, b); }
  friend Sym<bool> operator!=(const Sym& a, const Sym& b) { return compare(kFloat ? "une" : "ne", a, b); }
  friend Sym<bool> operator<(const Sym& a, const Sym& b) {
    return compare(kFloat ? "olt" : kMask ? "ult" : "slt", a, b);
  }
  friend Sym<bool> operator<=(const Sym& a, const Sym& b) {
    return compare(kFloat ? "ole" : kMask ? "ule" : "sle", a, b);
  }
  friend Sym<bool> operator>(const Sym& a, const Sym& b) {
    return compare(kFloat ? "ogt" : kMask ? "ugt" : "sgt", a, b);
  }
  friend Sym<bool> operator>=(const Sym& a, const Sym& b) {
    return compare(kFloat ? "oge" : kMask ? "uge" : "sge", a, b);
  }

  // -- conversions ----------------------------------------------------------------------------
  // `instruction` (bitcast, fptosi, fpext, ...) of this value to Sym<U>.
  template <class U>
  Sym<U> convert(std::string_view instruction) const {
    return Sym<U>::value(builder().def("{} {} {} to {}", instruction, type(), name_, Sym<U>::type()));
  }

 private:
  Sym() = default;
  static IrBuilder& builder() { return Trace::current().ir(); }
  static Sym op(std::string_view instruction, const Sym& a, const Sym& b) {
    return value(builder().def("{} {} {}, {}", instruction, type(), a.name_, b.name_));
  }
  static Sym divide(std::string_view instruction, const Sym& a, const Sym& b) {
    IrBuilder& ir = builder();
    const std::string ok = ir.label();
    ir.line(hci::detail::format("br i1 {}, label %{}, label %{}", (b == Sym(T(0))).ir(), kDivisionByZero, ok));
    ir.start_block(ok);
    const Sym<bool> minus_one = b == Sym(T(-1));
    const Sym safe = choose(minus_one, Sym(T(1)), b);
    const Sym wrapped = instruction == "sdiv" ? Sym(T(0)) - a : Sym(T(0));  // what -1 divides to
    return choose(minus_one, wrapped, op(instruction, a, safe));
  }
  static Sym choose(const Sym<bool>& mask, const Sym& a, const Sym& b) {
    return value(
        builder().def("select {} {}, {} {}, {} {}", Sym<bool>::type(), mask.ir(), type(), a.ir(), type(), b.ir()));
  }
  static Sym<bool> compare(std::string_view cc, const Sym& a, const Sym& b) {
    return Sym<bool>::value(builder().def("{} {} {} {}, {}", kFloat ? "fcmp" : "icmp", cc, type(), a.name_, b.name_));
  }

  std::string name_;
};

}  // namespace jit::detail

// Symbolic floats and doubles as value types of the math library.
template <class T>
  requires std::is_floating_point_v<T>
struct math::ValueTraits<jit::detail::Sym<T>> {
  template <class U>
  using Sym = jit::detail::Sym<U>;
  using V = Sym<T>;
  using Scalar = T;
  using Bits = Sym<typename FloatTraits<T>::Bits>;
  using Wide = Sym<double>;

  template <class U>
  static Sym<U> select(const Sym<bool>& mask, const Sym<U>& a, const Sym<U>& b) {
    return Sym<U>::value(jit::detail::Trace::current().ir().def(
        "select {} {}, {} {}, {} {}", Sym<bool>::type(), mask.ir(), Sym<U>::type(), a.ir(), Sym<U>::type(), b.ir()));
  }
  static Bits select_bits(const Sym<bool>& mask, const Bits& a, const Bits& b) { return select(mask, a, b); }
  static Bits to_bits(const V& x) { return x.template convert<typename Bits::Scalar>("bitcast"); }
  static V from_bits(const Bits& b) { return b.template convert<T>("bitcast"); }
  static Bits to_int(const V& x) { return x.template convert<typename Bits::Scalar>("fptosi"); }
  static V to_float(const Bits& n) { return n.template convert<T>("sitofp"); }
  static Wide widen(const V& x) {
    if constexpr (std::is_same_v<T, double>)
      return x;
    else
      return x.template convert<double>("fpext");
  }
  static V narrow(const Wide& x) {
    if constexpr (std::is_same_v<T, double>)
      return x;
    else
      return x.template convert<float>("fptrunc");
  }
  static Bits shift_right_logical(const Bits& a, const Bits& n) { return bits_op("lshr {} {}, {}", a, n); }
  static Bits shift_left(const Bits& a, const Bits& n) { return a << n; }
  static Bits wrapping_add(const Bits& a, const Bits& b) { return a + b; }
  static Bits wrapping_multiply(const Bits& a, const Bits& b) { return a * b; }
  static Sym<bool> unsigned_less(const Bits& a, const Bits& b) {
    return Sym<bool>::value(ir().def("icmp ult {} {}, {}", Bits::type(), a.ir(), b.ir()));
  }
  static Bits multiply_high(const Bits& a, const Bits& b) {  // in integers of twice the width
    const std::string wide = jit::detail::IrBuilder::vec(wide_int(), lanes());
    auto widen = [&](const Bits& v) { return ir().def("zext {} {} to {}", Bits::type(), v.ir(), wide); };
    const std::string product = ir().def("mul {} {}, {}", wide, widen(a), widen(b));
    const std::string shift =
        jit::detail::IrBuilder::splat_constant(wide_int(), std::to_string(8 * sizeof(T)), lanes());
    return Bits::value(
        ir().def("trunc {} {} to {}", wide, ir().def("lshr {} {}, {}", wide, product, shift), Bits::type()));
  }
  static Bits leading_zeros(const Bits& a) {  // all the bits for zero (ctlz's flag: zero is not poison)
    const std::string name = hci::detail::format(
        "llvm.ctlz.{}",
        jit::detail::IrBuilder::overload_suffix(jit::detail::ir_scalar<typename Bits::Scalar>(), lanes()));
    ir().declare(hci::detail::format("declare {} @{}({}, i1)", Bits::type(), name, Bits::type()));
    return Bits::value(ir().def("call {} @{}({} {}, i1 false)", Bits::type(), name, Bits::type(), a.ir()));
  }
  static Sym<bool> is_nan(const V& x) {
    return Sym<bool>::value(ir().def("fcmp uno {} {}, {}", V::type(), x.ir(), x.ir()));
  }
  static V sqrt(const V& x) { return intrinsic("sqrt", {x.ir()}); }
  // The intrinsic rather than the bit operations: LLVM 19's AVX-512 code generation
  // miscompiled `select(m, (a & sign) | fabs(b), a)` (merged into one masked vpternlog), which
  // copysign written in bits becomes inside round_half_even.
  static V copysign(const V& magnitude, const V& sign) { return intrinsic("copysign", {magnitude.ir(), sign.ir()}); }

 private:
  static jit::detail::IrBuilder& ir() { return jit::detail::Trace::current().ir(); }
  static int lanes() { return jit::detail::Trace::current().lanes(); }
  static std::string_view wide_int() { return sizeof(T) == 8 ? "i128" : "i64"; }
  static Bits bits_op(fmt::format_string<std::string, std::string, std::string> f, const Bits& a, const Bits& b) {
    return Bits::value(ir().def(f, Bits::type(), a.ir(), b.ir()));
  }
  static V intrinsic(std::string_view name, const std::vector<std::string>& args) {
    const int lanes = jit::detail::Trace::current().lanes();
    const std::string full = hci::detail::format(
        "llvm.{}.{}", name, jit::detail::IrBuilder::overload_suffix(jit::detail::ir_scalar<T>(), lanes));
    return V::value(jit::detail::Trace::current().ir().call_intrinsic(full, V::type(), args));
  }
};

HCI_END_NAMESPACE
