// The CUDA backend's host code against the mock driver (tests/mock_cuda.cpp, which ctest loads
// through HCI_CUDA_PATH): devices, copies, the caching allocator, kernels of every family run as
// their host-emulated twins and compared with the CPU's results bit for bit, running what has no
// GPU code on the host, the driver's failures as hci::Errors, and nothing left allocated. Skipped
// (code 77) where HCI_CUDA_PATH does not name the mock. The "[unavailable]" case runs with the
// mock's cuInit answering as the toolkit's stub does.
#include "jit_support.hpp"
#include "mock_cuda_control.hpp"

#include <hci/cuda/backend.hpp>
#include <hci/cuda/cublas.hpp>
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

using hci::Device;
using hci::DType;
using hci::Tensor;
namespace dlpack = hci::dlpack;

// The mock's control functions; the test is skipped without the mock.
const mock_cuda::Control& mock() {
  static const bool emulated = mock_cuda::emulate_launches();
  if (!emulated) {
    WARN("skipped: HCI_CUDA_PATH does not name the mock CUDA driver");
    std::exit(77);
  }
  return mock_cuda::control();
}

// Clears an injected fault when the test ends, passed or not.
struct Fault {
  Fault(const char* entry_point, int result, long after = 0) { mock().fail(entry_point, result, after); }
  Fault(const Fault&) = delete;
  Fault& operator=(const Fault&) = delete;
  ~Fault() { mock().fail("", 0, 0); }
};

TEST_CASE("the CUDA backend finds the mock's devices", "[cuda]") {
  mock();
  REQUIRE(hci::cuda::driver().api);
  hci::Backend& backend = hci::backend_for(Device::cuda(1));
  CHECK(backend.name() == "cuda");
  CHECK(backend.unavailable_reason().empty());
  CHECK(backend.device_count() == 2);
  CHECK(backend.device_name(1) == "hci mock GPU 1");
  CHECK_THROWS_WITH(hci::backend_for(Device::cuda(2)), Catch::Contains("index out of range (cuda has 2 devices)"));
}

TEST_CASE("tensors go to a GPU, between GPUs, and back unchanged", "[cuda]") {
  mock();
  const Tensor x = hci::arange(1001, hci::kFloat32) * 0.25f - 7;
  const Tensor n = hci::arange(-500, 501, 1, hci::kInt64);
  for (const Tensor& t : {x, n, hci::gt(x, 3.0f), x.to(hci::kBFloat16)}) {
    INFO(hci::dtype_name(t.dtype()));
    const Tensor on_gpu = t.to(Device::cuda(0));
    CHECK(on_gpu.device() == Device::cuda(0));
    const long peer_copies = mock().calls("cuMemcpyPeerAsync"), to_host = mock().calls("cuMemcpyDtoHAsync_v2");
    const Tensor moved = on_gpu.to(Device::cuda(1));
    CHECK(moved.device() == Device::cuda(1));
    CHECK(mock().calls("cuMemcpyPeerAsync") == peer_copies + 1);  // GPU to GPU, not through the host
    CHECK(mock().calls("cuMemcpyDtoHAsync_v2") == to_host);
    const Tensor back = moved.to(Device::cpu());
    CHECK(back.device() == Device::cpu());
    CHECK(hci::equal(back, t));
  }
  // A non-contiguous view goes as its elements.
  const Tensor m = hci::arange(12, hci::kFloat64).reshape({3, 4}).transpose(0, 1);
  CHECK(hci::equal(m.to(Device::cuda(0)).to(Device::cpu()), m.contiguous()));
}

