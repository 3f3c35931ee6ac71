// The interpreter: runs scheduled kernels on the CPU thread pool, chunk by chunk so a fused
// chain's intermediates stay in cache. Every dtype computes in int64, float or double and is
// converted on load and store, which keeps template instantiations few. It is the reference
// every other executor is held to.
#pragma once

#include <hci/cpu/thread_pool.hpp>
#include <hci/half.hpp>
#include <hci/kernel.hpp>
#include <hci/math.hpp>
#include <hci/precise_fp.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

HCI_BEGIN_NAMESPACE

namespace cpu::interp {

// Runs a scheduled kernel on the pool, returning when it is done. Compiled with the runtime
// (see HCI_SEPARATE_RUNTIME in config.hpp).
HCI_RUNTIME_DECL void run_kernel(const Kernel& kernel, ThreadPool& pool);

}  // namespace cpu::interp

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

HCI_PRECISE_FP_BEGIN

HCI_BEGIN_NAMESPACE

namespace cpu::interp {

inline constexpr int kChunk = 1024;       // elements computed per step of a fused chain
inline constexpr int kGroup = 16;         // loops run over whole groups: a multiple of every vector width
inline constexpr int64_t kBlock = 4096;   // reduction block: partial results combine in blocks
inline constexpr int kLanes = 8;          // accumulators per block, element i into lane i % 8
inline constexpr int64_t kGrain = 32768;  // elements below which a kernel runs on one thread

// The C++ type a storage type S computes in.
template <class S>
using compute_cpp_t =
    std::conditional_t<std::is_same_v<S, double>, double, std::conditional_t<std::is_integral_v<S>, int64_t, float>>;

// The ComputeType of the C++ compute type T (int64_t, float or double).
template <class T>
inline constexpr ComputeType compute_type_of = std::is_same_v<T, int64_t> ? ComputeType::Int64
                                               : std::is_same_v<T, float> ? ComputeType::Float32
                                                                          : ComputeType::Float64;

// The type T's arithmetic runs in: integers in uint64_t, so that + - * wrap around in two's
// complement as PyTorch's do; floats in themselves.
template <class T>
using Wrapping = std::conditional_t<std::is_same_v<T, int64_t>, uint64_t, T>;

// NaN test for any compute type (integers are never NaN).
template <class T>
inline bool value_is_nan(T x) {
  if constexpr (std::is_same_v<T, int64_t>)
    return false;
  else
    return math::is_nan(x);
}

// float -> integer: truncate toward zero; NaN gives 0; beyond int64 saturates. Then the
// integer wraps to the dtype's width like every integer result.
template <class F>
inline int64_t float_to_int(F x) {
  if (math::is_nan(x)) return 0;
  if (x >= F(9.2233720368547758e18)) return std::numeric_limits<int64_t>::max();
  if (x <= F(-9.2233720368547758e18)) return std::numeric_limits<int64_t>::min();
  return int64_t(x);
}

// Rounds (floats) or wraps (integers) a computed value to its dtype, as storing and
// reloading it would.
template <class T>
inline void round_to_dtype(T* v, int n, DType dtype) {
  if constexpr (std::is_same_v<T, float>) {
    if (dtype == kFloat16)
      for (int i = 0; i < n; ++i) v[i] = math::round_to_float16(v[i]);
    else if (dtype == kBFloat16)
      for (int i = 0; i < n; ++i) v[i] = math::round_to_bfloat16(v[i]);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    switch (dtype) {
      case kBool:
        for (int i = 0; i < n; ++i) v[i] = v[i] != 0;
        break;
      case kUInt8:
        for (int i = 0; i < n; ++i) v[i] = int64_t(uint8_t(v[i]));
        break;
      case kInt8:
        for (int i = 0; i < n; ++i) v[i] = int64_t(int8_t(v[i]));
        break;
      case kInt16:
        for (int i = 0; i < n; ++i) v[i] = int64_t(int16_t(v[i]));
        break;
      case kInt32:
        for (int i = 0; i < n; ++i) v[i] = int64_t(int32_t(v[i]));
        break;
      default: break;
    }
  }
}

template <class From, class To>
inline To convert_value(From x) {
  if constexpr (std::is_same_v<From, To>)
    return x;
  else if constexpr (std::is_same_v<To, int64_t>) {
    if constexpr (std::is_same_v<From, bool>)
      return x;
    else if constexpr (std::is_integral_v<From>)
      return int64_t(x);
    else
      return float_to_int(static_cast<std::conditional_t<std::is_same_v<From, double>, double, float>>(x));
  } else {
    if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>)
      return To(float(x));
    else
      return To(x);
  }
}

// Position of each of n consecutive linear indices of the iteration space in one buffer.
inline void offsets_of(const Dims& sizes, const BufferParam& b, int64_t start, int n, int64_t* out) {
  const int rank = int(sizes.size());
  int64_t index[16] = {};
  int64_t base = b.offset;
  for (int d = rank - 1; d >= 0; --d) {
    index[d] = start % sizes[d];
    start /= sizes[d];
    base += index[d] * b.strides[d];
  }
  if (rank == 0) {
    std::fill(out, out + n, base);
    return;
  }
  const int64_t inner_size = sizes[rank - 1], inner_stride = b.strides[rank - 1];
  int i = 0;
  while (i < n) {
    const int run = int(std::min<int64_t>(n - i, inner_size - index[rank - 1]));
    for (int k = 0; k < run; ++k) out[i + k] = base + k * inner_stride;
    i += run;
    base += run * inner_stride;
    index[rank - 1] += run;
    for (int d = rank - 1; d > 0 && index[d] == sizes[d]; --d) {  // carry
      base -= sizes[d] * b.strides[d];
      index[d] = 0;
      ++index[d - 1];
      base += b.strides[d - 1];
    }
  }
}

// One value of a fused chain over the current chunk: either scratch or, for contiguous
// buffers already in the compute type, the buffer itself.
struct Slot {
  void* data;
  ComputeType type;
};

class ChunkEvaluator {
 public:
  explicit ChunkEvaluator(const Kernel& k) : k_(k), slots_(k.structure.ops.size()) {
    scratch_.resize(k.structure.ops.size() * kChunk + 8);
    offsets_.resize(kChunk);
  }

