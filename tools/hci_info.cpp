// hci-info: what hci sees on this machine: version, backends (with the reason when one is
// unavailable), devices, CPU features, threads, and the BLAS libraries matmul uses.
#include <hci/cuda/cublas.hpp>
#include <hci/hci.hpp>
#include <hci/rocm/backend.hpp>
#include <hci/rocm/hip.hpp>
#include <hci/rocm/rocblas.hpp>

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

std::string cpu_features() {
  std::vector<std::string> found;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) found.emplace_back("sse4.2");
  if (__builtin_cpu_supports("avx")) found.emplace_back("avx");
  if (__builtin_cpu_supports("avx2")) found.emplace_back("avx2");
  if (__builtin_cpu_supports("fma")) found.emplace_back("fma");
  if (__builtin_cpu_supports("avx512f")) found.emplace_back("avx512f");
#endif
  return found.empty() ? std::string("(baseline)") : fmt::format("{}", fmt::join(found, " "));
}

// The vendor BLAS that matrix products on a backend's GPUs go through, or why there is none.
void print_gpu_blas(std::string_view name, const hci::cuda::CublasLibrary& blas, std::string_view backend) {
  if (blas.api)
    fmt::print("{}: {} ({}): matmul on {} devices\n", name, blas.api->path, blas.api->version, backend);
  else
    fmt::print("{}: none ({}); matmul on {} devices runs as the JIT's tiled kernel\n", name, blas.reason, backend);
}

}  // namespace

int main() {
  fmt::print("hci {}\n", HCI_VERSION_STRING);
  fmt::print("threads: {} (HCI_NUM_THREADS overrides; {} CPUs available to this process)\n", hci::get_num_threads(),
             hci::cpu::available_cpus());
  fmt::print("cpu features: {}\n", cpu_features());
  fmt::print("executors: interpreter (always); LLVM JIT: {}\n", hci::jit::status());
  const hci::cpu::Blas& blas = hci::cpu::blas();
  if (blas.available())
    fmt::print("matmul: float32/float64 through {}; other dtypes through the built-in kernel\n", blas.path);
  else
    fmt::print("matmul: built-in kernel ({})\n", blas.reason);
  const hci::cuda::DriverLibrary& cuda = hci::cuda::driver();
  if (cuda.api)
    fmt::print("CUDA driver: {} (CUDA {}.{})\n", cuda.api->path, cuda.api->version / 1000,
               cuda.api->version % 1000 / 10);
  else
    fmt::print("CUDA driver: none ({})\n", cuda.reason);
  if (cuda.api) print_gpu_blas("cuBLAS", hci::cuda::cublas(), "CUDA");
  const hci::cuda::DriverLibrary& hip = hci::rocm::hip();
  if (hip.api)  // HIP's version: major * 10^7 + minor * 10^5 + patch
    fmt::print("HIP runtime: {} (HIP {}.{}.{})\n", hip.api->path, hip.api->version / 10000000,
               hip.api->version / 100000 % 100, hip.api->version % 100000);
  else
    fmt::print("HIP runtime: none ({})\n", hip.reason);
  if (hip.api) print_gpu_blas("rocBLAS", hci::rocm::rocblas(), "ROCm");
  fmt::print("backends:\n");
  for (int t = 0; t < hci::kNumDeviceTypes; ++t) {
    const auto type = static_cast<hci::DeviceType>(t);
    if (type == hci::DeviceType::PrivateUse) continue;
    try {
      hci::Backend& backend = hci::backend_for(hci::Device(type, 0));
      fmt::print("  {}: available, {} device(s)\n", hci::device_type_name(type), backend.device_count());
      for (int i = 0; i < backend.device_count(); ++i)
        fmt::print("    {}: {}\n", hci::Device(type, i).str(),
                   type == hci::DeviceType::CUDA   ? hci::cuda::device_description(i)
                   : type == hci::DeviceType::ROCm ? hci::rocm::device_description(i)
                                                   : backend.device_name(i));
    } catch (const hci::Error& e) {
      fmt::print("  {}: unavailable: {}\n", hci::device_type_name(type), e.what());
    }
  }
  return 0;
}
