// What the JIT's tests share: skipping where the JIT cannot run, and random programs (graphs of
// ops over inputs of random dtypes, shapes and views) to run through the executors.
#pragma once

#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace jit_test {

using hci::DType;
using hci::Tensor;

// Skips the test (ctest's code 77) where the JIT cannot run, unless the environment says it must.
inline void require_jit() {
  if (hci::jit::enabled()) return;
  if (std::getenv("HCI_TEST_REQUIRE_JIT")) FAIL("the JIT is required here, but " << hci::jit::status());
  WARN("skipped: the JIT is not available: " << hci::jit::status());
  std::exit(77);
}

// A random program: a shape, inputs broadcast against it (dtype, view), then ops, each naming
// its operands by index into the values computed so far. Replayed once per executor, and over
// several sizes of the same shape pattern.
struct Input {
  std::vector<bool> ones;  // the dims of the shape where this input has size 1 (broadcast)
  bool drop_leading;       // whether it lacks the shape's first dim
  DType dtype;
  int view;  // 0: contiguous, 1: transposed, 2: every other element, 3: expanded from size 1
};
struct Step {
  int op;
  int a, b, c;
  double number;
  DType dtype;
  uint32_t bits;  // of a reduction: the dims reduced (none: all), and bit 8 for keepdim
};
struct Program {
  hci::Dims shape;
  std::vector<Input> inputs;
  std::vector<Step> steps;
};

// A kernel made by hand, as the scheduler would make it: out = a * b + a over float32 buffers of
// one element (null pointers where only the structure is wanted).
inline hci::Kernel multiply_add_kernel(float* out = nullptr, float* a = nullptr, float* b = nullptr) {
  hci::Kernel k;
  k.structure.ops = {{hci::OpKind::Load, hci::kFloat32, hci::kFloat32, 0, {1, -1, -1}},
                     {hci::OpKind::Load, hci::kFloat32, hci::kFloat32, 0, {2, -1, -1}},
                     {hci::OpKind::Mul, hci::kFloat32, hci::kFloat32, 0, {0, 1, -1}},
                     {hci::OpKind::Add, hci::kFloat32, hci::kFloat32, 0, {2, 0, -1}}};
  k.structure.layouts = {hci::Layout::Contiguous, hci::Layout::Contiguous, hci::Layout::Contiguous};
  k.structure.rank = 1;
  k.params.sizes = {1};
  for (float* p : {out, a, b}) k.params.buffers.push_back({p, hci::kFloat32, 0, {1}});
  k.hash = k.structure.hash();
  return k;
}

inline constexpr DType kDTypes[] = {hci::kBool,  hci::kUInt8,   hci::kInt8,     hci::kInt16,   hci::kInt32,
                                    hci::kInt64, hci::kFloat16, hci::kBFloat16, hci::kFloat32, hci::kFloat64};
inline constexpr int kNumDTypes = int(std::size(kDTypes));
inline constexpr int kOps = 54;

// Operands of matrix products of `dtype` that the GPU's tiled kernel must get right: partial
// tiles along M and N and a partial slice along K, a batch against a broadcast operand,
// transposed and sliced (offset, non-contiguous) operands, an empty K. Their values are integers
// from -5 to 5 (halved for floats; 0 or 1 for bool), so every sum is exact in each compute type
// and any order of summation gives the same bits.
inline std::vector<std::pair<Tensor, Tensor>> matmul_cases(DType dtype) {
  auto values = [&](hci::Dims shape, int seed) {
    int64_t n = 1;
    for (int64_t size : shape) n *= size;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) {
      const auto small = double(int64_t(i * 7 + size_t(seed)) % 11 - 5);
      v[i] = dtype == hci::kBool ? double(small > 0) : hci::is_floating_point(dtype) ? small * 0.5 : small;
    }
    return hci::from_vector(v, shape).to(dtype);
  };
  const Tensor a = values({70, 45}, 1), b = values({45, 130}, 2);
  return {{a, b},
          {values({3, 20, 17}, 3), values({17, 66}, 4)},
          {b.t(), a.t()},
          {a.slice(1, 5, 40), b.slice(0, 5, 40)},
          {values({4, 0}, 5), values({0, 5}, 6)}};
}

// The bytes of a matrix product kernel's output storage: contiguous [batch..., M, N] after its
// offset.
inline size_t matmul_output_bytes(const hci::Kernel& k) {
  int64_t outputs = 1;
  for (size_t d = 0; d + 1 < k.params.sizes.size(); ++d) outputs *= k.params.sizes[d];
  const hci::BufferParam& out = k.params.buffers[0];
  return size_t(out.offset + outputs) * hci::element_size(out.dtype);
}