// Random programs (every op family and dtype, broadcasting, non-contiguous views of device
// storage, reductions over random axes, softmax rows), then long reductions and rows, on a GPU
// and on the CPU: the same bits. Each GPU kernel runs as its emulated twin, on cuda:0 in up to 8
// blocks of 128 threads, on cuda:1 in up to 4 blocks of 96 (as the mock's occupancy answers), so
// the longer ranges take several strides.
TEST_CASE("kernels of every family on a GPU agree with the CPU bit for bit", "[cuda]") {
  using namespace jit_test;
  mock();
  require_jit();
  const long launches = mock().calls("cuLaunchKernel");
  std::mt19937_64 rng(20261130);
  for (int g = 0; g < 100; ++g) {
    const Device gpu = Device::cuda(g % 2);
    const Program p = random_program(rng);
    for (const hci::Dims& shape : {p.shape, other_sizes(p.shape, rng)}) {
      std::vector<Tensor> on_cpu, on_gpu;
      for (size_t i = 0; i < p.inputs.size(); ++i) {
        const Input& in = p.inputs[i];
        on_cpu.push_back(make_input(input_shape(in, shape), in.dtype, in.view, g * 16 + i));
        on_gpu.push_back(make_input(input_shape(in, shape), in.dtype, in.view, g * 16 + i, gpu));
      }
      const Tensor want = run(p, on_cpu), got = run(p, on_gpu);
      INFO("program " << g << " on " << gpu.str() << ": " << describe(p, shape));
      REQUIRE(got.device() == gpu);
      REQUIRE(got.dtype() == want.dtype());
      REQUIRE(got.sizes().vec() == want.sizes().vec());
      REQUIRE(bits_of(got.to(Device::cpu())) == bits_of(want));
    }
  }
  // Reductions over the outer dim and over rows of several blocks, softmax rows: long and odd.
  const Tensor m = hci::arange(6001 * 3, hci::kFloat64).reshape({6001, 3});
  const Tensor wide = hci::arange(3 * 70001, hci::kFloat32).reshape({3, 70001}) * 0.001f;
  const std::vector<std::function<Tensor(const Tensor&, const Tensor&)>> cases = {
      [](const Tensor& m, const Tensor&) { return (hci::exp(m * 0.001) * 2).amax({0}); },
      [](const Tensor& m, const Tensor&) { return m.to(hci::kFloat32).sum({0}); },
      [](const Tensor&, const Tensor& w) { return w.sum({1}); },
      [](const Tensor&, const Tensor& w) { return w.mean({1}); },
      [](const Tensor&, const Tensor& w) { return hci::sin(w).amin({1}); },
      [](const Tensor& m, const Tensor&) { return (m.to(hci::kFloat32) * 0.5f).softmax(1); },
      [](const Tensor& m, const Tensor&) { return m.log_softmax(0); },
      [](const Tensor&, const Tensor& w) { return w.softmax(1); },
      [](const Tensor&, const Tensor& w) { return w.to(hci::kBFloat16).log_softmax(1); },
      [](const Tensor&, const Tensor& w) { return hci::relu(w * w - 3) * 0.5f + hci::exp(-w); },
      [](const Tensor&, const Tensor& w) { return w.transpose(0, 1).sum(); },
  };
  const Tensor m_gpu = m.to(Device::cuda(0)), wide_gpu = wide.to(Device::cuda(0));
  for (size_t c = 0; c < cases.size(); ++c) {
    INFO("long case " << c);
    REQUIRE(bits_of(cases[c](m_gpu, wide_gpu).to(Device::cpu())) == bits_of(cases[c](m, wide)));
  }
  CHECK(mock().calls("cuLaunchKernel") - launches >= 400);
}