  // Evaluates the first `count` values of the kernel for linear indices [start, start + n) and
  // returns the last. Values are computed over n rounded up to whole groups of kGroup elements,
  // so every loop's trip count is a multiple of any vector width and compilers vectorise it at
  // -O2. When `direct_output` is set (a contiguous output already in the compute type), the
  // last value is computed straight into the output buffer.
  Slot run(int64_t start, int n, size_t count, void* direct_output = nullptr) {
    const auto& ops = k_.structure.ops;
    const int groups = (n + kGroup - 1) / kGroup;
    for (size_t i = 0; i < count; ++i) {
      void* out = i + 1 == count && n == groups * kGroup ? direct_output : nullptr;
      slots_[i] = eval(ops[i], i, start, n, groups, out);
    }
    return slots_[count - 1];
  }

  // Value i of the chunk last run.
  const Slot& value(size_t i) const { return slots_[i]; }

 private:
  template <class T>
  T* scratch(size_t i) {
    return reinterpret_cast<T*>(&scratch_[i * kChunk]);
  }

  Slot eval(const KernelOp& op, size_t i, int64_t start, int n, int groups, void* direct) {
    switch (compute_type(op.dtype)) {
      case ComputeType::Int64: return eval_as<int64_t>(op, i, start, n, groups, direct);
      case ComputeType::Float32: return eval_as<float>(op, i, start, n, groups, direct);
      case ComputeType::Float64: return eval_as<double>(op, i, start, n, groups, direct);
    }
    return {};
  }

  template <class T>
  Slot eval_as(const KernelOp& op, size_t i, int64_t start, int n, int groups, void* direct) {
    constexpr ComputeType type = compute_type_of<T>;
    T* out = direct && compute_type(op.dtype) == type && k_.params.buffers[0].dtype == dtype_of<T>::value
                 ? static_cast<T*>(direct)
                 : scratch<T>(i);
    const int n_padded = groups * kGroup;
    if (op.op == OpKind::Load) return load<T>(op, out, start, n, n_padded);
    if (op.op == OpKind::Gather) return gather<T>(op, out, start, n, n_padded);
    if (op.op == OpKind::Scalar) {
      const ScalarParam s = k_.params.scalars[op.args[0]];
      const T v = type == ComputeType::Int64 ? T(s.i) : type == ComputeType::Float32 ? T(s.f) : T(s.d);
      std::fill(out, out + n_padded, v);
      return {out, type};
    }
    // Casts and predicates read operands of another compute type; the rest read their own.
    if (op.op == OpKind::Cast || is_predicate(op.op)) {
      switch (compute_type(op.in_dtype)) {
        case ComputeType::Int64: mixed<T, int64_t>(op, out, groups); break;
        case ComputeType::Float32: mixed<T, float>(op, out, groups); break;
        case ComputeType::Float64: mixed<T, double>(op, out, groups); break;
      }
    } else {
      apply<T>(op, out, n, groups);
    }
    round_to_dtype(out, n_padded, op.dtype);
    return {out, type};
  }

  // Elements past n (up to n_padded) are zero: computed on, never stored.
  template <class T>
  Slot load(const KernelOp& op, T* out, int64_t start, int n, int n_padded) {
    const BufferParam& b = k_.params.buffers[op.args[0]];
    const Layout layout = k_.structure.layouts[op.args[0]];
    constexpr ComputeType type = compute_type_of<T>;
    return visit_dtype(b.dtype, [&](auto zero) -> Slot {
      using S = decltype(zero);
      // A load's value has its buffer's dtype, so only the storage types of compute type T occur.
      if constexpr (!std::is_same_v<compute_cpp_t<S>, T>) {
        return {};
      } else {
        const S* src = static_cast<const S*>(b.data) + b.offset;
        if (layout == Layout::Broadcast) {
          std::fill(out, out + n_padded, convert_value<S, T>(src[0]));
          return {out, type};
        }
        if (layout == Layout::Contiguous) {
          if constexpr (std::is_same_v<S, T>) {  // read in place when the padding stays inside the chunk
            if (n == n_padded) return {const_cast<S*>(src + start), type};  // NOLINT: only read
          }
          for (int j = 0; j < n; ++j) out[j] = convert_value<S, T>(src[start + j]);
        } else {
          offsets_of(k_.params.sizes, b, start, n, offsets_.data());
          const S* base = static_cast<const S*>(b.data);
          for (int j = 0; j < n; ++j) out[j] = convert_value<S, T>(base[offsets_[j]]);
        }
        std::fill(out + n, out + n_padded, T(0));
        return {out, type};
      }
    });
  }

  // Reads a buffer at positions its strides give plus index value * stride, each index checked
  // against the size of the dim it indexes.
  template <class T>
  Slot gather(const KernelOp& op, T* out, int64_t start, int n, int n_padded) {
    const BufferParam& b = k_.params.buffers[size_t(op.args[0])];
    const auto* index = static_cast<const int64_t*>(slots_[size_t(op.args[1])].data);
    const int64_t stride = k_.params.scalars[size_t(op.args[2])].i, size = k_.params.scalars[size_t(op.args[2]) + 1].i;
    offsets_of(k_.params.sizes, b, start, n, offsets_.data());
    for (int j = 0; j < n; ++j) {
      HCI_CHECK(index[j] >= 0 && index[j] < size, "index {} is out of bounds for a dim of size {}", index[j], size);
      offsets_[size_t(j)] += index[j] * stride;
    }
    visit_dtype(b.dtype, [&](auto zero) {
      using S = decltype(zero);
      if constexpr (std::is_same_v<compute_cpp_t<S>, T>) {
        const S* base = static_cast<const S*>(b.data);
        for (int j = 0; j < n; ++j) out[j] = convert_value<S, T>(base[offsets_[size_t(j)]]);
      }
    });
    std::fill(out + n, out + n_padded, T(0));
    constexpr ComputeType type = compute_type_of<T>;
    return {out, type};
  }