inline Program random_program(std::mt19937_64& rng) {
  auto pick = [&](int n) { return int(rng() % uint64_t(n)); };
  Program p;
  const int rank = pick(5);
  static constexpr int64_t sizes[] = {0, 1, 1, 2, 3, 5, 7, 16, 17, 33};
  int64_t numel = 1;
  for (int d = 0; d < rank; ++d) {
    p.shape.push_back(sizes[pick(10)]);
    numel *= p.shape.back();
  }
  if (rank > 0 && pick(20) == 0 && numel > 0) p.shape.back() = 40001 / std::max<int64_t>(numel / p.shape.back(), 1);
  const int inputs = 1 + pick(3);
  for (int i = 0; i < inputs; ++i) {
    Input in{std::vector<bool>(size_t(rank)), false, kDTypes[pick(kNumDTypes)], pick(4)};
    for (int d = 0; d < rank; ++d) in.ones[size_t(d)] = pick(4) == 0;
    in.drop_leading = rank > 0 && pick(4) == 0;
    p.inputs.push_back(in);
  }
  const int steps = 1 + pick(12);
  for (int i = 0; i < steps; ++i) {
    const int values = inputs + i;
    // Recent values are more likely operands, so chains grow long.
    auto operand = [&] { return std::max(0, values - 1 - pick(std::min(values, 3))); };
    static constexpr double numbers[] = {0.0, -1.0, 2.5, 3.0, -0.0, 1e30, 0.1, 7.0};
    p.steps.push_back(Step{pick(kOps), operand(), operand(), operand(), numbers[pick(8)], kDTypes[pick(kNumDTypes)],
                           uint32_t(rng())});
  }
  return p;
}

// The same pattern at other sizes: dims above 1 get new sizes, so the program's kernels keep
// their structures (compiled once, served from memory) under other parameters.
inline hci::Dims other_sizes(const hci::Dims& shape, std::mt19937_64& rng) {
  static constexpr int64_t sizes[] = {2, 3, 5, 7, 16, 17, 33};
  hci::Dims resized = shape;
  for (int64_t& s : resized)
    if (s > 1 && s <= 33) s = sizes[rng() % 7];
  return resized;
}

inline hci::Dims input_shape(const Input& in, const hci::Dims& shape) {
  hci::Dims dims;
  for (size_t d = in.drop_leading ? 1 : 0; d < shape.size(); ++d) dims.push_back(in.ones[d] ? 1 : shape[d]);
  return dims;
}

// An input of the shape, its view taken on `device` (where its storage is).
inline Tensor make_input(const hci::Dims& shape, DType dtype, int view, uint64_t seed,
                         hci::Device device = hci::Device::cpu()) {
  std::mt19937_64 rng(seed);
  const int64_t n = hci::detail::numel(shape);
  // Each view reads memory laid out differently from its shape.
  hci::Dims storage_shape = shape;
  if (view == 1 && storage_shape.size() >= 2) std::swap(storage_shape[0], storage_shape[1]);
  if (view == 2 && !storage_shape.empty()) storage_shape.back() *= 2;
  const int64_t count = hci::detail::numel(storage_shape);
  static constexpr double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                                        INFINITY,
                                        -INFINITY,
                                        -0.0,
                                        0.0,
                                        1e300,
                                        -1e-310,
                                        127,
                                        -128,
                                        255,
                                        65535,
                                        -2147483648.0,
                                        9e18};
  std::vector<double> values(static_cast<size_t>(count));
  for (double& v : values)
    v = rng() % 8 == 0 ? specials[rng() % 13] : double(int64_t(rng() % 2001) - 1000) / double(1 + rng() % 8);
  Tensor base = hci::from_vector<double>(values, storage_shape).to(dtype).to(device);
  Tensor t = base;
  if (view == 1 && shape.size() >= 2) t = base.transpose(0, 1);
  if (view == 2 && !shape.empty()) t = base.slice(int64_t(shape.size()) - 1, 0, std::nullopt, 2);
  if (view == 3 && n > 0 && !shape.empty()) {
    hci::Dims ones(shape.size(), 1);
    t = hci::from_vector<double>({values.empty() ? 1.0 : values[0]}, ones).to(dtype).to(device).expand(shape);
  }
  hci::eval(t);
  return t;
}

