// The suite's CPU references, measured in the same run as hci and on the same footing: inputs
// from hci's tensors, outputs from hci's caching allocator, work split over hci's thread pool.
#include "../../bench/fast_loops.hpp"
#include "../../bench/reference.hpp"
#include "eigen_product.hpp"
#include "suite.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace hci_bench {

namespace {

using bench::free_output;
using bench::new_output;
using bench::parallel;

const hci::Device kCpu = hci::Device::cpu();

// Times `loop(out)` writing into `outputs` fresh floats from the allocator each iteration, as
// hci's results are.
template <class Loop>
void time_loop(benchmark::State& state, int64_t outputs, int64_t bytes, Loop loop) {
  timed(state, [&] {
    float* out = new_output(outputs);
    loop(out);
    benchmark::DoNotOptimize(out);
    free_output(out, outputs);
  });
  state.SetBytesProcessed(state.iterations() * bytes);
}

void add_loops(Suite& suite, const Scale& scale) {
  for (int64_t n : scale.elements()) {
    for (int length : scale.chain_lengths())
      suite.add(
          case_name(kCpu, "elementwise", fmt::format("chain{}", length), n) + "/loop", [=](benchmark::State& state) {
            const hci::Tensor x = random_on("x", {n}, kCpu);
            const float* in = x.const_data_ptr<float>();
            time_loop(state, n, n * 8, [&](float* out) {
              parallel(n,
                       [&](int64_t begin, int64_t end) { bench::alternating_chain_loop(in, out, length, begin, end); });
            });
          });
    suite.add(case_name(kCpu, "reduction", "sum", n) + "/loop", [=](benchmark::State& state) {
      const hci::Tensor x = random_on("x", {n}, kCpu);
      const float* in = x.const_data_ptr<float>();
      const int parts = hci::get_num_threads();
      time_loop(state, parts, n * 4, [&](float* partial) {
        parallel(n, [&](int64_t begin, int64_t end) {
          const int64_t part = (begin * parts + n - 1) / n;  // parallel() began part p at n * p / parts
          bench::sum_rows_loop(in + begin, &partial[part], end - begin, 0, 1);
        });
        float total = 0;
        for (int p = 0; p < parts; ++p) total += partial[p];
        benchmark::DoNotOptimize(total);
      });
    });
  }
  const int64_t rows = scale.rows(), columns = scale.columns(), n = rows * columns;
  auto add_rows = [&](const std::string& family, const std::string& what, int64_t outputs, int64_t bytes, auto loop) {
    suite.add(case_name(kCpu, family, what, n) + "/loop", [=](benchmark::State& state) {
      const hci::Tensor x = random_on("x", {rows, columns}, kCpu);
      const hci::Tensor gamma = random_on("gamma", {columns}, kCpu), beta = random_on("beta", {columns}, kCpu);
      const float* in = x.const_data_ptr<float>();
      time_loop(state, outputs, bytes,
                [&](float* out) { loop(in, gamma.const_data_ptr<float>(), beta.const_data_ptr<float>(), out); });
    });
  };
  add_rows("reduction", "sum_rows", rows, n * 4, [=](const float* in, const float*, const float*, float* out) {
    parallel(rows, [&](int64_t begin, int64_t end) { bench::sum_rows_loop(in, out, columns, begin, end); });
  });
  add_rows("reduction", "sum_columns", columns, n * 4, [=](const float* in, const float*, const float*, float* out) {
    parallel(columns, [&](int64_t begin, int64_t end) { bench::sum_columns_loop(in, out, rows, columns, begin, end); });
  });
  add_rows("rows", "softmax", n, n * 8, [=](const float* in, const float*, const float*, float* out) {
    parallel(rows, [&](int64_t begin, int64_t end) { bench::softmax_rows_loop(in, out, columns, begin, end); });
  });
  add_rows("rows", "layer_norm", n, n * 8, [=](const float* in, const float* gamma, const float* beta, float* out) {
    parallel(rows, [&](int64_t begin, int64_t end) {
      bench::layer_norm_rows_loop(in, gamma, beta, out, columns, begin, end);
    });
  });
}

const void* data_of(const hci::Tensor& t) {
  return t.dtype() == hci::kFloat64 ? static_cast<const void*>(t.const_data_ptr<double>()) : t.const_data_ptr<float>();
}

// `multiply(a, b, c)` of two random size x size matrices of `dtype`, timed, counting FLOPs.
template <class Multiply>
void time_products(benchmark::State& state, hci::DType dtype, int64_t size, Multiply multiply) {
  const hci::Tensor a = random_on("a", {size, size}, kCpu, dtype), b = random_on("b", {size, size}, kCpu, dtype);
  const size_t bytes = size_t(size * size) * hci::element_size(dtype);
  timed(state, [&] {
    void* c = hci::cpu::allocator().allocate(bytes);
    multiply(data_of(a), data_of(b), c);
    benchmark::DoNotOptimize(c);
    hci::cpu::allocator().deallocate(c, bytes);
  });
  state.SetItemsProcessed(state.iterations() * 2 * size * size * size);
}

// The BLAS hci's matmul uses, called directly with as many threads as hci's pool.
void add_blas(Suite& suite, const Scale& scale) {
  for (hci::DType dtype : {hci::kFloat32, hci::kFloat64})
    for (int64_t size : scale.matmul_sizes(dtype))
      suite.add(case_name(kCpu, "matmul", hci::dtype_name(dtype), size) + "/blas", [=](benchmark::State& state) {
        const hci::cpu::Blas& blas = hci::cpu::blas();
        if (!blas.available()) {
          state.SkipWithError(("no BLAS: " + blas.reason).c_str());
          return;
        }
        if (blas.set_num_threads) blas.set_num_threads(hci::get_num_threads());
        const int n = int(size);
        using namespace hci::cpu;
        time_products(state, dtype, size, [&](const void* a, const void* b, void* c) {
          if (dtype == hci::kFloat32)
            blas.sgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, n, n, n, 1.0f, static_cast<const float*>(a), n,
                       static_cast<const float*>(b), n, 0.0f, static_cast<float*>(c), n);
          else
            blas.dgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, n, n, n, 1.0, static_cast<const double*>(a), n,
                       static_cast<const double*>(b), n, 0.0, static_cast<double*>(c), n);
        });
      });
}

