// Portable kernels: a generic lambda run for every index of a range, written once, traced into
// LLVM IR and compiled for the device at hand.
//
//   auto saxpy = hci::kernel<hci::Buffer<float>, hci::Buffer<float>, float>(
//       [](auto i, auto x, auto y, auto a) { y.store(i, a * x.load(i) + y.load(i)); });
//   hci::launch(saxpy, n, x, y, 2.0f);  // y = 2x + y for the first n elements
//   saxpy.reference(n, x, y, 2.0f);     // the same lambda on plain values, one index at a time
//
// The template arguments say what the launch passes: Buffer<T>, a contiguous tensor of dtype T
// (float, double, int32_t or int64_t) indexed by element, or a scalar of type T. The lambda gets
// the index i (int64), then per argument a buffer view (load(i), store(i, v), atomic_add(i, v),
// size()) or the scalar's value. It runs twice over: on symbolic values, whose operators append
// IR (launch), and on plain ones (reference, and launch where there is no LLVM), so write it for
// both: arithmetic and comparisons (constants of the value's own type: `x * 2.0f` for float),
// hci::math's functions (exp, log, tanh, erf, sigmoid, pow, ...; not yet sin, cos and tan),
// hci::select(c, a, b) for a value chosen per index, hci::if_(c, fn) for stores and atomics
// under a condition, and hci::loop(begin, end, state, fn) for a loop carrying a value:
// `state = fn(j, state)` for j in [begin, end).
//
// An index outside a buffer is an hci::Error, never a wild access: compiled kernels check every
// load and store. Compiled code is kept like the JIT's other kernels (in memory per kernel type,
// on disk by the digest of its IR).
#pragma once

#include <hci/cpu/thread_pool.hpp>
#include <hci/jit/emit_gpu.hpp>
#include <hci/jit/symbolic.hpp>
#include <hci/jit/traced_kernel.hpp>
#include <hci/math.hpp>
#include <hci/tensor.hpp>

#include <atomic>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

HCI_BEGIN_NAMESPACE

// A kernel argument that is a tensor of element type T.
template <class T>
struct Buffer {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t>,
                "a kernel buffer holds float, double, int32_t or int64_t");
  using Element = T;
};

namespace jit::detail {

template <class T>
struct IsBuffer : std::false_type {};
template <class T>
struct IsBuffer<Buffer<T>> : std::true_type {};

template <class T>
struct IsSym : std::false_type {};
template <class T>
struct IsSym<Sym<T>> : std::true_type {};
template <class... V>
inline constexpr bool any_traced = (IsSym<std::decay_t<V>>::value || ...);

// -- plain values: the reference ---------------------------------------------------------------

// A buffer seen by the plain lambda: elements in memory, every index checked.
template <class T>
class PlainBuffer {
 public:
  PlainBuffer(T* data, int64_t size) : data_(data), size_(size) {}
  int64_t size() const { return size_; }
  T load(int64_t i) const { return data_[checked(i)]; }
  void store(int64_t i, T v) const { data_[checked(i)] = v; }
  void atomic_add(int64_t i, T v) const {
    std::atomic_ref<T>(data_[checked(i)]).fetch_add(v, std::memory_order_relaxed);
  }

 private:
  int64_t checked(int64_t i) const {
    HCI_CHECK(i >= 0 && i < size_, "a kernel indexed element {} of a buffer of {}", i, size_);
    return i;
  }
  T* data_;
  int64_t size_;
};

// -- symbolic values: traced into IR -----------------------------------------------------------

inline IrBuilder& traced_ir() { return Trace::current().ir(); }

// A buffer seen by the traced lambda: its address and size are kernel parameters. Each access
// checks its index first and goes to the kernel's kOutOfBounds block when it is outside.
template <class T>
class TracedBuffer {
 public:
  TracedBuffer(std::string data, std::string size) : data_(std::move(data)), size_(std::move(size)) {}
  Sym<int64_t> size() const { return Sym<int64_t>::value(size_); }
  template <class I>
  Sym<T> load(const I& i) const {
    return Sym<T>::value(traced_ir().def("load {}, ptr {}", ir_scalar<T>(), address(i)));
  }
  template <class I, class V>
  void store(const I& i, const V& v) const {
    const Sym<T> value = as_sym(v);
    const std::string at = address(i);
    traced_ir().line(hci::detail::format("store {} {}, ptr {}", ir_scalar<T>(), value.ir(), at));
  }
  template <class I, class V>
  void atomic_add(const I& i, const V& v) const {
    const Sym<T> value = as_sym(v);
    const std::string at = address(i);
    traced_ir().line(hci::detail::format("atomicrmw {} ptr {}, {} {} monotonic",
                                         std::is_floating_point_v<T> ? "fadd" : "add", at, ir_scalar<T>(), value.ir()));
  }