// The mock runs queued work only when something waits for it, so a read that did not wait, or
// a copy between devices that did not, would see stale memory.
TEST_CASE("kernels queue on the device's stream, and reads and copies wait for them", "[cuda]") {
  mock();
  jit_test::require_jit();
  const Tensor x = hci::arange(3000, hci::kFloat32);
  const Tensor on_0 = x.to(Device::cuda(0));
  hci::synchronize(Device::cuda(0));
  CHECK(mock().queued() == 0);
  const Tensor y = hci::exp(on_0 * 0.001f) + 1;
  hci::eval(y);
  CHECK(mock().queued() > 0);
  const Tensor on_1 = y.to(Device::cuda(1));  // queued after y's kernel, the host waiting for neither
  CHECK(mock().queued() > 0);
  CHECK(hci::equal(on_1.to(Device::cpu()), hci::exp(x * 0.001f) + 1));
  const Tensor z = y.sum();  // finished on the host, so its partial sums are waited for
  CHECK(z.item<float>() == (hci::exp(x * 0.001f) + 1).sum().item<float>());
  const Tensor w = on_1 * 2;
  hci::eval(w);
  CHECK(mock().queued() > 0);
  hci::synchronize(Device::cuda(1));
  CHECK(mock().queued() == 0);
  CHECK(hci::equal(w.to(Device::cpu()), (hci::exp(x * 0.001f) + 1) * 2));
}

// A copy between GPUs runs on the destination's stream; the source's block, freed and reused at
// once on the source's stream, is overwritten only after the copy has read it.
TEST_CASE("a copy between GPUs reads its source before the source's block is reused", "[cuda]") {
  mock();
  jit_test::require_jit();
  const Tensor x = hci::arange(5000, hci::kFloat32);
  hci::cuda::empty_cache(0);
  Tensor moved;
  {
    const Tensor doubled = x.to(Device::cuda(0)) * 2;
    hci::eval(doubled);
    moved = doubled.to(Device::cuda(1));
  }  // doubled's block is back in cuda:0's cache...
  const hci::MemoryStats before = hci::cuda::memory_stats(0);
  const Tensor reuse = hci::full({5000}, -1.0f, hci::TensorOptions().device(Device::cuda(0)));
  hci::eval(reuse);
  CHECK(hci::cuda::memory_stats(0).cache_hits > before.cache_hits);  // ... and taken again
  hci::synchronize(Device::cuda(0));
  CHECK(hci::equal(moved.to(Device::cpu()), x * 2));
  CHECK(hci::equal(reuse.to(Device::cpu()), hci::full({5000}, -1.0f)));
}

TEST_CASE("pinned tensors: page-locked host memory the GPUs copy to and from", "[cuda]") {
  mock();
  const Tensor x = hci::arange(1000, hci::kFloat32) * 0.5f;
  const long allocations = mock().calls("cuMemHostAlloc"), frees = mock().calls("cuMemFreeHost");
  {
    const Tensor pinned = x.pin_memory();
    CHECK(pinned.is_pinned());
    CHECK(!x.is_pinned());
    CHECK(pinned.device() == Device::cpu());
    CHECK(hci::equal(pinned, x));
    CHECK(mock().calls("cuMemHostAlloc") == allocations + 1);
    CHECK(hci::equal(pinned.to(Device::cuda(1)).to(Device::cpu()), x));  // a copy from pinned memory
    const Tensor from_gpu = (x.to(Device::cuda(0)) * 2).pin_memory();    // and one to it
    CHECK(from_gpu.is_pinned());
    CHECK(hci::equal(from_gpu, x * 2));
    pinned.data_ptr<float>()[3] = -1;  // writable, as host memory
    CHECK(pinned[3].item<float>() == -1);
    CHECK(!(pinned * 2).is_pinned());  // results are ordinary tensors
  }
  CHECK(mock().calls("cuMemFreeHost") == frees + 2);

  // A copy from pinned memory is queued without the host waiting (the mock moves pinned bytes
  // only when the copy runs); a write through data_ptr, or the free, waits for it first.
  const Tensor pinned = x.pin_memory();
  hci::synchronize(Device::cuda(0));
  const Tensor on_gpu = pinned.to(Device::cuda(0));
  CHECK(mock().queued() > 0);
  pinned.data_ptr<float>()[0] = 99;
  CHECK(hci::equal(on_gpu.to(Device::cpu()), x));
  Tensor moved;
  {
    const Tensor short_lived = (x * 3).pin_memory();
    moved = short_lived.slice(0, 10, 20).to(Device::cuda(1));  // a contiguous view, at its offset
  }
  CHECK(hci::equal(moved.to(Device::cpu()), (x * 3).slice(0, 10, 20)));
}