  // Casts (any compute type to any) and predicates (to 0 or 1); NaN compares unequal.
  template <class T, class A>
  void mixed(const KernelOp& op, T* __restrict out, int groups) {
    const int n = groups * kGroup;
    const A* __restrict a = static_cast<const A*>(slots_[op.args[0]].data);
    if (op.op == OpKind::Cast) {
      if (op.dtype == kBool)
        for (int j = 0; j < n; ++j) out[j] = T(a[j] != A(0));
      else
        for (int j = 0; j < n; ++j) out[j] = convert_value<A, T>(a[j]);
      return;
    }
    if constexpr (std::is_same_v<T, int64_t>) {
      constexpr bool integer = std::is_same_v<A, int64_t>;
      switch (op.op) {
        case OpKind::LogicalNot:
          for (int j = 0; j < n; ++j) out[j] = a[j] == A(0);
          return;
        case OpKind::IsNan:
          for (int j = 0; j < n; ++j) out[j] = value_is_nan(a[j]);
          return;
        case OpKind::IsInf:
          if constexpr (integer)
            std::fill(out, out + n, 0);
          else
            for (int j = 0; j < n; ++j) out[j] = math::is_inf(a[j]);
          return;
        case OpKind::IsFinite:
          if constexpr (integer)
            std::fill(out, out + n, 1);
          else
            for (int j = 0; j < n; ++j) out[j] = math::is_finite(a[j]);
          return;
        default: break;
      }
      const A* __restrict b = static_cast<const A*>(slots_[op.args[1]].data);
      switch (op.op) {
        case OpKind::Eq:
          for (int j = 0; j < n; ++j) out[j] = !value_is_nan(a[j]) && !value_is_nan(b[j]) && a[j] == b[j];
          break;
        case OpKind::Ne:
          for (int j = 0; j < n; ++j) out[j] = value_is_nan(a[j]) || value_is_nan(b[j]) || a[j] != b[j];
          break;
        case OpKind::Lt:
          for (int j = 0; j < n; ++j) out[j] = !value_is_nan(a[j]) && !value_is_nan(b[j]) && a[j] < b[j];
          break;
        case OpKind::Le:
          for (int j = 0; j < n; ++j) out[j] = !value_is_nan(a[j]) && !value_is_nan(b[j]) && a[j] <= b[j];
          break;
        case OpKind::Gt:
          for (int j = 0; j < n; ++j) out[j] = !value_is_nan(a[j]) && !value_is_nan(b[j]) && a[j] > b[j];
          break;
        case OpKind::Ge:
          for (int j = 0; j < n; ++j) out[j] = !value_is_nan(a[j]) && !value_is_nan(b[j]) && a[j] >= b[j];
          break;
        case OpKind::LogicalAnd:
          for (int j = 0; j < n; ++j) out[j] = a[j] != A(0) && b[j] != A(0);
          break;
        case OpKind::LogicalOr:
          for (int j = 0; j < n; ++j) out[j] = a[j] != A(0) || b[j] != A(0);
          break;
        default: break;
      }
    }
  }

  // Operations whose operands and result share the compute type T. Elements from `valid` on
  // are padding: computed, never stored, and never an error.
  template <class T>
  void apply(const KernelOp& op, T* __restrict out, int valid, int groups) {
    const int n = groups * kGroup;
    const T* __restrict a = static_cast<const T*>(slots_[op.args[0]].data);
    const T* __restrict b = op.args[1] >= 0 ? static_cast<const T*>(slots_[op.args[1]].data) : nullptr;
    const T* __restrict c = op.args[2] >= 0 ? static_cast<const T*>(slots_[op.args[2]].data) : nullptr;
    constexpr bool integer = std::is_same_v<T, int64_t>;
    using W = Wrapping<T>;
    switch (op.op) {
      case OpKind::Neg:
        for (int j = 0; j < n; ++j) out[j] = T(-W(a[j]));
        break;
      case OpKind::Abs:
        if constexpr (integer)
          for (int j = 0; j < n; ++j) out[j] = a[j] < 0 ? T(-W(a[j])) : a[j];
        else
          for (int j = 0; j < n; ++j) out[j] = math::abs_(a[j]);
        break;
      case OpKind::Relu:
        for (int j = 0; j < n; ++j) out[j] = a[j] < T(0) ? T(0) : a[j];
        break;
      case OpKind::Add:
        for (int j = 0; j < n; ++j) out[j] = T(W(a[j]) + W(b[j]));
        break;
      case OpKind::Sub:
        for (int j = 0; j < n; ++j) out[j] = T(W(a[j]) - W(b[j]));
        break;
      case OpKind::Mul:
        for (int j = 0; j < n; ++j) out[j] = T(W(a[j]) * W(b[j]));
        break;
      case OpKind::Maximum:
        for (int j = 0; j < n; ++j)
          out[j] = value_is_nan(a[j]) ? a[j] : value_is_nan(b[j]) ? b[j] : a[j] < b[j] ? b[j] : a[j];
        break;
      case OpKind::Minimum:
        for (int j = 0; j < n; ++j)
          out[j] = value_is_nan(a[j]) ? a[j] : value_is_nan(b[j]) ? b[j] : b[j] < a[j] ? b[j] : a[j];
        break;
      case OpKind::Where:
        for (int j = 0; j < n; ++j) out[j] = a[j] != T(0) ? b[j] : c[j];
        break;
      default: break;
    }
    if constexpr (integer)
      apply_integer(op, out, a, b, valid, n);
    else
      apply_floating(op, out, a, b, n);
  }

  // Integer rounding is the identity; pow, fmod and remainder follow PyTorch's integer rules.
  static void apply_integer(const KernelOp& op, int64_t* __restrict out, const int64_t* __restrict a,
                            const int64_t* __restrict b, int valid, int n) {
    switch (op.op) {
      case OpKind::Floor:
      case OpKind::Ceil:
      case OpKind::Round:
      case OpKind::Trunc: std::copy(a, a + n, out); return;
      case OpKind::Sign:
        for (int j = 0; j < n; ++j) out[j] = (a[j] > 0) - (a[j] < 0);
        return;
      case OpKind::Pow:
        for (int j = 0; j < n; ++j) out[j] = integer_pow(a[j], b[j]);
        return;
      case OpKind::Fmod:
      case OpKind::Remainder:
        for (int j = 0; j < valid; ++j)
          HCI_CHECK(b[j] != 0, "{}: ZeroDivisionError (an integer divided by zero)", op_name(op.op));
        for (int j = 0; j < n; ++j) {
          // b == -1 divides everything, and INT64_MIN % -1 would trap; padding may divide by 0.
          int64_t r = b[j] == 0 || b[j] == -1 ? 0 : a[j] % b[j];
          if (op.op == OpKind::Remainder && r != 0 && (r < 0) != (b[j] < 0)) r += b[j];
          out[j] = r;
        }
        return;
      default: return;
    }
  }