// Eigen's own matrix product (threads through OpenMP, as many as hci's pool). Its bfloat16
// product runs scalar code, far from what the hardware does, so it is no reference for hci's.
void add_eigen(Suite& suite, const Scale& scale) {
  for (hci::DType dtype : {hci::kFloat32, hci::kFloat64})
    for (int64_t size : scale.matmul_sizes(dtype))
      suite.add(case_name(kCpu, "matmul", hci::dtype_name(dtype), size) + "/eigen", [=](benchmark::State& state) {
        const EigenScalar scalar = dtype == hci::kFloat64 ? EigenScalar::Float64 : EigenScalar::Float32;
        time_products(state, dtype, size, [&](const void* a, const void* b, void* c) {
          eigen_product(scalar, a, b, c, size, hci::get_num_threads());
        });
      });
}

}  // namespace

void add_cpu_references(Suite& suite, const Scale& scale) {
  add_loops(suite, scale);
  add_blas(suite, scale);
  if (eigen_available()) add_eigen(suite, scale);
}

double cpu_triad_bandwidth(bool quick) {
  const int64_t n = quick ? int64_t(1) << 22 : int64_t(1) << 25;
  const hci::Tensor a = random_on("triad a", {n}, kCpu), b = random_on("triad b", {n}, kCpu);
  const float *pa = a.const_data_ptr<float>(), *pb = b.const_data_ptr<float>();
  float* out = new_output(n);
  double best = 0;
  for (int pass = 0; pass < 6; ++pass) {  // the first touches the output's pages
    const auto start = std::chrono::steady_clock::now();
    parallel(n, [&](int64_t begin, int64_t end) { bench::triad_loop(pa, pb, out, begin, end); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pass > 0) best = std::max(best, double(n) * 12 / seconds);
  }
  free_output(out, n);
  next_case();  // the triad's arrays are no case's inputs
  return best;
}

}  // namespace hci_bench