// copy_ from a GPU into pinned memory is queued without the host waiting (the mock moves bytes
// into pinned memory only when the copy runs); a host kernel reading the memory, a read through
// data_ptr and an in-place write wait for it. Other copies across devices go through to(Device).
TEST_CASE("copy_ across devices, into pinned memory without the host waiting", "[cuda]") {
  mock();
  const Tensor x = hci::arange(1000, hci::kFloat32) * 0.5f;
  Tensor pinned = hci::zeros({1000}, hci::kFloat32).pin_memory();
  const Tensor on_gpu0 = x.to(Device::cuda(0)), on_gpu1 = x.to(Device::cuda(1));
  pinned.copy_(on_gpu0 * 2);
  CHECK(mock().queued() >= 2);  // the product and the copy
  CHECK(hci::equal(pinned * 1, x * 2));
  pinned.copy_(on_gpu1 * 3);
  CHECK(mock().queued() >= 2);
  CHECK(pinned.const_data_ptr<float>()[7] == 10.5f);
  pinned.copy_(on_gpu0 - 1);
  pinned.add_(2);
  CHECK(hci::equal(pinned, x + 1));
  CHECK(pinned.is_pinned());
  pinned.copy_(on_gpu1 * 4);
  // The source's block goes back to the cache at once, reused in stream order after the copy.
  const Tensor reuse = hci::full({1000}, -1.0f).to(Device::cuda(1));
  CHECK(hci::equal(pinned, x * 4));

  Tensor host = hci::zeros({2, 1000}, hci::kFloat64);  // converted and broadcast
  host.copy_(x.to(Device::cuda(0)));
  CHECK(hci::equal(host[0], x.to(hci::kFloat64)));
  CHECK(hci::equal(host[1], x.to(hci::kFloat64)));
  Tensor on_gpu = hci::zeros({1000}, hci::kFloat32).to(Device::cuda(1));
  on_gpu.copy_(x);
  on_gpu.slice(0, 0, 10).copy_(x.slice(0, 990, 1000).to(Device::cuda(0)));
  CHECK(hci::equal(on_gpu.to(Device::cpu()).slice(0, 10, 1000), x.slice(0, 10, 1000)));
  CHECK(hci::equal(on_gpu.to(Device::cpu()).slice(0, 0, 10), x.slice(0, 990, 1000)));
}

TEST_CASE("a kernel failing on a GPU gives the interpreter's error, naming the index", "[cuda]") {
  mock();
  jit_test::require_jit();
  const Tensor x = (hci::arange(12, hci::kFloat32).reshape({4, 3}) * 0.5f).to(Device::cuda(0));
  const Tensor n = (hci::arange(12, hci::kInt64) - 5).to(Device::cuda(0));
  const Tensor out_of_range = hci::from_vector<int64_t>({1, 4, 0}, {3}).to(Device::cuda(0));
  CHECK_THROWS_WITH(x.index_select(0, out_of_range).to(Device::cpu()),
                    Catch::Contains("index 4 is out of bounds for a dim of size 4"));
  CHECK_THROWS_WITH(hci::fmod(n, n).to(Device::cpu()), Catch::Contains("fmod: ZeroDivisionError"));
  const Tensor rows = hci::from_vector<int64_t>({3, 0}, {2}).to(Device::cuda(0));
  CHECK(hci::equal(x.index_select(0, rows).to(Device::cpu()),
                   hci::from_vector<float>({4.5f, 5, 5.5f, 0, 0.5f, 1}, {2, 3})));
  CHECK_THROWS_WITH(x + x.to(Device::cpu()), Catch::Contains("cuda:0") && Catch::Contains("cpu"));
}

