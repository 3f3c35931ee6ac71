// Portable kernels from Python: a Python function traced into a kernel, as hci::kernel traces a
// C++ lambda (hci/launch.hpp). The function runs once, on symbolic values (hci.Value, one IR value
// of a dtype, and hci.Buffer views whose loads and stores check their index); what it does is the
// kernel, which the JIT compiles and runs for every index of a range.
//
//   @hci.kernel(hci.Buffer(hci.float32), hci.Buffer(hci.float32), hci.float32)
//   def saxpy(i, x, y, a):
//       y[i] = a * x[i] + y[i]
//   saxpy(n, x, y, 2.0)
//
// Values of different dtypes do not mix: convert with v.to(dtype). A number takes the dtype of the
// value beside it. Integer // and % truncate, as in C, CUDA and the C++ kernels (Python floors).
// Python's `if` cannot branch on a value: hci.select(c, a, b) picks per index, hci.if_(c, fn) stores
// under a condition, and hci.loop(begin, end, state, fn) carries a value through a loop.
#include "bindings.hpp"

#include <hci/launch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <variant>

namespace hci_python {
namespace {

namespace jd = hci::jit::detail;
template <class T>
using Sym = jd::Sym<T>;

using AnySym = std::variant<Sym<float>, Sym<double>, Sym<int32_t>, Sym<int64_t>, Sym<bool>>;
using AnyBuffer = std::variant<jd::TracedBuffer<float>, jd::TracedBuffer<double>, jd::TracedBuffer<int32_t>,
                               jd::TracedBuffer<int64_t>>;

template <class S>
using scalar_of = typename std::decay_t<S>::Scalar;  // T of a Sym<T>
template <class T>
constexpr bool kFloat = std::is_floating_point_v<T>;
template <class T>
constexpr bool kBool = std::is_same_v<T, bool>;

// Where kernel values may be used: the kernel being traced, and the if_ and loop bodies traced
// inside it, each a scope. A value belongs to the scope it was made in and may be used there and
// in the scopes opened inside it, never once its scope has closed: its IR would not be defined
// on every path to the use (LLVM's dominance rule), nor in another kernel at all.
class Scope {
 public:
  enum Kind { kBody, kKernel };
  // A kernel's scope starts afresh: the values of a kernel traced around it (one whose function
  // launched this kernel) are not its.
  explicit Scope(Kind kind = kBody) : id_(++next_), kind_(kind) {
    if (kind_ == kKernel) outer_.swap(open());
    open().push_back(id_);
  }
  ~Scope() {
    open().pop_back();
    if (kind_ == kKernel) open().swap(outer_);
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  static uint64_t current() {
    if (open().empty()) throw py::type_error("kernel values exist only while hci.kernel traces its function");
    return open().back();
  }
  static void check_open(uint64_t id) {
    if (std::find(open().begin(), open().end(), id) == open().end())
      throw py::type_error(
          "a kernel value is used outside the hci.if_ or hci.loop body (or the kernel) that made it: carry it "
          "out of a loop as its state, or compute it where it is used");
  }

 private:
  static std::vector<uint64_t>& open() {
    static thread_local std::vector<uint64_t> ids;
    return ids;
  }
  static inline std::atomic<uint64_t> next_{0};
  uint64_t id_;
  Kind kind_;
  std::vector<uint64_t> outer_;
};

// A value of the kernel being traced.
class Value {
 public:
  template <class T>
  Value(const Sym<T>& sym) : sym_(sym), scope_(Scope::current()) {}      // NOLINT: every Sym is one
  Value(AnySym sym) : sym_(std::move(sym)), scope_(Scope::current()) {}  // NOLINT

  const AnySym& sym() const {
    Scope::check_open(scope_);
    return sym_;
  }
  hci::DType dtype() const;
  std::string repr() const;

 private:
  AnySym sym_;
  uint64_t scope_;
};

// A buffer argument of the kernel being traced.
class BufferView {
 public:
  explicit BufferView(AnyBuffer buffer) : buffer_(std::move(buffer)), scope_(Scope::current()) {}
  const AnyBuffer& buffer() const {
    Scope::check_open(scope_);
    return buffer_;
  }