  // base^exponent wrapping around in two's complement; negative exponents give 0 unless the
  // base is 1 or -1, as PyTorch's integer pow.
  static int64_t integer_pow(int64_t base, int64_t exponent) {
    if (exponent < 0) return base == 1 ? 1 : base == -1 ? (exponent % 2 == 0 ? 1 : -1) : 0;
    uint64_t result = 1, power = uint64_t(base);
    for (; exponent; exponent >>= 1, power *= power)
      if (exponent & 1) result *= power;
    return int64_t(result);
  }

  template <class T>
  static void apply_floating(const KernelOp& op, T* __restrict out, const T* __restrict a, const T* __restrict b,
                             int n) {
    switch (op.op) {
      case OpKind::Div:
        for (int j = 0; j < n; ++j) out[j] = a[j] / b[j];
        break;
      case OpKind::Exp:
        for (int j = 0; j < n; ++j) out[j] = math::exp(a[j]);
        break;
      case OpKind::Exp2:
        for (int j = 0; j < n; ++j) out[j] = math::exp2(a[j]);
        break;
      case OpKind::Expm1:
        for (int j = 0; j < n; ++j) out[j] = math::expm1(a[j]);
        break;
      case OpKind::Log:
        for (int j = 0; j < n; ++j) out[j] = math::log(a[j]);
        break;
      case OpKind::Log2:
        for (int j = 0; j < n; ++j) out[j] = math::log2(a[j]);
        break;
      case OpKind::Log1p:
        for (int j = 0; j < n; ++j) out[j] = math::log1p(a[j]);
        break;
      case OpKind::Sqrt:
        for (int j = 0; j < n; ++j) out[j] = math::sqrt_(a[j]);
        break;
      case OpKind::Rsqrt:
        for (int j = 0; j < n; ++j) out[j] = T(1) / math::sqrt_(a[j]);
        break;
      case OpKind::Sin: trig<math::TrigFn::Sin>(out, a, n); break;
      case OpKind::Cos: trig<math::TrigFn::Cos>(out, a, n); break;
      case OpKind::Tan: trig<math::TrigFn::Tan>(out, a, n); break;
      case OpKind::Tanh:
        for (int j = 0; j < n; ++j) out[j] = math::tanh(a[j]);
        break;
      case OpKind::Sigmoid:
        for (int j = 0; j < n; ++j) out[j] = math::sigmoid(a[j]);
        break;
      case OpKind::Silu:
        for (int j = 0; j < n; ++j) out[j] = math::silu(a[j]);
        break;
      case OpKind::Gelu:
        for (int j = 0; j < n; ++j) out[j] = math::gelu(a[j]);
        break;
      case OpKind::Erf:
        for (int j = 0; j < n; ++j) out[j] = math::erf(a[j]);
        break;
      case OpKind::Floor:
        for (int j = 0; j < n; ++j) out[j] = math::floor_(a[j]);
        break;
      case OpKind::Ceil:
        for (int j = 0; j < n; ++j) out[j] = math::ceil_(a[j]);
        break;
      case OpKind::Round:
        for (int j = 0; j < n; ++j) out[j] = math::round_half_even(a[j]);
        break;
      case OpKind::Trunc:
        for (int j = 0; j < n; ++j) out[j] = math::trunc_(a[j]);
        break;
      case OpKind::Sign:  // NaN gives 0, as PyTorch's
        for (int j = 0; j < n; ++j) out[j] = T(a[j] > T(0)) - T(a[j] < T(0));
        break;
      case OpKind::Pow:
        for (int j = 0; j < n; ++j) out[j] = math::pow(a[j], b[j]);
        break;
      case OpKind::Fmod:
        for (int j = 0; j < n; ++j) out[j] = math::fmod(a[j], b[j]);
        break;
      case OpKind::Remainder:
        for (int j = 0; j < n; ++j) out[j] = math::remainder(a[j], b[j]);
        break;
      default: break;
    }
  }

  // The vectorisable medium-range function everywhere, then the rare huge arguments again.
  template <math::TrigFn F, class T>
  static void trig(T* __restrict out, const T* __restrict a, int n) {
    for (int j = 0; j < n; ++j) out[j] = math::trig<F>(a[j]);
    for (int j = 0; j < n; ++j)
      if (math::needs_large_reduction(a[j])) out[j] = math::trig_large<F>(a[j]);
  }

  const Kernel& k_;
  std::vector<Slot> slots_;
  std::vector<double> scratch_;  // 8 bytes per element per value
  std::vector<int64_t> offsets_;
};

// Stores n computed values for linear indices [start, start + n) of the iteration space.
template <class T>
inline void store(const Kernel& k, const T* src, int64_t start, int n, std::vector<int64_t>& offsets) {
  const BufferParam& b = k.params.buffers[0];
  visit_dtype(b.dtype, [&](auto zero) {
    using S = decltype(zero);
    // The stored value has the output's dtype, so only the storage types of compute type T occur.
    if constexpr (std::is_same_v<compute_cpp_t<S>, T>) {
      S* base = static_cast<S*>(b.data);
      auto to_storage = [](T x) {
        if constexpr (std::is_same_v<S, bool>)
          return x != T(0);
        else
          return S(x);
      };
      if (k.structure.layouts[0] == Layout::Contiguous) {
        S* dst = base + b.offset + start;
        if (static_cast<const void*>(dst) != static_cast<const void*>(src))
          for (int j = 0; j < n; ++j) dst[j] = to_storage(src[j]);
      } else {
        offsets_of(k.params.sizes, b, start, n, offsets.data());
        for (int j = 0; j < n; ++j) base[offsets[j]] = to_storage(src[j]);
      }
    }
  });
}

inline void store_slot(const Kernel& k, const Slot& v, int64_t start, int n, std::vector<int64_t>& offsets) {
  switch (v.type) {
    case ComputeType::Int64: store(k, static_cast<const int64_t*>(v.data), start, n, offsets); break;
    case ComputeType::Float32: store(k, static_cast<const float*>(v.data), start, n, offsets); break;
    case ComputeType::Float64: store(k, static_cast<const double*>(v.data), start, n, offsets); break;
  }
}

