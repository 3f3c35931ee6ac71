// The suite's hci side: the same code on every device, timed until the device is done.
#include "suite.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace hci_bench {

std::vector<int64_t> Scale::elements() const {
  if (quick) return {int64_t(1) << 16};
  if (gpu) return {int64_t(1) << 24, int64_t(1) << 28};
  return {int64_t(1) << 20, int64_t(1) << 24};
}

std::vector<int> Scale::chain_lengths() const { return quick ? std::vector<int>{1, 4} : std::vector<int>{1, 4, 16}; }
int64_t Scale::rows() const { return quick ? 128 : gpu ? 16384 : 4096; }
int64_t Scale::columns() const { return quick ? 256 : 4096; }

std::vector<int64_t> Scale::matmul_sizes(hci::DType dtype) const {
  if (quick) return {64};
  if (gpu) return {1024, 4096, 8192};
  if (dtype == hci::kBFloat16) return {128, 256, 512};  // the built-in kernel: no BLAS has bfloat16 here
  return {128, 256, 512, 1024, 2048};
}

std::vector<hci::DType> Scale::matmul_dtypes() const {
  if (gpu) return {hci::kFloat32, hci::kBFloat16, hci::kFloat16};
  return {hci::kFloat32, hci::kFloat64, hci::kBFloat16};
}

std::vector<int64_t> Scale::transfer_bytes() const {
  return quick ? std::vector<int64_t>{int64_t(1) << 20} : std::vector<int64_t>{int64_t(1) << 26, int64_t(1) << 30};
}

std::string case_name(hci::Device device, std::string_view family, std::string_view what, int64_t size) {
  return fmt::format("{}/{}/{}/{}", device.str(), family, what, size);
}

namespace {

// Evaluates `result` and waits for its device: what a reader of the result would wait for.
void finish(const hci::Tensor& result) {
  hci::eval(result);
  if (!result.device().is_cpu()) hci::synchronize(result.device());
}

// `length` steps alternating y * 0.999 and y + 0.25, as bench::alternating_chain_loop; unfused
// evaluates each step into memory of its own, as an eager library would.
hci::Tensor alternating_chain(const hci::Tensor& x, int length, bool unfused) {
  hci::Tensor y = x;
  for (int step = 0; step < length; ++step) {
    y = step % 2 ? y + 0.25f : y * 0.999f;
    if (unfused) hci::eval(y);
  }
  return y;
}

hci::Tensor layer_norm_rows(const hci::Tensor& x, const hci::Tensor& gamma, const hci::Tensor& beta) {
  const hci::Tensor centred = x - x.mean({1}, true);
  const hci::Tensor variance = (centred * centred).mean({1}, true);
  return centred * hci::rsqrt(variance + 1e-5f) * gamma + beta;
}

// Times `make` (which returns a lazy result) until its result is on the device, counting
// `bytes` per iteration.
template <class Make>
void time_results(benchmark::State& state, int64_t bytes, Make make) {
  timed(state, [&] { finish(make()); });
  state.SetBytesProcessed(state.iterations() * bytes);
}

void add_elementwise(Suite& suite, hci::Device device, const Scale& scale) {
  for (int64_t n : scale.elements())
    for (int length : scale.chain_lengths())
      for (bool unfused : {false, true}) {
        if (unfused && length == 1) continue;  // one op is the same either way
        suite.add(
            case_name(device, "elementwise", fmt::format("chain{}", length), n) + (unfused ? "/hci-unfused" : "/hci"),
            [=](benchmark::State& state) {
              const hci::Tensor x = random_on("x", {n}, device);
              time_results(state, n * 8, [&] { return alternating_chain(x, length, unfused); });
            });
      }
}

void add_reductions(Suite& suite, hci::Device device, const Scale& scale) {
  for (int64_t n : scale.elements())
    suite.add(case_name(device, "reduction", "sum", n) + "/hci", [=](benchmark::State& state) {
      const hci::Tensor x = random_on("x", {n}, device);
      time_results(state, n * 4, [&] { return x.sum(); });
    });
  const int64_t rows = scale.rows(), columns = scale.columns(), n = rows * columns;
  for (int64_t dim : {1, 0})
    suite.add(case_name(device, "reduction", dim ? "sum_rows" : "sum_columns", n) + "/hci",
              [=](benchmark::State& state) {
                const hci::Tensor x = random_on("x", {rows, columns}, device);
                time_results(state, n * 4, [&] { return x.sum({dim}); });
              });
}

void add_row_compositions(Suite& suite, hci::Device device, const Scale& scale) {
  const int64_t rows = scale.rows(), columns = scale.columns(), n = rows * columns;
  suite.add(case_name(device, "rows", "softmax", n) + "/hci", [=](benchmark::State& state) {
    const hci::Tensor x = random_on("x", {rows, columns}, device);
    time_results(state, n * 8, [&] { return hci::softmax(x, 1); });
  });
  suite.add(case_name(device, "rows", "layer_norm", n) + "/hci", [=](benchmark::State& state) {
    const hci::Tensor x = random_on("x", {rows, columns}, device);
    const hci::Tensor gamma = random_on("gamma", {columns}, device), beta = random_on("beta", {columns}, device);
    time_results(state, n * 8, [&] { return layer_norm_rows(x, gamma, beta); });
  });
}

void add_matmul(Suite& suite, hci::Device device, const Scale& scale) {
  for (hci::DType dtype : scale.matmul_dtypes())
    for (int64_t size : scale.matmul_sizes(dtype))
      suite.add(case_name(device, "matmul", hci::dtype_name(dtype), size) + "/hci", [=](benchmark::State& state) {
        const hci::Tensor a = random_on("a", {size, size}, device, dtype),
                          b = random_on("b", {size, size}, device, dtype);
        timed(state, [&] { finish(hci::matmul(a, b)); });
        state.SetItemsProcessed(state.iterations() * 2 * size * size * size);  // FLOPs
      });
}

// Host memory to the device and back through Tensor::to, from pageable and from pinned memory.
void add_transfers(Suite& suite, hci::Device device, const Scale& scale) {
  for (int64_t bytes : scale.transfer_bytes()) {
    const int64_t n = bytes / 4;
    for (bool pinned : {false, true})
      suite.add(case_name(device, "transfer", pinned ? "to_device_pinned" : "to_device", bytes) + "/hci",
                [=](benchmark::State& state) {
                  const hci::Tensor host = input(fmt::format("host {} {}", pinned ? "pinned" : "pageable", n),
                                                 [&] { return pinned ? hci::rand({n}).pin_memory() : hci::rand({n}); });
                  time_results(state, bytes, [&] { return host.to(device); });
                });
    suite.add(case_name(device, "transfer", "to_host", bytes) + "/hci", [=](benchmark::State& state) {
      const hci::Tensor on_device = random_on("x", {n}, device);
      time_results(state, bytes, [&] { return on_device.to(hci::Device::cpu()); });
    });
    // Into pinned memory, as a training loop's host copies are: queued on the device's stream.
    suite.add(case_name(device, "transfer", "to_host_pinned", bytes) + "/hci", [=](benchmark::State& state) {
      const hci::Tensor on_device = random_on("x", {n}, device);
      hci::Tensor pinned = input(fmt::format("pinned output {}", n), [&] { return hci::zeros({n}).pin_memory(); });
      timed(state, [&] {
        pinned.copy_(on_device);
        hci::synchronize(device);
      });
      state.SetBytesProcessed(state.iterations() * bytes);
    });
  }
}

// While it lives, the JIT's disk cache is a new temporary directory (on_disk) or none; then the
// one before, and the temporary directory is gone.
class CacheDirectory {
 public:
  explicit CacheDirectory(bool on_disk) {
    if (on_disk) {
      char name[] = "/tmp/hci_bench_cache_XXXXXX";
      HCI_CHECK(mkdtemp(name), "could not make a temporary directory");
      directory_ = name;
    }
    hci::jit::set_cache_directory(directory_);
  }
  CacheDirectory(const CacheDirectory&) = delete;
  CacheDirectory& operator=(const CacheDirectory&) = delete;
  ~CacheDirectory() {
    hci::jit::set_cache_directory(previous_);
    std::error_code ignored;
    if (!directory_.empty()) std::filesystem::remove_all(directory_, ignored);
  }