 private:
  AnyBuffer buffer_;
  uint64_t scope_;
};

// A kernel parameter: a buffer of a dtype, or a scalar of one.
struct Param {
  bool buffer = false;
  hci::DType dtype = hci::kFloat32;
};

hci::DType dtype_of(const AnySym& s) {
  return std::visit([](const auto& v) { return hci::dtype_of<scalar_of<decltype(v)>>::value; }, s);
}

hci::DType Value::dtype() const { return dtype_of(sym_); }

std::string Value::repr() const {
  return "<hci.Value " + std::string(hci::dtype_name(dtype())) + " " +
         std::visit([](const auto& s) { return s.ir(); }, sym_) + ">";
}

std::string name_of(hci::DType t) { return std::string(hci::dtype_name(t)); }

// Calls fn with a T of the kernel's dtype t (a value type of Sym).
template <class F>
decltype(auto) with_type(hci::DType t, F&& fn) {
  switch (t) {
    case hci::kFloat32: return fn(float{});
    case hci::kFloat64: return fn(double{});
    case hci::kInt32: return fn(int32_t{});
    case hci::kInt64: return fn(int64_t{});
    case hci::kBool: return fn(bool{});
    default: throw py::type_error("kernel values are float32, float64, int32, int64 or bool, not " + name_of(t));
  }
}

// A Python number as a constant of T; other objects are a TypeError.
template <class T>
Sym<T> constant(const py::handle& number) {
  if (!is_number(number))
    throw py::type_error("expected a kernel value or a number, not " +
                         std::string(py::str(number.get_type().attr("__name__"))));
  if constexpr (kBool<T>) {
    if (!PyBool_Check(number.ptr())) throw py::type_error("a bool kernel value meets a number: compare it first");
    return Sym<bool>(number.cast<bool>());
  } else if constexpr (std::is_integral_v<T>) {
    if (py::isinstance<py::float_>(number))
      throw py::type_error("a float constant beside an " + name_of(hci::dtype_of<T>::value) +
                           " kernel value: convert the value with .to(hci.float32) first");
    const int64_t v = to_int64(number);
    if (v < int64_t(std::numeric_limits<T>::min()) || v > int64_t(std::numeric_limits<T>::max()))
      throw py::value_error(std::to_string(v) + " does not fit the " + name_of(hci::dtype_of<T>::value) +
                            " kernel value beside it");
    return Sym<T>(T(v));
  } else {
    return Sym<T>(T(number.cast<double>()));
  }
}

// `operand` as a Sym<T>: a value of exactly that dtype, or a number.
template <class T>
Sym<T> as_sym(const py::handle& operand) {
  if (!py::isinstance<Value>(operand)) return constant<T>(operand);
  const AnySym& s = operand.cast<const Value&>().sym();
  if (const auto* same = std::get_if<Sym<T>>(&s)) return *same;
  throw py::type_error("kernel values of " + name_of(hci::dtype_of<T>::value) + " and " + name_of(dtype_of(s)) +
                       " do not mix: convert one with .to(dtype)");
}

template <class From, class To>
Sym<To> convert(const Sym<From>& x) {
  if constexpr (std::is_same_v<From, To>)
    return x;
  else if constexpr (kBool<To>)
    return x != Sym<From>(From(0));  // as C++'s: NaN is true
  else if constexpr (kBool<From>)
    return x.template convert<To>(kFloat<To> ? "uitofp" : "zext");
  else if constexpr (kFloat<From> && kFloat<To>)
    return x.template convert<To>(sizeof(To) > sizeof(From) ? "fpext" : "fptrunc");
  else if constexpr (kFloat<From>)
    return x.template convert<To>("fptosi");
  else if constexpr (kFloat<To>)
    return x.template convert<To>("sitofp");
  else
    return x.template convert<To>(sizeof(To) > sizeof(From) ? "sext" : "trunc");
}

enum class Op { Add, Sub, Mul, TrueDiv, FloorDiv, Mod, And, Or, Xor, LShift, RShift, Eq, Ne, Lt, Le, Gt, Ge };

const char* symbol(Op op) {
  static const char* const symbols[] = {"+",  "-",  "*",  "/",  "//", "%",  "&", "|", "^",
                                        "<<", ">>", "==", "!=", "<",  "<=", ">", ">="};
  return symbols[int(op)];
}

// a op b, where the dtype has the op; else a TypeError.
template <class T>
AnySym apply(Op op, const Sym<T>& a, const Sym<T>& b) {
  constexpr bool number = !kBool<T>, integer = std::is_integral_v<T> && !kBool<T>;
  switch (op) {
#define HCI_KERNEL_OP(kind, allowed, expression) \
  case Op::kind:                                 \
    if constexpr (allowed) return expression;    \
    break;
    HCI_KERNEL_OP(Add, number, a + b)
    HCI_KERNEL_OP(Sub, number, a - b)
    HCI_KERNEL_OP(Mul, number, a * b)
    HCI_KERNEL_OP(TrueDiv, kFloat<T>, a / b)
    HCI_KERNEL_OP(FloorDiv, integer, a / b)
    HCI_KERNEL_OP(Mod, integer, a % b)
    HCI_KERNEL_OP(And, !kFloat<T>, a & b)
    HCI_KERNEL_OP(Or, !kFloat<T>, a | b)
    HCI_KERNEL_OP(Xor, !kFloat<T>, a ^ b)
    HCI_KERNEL_OP(LShift, integer, a << b)
    HCI_KERNEL_OP(RShift, integer, a >> b)
    HCI_KERNEL_OP(Eq, true, a == b)
    HCI_KERNEL_OP(Ne, true, a != b)
    HCI_KERNEL_OP(Lt, true, a < b)
    HCI_KERNEL_OP(Le, true, a <= b)
    HCI_KERNEL_OP(Gt, true, a > b)
    HCI_KERNEL_OP(Ge, true, a >= b)
#undef HCI_KERNEL_OP
  }
  throw py::type_error(std::string("no ") + symbol(op) + " on " + name_of(hci::dtype_of<T>::value) + " kernel values" +
                       (op == Op::TrueDiv ? ": // divides integers" : ""));
}

// a op b, where a is a Value (or, reflected, b is).
auto binary(Op op, bool reflected = false) {
  return [op, reflected](const Value& self, const py::object& other) {
    return std::visit(
        [&](const auto& s) {
          using T = scalar_of<decltype(s)>;
          const Sym<T> o = as_sym<T>(other);
          return Value{reflected ? apply(op, o, s) : apply(op, s, o)};
        },
        self.sym());
  };
}

// A float function of hci's math library on a float value.
template <class F>
auto math_function(const char* name, F fn) {
  return [name, fn](const Value& x) {
    return std::visit(
        [&](const auto& s) -> Value {
          using T = scalar_of<decltype(s)>;
          if constexpr (kFloat<T>)
            return Value{fn(s)};
          else
            throw py::type_error(std::string(name) + " takes a float kernel value, not " +
                                 name_of(hci::dtype_of<T>::value));
        },
        x.sym());
  };
}

// The dtype of a value made from numbers alone: PyTorch's defaults (bool, int64, float32), the
// widest kind among them.
hci::DType number_dtype(std::initializer_list<py::handle> numbers) {
  hci::DType kind = hci::kBool;
  for (const py::handle n : numbers) {
    const hci::DType own = to_scalar(n).default_dtype();
    if (own == hci::kFloat32 || (own == hci::kInt64 && kind == hci::kBool)) kind = own;
  }
  return kind;
}

// The dtype two operands share: a Value's (the first's where both are); numbers' otherwise.
hci::DType shared_dtype(const py::handle& a, const py::handle& b) {
  if (py::isinstance<Value>(a)) return a.cast<const Value&>().dtype();
  if (py::isinstance<Value>(b)) return b.cast<const Value&>().dtype();
  return number_dtype({a, b});
}

Sym<bool> as_condition(const py::handle& c) {
  if (py::isinstance<Value>(c))
    if (const auto* mask = std::get_if<Sym<bool>>(&c.cast<const Value&>().sym())) return *mask;
  throw py::type_error("a condition is a bool kernel value (a comparison)");
}

Sym<int64_t> as_index(const py::handle& i) {
  if (py::isinstance<Value>(i)) {
    const AnySym& s = i.cast<const Value&>().sym();
    if (const auto* wide = std::get_if<Sym<int64_t>>(&s)) return *wide;
    if (const auto* narrow = std::get_if<Sym<int32_t>>(&s)) return convert<int32_t, int64_t>(*narrow);
    throw py::type_error("an index is an int64 or int32 kernel value, not " + name_of(dtype_of(s)));
  }
  if (!py::isinstance<py::int_>(i) || PyBool_Check(i.ptr())) throw py::type_error("an index is an integer");
  return Sym<int64_t>(to_int64(i));
}

Value select(const py::object& c, const py::object& a, const py::object& b) {
  const Sym<bool> mask = as_condition(c);
  return with_type(shared_dtype(a, b),
                   [&]<class T>(T) { return Value{hci::select(mask, as_sym<T>(a), as_sym<T>(b))}; });
}

void if_(const py::object& c, const py::function& fn) {
  hci::if_(as_condition(c), [&] {
    const Scope body;
    fn();
  });
}

// The dtype of a loop's state: a Value's, or the one given, or a number's.
hci::DType state_dtype(const py::handle& state, const py::object& dtype) {
  if (py::isinstance<Value>(state)) return state.cast<const Value&>().dtype();
  if (!dtype.is_none()) return dtype.cast<hci::DType>();
  return number_dtype({state});
}

Value loop(const py::object& begin, const py::object& end, const py::object& state, const py::function& fn,
           const py::object& dtype) {
  return with_type(state_dtype(state, dtype), [&]<class T>(T) {
    const Sym<T> first = as_sym<T>(state);
    return Value{hci::loop(as_index(begin), as_index(end), first, [&](const Sym<int64_t>& j, const Sym<T>& before) {
      const Scope body;
      return as_sym<T>(fn(Value{j}, Value{before}));
    })};
  });
}

BufferView traced_buffer(hci::DType dtype, std::string data, std::string size) {
  return with_type(dtype, [&]<class T>(T) -> BufferView {
    if constexpr (kBool<T>)
      throw py::type_error("a kernel buffer holds float32, float64, int32 or int64, not bool");
    else
      return BufferView(jd::TracedBuffer<T>(std::move(data), std::move(size)));
  });
}

// A Python function traced into a portable kernel of these parameters, compiled on its first
// launch (and kept by the digest of its IR on disk, as hci::kernel's are).
class Kernel {
 public:
  Kernel(py::function body, std::vector<Param> params) : body_(std::move(body)), params_(std::move(params)) {
    for (const Param& p : params_)
      if (p.dtype != hci::kFloat32 && p.dtype != hci::kFloat64 && p.dtype != hci::kInt32 && p.dtype != hci::kInt64)
        throw py::type_error("a kernel parameter is float32, float64, int32 or int64, not " + name_of(p.dtype));
  }