 private:
  static Sym<T> as_sym(const Sym<T>& v) { return v; }
  static Sym<T> as_sym(T v) { return Sym<T>(v); }
  // An index of any integer type, as int64.
  static Sym<int64_t> as_index(const Sym<int64_t>& i) { return i; }
  static Sym<int64_t> as_index(const Sym<int32_t>& i) { return i.template convert<int64_t>("sext"); }
  static Sym<int64_t> as_index(std::integral auto i) { return Sym<int64_t>(int64_t(i)); }
  template <class I>
  std::string address(const I& index) const {
    const Sym<int64_t> i = as_index(index);
    IrBuilder& ir = traced_ir();
    const std::string inside = ir.label();
    ir.line(hci::detail::format("br i1 {}, label %{}, label %{}", ir.def("icmp ult i64 {}, {}", i.ir(), size_), inside,
                                kOutOfBounds));
    ir.start_block(inside);
    return ir.def("getelementptr {}, ptr {}, i64 {}", ir_scalar<T>(), data_, i.ir());
  }
  std::string data_, size_;
};

// What the lambda gets for an argument declared as P, plain or traced.
template <class P>
struct PlainArg {
  using type = P;
};
template <class T>
struct PlainArg<Buffer<T>> {
  using type = PlainBuffer<T>;
};
template <class P>
struct TracedArg {
  using type = Sym<P>;
};
template <class T>
struct TracedArg<Buffer<T>> {
  using type = TracedBuffer<T>;
};

// What a buffer argument must be: a contiguous CPU tensor of the dtype the kernel reads.
inline void check_buffer_argument(const Tensor& arg, DType want, int position) {
  HCI_CHECK(arg.dtype() == want, "kernel argument {} is a {} tensor, and the kernel reads {}", position,
            dtype_name(arg.dtype()), dtype_name(want));
  HCI_CHECK(arg.device().is_cpu(), "kernel argument {} is on {}: kernels run on the CPU for now", position,
            arg.device().str());
  HCI_CHECK(arg.is_contiguous(), "kernel argument {} is not contiguous (call .contiguous() first)", position);
}

// A portable kernel's IR around its traced body, as launch compiles it for the host
// (`i32 @hci_kernel(start, end, params)`, returning the failure's status) or for a GPU (a
// grid-stride loop, storing the status to the int32 at %failure, as the scheduled kernels do).
// `load_params(param)` runs in the entry block, where param(type) loads the next 8-byte slot of
// the parameters as `type`; it returns the body, called with the index to trace it there.
template <class LoadParams>
std::string portable_kernel_ir(const GpuTarget* gpu, const LoadParams& load_params) {
  IrBuilder builder;
  Trace trace(builder, 1);
  builder.start_block("entry");
  int slot = 0;
  const auto param = [&](std::string_view type) {
    const std::string at = builder.def("getelementptr i64, ptr %p, i64 {}", slot++);
    return builder.def("load {}, ptr {}", type, at);
  };
  const auto body = load_params(param);
  const auto [first, step] = gpu ? grid_stride(builder, *gpu) : std::pair<std::string, std::string>("%start", "1");
  builder.loop(first, "%end", [&](const std::string& i) {
    body(Sym<int64_t>::value(i));
    return step;
  });
  builder.line(gpu ? "ret void" : "ret i32 0");
  for (auto [block, status] : {std::pair(kOutOfBounds, 1), std::pair(kDivisionByZero, 2)}) {
    builder.start_block(std::string(block));
    if (gpu) {
      builder.line(hci::detail::format("store i32 {}, ptr %failure", status));
      builder.line("ret void");
    } else {
      builder.line(hci::detail::format("ret i32 {}", status));
    }
  }
  if (gpu) return gpu_module(builder, *gpu, "hci_kernel");
  return builder.function("i32 @hci_kernel(i64 %start, i64 %end, ptr noalias nocapture readonly %p) #0",
                          "attributes #0 = { nounwind \"no-builtins\" }\n");
}

}  // namespace jit::detail

// -- control flow and selection, for plain and traced values ------------------------------------

