// The ROCm backend's host code against the mock HIP runtime (tests/mock_hip.cpp, which ctest
// loads through HCI_HIP_PATH): devices named by their processor, the JIT's AMD code objects loaded
// and run as their host-emulated twins and compared with the CPU bit for bit, streams, the caching
// allocator, the host fallback, HIP's errors as hci::Errors naming HIP's calls, DLPack as
// kDLROCM, and nothing left allocated. Skipped (code 77) where HCI_HIP_PATH does not name the
// mock. The "[unavailable]" case runs over Debian's libamdhip64 on a machine without an AMD GPU.
#include "jit_support.hpp"
#include "mock_cuda_control.hpp"

#include <hci/hci.hpp>
#include <hci/rocm/backend.hpp>
#include <hci/rocm/rocblas.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using hci::Device;
using hci::Tensor;

// The mock's control functions; the test is skipped without the mock.
const mock_cuda::Control& mock() {
  static const bool emulated = mock_cuda::emulate_launches() && hci::rocm::hip().api;
  if (!emulated) {
    WARN("skipped: HCI_HIP_PATH does not name the mock HIP runtime");
    std::exit(77);
  }
  return mock_cuda::control();
}

// Clears an injected fault when the test ends, passed or not.
struct Fault {
  Fault(const char* entry_point, int result) { mock().fail(entry_point, result, 0); }
  Fault(const Fault&) = delete;
  Fault& operator=(const Fault&) = delete;
  ~Fault() { mock().fail("", 0, 0); }
};

TEST_CASE("the ROCm backend finds HIP's devices, named by their processor", "[rocm]") {
  mock();
  hci::Backend& backend = hci::backend_for(Device::rocm(1));
  CHECK(backend.name() == "rocm");
  CHECK(backend.device_count() == 2);
  CHECK(hci::rocm::device_description(1) == "hci mock GPU 1, 64 MiB, gfx90a:sramecc+:xnack-, 2 compute units");
  CHECK(hci::rocm::hip().api->version == 60241134);
  CHECK_THROWS_WITH(hci::backend_for(Device::rocm(2)), Catch::Contains("index out of range (rocm has 2 devices)"));
  // No CUDA driver here (ctest points HCI_CUDA_PATH nowhere): the roomiest AMD GPU is the best.
  CHECK(Device::best() == Device::rocm(0));
}

// Random programs and long reductions, softmax rows: each kernel's AMD code object is made and
// loaded, and its emulated twin runs on rocm:0 or rocm:1 in the mock's block sizes.
TEST_CASE("kernels on an AMD GPU agree with the CPU bit for bit", "[rocm]") {
  using namespace jit_test;
  mock();
  require_jit();
  const long launches = mock().calls("cuLaunchKernel");
  std::mt19937_64 rng(20261201);
  for (int g = 0; g < 40; ++g) {
    const Device gpu = Device::rocm(g % 2);
    const Program p = random_program(rng);
    std::vector<Tensor> on_cpu, on_gpu;
    for (size_t i = 0; i < p.inputs.size(); ++i) {
      const Input& in = p.inputs[i];
      on_cpu.push_back(make_input(input_shape(in, p.shape), in.dtype, in.view, g * 16 + i));
      on_gpu.push_back(make_input(input_shape(in, p.shape), in.dtype, in.view, g * 16 + i, gpu));
    }
    const Tensor want = run(p, on_cpu), got = run(p, on_gpu);
    INFO("program " << g << " on " << gpu.str() << ": " << describe(p, p.shape));
    REQUIRE(got.device() == gpu);
    REQUIRE(bits_of(got.to(Device::cpu())) == bits_of(want));
  }
  const Tensor wide = hci::arange(3 * 70001, hci::kFloat32).reshape({3, 70001}) * 0.001f;
  const std::vector<std::function<Tensor(const Tensor&)>> cases = {
      [](const Tensor& w) { return w.sum({1}); },
      [](const Tensor& w) { return w.transpose(0, 1).amax({0}); },
      [](const Tensor& w) { return w.softmax(1); },
      [](const Tensor& w) { return w.to(hci::kBFloat16).log_softmax(0); },
  };
  const Tensor wide_gpu = wide.to(Device::rocm(1));
  for (size_t c = 0; c < cases.size(); ++c) {
    INFO("long case " << c);
    REQUIRE(bits_of(cases[c](wide_gpu).to(Device::cpu())) == bits_of(cases[c](wide)));
  }
  CHECK(mock().calls("cuLaunchKernel") - launches >= 60);
}