  std::string ir() const {
    const Scope kernel(Scope::kKernel);
    return jd::portable_kernel_ir(nullptr, [&](const auto& param) {
      py::list args;
      for (const Param& p : params_) {
        if (p.buffer) {
          std::string data = param("ptr");
          args.append(traced_buffer(p.dtype, std::move(data), param("i64")));
        } else {
          args.append(with_type(p.dtype, [&]<class T>(T) { return Value{Sym<T>::value(param(jd::ir_scalar<T>()))}; }));
        }
      }
      return [this, args](const Sym<int64_t>& i) { body_(Value{i}, *args); };
    });
  }

  void launch(int64_t n, const py::args& args) {
    HCI_CHECK(n >= 0, "a kernel cannot run over {} indices", n);
    HCI_CHECK(args.size() == params_.size(), "the kernel takes {} arguments after n, not {}", params_.size(),
              args.size());
    std::vector<int64_t> values;
    std::vector<Tensor> buffers;  // kept alive while the kernel runs
    for (size_t k = 0; k < params_.size(); ++k) add_argument(values, buffers, k, args[k]);
    if (n == 0) return;
    void* fn = compiled();
    py::gil_scoped_release unlocked;
    jd::run_traced_kernel(fn, values, n);
  }

 private:
  void add_argument(std::vector<int64_t>& values, std::vector<Tensor>& buffers, size_t k, const py::handle& arg) const {
    const Param& p = params_[k];
    const int position = int(k) + 1;
    if (!p.buffer) {
      with_type(p.dtype, [&]<class T>(T) {
        if (!is_number(arg) || (std::is_integral_v<T> && py::isinstance<py::float_>(arg)))
          throw py::type_error(fmt::format("kernel argument {} is a {} number, not {}", position, name_of(p.dtype),
                                           std::string(py::str(arg.get_type().attr("__name__")))));
        T value;
        if constexpr (kFloat<T>) {
          value = T(to_scalar(arg).to_double());
        } else {
          const int64_t v = to_int64(arg);
          if (v < int64_t(std::numeric_limits<T>::min()) || v > int64_t(std::numeric_limits<T>::max()))
            throw py::value_error(
                fmt::format("kernel argument {} ({}) does not fit {}", position, v, name_of(p.dtype)));
          value = T(v);
        }
        int64_t raw = 0;
        std::memcpy(&raw, &value, sizeof value);
        values.push_back(raw);
      });
      return;
    }
    if (!py::isinstance<Tensor>(arg))
      throw py::type_error(fmt::format("kernel argument {} is a buffer: a Tensor", position));
    const Tensor& t = buffers.emplace_back(arg.cast<Tensor>());
    jd::check_buffer_argument(t, p.dtype, position);
    with_type(p.dtype, [&]<class T>(T) {
      if constexpr (!kBool<T>) {
        py::gil_scoped_release unlocked;  // writable access waits for the tensor's pending work
        values.push_back(int64_t(reinterpret_cast<uintptr_t>(t.data_ptr<T>())));
      }
    });
    values.push_back(t.numel());
  }