// a where c holds, else b.
template <class C, class A, class B>
auto select(const C& c, const A& a, const B& b) {
  if constexpr (jit::detail::any_traced<A, B>) {
    using Value = std::conditional_t<jit::detail::IsSym<A>::value, A, B>;
    return math::ValueTraits<jit::detail::Sym<float>>::select(jit::detail::Sym<bool>(c), Value(a), Value(b));
  } else if constexpr (jit::detail::any_traced<C>) {  // plain values chosen by a traced mask
    return select(c, jit::detail::Sym<A>(a), b);
  } else {
    return c ? a : b;
  }
}

// fn() where c holds: stores and atomic adds under a condition (values that differ per index
// come from select).
template <class C, class F>
void if_(const C& c, F&& fn) {
  if constexpr (jit::detail::any_traced<C>) {
    jit::detail::IrBuilder& ir = jit::detail::traced_ir();
    const std::string then = ir.label(), after = ir.label();
    ir.line(hci::detail::format("br i1 {}, label %{}, label %{}", c.ir(), then, after));
    ir.start_block(then);
    fn();
    ir.line("br label %" + after);
    ir.start_block(after);
  } else if (c) {
    fn();
  }
}

// state = fn(j, state) for j in [begin, end), then state. Traced when any of them is (or fn
// makes the state traced).
template <class I, class J, class S, class F>
auto loop(const I& begin, const J& end, const S& state, F&& fn) {
  using Plain = std::invoke_result_t<F&, int64_t, const S&>;
  if constexpr (jit::detail::any_traced<I, J, S, Plain>) {
    using namespace jit::detail;
    using State = std::conditional_t<IsSym<S>::value, S, Plain>;
    static_assert(IsSym<State>::value, "hci::loop: the state of a traced loop must be a value of the kernel");
    IrBuilder& ir = traced_ir();
    const std::string slot = ir.alloca_slot(State::type());
    ir.line(hci::detail::format("store {} {}, ptr {}", State::type(), State(state).ir(), slot));
    ir.loop(Sym<int64_t>(begin).ir(), Sym<int64_t>(end).ir(), [&](const std::string& j) {
      const State before = State::value(ir.def("load {}, ptr {}", State::type(), slot));
      const State after(fn(Sym<int64_t>::value(j), before));
      ir.line(hci::detail::format("store {} {}, ptr {}", State::type(), after.ir(), slot));
      return std::string("1");
    });
    return State::value(ir.def("load {}, ptr {}", State::type(), slot));
  } else {
    Plain value = state;
    for (int64_t j = begin; j < int64_t(end); ++j) value = fn(j, value);
    return value;
  }
}

// The lambda has the shape a kernel with these parameters needs: (index, one value per parameter),
// on plain values and on traced ones.
template <class F, class... Params>
concept KernelBody =
    std::invocable<const F&, int64_t, typename jit::detail::PlainArg<Params>::type...> &&
    std::invocable<const F&, jit::detail::Sym<int64_t>, typename jit::detail::TracedArg<Params>::type...>;

template <class F, class... Params>
class PortableKernel {
 public:
  explicit PortableKernel(F body) : body_(std::move(body)) {}

  // The lambda on plain values for i = 0, 1, ..., n - 1, in order, on this thread.
  template <class... Args>
  void reference(int64_t n, Args&&... args) const {
    check_launch(n, args...);
    auto views = plain_views(args...);
    for (int64_t i = 0; i < n; ++i) std::apply([&](const auto&... v) { body_(i, v...); }, views);
  }

  // The lambda for every i in [0, n), compiled (traced once per kernel type), in parallel on the
  // CPU's thread pool; the plain lambda where nothing compiles.
  template <class... Args>
  void launch(int64_t n, Args&&... args) const {
    check_launch(n, args...);
    if (n == 0) return;
    if (void* fn = compiled()) {
      std::vector<int64_t> params;
      (add_param<Params>(params, args), ...);
      jit::detail::run_traced_kernel(fn, params, n);
      return;
    }
    auto views = plain_views(args...);
    std::atomic<bool> failed{false};
    std::string error;
    std::mutex error_mutex;
    const int64_t parts = std::min<int64_t>(cpu::thread_pool()->size(), (n + 16383) / 16384);
    cpu::thread_pool()->run(int(std::max<int64_t>(parts, 1)), [&](int part) {
      try {
        for (int64_t i = n * part / parts; i < n * (part + 1) / parts && !failed; ++i)
          std::apply([&](const auto&... v) { body_(i, v...); }, views);
      } catch (const Error& e) {
        std::lock_guard lock(error_mutex);
        if (!failed.exchange(true)) error = e.what();
      }
    });
    HCI_CHECK(!failed, "{}", error);
  }