inline Tensor apply_step(const Step& s, const std::vector<Tensor>& v) {
  const Tensor &a = v[size_t(s.a)], &b = v[size_t(s.b)], &c = v[size_t(s.c)];
  hci::Dims dims;  // of a reduction
  for (int64_t d = 0; d < a.dim(); ++d)
    if (s.bits >> d & 1) dims.push_back(d);
  const bool keepdim = s.bits >> 8 & 1;
  switch (s.op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return -a;
    case 5: return hci::abs(a);
    case 6: return hci::relu(a);
    case 7: return hci::sqrt(a);
    case 8: return hci::rsqrt(a);
    case 9: return hci::sign(a);
    case 10: return hci::maximum(a, b);
    case 11: return hci::minimum(a, b);
    case 12: return hci::where(a.to(hci::kBool), b, c);
    case 13: return hci::eq(a, b);
    case 14: return hci::ne(a, b);
    case 15: return hci::lt(a, b);
    case 16: return hci::le(a, b);
    case 17: return hci::gt(a, b);
    case 18: return hci::ge(a, b);
    case 19: return hci::logical_and(a, b);
    case 20: return hci::logical_or(a, b);
    case 21: return hci::logical_not(a);
    case 22: return hci::isnan(a);
    case 23: return hci::isinf(a) + hci::isfinite(b);
    case 24: return a.to(s.dtype);
    case 25: return a * s.number;
    case 26: return a + s.number;
    case 27: return hci::floor(a) + hci::trunc(b);
    case 28: return hci::exp(a);
    case 29: return hci::exp2(a);
    case 30: return hci::expm1(a);
    case 31: return hci::log(a);
    case 32: return hci::log2(a);
    case 33: return hci::log1p(a);
    case 34: return hci::tanh(a);
    case 35: return hci::sigmoid(a);
    case 36: return hci::silu(a);
    case 37: return hci::gelu(a);
    case 38: return hci::erf(a);
    case 39: return hci::pow(a, b);
    case 40: return hci::ceil(a) + hci::round(b);
    case 41: return a.sum(dims, keepdim);
    case 42: return a.mean(dims, keepdim);
    case 43: return a.prod(dims, keepdim);
    case 44: return a.amax(dims, keepdim);
    case 45: return a.amin(dims, keepdim);
    case 46: return a.all(dims, keepdim);
    case 47: return a.any(dims, keepdim);
    case 48: return a.softmax(a.dim() == 0 ? 0 : int64_t(s.bits % uint32_t(a.dim())));
    case 49: return a.log_softmax(a.dim() == 0 ? 0 : int64_t(s.bits % uint32_t(a.dim())));
    case 50: return hci::sin(a) + hci::cos(b);
    case 51: return hci::tan(a);
    case 52: return hci::fmod(a.to(hci::kFloat64), b) + a.to(hci::kFloat32) % b.to(hci::kFloat32);
    default: {  // rows picked by a computed index (fused into the gather), shuffled and repeated
      if (a.dim() == 0 || a.size(0) == 0) return a;
      const int64_t rows = a.size(0);
      const Tensor index = hci::arange(rows + 2, hci::dtype(hci::kInt64).device(a.device()));
      return a.index_select(0, (index * 7 + int64_t(s.bits % 5)) % rows);
    }
  }
}

inline Tensor run(const Program& p, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> values = inputs;
  for (const Step& s : p.steps) {
    try {
      values.push_back(apply_step(s, values));
    } catch (const hci::Error&) {
      values.push_back(values.back());  // an op these dtypes don't allow: recorded nowhere, skipped
    }
  }
  return values.back();
}

// The result's bits: floats widened to double (exactly), integers as int64. A NaN's sign and
// payload are not specified (IEEE 754 leaves them open, and LLVM folds 0/0 to another NaN than
// the hardware makes), so every NaN counts as one.
inline std::vector<uint64_t> bits_of(const Tensor& t) {
  std::vector<uint64_t> bits;
  if (t.is_floating_point()) {
    for (double d : t.to_vector<double>())
      bits.push_back(std::isnan(d) ? 0x7ff8000000000000u : std::bit_cast<uint64_t>(d));
  } else {
    for (int64_t i : t.to_vector<int64_t>()) bits.push_back(uint64_t(i));
  }
  return bits;
}

inline std::string describe(const Program& p, const hci::Dims& shape) {
  std::string text;
  for (const Input& in : p.inputs)
    text += fmt::format("input {} {} view {}; ", hci::detail::shape_str(input_shape(in, shape)),
                        hci::dtype_name(in.dtype), in.view);
  for (const Step& s : p.steps)
    text += fmt::format("op {} ({}, {}, {}) {} {}; ", s.op, s.a, s.b, s.c, s.number, hci::dtype_name(s.dtype));
  return text;
}

}  // namespace jit_test