inline void run_elementwise(const Kernel& k, ThreadPool& pool) {
  const int64_t total = hci::detail::numel(k.params.sizes);
  if (total == 0) return;
  const int parts = int(std::clamp<int64_t>(total / kGrain, 1, pool.size()));
  pool.run(parts, [&](int part) {
    hci::detail::PreciseFloatMode mode;
    const int64_t chunks = (total + kChunk - 1) / kChunk;
    const int64_t begin = chunks * part / parts * kChunk, end = std::min(total, chunks * (part + 1) / parts * kChunk);
    ChunkEvaluator eval(k);
    std::vector<int64_t> offsets(kChunk);
    const BufferParam& out = k.params.buffers[0];
    const bool direct = k.structure.layouts[0] == Layout::Contiguous;  // used when the dtype is the compute type
    for (int64_t s = begin; s < end; s += kChunk) {
      const int n = int(std::min<int64_t>(kChunk, end - s));
      void* target =
          direct ? static_cast<std::byte*>(out.data) + (out.offset + s) * int64_t(element_size(out.dtype)) : nullptr;
      store_slot(k, eval.run(s, n, k.structure.ops.size(), target), s, n, offsets);
    }
  });
}

// Reductions combine in one fixed order, whatever the thread count or vector width: the
// reduced elements of an output split into blocks of kBlock; in a block, element i goes to
// accumulator i % kLanes; the lanes combine as a fixed tree; the blocks combine left to right.
template <class Acc>
struct Reducer {
  OpKind op;
  Acc identity() const {
    switch (op) {
      case OpKind::Amax:
        return std::is_same_v<Acc, int64_t> ? std::numeric_limits<Acc>::min() : -std::numeric_limits<Acc>::infinity();
      case OpKind::Amin:
        return std::is_same_v<Acc, int64_t> ? std::numeric_limits<Acc>::max() : std::numeric_limits<Acc>::infinity();
      case OpKind::Prod:
      case OpKind::All: return Acc(1);
      default: return Acc(0);
    }
  }
  Acc combine(Acc a, Acc b) const {
    if constexpr (!std::is_same_v<Acc, int64_t>) {
      if (op == OpKind::Amax || op == OpKind::Amin) {
        if (math::is_nan(a)) return a;
        if (math::is_nan(b)) return b;
      }
    }
    using W = Wrapping<Acc>;
    switch (op) {
      case OpKind::Amax: return a < b ? b : a;
      case OpKind::Amin: return b < a ? b : a;
      case OpKind::Prod: return Acc(W(a) * W(b));
      case OpKind::All: return Acc(a != Acc(0) && b != Acc(0));
      case OpKind::Any: return Acc(a != Acc(0) || b != Acc(0));
      default: return Acc(W(a) + W(b));
    }
  }
  // The kLanes accumulators at(0) .. at(7), combined as a fixed tree.
  template <class At>
  Acc combine_lanes(At at) const {
    return combine(combine(combine(at(0), at(1)), combine(at(2), at(3))),
                   combine(combine(at(4), at(5)), combine(at(6), at(7))));
  }
  // Calls f with this reducer's combine as a function object of its own type per op, so that
  // loops over it vectorise for sums and products.
  template <class F>
  void with_combine(F&& f) const {
    using W = Wrapping<Acc>;
    switch (op) {
      case OpKind::Sum:
      case OpKind::Mean: return f([](Acc a, Acc b) { return Acc(W(a) + W(b)); });
      case OpKind::Prod: return f([](Acc a, Acc b) { return Acc(W(a) * W(b)); });
      default: return f([this](Acc a, Acc b) { return combine(a, b); });
    }
  }
};

// The number of outputs (or rows) of a reduction or row-wise kernel, and the number of
// elements each reduces (or its row length): the kept and the trailing iteration dims.
struct OutputsAndLength {
  int64_t outputs = 1, length = 1;
};
inline OutputsAndLength outputs_and_length(const Kernel& k) {
  OutputsAndLength r;
  const int rank = k.structure.rank, trailing = k.structure.reduce_rank;
  for (int d = 0; d < rank; ++d) (d < rank - trailing ? r.outputs : r.length) *= k.params.sizes[d];
  return r;
}

template <class Acc>
inline Acc reduce_block(const Kernel& k, ChunkEvaluator& eval, const Reducer<Acc>& r, int64_t base, int64_t length) {
  Acc lanes[kLanes];
  std::fill(lanes, lanes + kLanes, r.identity());
  const size_t count = k.structure.ops.size() - 1;  // the values feeding the reduction
  for (int64_t s = 0; s < length; s += kChunk) {
    const int n = int(std::min<int64_t>(kChunk, length - s));
    const Slot v = eval.run(base + s, n, count);
    const Acc* x = static_cast<const Acc*>(v.data);
    r.with_combine([&](auto combine) {  // element j goes to lane j % kLanes
      int j = 0;
      for (; j + kLanes <= n; j += kLanes)
        for (int l = 0; l < kLanes; ++l) lanes[l] = combine(lanes[l], x[j + l]);
      for (; j < n; ++j) lanes[j % kLanes] = combine(lanes[j % kLanes], x[j]);
    });
  }
  return r.combine_lanes([&](int l) { return lanes[l]; });
}

// Writes one value per output of a reduction; the output is addressed by the kept dims alone
// (its strides over reduced dims are 0).
template <class Acc>
inline void store_reduced(const Kernel& k, const std::vector<Acc>& results) {
  const int rank = k.structure.rank, reduce_rank = k.structure.reduce_rank;
  const Dims kept_sizes(k.params.sizes.begin(), k.params.sizes.begin() + (rank - reduce_rank));
  BufferParam out = k.params.buffers[0];
  out.strides.resize(kept_sizes.size());
  std::vector<int64_t> offsets(kChunk);
  visit_dtype(out.dtype, [&](auto zero) {
    using S = decltype(zero);
    if constexpr (std::is_same_v<compute_cpp_t<S>, Acc>) {  // the result has the accumulator's type
      S* base = static_cast<S*>(out.data);
      for (size_t o = 0; o < results.size(); o += kChunk) {
        const int n = int(std::min<size_t>(kChunk, results.size() - o));
        offsets_of(kept_sizes, out, int64_t(o), n, offsets.data());
        for (int j = 0; j < n; ++j) {
          if constexpr (std::is_same_v<S, bool>)
            base[offsets[j]] = results[o + j] != Acc(0);
          else
            base[offsets[j]] = S(results[o + j]);
        }
      }
    }
  });
}

