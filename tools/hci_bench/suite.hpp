// hci-bench's suite: what it measures on each device, each case named
//   DEVICE/FAMILY/CASE/SIZE/IMPL   e.g. cpu/elementwise/chain16/16777216/hci
// where IMPL is `hci` (fused, as hci runs it), `hci-unfused` (each op evaluated on its own) or a
// reference measured in the same run (`loop`, `blas`, `eigen`, `cublas`, `driver`). The report
// (tools/hci_bench_report.py) pairs cases by everything but IMPL. Memory-bound cases count the
// bytes the operation must move at least (each input read and each output written once), so
// fused and unfused runs, and every device, compare on one scale; matrix products count FLOPs as
// items.
#pragma once

#include <hci/hci.hpp>

#include <benchmark/benchmark.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hci_bench {

// Timed in real time (the work runs on several threads, or on a device), until the device is done.
struct Case {
  std::string name;
  std::function<void(benchmark::State&)> body;
  benchmark::TimeUnit unit = benchmark::kMillisecond;
};

// How large the cases are: full, or small enough for a smoke run of seconds.
struct Scale {
  bool quick = false;
  bool gpu = false;
  std::vector<int64_t> elements() const;  // elementwise chains and whole reductions
  std::vector<int> chain_lengths() const;
  int64_t rows() const;  // the matrix of row-wise work (softmax, layer norm, row and column sums)
  int64_t columns() const;
  std::vector<int64_t> matmul_sizes(hci::DType dtype) const;
  std::vector<hci::DType> matmul_dtypes() const;
  std::vector<int64_t> transfer_bytes() const;
};

struct Suite {
  std::vector<Case> cases;
  void add(std::string name, std::function<void(benchmark::State&)> body,
           benchmark::TimeUnit unit = benchmark::kMillisecond) {
    cases.push_back({std::move(name), std::move(body), unit});
  }
};

// The part of a case's name before IMPL.
std::string case_name(hci::Device device, std::string_view family, std::string_view what, int64_t size);

// hci's operations on any device, through the public API alone.
void add_hci_cases(Suite& suite, hci::Device device, const Scale& scale);
// The same work as hand-written loops (built with -O3 -march=native -ffast-math), a direct BLAS
// call and Eigen, on the CPU.
void add_cpu_references(Suite& suite, const Scale& scale);
// cuBLAS called directly and the driver's own copies, on an NVIDIA GPU.
void add_cuda_references(Suite& suite, int gpu, const Scale& scale);

// A case's input, made by `make` the first time `name` is asked for: Google Benchmark calls a
// case's body several times while it settles on an iteration count, and making a GiB of random
// numbers each time would take longer than measuring. next_case() (hci-bench calls it as each case
// starts) forgets what the case before did not use, so consecutive cases share their inputs.
hci::Tensor input(const std::string& name, const std::function<hci::Tensor()>& make);
// Normal random numbers of `shape` and `dtype` on `device`, through input().
hci::Tensor random_on(const std::string& name, hci::IntList shape, hci::Device device,
                      hci::DType dtype = hci::kFloat32);
void next_case();

// Where the device's provider counts energy (RAPL, NVML), a benchmark's energy per iteration:
// made just before the timed loop, it sets the counter `joules_per_iter` as the loop ends.
class EnergyScope {
 public:
  explicit EnergyScope(benchmark::State& state);
  EnergyScope(const EnergyScope&) = delete;
  EnergyScope& operator=(const EnergyScope&) = delete;
  ~EnergyScope();

 private:
  benchmark::State& state_;
  double start_j_;
};

// Calls once() for each iteration of a case's timed loop, after one untimed call (kernels
// compiled, buffers in the allocator, handles made), with the loop's energy counted.
template <class Once>
void timed(benchmark::State& state, Once&& once) {
  once();
  const EnergyScope energy(state);
  for (auto _ : state) once();
}

// The energy counter of the device whose cases run now (set by hci-bench around each case), NaN
// where it has none.
double energy_joules();
void set_energy_source(std::function<double()> read);

// Memory bandwidth as a machine's roofline, in bytes per second: STREAM's triad over hci's thread
// pool on the CPU, the driver's device-to-device copy on a GPU (bytes read plus bytes written).
double cpu_triad_bandwidth(bool quick);
double cuda_copy_bandwidth(int gpu, bool quick);

}  // namespace hci_bench