TEST_CASE("an op without GPU code runs on the host over copies of its buffers", "[cuda]") {
  mock();
  const Tensor x = hci::from_vector<float>({3, -1, 2, 7, 0, 5, -4, 1, 6}, {3, 3});
  const Tensor sorted = hci::argsort(x.to(Device::cuda(0)).transpose(0, 1), 1);
  CHECK(sorted.device() == Device::cuda(0));
  CHECK(hci::equal(sorted.to(Device::cpu()), hci::argsort(x.transpose(0, 1), 1)));
}

// The products queued on the mock cuBLAS so far; -1 where hci uses no mock cuBLAS.
long cublas_products() {
  const char* path = std::getenv("HCI_CUBLAS_PATH");
  void* library = hci::cuda::cublas().api && path ? dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) : nullptr;
  auto* count = library ? reinterpret_cast<long (*)()>(dlsym(library, "hci_mock_cublas_gemms")) : nullptr;
  return count ? count() : -1;
}

// Through cuBLAS where HCI_CUBLAS_PATH names the mock, as the JIT's tiled kernel where there
// is none or cuBLAS does not take the dtype: what the CPU computes, to rounding, for operands on
// the device that are transposed or batched.
TEST_CASE("matrix products on a GPU: float dtypes, transposed and batched operands", "[cuda][cublas]") {
  mock();
  jit_test::require_jit();
  const long launches = mock().calls("cuLaunchKernel");
  const Tensor a = (hci::arange(6 * 5, hci::kFloat64) * 0.25 - 3).reshape({6, 5});
  const Tensor b = (hci::arange(5 * 7, hci::kFloat64) * 0.5 - 7).reshape({5, 7});
  const Tensor batch_a = (hci::arange(3 * 4 * 5, hci::kFloat64) * 0.1 - 2).reshape({3, 4, 5});
  const Tensor batch_b = (hci::arange(3 * 5 * 2, hci::kFloat64) * 0.3 - 1).reshape({3, 5, 2});
  const Tensor grid_a = (hci::arange(2 * 3 * 4 * 5, hci::kFloat64) * 0.05 - 1).reshape({2, 3, 4, 5});
  const long before = cublas_products();
  int products = 0;
  for (const DType dtype : {hci::kFloat32, hci::kFloat64, hci::kFloat16, hci::kBFloat16, hci::kInt64}) {
    auto on_gpu = [&](const Tensor& t) { return t.to(dtype).to(Device::cuda(0)); };
    const std::vector<std::pair<Tensor, Tensor>> cases = {
        {on_gpu(a), on_gpu(b)},
        {on_gpu(b).transpose(0, 1), on_gpu(a).transpose(0, 1)},  // column-major operands
        {on_gpu(batch_a), on_gpu(batch_b)},
        {on_gpu(grid_a), on_gpu(b)},  // batch dims around cuBLAS's batch, the right operand broadcast
        {on_gpu(a).slice(1, 0, 4), on_gpu(b).slice(0, 1, 5)}};
    for (const auto& [x, y] : cases) {
      INFO(hci::dtype_name(dtype) << " " << hci::detail::shape_str(x.sizes().vec()) << " x "
                                  << hci::detail::shape_str(y.sizes().vec()));
      const Tensor got = hci::matmul(x, y);
      CHECK(got.device() == Device::cuda(0));
      const Tensor want = hci::matmul(x.to(Device::cpu()), y.to(Device::cpu()));
      const double tolerance = dtype == hci::kFloat32 ? 1e-5 : dtype == hci::kFloat64 ? 1e-12 : 1e-2;
      CHECK(hci::allclose(got.to(Device::cpu()).to(hci::kFloat64), want.to(hci::kFloat64), tolerance, tolerance));
      products += dtype != hci::kInt64;
    }
  }
  if (before >= 0) CHECK(cublas_products() - before >= products);
  // The rest ran on the GPU as kernels: every product without cuBLAS, the int64 ones with it.
  CHECK(mock().calls("cuLaunchKernel") - launches >= (before >= 0 ? 5 : 25));
}