// Whether a reduction over [outputs, reduced] reads its operands along the outputs: every
// buffer loaded has stride 0 or 1 there (a sum over the rows of a row-major matrix, say).
inline bool reduces_outer_dim(const Kernel& k) {
  if (k.structure.rank != 2 || k.structure.reduce_rank != 1) return false;
  for (const KernelOp& op : k.structure.ops)
    if (op.op == OpKind::Load && std::abs(k.params.buffers[size_t(op.args[0])].strides[0]) > 1) return false;
  return true;
}

// The kernel of a reduction over the outer dim (see reduces_outer_dim) over the iteration space
// [reduced, outputs]: each reduced row of the operands is a run along the outputs.
inline Kernel transposed_to_rows(const Kernel& k) {
  Kernel transposed = k;
  std::swap(transposed.params.sizes[0], transposed.params.sizes[1]);
  for (BufferParam& b : transposed.params.buffers) std::swap(b.strides[0], b.strides[1]);
  const Dims contiguous = hci::detail::contiguous_strides(transposed.params.sizes);
  for (size_t b = 0; b < transposed.params.buffers.size(); ++b)
    transposed.structure.layouts[b] = layout_of(transposed.params.buffers[b].strides, contiguous);
  transposed.structure.reduces_leading = true;
  transposed.hash = transposed.structure.hash();
  return transposed;
}

// The reduction over the outer dim in the same order as reduce_block (element i of an output to
// lane i % kLanes within blocks of kBlock, the lanes as a tree, the blocks left to right), but
// walking memory row by row: the operands are evaluated a strip of outputs at a time through
// the transposed iteration space, into kLanes accumulators per output.
template <class Acc>
inline void run_reduction_by_rows(const Kernel& k, ThreadPool& pool, const Reducer<Acc>& r, std::vector<Acc>& results) {
  const int64_t outputs = k.params.sizes[0], length = k.params.sizes[1];
  const Kernel transposed = transposed_to_rows(k);
  const size_t count = k.structure.ops.size() - 1;
  const int64_t strips = (outputs + kChunk - 1) / kChunk;
  const int threads = int(std::clamp<int64_t>(outputs * length / kGrain, 1, std::min<int64_t>(strips, pool.size())));
  pool.run(threads, [&](int part) {
    hci::detail::PreciseFloatMode mode;
    ChunkEvaluator eval(transposed);
    std::vector<Acc> lanes(size_t(kLanes * kChunk)), total(kChunk);
    for (int64_t strip = strips * part / threads; strip < strips * (part + 1) / threads; ++strip) {
      const int64_t o0 = strip * kChunk;
      const int n = int(std::min<int64_t>(kChunk, outputs - o0));
      for (int64_t b0 = 0; b0 < std::max<int64_t>(length, 1); b0 += kBlock) {
        std::fill(lanes.begin(), lanes.end(), r.identity());
        for (int64_t i = b0; i < std::min(length, b0 + kBlock); ++i) {
          const Acc* x = static_cast<const Acc*>(eval.run(i * outputs + o0, n, count).data);
          Acc* lane = lanes.data() + (i - b0) % kLanes * kChunk;
          r.with_combine([&](auto combine) {
            for (int j = 0; j < n; ++j) lane[j] = combine(lane[j], x[j]);
          });
        }
        for (int j = 0; j < n; ++j) {
          const Acc block = r.combine_lanes([&](int l) { return lanes[size_t(l) * kChunk + size_t(j)]; });
          total[size_t(j)] = b0 == 0 ? block : r.combine(total[size_t(j)], block);
        }
      }
      for (int j = 0; j < n; ++j)
        results[size_t(o0 + j)] = r.op == OpKind::Mean ? total[size_t(j)] / Acc(length) : total[size_t(j)];
    }
  });
}

template <class Acc>
inline void run_reduction_as(const Kernel& k, ThreadPool& pool) {
  const KernelOp& root = k.structure.ops.back();
  const Reducer<Acc> r{root.op};
  const auto [outputs, length] = outputs_and_length(k);
  if (outputs == 0) return;
  const int64_t blocks = std::max<int64_t>(1, (length + kBlock - 1) / kBlock);
  std::vector<Acc> results(static_cast<size_t>(outputs), r.identity());
  if (reduces_outer_dim(k)) {
    run_reduction_by_rows(k, pool, r, results);
    round_to_dtype(results.data(), int(results.size()), root.dtype);
    store_reduced(k, results);
    return;
  }

  // Block values of output o for blocks [b0, b1).
  auto block_values = [&](ChunkEvaluator& eval, int64_t o, int64_t b0, int64_t b1, Acc* out) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t start = b * kBlock;
      out[b] =
          length == 0 ? r.identity() : reduce_block(k, eval, r, o * length + start, std::min(kBlock, length - start));
    }
  };
  auto finish = [&](const Acc* values) {
    Acc total = values[0];
    for (int64_t b = 1; b < blocks; ++b) total = r.combine(total, values[b]);
    if (root.op == OpKind::Mean) total = total / Acc(length);
    return total;
  };

  const int64_t work = outputs * std::max<int64_t>(length, 1);
  const int threads = int(std::clamp<int64_t>(work / kGrain, 1, pool.size()));
  if (outputs >= threads) {
    pool.run(threads, [&](int part) {
      hci::detail::PreciseFloatMode mode;
      ChunkEvaluator eval(k);
      std::vector<Acc> values(static_cast<size_t>(blocks));
      for (int64_t o = outputs * part / threads; o < outputs * (part + 1) / threads; ++o) {
        block_values(eval, o, 0, blocks, values.data());
        results[size_t(o)] = finish(values.data());
      }
    });
  } else {
    std::vector<Acc> values(static_cast<size_t>(blocks));
    for (int64_t o = 0; o < outputs; ++o) {
      pool.run(threads, [&](int part) {
        hci::detail::PreciseFloatMode mode;
        ChunkEvaluator eval(k);
        block_values(eval, o, blocks * part / threads, blocks * (part + 1) / threads, values.data());
      });
      results[size_t(o)] = finish(values.data());
    }
  }
  round_to_dtype(results.data(), int(results.size()), root.dtype);
  store_reduced(k, results);
}

// Where an output has its best value so far, and at which index of the reduced elements.
template <class V>
struct Candidate {
  V value;
  int64_t index;
};

