// The JIT against the interpreter: random graphs from a fixed seed run through both executors
// must give bit-identical results; plus what the JIT reports about itself.
#include "jit_support.hpp"

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
#include <map>
#include <optional>
#include <random>
#include <vector>

namespace {

using namespace jit_test;

// Named computations, each run compiled and then interpreted.
using Cases = std::vector<std::pair<std::string, std::function<Tensor()>>>;

// Every case runs through compiled kernels only and gives the interpreter's bits.
void check_compiled_matches_interpreted(const Cases& cases) {
  for (const auto& [name, make] : cases) {
    INFO(name);
    hci::jit::reset_stats();
    const std::vector<uint64_t> got = bits_of(make());
    CHECK(hci::jit::stats().interpreted == 0);
    CHECK(hci::jit::stats().launches >= 1);
    hci::jit::set_enabled(false);
    const std::vector<uint64_t> want = bits_of(make());
    hci::jit::set_enabled(true);
    CHECK(got == want);
  }
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
  const Cases cases = {
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
      {"sum over a strided inner dim", [&] { return m.slice(1, 0, 14286, 3).sum({1}); }},
      {"amax of every other element, fused", [&] { return hci::exp(x.slice(0, 0, 100003, 2) * 0.01).amax(); }},
      {"int32 sum over a strided inner dim of a 3-d view",
       [&] { return m.to(hci::kInt32).reshape({7, 2, 7143}).slice(2, 1, 7143, 5).sum({2}); }},
      {"softmax float32 of a fused producer", [&] { return (m.to(hci::kFloat32) * 0.5f).softmax(1); }},
      {"log_softmax float64", [&] { return n.reshape({1, 100003}).log_softmax(1); }},
  };
  check_compiled_matches_interpreted(cases);
}

TEST_CASE("sin, cos and tan compile, huge arguments included, and agree with the interpreter", "[jit]") {
  require_jit();
  // Ordinary arguments, the switch to the large reduction at 1.5e6, then every few binades to
  // the largest doubles (and floats), the double closest to a multiple of pi/2, non-finite
  // values; in an odd count, so that a partial vector has huge lanes too.
  std::vector<double> values;
  for (int i = -500; i <= 500; ++i) values.push_back(i * 0.0123);
  for (int i = -50; i <= 50; ++i) values.push_back(1.5e6 + i * 0.0625);
  for (double x = 1.5e6; x < 1.7e308; x *= 7.3) values.insert(values.end(), {x, -x * 1.1, std::nextafter(x, 0.0)});
  values.insert(values.end(), {std::ldexp(6381956970095103.0, 797), 3.4028234663852886e38, 1e300, -1e300, INFINITY,
                               -INFINITY, std::numeric_limits<double>::quiet_NaN(), -0.0, 0x1p-1074});
  values.push_back(2.5e7);  // an odd count
  const Tensor x = hci::from_vector<double>(values, {int64_t(values.size())});
  hci::eval(x);
  const Cases cases = {
      {"sin float64", [&] { return hci::sin(x); }},
      {"cos float64", [&] { return hci::cos(x); }},
      {"tan float64", [&] { return hci::tan(x); }},
      {"sin float32", [&] { return hci::sin(x.to(hci::kFloat32)); }},
      {"cos float32, fused", [&] { return hci::cos(x.to(hci::kFloat32) * 2.0f) + 1.0f; }},
      {"tan bfloat16", [&] { return hci::tan(x.to(hci::kBFloat16)); }},
      {"sin of a strided view", [&] { return hci::sin(x.slice(0, 1, int64_t(values.size()), 3)); }},
      {"sum of cos, fused", [&] { return hci::cos(x).sum(); }},
  };
  check_compiled_matches_interpreted(cases);
}

TEST_CASE("float fmod and remainder compile exactly, with quotients up to 2^2000", "[jit]") {
  require_jit();
  // Quotients from below 1 to 2^2097 (the loop runs up to 81 steps in some lanes, none in
  // others), subnormals, signed zeros, infinities and NaN on either side, zero divisors.
  std::vector<double> x, y;
  const double specials[] = {0.0,
                             -0.0,
                             INFINITY,
                             -INFINITY,
                             std::numeric_limits<double>::quiet_NaN(),
                             0x1p-1074,
                             -0x1.8p-1060,
                             1e-300,
                             3.0,
                             -7.5,
                             1e16,
                             1.7976931348623157e308};
  for (double a : specials)
    for (double b : specials) x.push_back(a), y.push_back(b);
  for (int i = 0; i < 997; ++i) {
    const double a = std::ldexp(1.0 + (i * 7919 % 1000) / 1000.0, (i * 37) % 2098 - 1074) * (i % 3 ? 1 : -1);
    const double b = std::ldexp(1.0 + (i * 104729 % 1000) / 1000.0, (i * 53) % 2098 - 1074) * (i % 5 ? 1 : -1);
    x.push_back(a), y.push_back(b);
  }
  const Tensor a = hci::from_vector<double>(x, {int64_t(x.size())}),
               b = hci::from_vector<double>(y, {int64_t(y.size())});
  hci::eval(a, b);
  const Cases cases = {
      {"fmod float64", [&] { return hci::fmod(a, b); }},
      {"remainder float64", [&] { return a % b; }},
      {"fmod float32", [&] { return hci::fmod(a.to(hci::kFloat32), b.to(hci::kFloat32)); }},
      {"remainder float16, fused", [&] { return (a.to(hci::kFloat16) * 3) % b.to(hci::kFloat16); }},
      {"fmod by a scalar", [&] { return hci::fmod(a, 0.1); }},
  };
  check_compiled_matches_interpreted(cases);
  // The results themselves, against C's fmod.
  const std::vector<double> got = hci::fmod(a, b).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("fmod(" << x[i] << ", " << y[i] << ")");
    const double want = std::fmod(x[i], y[i]);
    CHECK(
        (std::bit_cast<uint64_t>(got[i]) == std::bit_cast<uint64_t>(want) || (std::isnan(got[i]) && std::isnan(want))));
  }
}