TEST_CASE("the caching allocator reuses device blocks and gives them back", "[cuda]") {
  mock();
  const Tensor x = hci::arange(300000, hci::kFloat32);  // 1.2 MB: a 2 MiB block
  {
    const Tensor warm = x.to(Device::cuda(0));
  }
  const long allocs = mock().calls("cuMemAlloc_v2");
  const hci::MemoryStats before = hci::cuda::memory_stats(0);
  for (int i = 0; i < 5; ++i) {
    const Tensor on_gpu = x.to(Device::cuda(0));
    CHECK(hci::equal(on_gpu.to(Device::cpu()), x));
  }
  CHECK(mock().calls("cuMemAlloc_v2") == allocs);  // every block came from the cache
  const hci::MemoryStats after = hci::cuda::memory_stats(0);
  CHECK(after.cache_hits - before.cache_hits == 5);
  CHECK(after.allocated_bytes == before.allocated_bytes);
  CHECK(after.cached_bytes >= int64_t(2) << 20);
  const long live = mock().live_allocations();
  hci::cuda::empty_cache(0);
  CHECK(hci::cuda::memory_stats(0).cached_bytes == 0);
  CHECK(mock().live_allocations() < live);
}

TEST_CASE("out of device memory: the cache is emptied and tried again, then an error names the sizes", "[cuda]") {
  mock();  // 64 MiB per device
  hci::cuda::empty_cache(1);
  {
    const Tensor cached = hci::zeros({10 << 20}, hci::kFloat32).to(Device::cuda(1));
  }  // 40 MiB, then cached
  CHECK(hci::cuda::memory_stats(1).cached_bytes == int64_t(40) << 20);
  // 44 MiB fits only once the 40 MiB block goes back to the driver.
  const Tensor big = hci::zeros({11 << 20}, hci::kFloat32).to(Device::cuda(1));
  CHECK(hci::cuda::memory_stats(1).cached_bytes == 0);
  CHECK_THROWS_WITH(
      hci::zeros({6 << 20}, hci::kFloat32).to(Device::cuda(1)),
      Catch::Contains("cuda:1: out of memory allocating 25165824 bytes") && Catch::Contains("free of 67108864"));
  CHECK(hci::equal(big.to(Device::cpu()), hci::zeros({11 << 20}, hci::kFloat32)));
}

TEST_CASE("driver failures are hci::Errors naming the call, and the device stays usable", "[cuda]") {
  mock();
  const Tensor x = hci::arange(100, hci::kFloat32);
  {
    Fault lost("cuMemcpyHtoDAsync_v2", 46);
    CHECK_THROWS_WITH(x.to(Device::cuda(0)),
                      Catch::Contains("cuMemcpyHtoDAsync") && Catch::Contains("CUDA_ERROR_DEVICES_UNAVAILABLE"));
  }
  {
    Fault failed("cuLaunchKernel", 719);
    const Tensor on_gpu = x.to(Device::cuda(0));
    CHECK_THROWS_WITH((on_gpu * 2).to(Device::cpu()),
                      Catch::Contains("cuLaunchKernel") && Catch::Contains("CUDA_ERROR_LAUNCH_FAILED"));
  }
  {
    Fault failing("kernel", 719);  // queued, and failing when it runs: reported when waited for
    const Tensor doubled = x.to(Device::cuda(0)) * 2;
    hci::eval(doubled);
    CHECK_THROWS_WITH(doubled.to(Device::cpu()),
                      Catch::Contains("cuda:0: cu") && Catch::Contains("CUDA_ERROR_LAUNCH_FAILED"));
  }
  {
    Fault refused("cuMemAlloc_v2", 2);  // out of memory with nothing cached
    hci::cuda::empty_cache(0);
    CHECK_THROWS_WITH(hci::arange(1000, hci::kFloat32).to(Device::cuda(0)), Catch::Contains("out of memory"));
  }
  CHECK(hci::equal(x.to(Device::cuda(0)).to(Device::cpu()), x));
}