// argmax and argmin: the first index of the maximum (minimum); NaN counts as both, as in
// PyTorch. Exact, so the result is the same in any order of evaluation.
template <class V>
inline void run_arg_reduction(const Kernel& k, ThreadPool& pool) {
  const bool max = k.structure.root() == OpKind::Argmax;
  // Whether a, at a later index, replaces b.
  auto replaces = [&](V a, V b) {
    if (value_is_nan(b)) return false;
    if (value_is_nan(a)) return true;
    return max ? b < a : a < b;
  };
  const auto [outputs, length] = outputs_and_length(k);
  if (outputs == 0) return;
  const size_t count = k.structure.ops.size() - 1;
  // The best of output o over reduced elements [begin, end).
  auto best_of = [&](ChunkEvaluator& eval, int64_t o, int64_t begin, int64_t end) {
    Candidate<V> best{V(0), -1};
    for (int64_t s = begin; s < end; s += kChunk) {
      const int n = int(std::min<int64_t>(kChunk, end - s));
      const V* x = static_cast<const V*>(eval.run(o * length + s, n, count).data);
      for (int j = 0; j < n; ++j)
        if (best.index < 0 || replaces(x[j], best.value)) best = {x[j], s + j};
    }
    return best;
  };
  std::vector<int64_t> results(static_cast<size_t>(outputs));
  const int threads = int(std::clamp<int64_t>(outputs * length / kGrain, 1, pool.size()));
  if (outputs >= threads) {
    pool.run(threads, [&](int part) {
      ChunkEvaluator eval(k);
      for (int64_t o = outputs * part / threads; o < outputs * (part + 1) / threads; ++o)
        results[size_t(o)] = best_of(eval, o, 0, length).index;
    });
  } else {
    std::vector<Candidate<V>> parts(static_cast<size_t>(threads));
    for (int64_t o = 0; o < outputs; ++o) {
      pool.run(threads, [&](int part) {
        ChunkEvaluator eval(k);
        parts[size_t(part)] = best_of(eval, o, length * part / threads, length * (part + 1) / threads);
      });
      Candidate<V> best = parts[0];
      for (const Candidate<V>& c : parts)
        if (c.index >= 0 && (best.index < 0 || replaces(c.value, best.value))) best = c;
      results[size_t(o)] = best.index;
    }
  }
  store_reduced(k, results);
}

// Scans: a running result along the last iteration dim, one row after another. The running
// value is kept in double for floats (as PyTorch's CPU scans do); each output is rounded to
// its dtype.
template <class Acc>
inline void run_scan(const Kernel& k, ThreadPool& pool) {
  const auto [rows, length] = outputs_and_length(k);
  if (rows == 0 || length == 0) return;
  const size_t count = k.structure.ops.size() - 1;
  const DType dtype = k.structure.ops.back().dtype;
  const int threads = int(std::clamp<int64_t>(rows * length / kGrain, 1, std::min<int64_t>(rows, pool.size())));
  pool.run(threads, [&](int part) {
    hci::detail::PreciseFloatMode mode;
    ChunkEvaluator eval(k);
    std::vector<Acc> running(kChunk);
    std::vector<int64_t> offsets(kChunk);
    using W = std::conditional_t<std::is_same_v<Acc, int64_t>, uint64_t, double>;  // integers wrap around
    for (int64_t r = rows * part / threads; r < rows * (part + 1) / threads; ++r) {
      W carry = W(0);
      for (int64_t s = 0; s < length; s += kChunk) {
        const int n = int(std::min<int64_t>(kChunk, length - s));
        const Acc* x = static_cast<const Acc*>(eval.run(r * length + s, n, count).data);
        for (int j = 0; j < n; ++j) {
          carry += W(x[j]);
          running[size_t(j)] = Acc(carry);
        }
        round_to_dtype(running.data(), n, dtype);
        store(k, running.data(), r * length + s, n, offsets);
      }
    }
  });
}

// softmax and log_softmax along each row, the row resident in cache: one pass for the
// maximum, one for e^(x - max) and its sum (the row written out), one to normalise the written
// row. The maximum and the sum combine in lanes as reductions do; one thread per row.
template <class Acc>
inline void run_softmax(const Kernel& k, ThreadPool& pool) {
  const auto [rows, length] = outputs_and_length(k);
  if (rows == 0 || length == 0) return;
  const KernelOp& root = k.structure.ops.back();
  const bool log_softmax = root.op == OpKind::LogSoftmax;
  const size_t count = k.structure.ops.size() - 1;
  const BufferParam& out = k.params.buffers[0];
  // A contiguous output of the accumulator's type takes the row directly; others go through a
  // row buffer and store().
  const bool direct = k.structure.layouts[0] == Layout::Contiguous && out.dtype == dtype_of<Acc>::value;
  const int threads = int(std::clamp<int64_t>(rows * length / kGrain, 1, std::min<int64_t>(rows, pool.size())));
  pool.run(threads, [&](int part) {
    hci::detail::PreciseFloatMode mode;
    ChunkEvaluator eval(k);
    std::vector<Acc> row_buffer(direct ? 0 : size_t(length));
    std::vector<int64_t> offsets(kChunk);
    const Reducer<Acc> max_of{OpKind::Amax}, sum_of{OpKind::Sum};
    for (int64_t r = rows * part / threads; r < rows * (part + 1) / threads; ++r) {
      Acc* row = direct ? static_cast<Acc*>(out.data) + out.offset + r * length : row_buffer.data();
      Acc lanes[kLanes];
      std::fill(lanes, lanes + kLanes, max_of.identity());
      for (int64_t s = 0; s < length; s += kChunk) {
        const int n = int(std::min<int64_t>(kChunk, length - s));
        const Acc* x = static_cast<const Acc*>(eval.run(r * length + s, n, count).data);
        for (int j = 0; j < n; ++j) lanes[j % kLanes] = max_of.combine(lanes[j % kLanes], x[j]);
      }
      const Acc max = max_of.combine_lanes([&](int l) { return lanes[l]; });
      std::fill(lanes, lanes + kLanes, Acc(0));
      for (int64_t s = 0; s < length; s += kChunk) {
        const int n = int(std::min<int64_t>(kChunk, length - s));
        const Acc* x = static_cast<const Acc*>(eval.run(r * length + s, n, count).data);
        Acc* y = row + s;
        if (log_softmax) {
          for (int j = 0; j < n; ++j) y[j] = x[j] - max;
          for (int j = 0; j < n; ++j) lanes[j % kLanes] += math::exp(y[j]);
        } else {
          for (int j = 0; j < n; ++j) y[j] = math::exp(x[j] - max);
          for (int j = 0; j < n; ++j) lanes[j % kLanes] += y[j];
        }
      }
      const Acc sum = sum_of.combine_lanes([&](int l) { return lanes[l]; });
      if (log_softmax) {
        const Acc log_sum = math::log(sum);
        for (int64_t j = 0; j < length; ++j) row[j] -= log_sum;
      } else {
        const Acc scale = Acc(1) / sum;  // a multiply per element, as PyTorch's kernel
        for (int64_t j = 0; j < length; ++j) row[j] *= scale;
      }
      if (!direct) {
        round_to_dtype(row, int(length), root.dtype);
        for (int64_t s = 0; s < length; s += kChunk)
          store(k, row + s, r * length + s, int(std::min<int64_t>(kChunk, length - s)), offsets);
      }
    }
  });
}

