// The JIT against the interpreter: random graphs from a fixed seed run through both executors
// must give bit-identical results; plus what the JIT reports about itself.
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <vector>

namespace {

using hci::DType;
using hci::Tensor;

// Skips the test (ctest's code 77) where the JIT cannot run, unless the environment says it must.
void require_jit() {
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

constexpr DType kDTypes[] = {hci::kBool,  hci::kUInt8,   hci::kInt8,     hci::kInt16,   hci::kInt32,
                             hci::kInt64, hci::kFloat16, hci::kBFloat16, hci::kFloat32, hci::kFloat64};
constexpr int kNumDTypes = int(std::size(kDTypes));
constexpr int kOps = 52;

Program random_program(std::mt19937_64& rng) {
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
hci::Dims other_sizes(const hci::Dims& shape, std::mt19937_64& rng) {
  static constexpr int64_t sizes[] = {2, 3, 5, 7, 16, 17, 33};
  hci::Dims resized = shape;
  for (int64_t& s : resized)
    if (s > 1 && s <= 33) s = sizes[rng() % 7];
  return resized;
}

hci::Dims input_shape(const Input& in, const hci::Dims& shape) {
  hci::Dims dims;
  for (size_t d = in.drop_leading ? 1 : 0; d < shape.size(); ++d) dims.push_back(in.ones[d] ? 1 : shape[d]);
  return dims;
}

Tensor make_input(const hci::Dims& shape, DType dtype, int view, uint64_t seed) {
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
  Tensor base = hci::from_vector<double>(values, storage_shape).to(dtype);
  Tensor t = base;
  if (view == 1 && shape.size() >= 2) t = base.transpose(0, 1);
  if (view == 2 && !shape.empty()) t = base.slice(int64_t(shape.size()) - 1, 0, std::nullopt, 2);
  if (view == 3 && n > 0 && !shape.empty()) {
    hci::Dims ones(shape.size(), 1);
    t = hci::from_vector<double>({values.empty() ? 1.0 : values[0]}, ones).to(dtype).expand(shape);
  }
  hci::eval(t);
  return t;
}

Tensor apply_step(const Step& s, const std::vector<Tensor>& v) {
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
    default: return hci::sin(a);  // not compiled yet: the interpreter runs it between JIT kernels
  }
}

Tensor run(const Program& p, const std::vector<Tensor>& inputs) {
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
std::vector<uint64_t> bits_of(const Tensor& t) {
  std::vector<uint64_t> bits;
  if (t.is_floating_point()) {
    for (double d : t.to_vector<double>())
      bits.push_back(std::isnan(d) ? 0x7ff8000000000000u : std::bit_cast<uint64_t>(d));
  } else {
    for (int64_t i : t.to_vector<int64_t>()) bits.push_back(uint64_t(i));
  }
  return bits;
}

std::string describe(const Program& p, const hci::Dims& shape) {
  std::string text;
  for (const Input& in : p.inputs)
    text += fmt::format("input {} {} view {}; ", hci::detail::shape_str(input_shape(in, shape)),
                        hci::dtype_name(in.dtype), in.view);
  for (const Step& s : p.steps)
    text += fmt::format("op {} ({}, {}, {}) {} {}; ", s.op, s.a, s.b, s.c, s.number, hci::dtype_name(s.dtype));
  return text;
}

TEST_CASE("JIT-compiled kernels agree bit for bit with the interpreter on random graphs", "[jit]") {
  require_jit();
  // Each program runs at kSizes sizes: its first kernels compile, the rest are memory hits.
  constexpr int kSizes = 4;
  const int graphs = std::getenv("HCI_JIT_TEST_GRAPHS") ? std::atoi(std::getenv("HCI_JIT_TEST_GRAPHS")) : 10000;
  std::mt19937_64 rng(20261129);
  hci::jit::reset_stats();
  Program p;
  hci::Dims shape;
  for (int g = 0; g < graphs; ++g) {
    if (g % kSizes == 0) {
      p = random_program(rng);
      shape = p.shape;
    } else {
      shape = other_sizes(p.shape, rng);
    }
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < p.inputs.size(); ++i)
      inputs.push_back(
          make_input(input_shape(p.inputs[i], shape), p.inputs[i].dtype, p.inputs[i].view, uint64_t(g) * 16 + i));
    hci::jit::set_enabled(true);
    const Tensor compiled = run(p, inputs);
    const std::vector<uint64_t> got = bits_of(compiled);
    hci::jit::set_enabled(false);
    const Tensor interpreted = run(p, inputs);
    const std::vector<uint64_t> want = bits_of(interpreted);
    hci::jit::set_enabled(true);
    INFO("graph " << g << ": " << describe(p, shape));
    REQUIRE(compiled.dtype() == interpreted.dtype());
    REQUIRE(compiled.sizes().vec() == interpreted.sizes().vec());
    REQUIRE(got == want);
  }
  const hci::jit::Stats stats = hci::jit::stats();
  CHECK(stats.compile_failures == 0);
  CHECK(stats.launches > uint64_t(graphs));
  CHECK(stats.kernels_compiled > uint64_t(graphs) / 10);
  CHECK(stats.memory_hits > stats.kernels_compiled);
  WARN(graphs << " graphs: " << stats.kernels_compiled << " kernels compiled in " << stats.compile_seconds << " s, "
              << stats.launches << " launches (" << stats.memory_hits << " memory hits), " << stats.interpreted
              << " kernels interpreted");
}

TEST_CASE("reductions and softmax compile with their producers fused and agree with the interpreter", "[jit]") {
  require_jit();
  // Several blocks of 4096 per output, a partial last vector, NaN and signed zeros.
  std::vector<double> values(100003);
  for (size_t i = 0; i < values.size(); ++i) values[i] = double(int64_t(i * 7919 % 2001) - 1000) / 7.0;
  values[5] = -0.0;
  const Tensor x = hci::from_vector<double>(values, {100003});
  const Tensor m = hci::from_vector<double>({values.begin(), values.end() - 1}, {7, 14286});
  std::vector<double> with_nan = values;
  with_nan[77777] = std::numeric_limits<double>::quiet_NaN();
  const Tensor n = hci::from_vector<double>(with_nan, {100003});
  hci::eval(x, m, n);
  const std::vector<std::pair<std::string, std::function<Tensor()>>> cases = {
      {"sum float32", [&] { return x.to(hci::kFloat32).sum(); }},
      {"sum of exp, fused", [&] { return hci::exp(x.to(hci::kFloat32) * 0.01f).sum(); }},
      {"mean float64 over rows", [&] { return m.mean({1}); }},
      {"amax with NaN", [&] { return n.to(hci::kFloat32).amax(); }},
      {"amin float16", [&] { return x.to(hci::kFloat16).amin(); }},
      {"sum bfloat16 keepdim", [&] { return m.to(hci::kBFloat16).sum({1}, true); }},
      {"prod int64 wraps", [&] { return (x.to(hci::kInt64) + 1001).prod(); }},
      {"sum int8 over rows", [&] { return m.to(hci::kInt8).sum({1}); }},
      {"all", [&] { return hci::ne(x, 3.0).all(); }},
      {"any", [&] { return hci::eq(m, 3.0).any({1}); }},
      {"sum over the outer dim", [&] { return m.to(hci::kFloat32).sum({0}); }},
      {"amax over the outer dim, several blocks", [&] { return n.slice(0, 0, 100002).reshape({4762, 21}).amax({0}); }},
      {"mean over the outer dim of a fused producer",
       [&] { return (hci::exp(x.slice(0, 0, 100002).reshape({4762, 21}) * 0.001) * 3).mean({0}); }},
      {"int64 sum over the outer dim", [&] { return (m.to(hci::kInt64) * 3).sum({0}, true); }},
      {"softmax float32 of a fused producer", [&] { return (m.to(hci::kFloat32) * 0.5f).softmax(1); }},
      {"log_softmax float64", [&] { return n.reshape({1, 100003}).log_softmax(1); }},
  };
  for (const auto& [name, make] : cases) {
    INFO(name);
    hci::jit::reset_stats();
    const Tensor compiled = make();
    const std::vector<uint64_t> got = bits_of(compiled);
    CHECK(hci::jit::stats().interpreted == 0);
    CHECK(hci::jit::stats().launches >= 1);
    hci::jit::set_enabled(false);
    const std::vector<uint64_t> want = bits_of(make());
    hci::jit::set_enabled(true);
    CHECK(got == want);
  }
}

TEST_CASE("the JIT reports itself and can be switched off", "[jit]") {
  require_jit();
  CHECK_THAT(hci::jit::status(), Catch::Matchers::Contains("LLVM 1") || Catch::Matchers::Contains("LLVM 2"));
  const Tensor a = hci::arange(100, hci::kFloat32);
  hci::eval(a);
  hci::jit::reset_stats();
  hci::jit::set_enabled(false);
  CHECK((a * 2 + 1).to_vector<float>()[99] == 199.0f);
  CHECK(hci::jit::stats().launches == 0);
  CHECK(hci::jit::stats().interpreted >= 1);
  hci::jit::set_enabled(true);
  CHECK((a * 2 + 1).to_vector<float>()[99] == 199.0f);
  const uint64_t first = hci::jit::stats().launches;
  CHECK(first >= 1);
  CHECK((a * 2 + 1).to_vector<float>()[98] == 197.0f);  // the same kernel again: a memory hit
  const hci::jit::Stats stats = hci::jit::stats();
  CHECK(stats.launches == 2 * first);
  CHECK(stats.memory_hits >= first);
}

TEST_CASE("a call site that keeps making new kernels is counted and warned about once", "[jit]") {
  require_jit();
  hci::jit::clear_memory_cache();
  hci::jit::reset_stats();
  // Inputs from sites of their own (one per column), then one op site that sees 9 dtypes.
  const std::vector<Tensor> inputs = {
      hci::ones({3}, hci::kInt8),     hci::ones({3}, hci::kInt16),   hci::ones({3}, hci::kInt32),
      hci::ones({3}, hci::kInt64),    hci::ones({3}, hci::kUInt8),   hci::ones({3}, hci::kFloat16),
      hci::ones({3}, hci::kBFloat16), hci::ones({3}, hci::kFloat32), hci::ones({3}, hci::kFloat64)};
  for (const Tensor& x : inputs) hci::eval(x);
  CHECK(hci::jit::stats().busy_call_sites == 0);
  for (const Tensor& x : inputs) hci::eval(x * 3);
  CHECK(hci::jit::stats().kernels_compiled >= 9);
  CHECK(hci::jit::stats().busy_call_sites == 1);
}

// Run by the test_jit_guard_pages entry, which sets HCI_GUARD_PAGES=1 (as the sanitizer stage
// does for every JIT test: AddressSanitizer cannot see into compiled kernels).
TEST_CASE("with HCI_GUARD_PAGES=1 the byte after a buffer faults", "[.guard]") {
  REQUIRE(hci::cpu::guard_pages::enabled());
  hci::cpu::CachingAllocator& allocator = hci::cpu::allocator();
  auto* block = static_cast<volatile unsigned char*>(allocator.allocate(100));
  block[0] = 1;
  block[127] = 1;  // 100 bytes round up to the 64-byte alignment: the block ends at 128
  const pid_t child = fork();
  if (child == 0) {
    std::signal(SIGSEGV, SIG_DFL);  // not a sanitizer's report: die of the fault itself
    block[128] = 1;
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGSEGV);
  allocator.deallocate(const_cast<unsigned char*>(block), 100);
  // Compiled kernels run on such memory, up to the last element and not beyond.
  const Tensor a = hci::arange(1000, hci::kFloat32) + 1;
  CHECK(hci::exp(a * 0).sum().item<float>() == 1000.0f);
}

// Run by the test_jit_dump entry, which sets HCI_JIT_DUMP to an empty directory.
TEST_CASE("HCI_JIT_DUMP writes the IR and assembly of each kernel compiled", "[.dump]") {
  require_jit();
  const char* dir = std::getenv("HCI_JIT_DUMP");
  REQUIRE(dir != nullptr);
  namespace fs = std::filesystem;
  const Tensor a = hci::arange(8, hci::kFloat64);
  hci::eval(a);
  fs::remove_all(dir);
  fs::create_directories(dir);
  hci::jit::clear_memory_cache();
  CHECK((hci::exp(a) * 3).to_vector<double>()[0] == 3.0);
  std::vector<std::string> ir, assembly;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    (entry.path().extension() == ".ll" ? ir : assembly).push_back(text);
  }
  REQUIRE(!ir.empty());
  CHECK(ir.size() == assembly.size());
  CHECK_THAT(ir[0], Catch::Matchers::Contains("define i32 @hci_kernel(i64 %start, i64 %end, ptr"));
  CHECK_THAT(assembly[0], Catch::Matchers::Contains("hci_kernel:"));
}

}  // namespace