TEST_CASE("AMD GPU work queues on the device's stream, and reads wait for it", "[rocm]") {
  mock();
  jit_test::require_jit();
  const Tensor x = hci::arange(3000, hci::kFloat32);
  const Tensor y = hci::exp(x.to(Device::rocm(0)) * 0.001f) + 1;
  hci::eval(y);
  CHECK(mock().queued() > 0);
  const Tensor moved = y.to(Device::rocm(1));
  CHECK(hci::equal(moved.to(Device::cpu()), hci::exp(x * 0.001f) + 1));
  hci::synchronize(Device::rocm(0));
  CHECK(mock().queued() == 0);
  CHECK_THROWS_WITH(y + x, Catch::Contains("rocm:0") && Catch::Contains("cpu"));
}

TEST_CASE("what has no AMD GPU code runs on the host over copies", "[rocm]") {
  mock();
  const Tensor x = hci::from_vector<float>({3, -1, 2, 7, 0, 5, -4, 1, 6}, {3, 3});
  const Tensor sorted = hci::argsort(x.to(Device::rocm(0)).transpose(0, 1), 1);
  CHECK(sorted.device() == Device::rocm(0));
  CHECK(hci::equal(sorted.to(Device::cpu()), hci::argsort(x.transpose(0, 1), 1)));
}

// The products queued on the mock rocBLAS (through the mock cuBLAS it stands on); -1 where hci
// uses no mock rocBLAS.
long rocblas_products() {
  const char* path = std::getenv("HCI_ROCBLAS_PATH");
  void* library = hci::rocm::rocblas().api && path ? dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) : nullptr;
  auto* count = library ? reinterpret_cast<long (*)()>(dlsym(library, "hci_mock_cublas_gemms")) : nullptr;
  return count ? count() : -1;
}

// Through rocBLAS where HCI_ROCBLAS_PATH names the mock, as the JIT's tiled kernel where there
// is none or it cannot start (HCI_MOCK_ROCBLAS_CREATE_STATUS): what the CPU computes, to rounding.
TEST_CASE("matrix products on an AMD GPU: through rocBLAS, or as JIT kernels", "[rocm][rocblas]") {
  mock();
  jit_test::require_jit();
  const long launches = mock().calls("cuLaunchKernel");
  const Tensor a = (hci::arange(4 * 3 * 5, hci::kFloat64) * 0.1 - 2).reshape({4, 3, 5});
  const Tensor want = hci::matmul(a, a.transpose(1, 2));
  const long before = rocblas_products();
  for (const hci::DType dtype : {hci::kFloat64, hci::kFloat32, hci::kBFloat16}) {
    const Tensor on_gpu = a.to(dtype).to(Device::rocm(0));
    const Tensor product = hci::matmul(on_gpu, on_gpu.transpose(1, 2));
    CHECK(product.device() == Device::rocm(0));
    const double tolerance = dtype == hci::kFloat64 ? 1e-12 : dtype == hci::kFloat32 ? 1e-5 : 5e-2;
    CHECK(hci::allclose(product.to(Device::cpu()).to(hci::kFloat64), want, tolerance, tolerance));
  }
  const bool through_rocblas = before >= 0 && !std::getenv("HCI_MOCK_ROCBLAS_CREATE_STATUS");
  if (through_rocblas) {
    CHECK(hci::rocm::rocblas().api->version == "4.2.4.mock");
    CHECK(rocblas_products() - before >= 3);
  } else {  // no rocBLAS, or it cannot start: JIT kernels computed them
    CHECK(mock().calls("cuLaunchKernel") - launches >= 3);
  }
}

