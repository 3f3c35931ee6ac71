// The CUDA backend's host code against the mock driver (tests/mock_cuda.cpp, which ctest loads
// through HCI_CUDA_PATH): devices, copies, the caching allocator, running what has no GPU code on
// the host, the driver's failures as hci::Errors, and nothing left allocated. Skipped (code 77)
// where HCI_CUDA_PATH does not name the mock. The "[unavailable]" case runs with the mock's
// cuInit answering as the toolkit's stub does.
#include <hci/cuda/backend.hpp>
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

using hci::Device;
using hci::Tensor;

// The mock's control functions, from the copy of it hci loaded.
struct Mock {
  void (*fail)(const char* entry_point, int result, long after) = nullptr;
  long (*calls)(const char* entry_point) = nullptr;
  long (*live_allocations)() = nullptr;
};

void* mock_library() {
  const char* path = std::getenv("HCI_CUDA_PATH");
  void* library = path && std::string(path).find("mock_cuda") != std::string::npos
                      ? dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)
                      : nullptr;
  if (!library) {
    hci::cuda::driver();  // loads it, if HCI_CUDA_PATH names it
    library = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) : nullptr;
  }
  if (!library || !dlsym(library, "hci_mock_cuda_fail")) {
    WARN("skipped: HCI_CUDA_PATH does not name the mock CUDA driver");
    std::exit(77);
  }
  return library;
}

const Mock& mock() {
  static const Mock m = [] {
    void* library = mock_library();
    Mock found;
    found.fail = reinterpret_cast<decltype(found.fail)>(dlsym(library, "hci_mock_cuda_fail"));
    found.calls = reinterpret_cast<decltype(found.calls)>(dlsym(library, "hci_mock_cuda_calls"));
    found.live_allocations =
        reinterpret_cast<decltype(found.live_allocations)>(dlsym(library, "hci_mock_cuda_live_allocations"));
    return found;
  }();
  return m;
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
    const Tensor moved = on_gpu.to(Device::cuda(1));
    CHECK(moved.device() == Device::cuda(1));
    const Tensor back = moved.to(Device::cpu());
    CHECK(back.device() == Device::cpu());
    CHECK(hci::equal(back, t));
  }
  // A non-contiguous view goes as its elements.
  const Tensor m = hci::arange(12, hci::kFloat64).reshape({3, 4}).transpose(0, 1);
  CHECK(hci::equal(m.to(Device::cuda(0)).to(Device::cpu()), m.contiguous()));
}

TEST_CASE("an op without GPU code runs on the host over copies of its buffers", "[cuda]") {
  mock();
  const Tensor a = hci::arange(6 * 5, hci::kFloat32).reshape({6, 5}) * 0.5f;
  const Tensor b = hci::arange(5 * 3, hci::kFloat32).reshape({5, 3}) - 4;
  const Tensor product = hci::matmul(a.to(Device::cuda(0)), b.to(Device::cuda(0)));
  CHECK(product.device() == Device::cuda(0));
  CHECK(hci::equal(product.to(Device::cpu()), hci::matmul(a, b)));
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
    Fault refused("cuMemAlloc_v2", 2);  // out of memory with nothing cached
    hci::cuda::empty_cache(0);
    CHECK_THROWS_WITH(hci::arange(1000, hci::kFloat32).to(Device::cuda(0)), Catch::Contains("out of memory"));
  }
  CHECK(hci::equal(x.to(Device::cuda(0)).to(Device::cpu()), x));
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