 private:
  std::string previous_ = hci::jit::cache_directory(), directory_;
};

// The latency of getting a chain's kernel once the memory cache has forgotten it: compiled from
// nothing (no disk cache), or loaded from the disk cache as a new process would. On 64 elements,
// so that running it costs next to nothing.
void add_jit_latency(Suite& suite, hci::Device device, const Scale& scale) {
  for (bool from_disk : {false, true})
    for (int length : scale.chain_lengths())
      suite.add(
          case_name(device, "jit", from_disk ? "disk_hit" : "compile", length) + "/hci",
          [=](benchmark::State& state) {
            if (!hci::jit::enabled()) {
              state.SkipWithError(("the JIT is off: " + hci::jit::status()).c_str());
              return;
            }
            const CacheDirectory cache(from_disk);
            const hci::Tensor x = random_on("x", {64}, device);
            finish(alternating_chain(x, length, false));  // a disk cache now holds the kernel
            for (auto _ : state) {
              state.PauseTiming();
              hci::jit::clear_memory_cache();
              state.ResumeTiming();
              finish(alternating_chain(x, length, false));
            }
          },
          benchmark::kMicrosecond);
}

// The whole life of a one-element op: recorded, run and read back on the host; and recording
// alone, which is what each op of a lazily evaluated chain costs.
void add_overhead(Suite& suite, hci::Device device) {
  suite.add(
      case_name(device, "overhead", "roundtrip", 1) + "/hci",
      [=](benchmark::State& state) {
        const hci::Tensor a = random_on("a", {1}, device), b = random_on("b", {1}, device);
        benchmark::DoNotOptimize((a + b).item<float>());  // warm-up: the kernel compiled
        for (auto _ : state) benchmark::DoNotOptimize((a + b).item<float>());
      },
      benchmark::kMicrosecond);
  suite.add(
      case_name(device, "overhead", "record", 1) + "/hci",
      [=](benchmark::State& state) {
        const hci::Tensor a = random_on("a", {1}, device), b = random_on("b", {1}, device);
        for (auto _ : state) {
          hci::Tensor c = a + b;
          benchmark::DoNotOptimize(c);
        }
      },
      benchmark::kMicrosecond);
}

}  // namespace

void add_hci_cases(Suite& suite, hci::Device device, const Scale& scale) {
  add_elementwise(suite, device, scale);
  add_reductions(suite, device, scale);
  add_row_compositions(suite, device, scale);
  add_matmul(suite, device, scale);
  if (!device.is_cpu()) add_transfers(suite, device, scale);
  add_jit_latency(suite, device, scale);
  add_overhead(suite, device);
}

}  // namespace hci_bench