// DLPack exports of GPU tensors: given the consumer's stream, hci's pending work is ordered before
// that stream's (the mock runs the consumer's copy only after it), and the host does not wait.
TEST_CASE("GPU tensors go out through DLPack ordered before the consumer's stream", "[cuda][dlpack]") {
  mock();
  jit_test::require_jit();
  const hci::cuda::DriverApi& driver = *hci::cuda::driver().api;
  const Tensor x = hci::arange(4000, hci::kFloat32);
  const Tensor y = hci::sin(x.to(Device::cuda(0))) * 3;
  hci::eval(y);
  hci::synchronize(Device::cuda(0));
  const Tensor z = y + 1;  // queued, not run
  hci::eval(z);
  hci::cuda::driver_types::Stream consumer = nullptr;
  REQUIRE(driver.cuStreamCreate(&consumer, 0) == 0);
  dlpack::DLManagedTensorVersioned* exported = hci::to_dlpack(z, int64_t(reinterpret_cast<uintptr_t>(consumer)));
  CHECK(exported->dl_tensor.device.device_type == hci::dlpack::kDLCUDA);
  CHECK(exported->dl_tensor.device.device_id == 0);
  CHECK(mock().queued() > 0);  // the host did not wait
  std::vector<float> seen(4000);
  const auto data = uint64_t(reinterpret_cast<uintptr_t>(exported->dl_tensor.data));
  REQUIRE(driver.cuMemcpyDtoHAsync_v2(seen.data(), data, seen.size() * sizeof(float), consumer) == 0);
  CHECK(seen == (hci::sin(x) * 3 + 1).to_vector<float>());
  exported->deleter(exported);
  CHECK(driver.cuStreamDestroy_v2(consumer) == 0);

  // Without a stream the host waits; with kDLPackNoSync nobody does; stream 0 is refused.
  const Tensor w = y * 2;
  hci::eval(w);
  dlpack::DLManagedTensorVersioned* waited = hci::to_dlpack(w);
  CHECK(mock().queued() == 0);
  waited->deleter(waited);
  const Tensor v = y * 4;
  hci::eval(v);
  dlpack::DLManagedTensor* unsynchronised = hci::to_dlpack_legacy(v, hci::kDLPackNoSync);
  CHECK(mock().queued() > 0);
  unsynchronised->deleter(unsynchronised);
  CHECK_THROWS_WITH(hci::to_dlpack(v, 0), Catch::Contains("stream 0 is ambiguous"));
}