TEST_CASE("gathers compile with their index fused and fail as the interpreter does", "[jit]") {
  require_jit();
  const Tensor x = hci::arange(7 * 5 * 3, hci::kFloat64).reshape({7, 5, 3}) * 0.5 - 9;
  const Tensor rows = hci::from_vector<int64_t>({6, 0, 3, 3, 5, 1, 2, 0, 4}, {9});
  hci::eval(x, rows);
  const Cases cases = {
      {"index_select rows", [&] { return x.index_select(0, rows); }},
      {"index_select of a transposed view, int32 index",
       [&] { return x.transpose(0, 2).index_select(2, rows.to(hci::kInt32) % 5); }},
      {"index_select with a computed index, fused",
       [&] { return x.to(hci::kFloat16).index_select(1, (rows * 3 + 1) % 5) * 2; }},
      {"gather along the last dim", [&] { return x.gather(2, (x.to(hci::kInt64).abs() % 3)); }},
      {"gather, then a sum", [&] { return x.to(hci::kInt32).gather(0, (x.to(hci::kInt64).abs() % 7)).sum({1}); }},
  };
  check_compiled_matches_interpreted(cases);
  // An index out of bounds, in the middle of a vector and in a partial one, names the index.
  const Tensor bad = hci::from_vector<int64_t>({1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, -1}, {19});
  for (bool compiled : {true, false}) {
    INFO("compiled " << compiled);
    hci::jit::set_enabled(compiled);
    CHECK_THROWS_WITH(x.index_select(0, bad).to_vector<double>(),
                      Catch::Contains("index 7 is out of bounds for a dim of size 7"));
    CHECK_THROWS_WITH(x.index_select(0, bad.slice(0, 8, 19)).to_vector<double>(),
                      Catch::Contains("index -1 is out of bounds for a dim of size 7"));
  }
  hci::jit::set_enabled(true);
}