TEST_CASE("HIP's failures are hci::Errors naming HIP's call, and the device stays usable", "[rocm]") {
  mock();
  jit_test::require_jit();
  const Tensor x = hci::arange(100, hci::kFloat32);
  {
    Fault lost("cuMemcpyHtoDAsync_v2", 101);
    CHECK_THROWS_WITH(x.to(Device::rocm(0)),
                      Catch::Contains("rocm:0: hipMemcpyHtoDAsync") && Catch::Contains("hipErrorInvalidDevice"));
  }
  {
    Fault failing("kernel", 719);  // queued, and failing when it runs: reported when waited for
    const Tensor doubled = x.to(Device::rocm(0)) * 2;
    hci::eval(doubled);
    CHECK_THROWS_WITH(doubled.to(Device::cpu()),
                      Catch::Contains("rocm:0: hip") && Catch::Contains("hipErrorLaunchFailure"));
  }
  CHECK_THROWS_WITH(hci::zeros({20 << 20}, hci::kFloat32).to(Device::rocm(1)),
                    Catch::Contains("rocm:1: out of memory allocating 83886080 bytes"));
  CHECK(hci::equal((x.to(Device::rocm(0)) * 2).to(Device::cpu()), x * 2));
}

TEST_CASE("pinned tensors come from HIP's page-locked memory", "[rocm]") {
  mock();
  const long allocations = mock().calls("cuMemHostAlloc");
  const Tensor x = hci::arange(100, hci::kFloat64);
  const Tensor pinned = x.pin_memory();
  CHECK(pinned.is_pinned());
  CHECK(mock().calls("cuMemHostAlloc") == allocations + 1);
  CHECK(hci::equal(pinned.to(Device::rocm(0)).to(Device::cpu()), x));
}

TEST_CASE("AMD GPU tensors go through DLPack as kDLROCM memory", "[rocm][dlpack]") {
  mock();
  const Tensor x = hci::arange(10, hci::kFloat32).to(Device::rocm(1));
  hci::dlpack::DLManagedTensorVersioned* exported = hci::to_dlpack(x, hci::kDLPackNoSync);
  CHECK(exported->dl_tensor.device.device_type == hci::dlpack::kDLROCM);
  CHECK(exported->dl_tensor.device.device_id == 1);
  const void* memory = exported->dl_tensor.data;
  const Tensor back = hci::from_dlpack(exported);
  CHECK(back.device() == Device::rocm(1));
  CHECK(hci::equal(back.to(Device::cpu()), hci::arange(10, hci::kFloat32)));
  hci::dlpack::DLManagedTensorVersioned* again = hci::to_dlpack(back, hci::kDLPackNoSync);
  CHECK(again->dl_tensor.data == memory);  // the same device memory all along
  again->deleter(again);
}

TEST_CASE("nothing stays allocated on AMD GPUs but the backend's own words", "[rocm]") {
  mock();
  {
    const Tensor x = hci::arange(5000, hci::kFloat64).to(Device::rocm(0));
    CHECK(hci::equal(x.to(Device::rocm(1)).to(Device::cpu()), hci::arange(5000, hci::kFloat64)));
  }
  hci::synchronize(Device::rocm(0));
  hci::rocm::empty_cache(0);
  hci::rocm::empty_cache(1);
  CHECK(hci::rocm::memory_stats(0).allocated_bytes == 0);
  CHECK(mock().live_allocations() == 2);  // each device's failure word
}

TEST_CASE("without a usable HIP runtime, ROCm is unavailable with the runtime's reason", "[.unavailable]") {
  const char* path = std::getenv("HCI_HIP_PATH");
  if (!path || std::string(path).find("mock") != std::string::npos || !std::filesystem::exists(path)) {
    WARN("skipped: runs with HCI_HIP_PATH naming a real libamdhip64 on a machine without an AMD GPU");
    std::exit(77);
  }
  CHECK(hci::rocm::hip().api == nullptr);
  CHECK_THAT(hci::rocm::hip().reason, Catch::Contains("hipInit failed"));
  CHECK(Device::best() == Device::cpu());
  CHECK_THROWS_WITH(hci::arange(4, hci::kFloat32).to(Device::rocm(0)),
                    Catch::Contains("device rocm:0: backend rocm is unavailable") && Catch::Contains("hipInit"));
}

}  // namespace