// DLPack imports of device memory another library owns: a tensor on that GPU, computed on by
// hci, the memory released through the producer's deleter when hci is done with it.
TEST_CASE("device memory comes in through DLPack as a GPU tensor", "[cuda][dlpack]") {
  mock();
  jit_test::require_jit();
  hci::Backend& gpu = hci::backend_for(Device::cuda(1));
  const std::vector<double> values = {1.5, -2, 3.25, 4, -5.5, 6};
  void* memory = gpu.allocate(1, values.size() * sizeof(double));
  gpu.copy_from_host(1, memory, values.data(), values.size() * sizeof(double));
  struct Producer {
    hci::Backend* backend;
    void* memory;
    bool released = false;
    int64_t shape[2] = {2, 3}, strides[2] = {1, 2};  // column-major
  } producer{&gpu, memory};
  auto* managed = new dlpack::DLManagedTensorVersioned{};
  managed->version = {1, 0};
  managed->manager_ctx = &producer;
  managed->deleter = [](dlpack::DLManagedTensorVersioned* self) {
    auto* p = static_cast<Producer*>(self->manager_ctx);
    p->backend->deallocate(1, p->memory, 6 * sizeof(double));
    p->released = true;
    delete self;
  };
  managed->dl_tensor = {memory,         {hci::dlpack::kDLCUDA, 1}, 2, {hci::dlpack::kDLFloat, 64, 1},
                        producer.shape, producer.strides,          0};
  {
    const Tensor t = hci::from_dlpack(managed);
    CHECK(t.device() == Device::cuda(1));
    const Tensor expected = hci::from_vector<double>(values, {3, 2}).transpose(0, 1);
    CHECK(hci::equal((t * 2 + 1).to(Device::cpu()), expected * 2 + 1));
    CHECK(hci::equal(t.sum({1}).to(Device::cpu()), expected.sum({1})));
    CHECK(!producer.released);
  }
  CHECK(producer.released);

  // hci's own export comes back as a view of the original; memory of a device without a backend
  // is refused, its deleter run.
  const Tensor original = hci::arange(6, hci::kFloat32).to(Device::cuda(0)).reshape({2, 3});
  const Tensor again = hci::from_dlpack(hci::to_dlpack(original));
  CHECK(again.device() == Device::cuda(0));
  CHECK(hci::equal(again.to(Device::cpu()), original.to(Device::cpu())));
  bool rocm_released = false;
  int64_t shape[1] = {4};
  auto* on_rocm = new dlpack::DLManagedTensorVersioned{};
  on_rocm->version = {1, 0};
  on_rocm->manager_ctx = &rocm_released;
  on_rocm->deleter = [](dlpack::DLManagedTensorVersioned* self) {
    *static_cast<bool*>(self->manager_ctx) = true;
    delete self;
  };
  on_rocm->dl_tensor = {reinterpret_cast<void*>(uintptr_t(4096)),
                        {hci::dlpack::kDLROCM, 0},
                        1,
                        {hci::dlpack::kDLFloat, 32, 1},
                        shape,
                        nullptr,
                        0};
  CHECK_THROWS_WITH(hci::from_dlpack(on_rocm), Catch::Contains("rocm"));
  CHECK(rocm_released);
}

TEST_CASE("Device::best picks the GPU with the most memory free or cached", "[cuda]") {
  mock();
  hci::cuda::empty_cache(0);
  hci::cuda::empty_cache(1);
  const Tensor on_0 = hci::zeros({2 << 20}, hci::kFloat32).to(Device::cuda(0));  // 8 MiB in use
  CHECK(Device::best() == Device::cuda(1));
  {
    const Tensor on_1 = hci::zeros({4 << 20}, hci::kFloat32).to(Device::cuda(1));  // 16 MiB in use
    CHECK(Device::best() == Device::cuda(0));
  }
  CHECK(Device::best() == Device::cuda(1));  // cached blocks count as free
}

TEST_CASE("nothing stays allocated on the devices but the backend's own words", "[cuda]") {
  mock();
  {
    const Tensor x = hci::arange(5000, hci::kFloat64).to(Device::cuda(0));
    const Tensor y = x.to(Device::cuda(1));
    CHECK(hci::equal(y.to(Device::cpu()), hci::arange(5000, hci::kFloat64)));
  }
  hci::synchronize(Device::cuda(0));
  hci::cuda::empty_cache(0);
  hci::cuda::empty_cache(1);
  CHECK(mock().live_allocations() == 2);  // each device's failure word
}

TEST_CASE("without a usable driver, CUDA is unavailable with the driver's reason", "[.unavailable]") {
  const char* init = std::getenv("HCI_MOCK_CUDA_INIT_RESULT");
  if (!init || std::string(init) != "34") {
    WARN("skipped: runs with HCI_MOCK_CUDA_INIT_RESULT=34");
    std::exit(77);
  }
  CHECK(hci::cuda::driver().api == nullptr);
  CHECK(Device::best() == Device::cpu());
  CHECK_THAT(hci::cuda::driver().reason, Catch::Contains("the toolkit's stub"));
  CHECK_THROWS_WITH(hci::arange(4, hci::kFloat32).to(Device::cuda(0)),
                    Catch::Contains("device cuda:0: backend cuda is unavailable") && Catch::Contains("stub"));
}

}  // namespace