TEST_CASE("integer pow, fmod and remainder compile and fail as the interpreter does", "[jit]") {
  require_jit();
  // Bases and exponents around zero, wrapping products, negative exponents, -1 and INT64_MIN.
  const Tensor a = hci::from_vector<int64_t>({-3, -2, -1, 0, 1, 2, 3, 7, INT64_MIN, 1000003, -999, 12}, {12});
  const Tensor b = hci::from_vector<int64_t>({5, -1, -3, 0, -7, 63, 41, 3, -1, 4, 10, -5}, {12});
  hci::eval(a, b);
  const Cases cases = {
      {"pow int64", [&] { return hci::pow(a, b); }},
      {"pow int32, fused", [&] { return hci::pow(a.to(hci::kInt32) * 2, b.abs().to(hci::kInt32)); }},
      {"fmod int64", [&] { return hci::fmod(a, hci::where(hci::eq(b, 0), hci::full({12}, 7, hci::kInt64), b)); }},
      {"remainder int16", [&] { return (a.to(hci::kInt16) * 3) % (b.to(hci::kInt16) + 6); }},
  };
  check_compiled_matches_interpreted(cases);
  for (bool compiled : {true, false}) {
    INFO("compiled " << compiled);
    hci::jit::set_enabled(compiled);
    CHECK_THROWS_WITH(hci::fmod(a, b).to_vector<int64_t>(), Catch::Matchers::Contains("fmod: ZeroDivisionError"));
    CHECK_THROWS_WITH((a % b).to_vector<int64_t>(), Catch::Matchers::Contains("remainder: ZeroDivisionError"));
  }
  hci::jit::set_enabled(true);
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

// Run by the test_jit_dump entry, which sets HCI_JIT_DUMP to an empty directory and
// HCI_JIT_TARGETS to sm_90,gfx942.
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
  // Per kernel: host IR and assembly; per GPU target, its IR and code (and AMD's assembly).
  std::map<std::string, std::vector<std::string>> by_suffix;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::ifstream in(entry.path(), std::ios::binary);
    by_suffix[name.substr(name.find('.'))].emplace_back(std::istreambuf_iterator<char>(in),
                                                        std::istreambuf_iterator<char>());
  }
  const std::vector<std::string>& ir = by_suffix[".ll"];
  REQUIRE(!ir.empty());
  for (const char* suffix : {".s", ".sm_90-ptx78.ll", ".sm_90-ptx78.ptx", ".gfx942-w64.ll", ".gfx942-w64.s",
                             ".gfx942-w64.o", ".gfx942-w64.hsaco"}) {
    INFO(suffix);
    CHECK(by_suffix[suffix].size() == ir.size());
  }
  CHECK_THAT(ir[0], Catch::Matchers::Contains("define i32 @hci_kernel(i64 %start, i64 %end, ptr"));
  CHECK_THAT(by_suffix[".s"][0], Catch::Matchers::Contains("hci_kernel:"));
  CHECK_THAT(by_suffix[".sm_90-ptx78.ll"][0], Catch::Matchers::Contains("define ptx_kernel void @hci_kernel("));
  CHECK_THAT(by_suffix[".sm_90-ptx78.ptx"][0], Catch::Matchers::Contains(".entry hci_kernel("));
  CHECK_THAT(by_suffix[".gfx942-w64.ll"][0], Catch::Matchers::Contains("define amdgpu_kernel void @hci_kernel("));
  CHECK_THAT(by_suffix[".gfx942-w64.s"][0], Catch::Matchers::Contains(".amdhsa_kernel hci_kernel"));
  CHECK(by_suffix[".gfx942-w64.o"][0].substr(0, 4) ==
        "\x7f"
        "ELF");
}

}  // namespace