  // Called with the GIL, which guards fn_. No lock beside it: tracing runs Python code, which may
  // let another thread in, and a lock held across that would deadlock against the GIL. Two threads
  // may then both compile the kernel; either's code serves.
  void* compiled() {
    if (!fn_) {
      HCI_CHECK(jd::traced_kernels_enabled(),
                "hci.kernel needs the JIT: LLVM was not found (set HCI_LLVM_PATH) or HCI_JIT=0 switched it off");
      fn_ = jd::compile_traced_kernel(ir());  // for the host alone: Python kernels run on the CPU
      HCI_CHECK(fn_, "LLVM did not compile the kernel (its message is above)");
    }
    return fn_;
  }

  py::function body_;
  std::vector<Param> params_;
  void* fn_ = nullptr;
};

void bind_values(py::module_& m) {
  py::class_<Value> value(m, "Value", "A value of a kernel being traced: one per index, of one dtype.");
  value.def_property_readonly("dtype", [](const Value& v) { return v.dtype(); })
      .def("to",
           [](const Value& v, hci::DType dtype) {
             return std::visit(
                 [&](const auto& s) {
                   using From = scalar_of<decltype(s)>;
                   return with_type(dtype, [&]<class To>(To) { return Value{convert<From, To>(s)}; });
                 },
                 v.sym());
           })
      .def("__bool__",
           [](const Value&) -> bool {
             throw py::type_error(
                 "a kernel value has no truth value while it is traced: use hci.select(c, a, b) or hci.if_(c, fn)");
           })
      .def("__repr__", &Value::repr);
  const std::pair<const char*, Op> operators[] = {
      {"add", Op::Add},           {"sub", Op::Sub},       {"mul", Op::Mul},      {"truediv", Op::TrueDiv},
      {"floordiv", Op::FloorDiv}, {"mod", Op::Mod},       {"and", Op::And},      {"or", Op::Or},
      {"xor", Op::Xor},           {"lshift", Op::LShift}, {"rshift", Op::RShift}};
  for (const auto& [name, op] : operators) {
    value.def(("__" + std::string(name) + "__").c_str(), binary(op));
    value.def(("__r" + std::string(name) + "__").c_str(), binary(op, true));
  }
  const std::pair<const char*, Op> comparisons[] = {{"__eq__", Op::Eq}, {"__ne__", Op::Ne}, {"__lt__", Op::Lt},
                                                    {"__le__", Op::Le}, {"__gt__", Op::Gt}, {"__ge__", Op::Ge}};
  for (const auto& [name, op] : comparisons) value.def(name, binary(op));
  value.def("__neg__", [](const Value& v) {
    return std::visit(
        [](const auto& s) -> Value {
          using T = scalar_of<decltype(s)>;
          if constexpr (kBool<T>)
            throw py::type_error("no - on bool kernel values");
          else
            return Value{-s};
        },
        v.sym());
  });
  value.def("__invert__", [](const Value& v) {
    return std::visit(
        [](const auto& s) -> Value {
          using T = scalar_of<decltype(s)>;
          if constexpr (kFloat<T>)
            throw py::type_error("no ~ on float kernel values");
          else if constexpr (kBool<T>)
            return Value{!s};
          else
            return Value{~s};
        },
        v.sym());
  });

  // hci's math functions on float kernel values: overloads beside the tensor functions.
#define HCI_PY_KERNEL_MATH(name) m.def(#name, math_function(#name, [](const auto& x) { return hci::math::name(x); }));
  HCI_PY_KERNEL_MATH(exp)
  HCI_PY_KERNEL_MATH(exp2)
  HCI_PY_KERNEL_MATH(expm1)
  HCI_PY_KERNEL_MATH(log)
  HCI_PY_KERNEL_MATH(log2)
  HCI_PY_KERNEL_MATH(log1p)
  HCI_PY_KERNEL_MATH(tanh)
  HCI_PY_KERNEL_MATH(sigmoid)
  HCI_PY_KERNEL_MATH(erf)
  HCI_PY_KERNEL_MATH(gelu)
#undef HCI_PY_KERNEL_MATH
  m.def("sqrt", math_function(
                    "sqrt", [](const auto& x) { return hci::math::ValueTraits<std::decay_t<decltype(x)>>::sqrt(x); }));
  m.def("pow", [](const Value& x, const py::object& y) {
    return math_function("pow", [&](const auto& base) {
      using T = scalar_of<decltype(base)>;
      return hci::math::pow(base, as_sym<T>(y));
    })(x);
  });

  m.def("select", &select, py::arg("condition"), py::arg("a"), py::arg("b"),
        "a where the condition holds, else b, per index of a kernel");
  m.def("if_", &if_, py::arg("condition"), py::arg("fn"), "fn() where the condition holds: stores under a condition");
  m.def("loop", &loop, py::arg("begin"), py::arg("end"), py::arg("state"), py::arg("fn"), py::arg("dtype") = py::none(),
        "state = fn(j, state) for j in [begin, end), then state");
}

template <class T>
T element_of(const jd::TracedBuffer<T>&);  // the buffer's element type, in decltype

void bind_buffers(py::module_& m) {
  const auto load = [](const BufferView& b, const py::object& i) {
    return std::visit([&](const auto& v) { return Value{v.load(as_index(i))}; }, b.buffer());
  };
  const auto store = [](const BufferView& b, const py::object& i, const py::object& value) {
    std::visit([&](const auto& v) { v.store(as_index(i), as_sym<decltype(element_of(v))>(value)); }, b.buffer());
  };
  py::class_<BufferView>(m, "BufferView", "A buffer argument of a kernel being traced: b[i], b[i] = v.")
      .def("size",
           [](const BufferView& b) { return Value{std::visit([](const auto& v) { return v.size(); }, b.buffer())}; })
      .def("load", load)
      .def("__getitem__", load)
      .def("store", store)
      .def("__setitem__", store)
      .def("atomic_add", [](const BufferView& b, const py::object& i, const py::object& value) {
        std::visit([&](const auto& v) { v.atomic_add(as_index(i), as_sym<decltype(element_of(v))>(value)); },
                   b.buffer());
      });

  py::class_<Param>(m, "Buffer", "A kernel parameter: a contiguous CPU tensor of this dtype.")
      .def(py::init([](hci::DType dtype) { return Param{true, dtype}; }), py::arg("dtype"))
      .def_property_readonly("dtype", [](const Param& p) { return p.dtype; })
      .def("__repr__", [](const Param& p) { return "hci.Buffer(hci." + name_of(p.dtype) + ")"; });
}

}  // namespace

void bind_kernels(py::module_& m) {
  bind_values(m);
  bind_buffers(m);
  py::class_<Kernel>(m, "Kernel", "A Python function traced into a portable kernel (see hci.kernel).")
      .def(py::init([](py::function body, const py::list& params) {
        std::vector<Param> ps;
        for (const py::handle p : params) {
          if (py::isinstance<Param>(p))
            ps.push_back(p.cast<Param>());
          else if (py::isinstance<hci::DType>(p))
            ps.push_back(Param{false, p.cast<hci::DType>()});
          else
            throw py::type_error("a kernel parameter is hci.Buffer(dtype) or a dtype, not " +
                                 std::string(py::str(p.get_type().attr("__name__"))));
        }
        return std::make_unique<Kernel>(std::move(body), std::move(ps));
      }))
      .def("__call__", &Kernel::launch, py::arg("n"), "Runs the kernel for every index in [0, n)")
      .def("ir", [](const Kernel& k) { return k.ir(); }, "The kernel's LLVM IR for the host");
  m.def("_jit_enabled", [] { return jd::traced_kernels_enabled(); });
}

}  // namespace hci_python