// argsort: each row's values into a buffer, then a stable sort of their positions; NaN sorts
// as the largest value.
template <class V>
inline void run_argsort(const Kernel& k, ThreadPool& pool) {
  const auto [rows, length] = outputs_and_length(k);
  if (rows == 0 || length == 0) return;
  const bool descending = k.params.scalars[size_t(k.structure.ops.back().args[1])].i != 0;
  const size_t count = k.structure.ops.size() - 1;
  const int threads = int(std::clamp<int64_t>(rows * length / kGrain, 1, std::min<int64_t>(rows, pool.size())));
  pool.run(threads, [&](int part) {
    ChunkEvaluator eval(k);
    std::vector<V> values(static_cast<size_t>(length));
    std::vector<int64_t> order(static_cast<size_t>(length)), offsets(kChunk);
    for (int64_t r = rows * part / threads; r < rows * (part + 1) / threads; ++r) {
      for (int64_t s = 0; s < length; s += kChunk) {
        const int n = int(std::min<int64_t>(kChunk, length - s));
        const V* x = static_cast<const V*>(eval.run(r * length + s, n, count).data);
        std::copy(x, x + n, values.begin() + s);
      }
      for (int64_t i = 0; i < length; ++i) order[size_t(i)] = i;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        const V va = values[size_t(a)], vb = values[size_t(b)];
        if (descending) return value_is_nan(va) ? !value_is_nan(vb) : !value_is_nan(vb) && va > vb;
        return !value_is_nan(va) && (value_is_nan(vb) || va < vb);
      });
      for (int64_t s = 0; s < length; s += kChunk)
        store(k, order.data() + s, r * length + s, int(std::min<int64_t>(kChunk, length - s)), offsets);
    }
  });
}

// Indexed writes, in iteration order on one thread, so repeated positions add up (or the last
// write wins) the same way every time.
template <class T>
inline void run_scatter(const Kernel& k) {
  const int64_t total = hci::detail::numel(k.params.sizes);
  const KernelOp& root = k.structure.ops.back();
  const int64_t stride = k.params.scalars[size_t(root.args[2])].i, bound = k.params.scalars[size_t(root.args[2]) + 1].i;
  const bool accumulate = k.params.scalars[size_t(root.args[2]) + 2].i != 0;
  const BufferParam& out = k.params.buffers[0];
  hci::detail::PreciseFloatMode mode;
  ChunkEvaluator eval(k);
  std::vector<int64_t> offsets(kChunk);
  for (int64_t s = 0; s < total; s += kChunk) {
    const int n = int(std::min<int64_t>(kChunk, total - s));
    eval.run(s, n, k.structure.ops.size() - 1);
    const auto* index = static_cast<const int64_t*>(eval.value(size_t(root.args[0])).data);
    const T* source = static_cast<const T*>(eval.value(size_t(root.args[1])).data);
    offsets_of(k.params.sizes, out, s, n, offsets.data());
    visit_dtype(out.dtype, [&](auto zero) {
      using S = decltype(zero);
      if constexpr (std::is_same_v<compute_cpp_t<S>, T>) {
        S* base = static_cast<S*>(out.data);
        for (int j = 0; j < n; ++j) {
          HCI_CHECK(bound < 0 || (index[j] >= 0 && index[j] < bound), "index {} is out of bounds for a dim of size {}",
                    index[j], bound);
          S& target = base[offsets[size_t(j)] + index[j] * stride];
          T value = source[j];
          if (accumulate) {
            using W = Wrapping<T>;
            value = T(W(convert_value<S, T>(target)) + W(value));
          }
          if constexpr (std::is_same_v<S, bool>)
            target = value != T(0);
          else
            target = S(value);
        }
      }
    });
  }
}

// Calls f with a zero of the C++ type a dtype computes in.
template <class F>
inline void visit_compute_type(DType dtype, F&& f) {
  switch (compute_type(dtype)) {
    case ComputeType::Int64: return f(int64_t{});
    case ComputeType::Float32: return f(float{});
    case ComputeType::Float64: return f(double{});
  }
}

HCI_RUNTIME_DEF void run_kernel(const Kernel& k, ThreadPool& pool) {
  const KernelOp& root = k.structure.ops.back();
  if (root.op == OpKind::Scatter)
    return visit_compute_type(root.dtype, [&](auto zero) { run_scatter<decltype(zero)>(k); });
  if (root.op == OpKind::Cumsum)
    return visit_compute_type(root.dtype, [&](auto zero) { run_scan<decltype(zero)>(k, pool); });
  if (root.op == OpKind::Argsort)
    return visit_compute_type(root.in_dtype, [&](auto zero) { run_argsort<decltype(zero)>(k, pool); });
  if (k.structure.is_row_wise()) {  // softmax and log_softmax compute in a floating type
    if (compute_type(root.dtype) == ComputeType::Float64) return run_softmax<double>(k, pool);
    return run_softmax<float>(k, pool);
  }
  if (!k.structure.is_reduction()) return run_elementwise(k, pool);
  if (is_arg_reduction(root.op))
    return visit_compute_type(root.in_dtype, [&](auto zero) { run_arg_reduction<decltype(zero)>(k, pool); });
  visit_compute_type(root.in_dtype, [&](auto zero) { run_reduction_as<decltype(zero)>(k, pool); });
}

}  // namespace cpu::interp

HCI_END_NAMESPACE

HCI_PRECISE_FP_END

#endif  // HCI_RUNTIME_DEFINITIONS