  // The kernel's IR, as launch compiles it (see jit::detail::portable_kernel_ir).
  std::string ir(const jit::GpuTarget* gpu = nullptr) const {
    using namespace jit::detail;
    return portable_kernel_ir(gpu, [&](const auto& param) {
      auto traced_arg = [&]<class P>(P*) {
        if constexpr (IsBuffer<P>::value) {
          std::string data = param("ptr");
          return TracedBuffer<typename P::Element>(std::move(data), param("i64"));
        } else {
          return Sym<P>::value(param(ir_scalar<P>()));
        }
      };
      // Arguments in order (a braced list sequences the parameter loads).
      const std::tuple<typename TracedArg<Params>::type...> args{traced_arg(static_cast<Params*>(nullptr))...};
      return [this, args](const Sym<int64_t>& i) { std::apply([&](const auto&... a) { body_(i, a...); }, args); };
    });
  }

  // The kernel's code for a GPU (see jit::gpu_code): from the disk cache, or compiled.
  std::string gpu_code(const jit::GpuTarget& target) const {
    return jit::detail::compile_traced_gpu_kernel(ir(&target), target);
  }

 private:
  template <class... Args>
  static void check_launch(int64_t n, const Args&... args) {
    static_assert(sizeof...(Args) == sizeof...(Params), "hci::launch: one argument per kernel parameter");
    HCI_CHECK(n >= 0, "a kernel cannot run over {} indices", n);
    int position = 0;
    (check_arg<Params>(args, ++position), ...);
  }
  template <class P, class A>
  static void check_arg(const A& arg, int position) {
    if constexpr (jit::detail::IsBuffer<P>::value) {
      static_assert(std::is_same_v<std::decay_t<A>, Tensor>, "hci::launch: a Buffer parameter takes an hci::Tensor");
      jit::detail::check_buffer_argument(arg, dtype_of<typename P::Element>::value, position);
    } else {
      static_assert(std::is_same_v<std::decay_t<A>, P>,
                    "hci::launch: a scalar argument must have exactly the parameter's type (write 2.0f for float)");
    }
  }
  template <class P, class A>
  static auto plain_view(const A& arg) {
    if constexpr (jit::detail::IsBuffer<P>::value)
      return jit::detail::PlainBuffer<typename P::Element>(arg.template data_ptr<typename P::Element>(), arg.numel());
    else
      return arg;
  }
  template <class... Args>
  static auto plain_views(const Args&... args) {
    return std::tuple<typename jit::detail::PlainArg<Params>::type...>{plain_view<Params>(args)...};
  }
  template <class P, class A>
  static void add_param(std::vector<int64_t>& params, const A& arg) {
    if constexpr (jit::detail::IsBuffer<P>::value) {
      params.push_back(int64_t(reinterpret_cast<uintptr_t>(arg.template data_ptr<typename P::Element>())));
      params.push_back(arg.numel());
    } else {
      int64_t raw = 0;
      std::memcpy(&raw, &arg, sizeof arg);
      params.push_back(raw);
    }
  }
  // Traced and compiled on the first launch of this kernel type; null without LLVM.
  void* compiled() const {
    static std::once_flag once;
    static void* fn = nullptr;
    if (!jit::detail::traced_kernels_enabled()) return nullptr;
    std::call_once(once, [&] {
      fn = jit::detail::compile_traced_kernel(ir());
      jit::detail::compile_traced_for_gpu_targets([&](const jit::GpuTarget& t) { return ir(&t); });
    });
    return fn;
  }

  F body_;
};

// A portable kernel of parameters Params (Buffer<T> or scalar types) from its body.
template <class... Params, class F>
  requires KernelBody<F, Params...>
PortableKernel<F, Params...> kernel(F body) {
  // Compiled code serves every kernel of this lambda's type: values it captured would be baked in.
  static_assert(std::is_empty_v<F>, "hci::kernel: the lambda must capture nothing (pass values as scalar arguments)");
  return PortableKernel<F, Params...>(std::move(body));
}

// Runs the kernel for every index in [0, n) with these arguments (one per parameter).
template <class F, class... Params, class... Args>
void launch(const PortableKernel<F, Params...>& k, int64_t n, Args&&... args) {
  k.launch(n, std::forward<Args>(args)...);
}

HCI_END_NAMESPACE
