// The CUDA backend: tensors on `cuda:N` live in device memory from a caching allocator, and their
// kernels run as the JIT's PTX on the device's stream, in order; matrix products run through
// cuBLAS where it is found (cuda/cublas.hpp), else as the JIT's tiled kernel
// (jit/emit_gpu.hpp); what has no GPU code yet (sorts, cumulative sums) runs on the host
// over copies of the buffers it reaches.
// Registered for DeviceType::CUDA, and unavailable, with the driver's reason, where no driver or
// device is found. The same backend (GpuBackend) drives AMD GPUs through HIP (rocm/backend.hpp).
#pragma once

#include <hci/backend.hpp>
#include <hci/cpu/allocator.hpp>
#include <hci/cuda/cublas.hpp>
#include <hci/cuda/driver.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

HCI_BEGIN_NAMESPACE

namespace cuda {

// The backend registered for DeviceType::CUDA.
HCI_RUNTIME_DECL std::unique_ptr<Backend> make_backend();
// Memory statistics of one GPU's caching allocator, and giving its cached blocks back.
HCI_RUNTIME_DECL MemoryStats memory_stats(int device = 0);
HCI_RUNTIME_DECL void empty_cache(int device = 0);
// "NAME, MEMORY MiB, compute capability M.m, N multiprocessors", as hci-info lists it.
HCI_RUNTIME_DECL std::string device_description(int device);
// The stream hci queues cuda:N's work on, as a CUstream value: what a DLPack producer is given
// (__dlpack__(stream=...)) so that its writes are ordered before hci's reads.
HCI_RUNTIME_DECL uintptr_t stream_handle(int device = 0);

// The same for the GPUs of the backend registered for `type`: this one (DeviceType::CUDA), or
// this one driving HIP (DeviceType::ROCm, rocm/backend.hpp).
namespace detail {
// `blas`: the vendor's BLAS (cuBLAS, or rocBLAS adapted to its API), looked for at the first product.
HCI_RUNTIME_DECL std::unique_ptr<Backend> make_gpu_backend(DeviceType type, const DriverLibrary& library,
                                                           const CublasLibrary& (*blas)());
HCI_RUNTIME_DECL MemoryStats memory_stats(DeviceType type, int device);
HCI_RUNTIME_DECL void empty_cache(DeviceType type, int device);
HCI_RUNTIME_DECL std::string device_description(DeviceType type, int device);
HCI_RUNTIME_DECL uintptr_t stream_handle(DeviceType type, int device);
// The device of that backend with the most free memory (with what its cache holds), and that
// memory; none where `library` is missing or finds no device.
HCI_RUNTIME_DECL std::pair<std::optional<Device>, size_t> roomiest_device(DeviceType type,
                                                                          const DriverLibrary& library);
}  // namespace detail

}  // namespace cuda

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/cpu/interpreter.hpp>
#include <hci/cpu/matmul.hpp>
#include <hci/cpu/thread_pool.hpp>
#include <hci/cuda/allocator.hpp>
#include <hci/cuda/kernel_runner.hpp>
#include <hci/registry.hpp>

#include <array>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <mutex>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace cuda::detail {

inline driver_types::DevicePtr device_address(const void* p) { return driver_types::DevicePtr(uintptr_t(p)); }

// One GPU as the backend drives it: its context, one stream all its work goes to, its memory
// and its loaded kernels. Calls are serialised by `mutex`, and each makes the context current.
struct Device {
  Device(const DriverLibrary& library, hci::Device device, const CublasLibrary& (*blas_library)())
      : gpu(library, device.index()),
        name(device.str()),
        allocator(gpu.api(), name),
        modules(gpu),
        failure(gpu.api(), sizeof(int32_t)),
        blas_library(blas_library) {
    check(gpu.api(), gpu.api().cuStreamCreate(&stream, driver_types::kStreamNonBlocking), "cuStreamCreate");
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device() {
    gpu.try_make_current();
    blas.reset();
    gpu.api().cuStreamSynchronize(stream);
    gpu.api().cuStreamDestroy_v2(stream);
  }
  const DriverApi& api() const { return gpu.api(); }
  // The device locked for the calling thread, its context current there, as every call on it
  // needs; unlocked when the result is dropped.
  [[nodiscard]] std::unique_lock<std::mutex> use() {
    std::unique_lock lock(mutex);
    gpu.make_current();
    return lock;
  }
  void synchronize() {
    check(api(), api().cuStreamSynchronize(stream), hci::detail::format("{}: cuStreamSynchronize", name));
  }
  // Queues a matrix product through the vendor's BLAS (cuBLAS, or rocBLAS adapted to its API), or
  // returns false where there is none, it does not take this one, or it cannot start on this
  // device (said once on stderr).
  bool blas_matmul(const Kernel& k) {
    if (blas_unusable || !blas_library().api) return false;
    const CublasApi& api = *blas_library().api;
    if (!blas) try {
        blas = std::make_unique<CublasHandle>(api, stream);
      } catch (const Error& e) {
        blas_unusable = true;
        std::fprintf(stderr, "hci: %s: %s (%s) cannot start (%s); matrix products run on the host\n", name.c_str(),
                     api.name.c_str(), api.path.c_str(), e.what());
        return false;
      }
    return blas->matmul(k);
  }

  std::mutex mutex;
  Gpu gpu;
  std::string name;
  DeviceAllocator allocator;
  KernelModules modules;
  DeviceMemory failure;  // the i32 a failing kernel stores its status to
  driver_types::Stream stream = nullptr;
  const CublasLibrary& (*blas_library)();  // found at the first matrix product
  std::unique_ptr<CublasHandle> blas;      // made then
  bool blas_unusable = false;
};

// Work queued on a device's stream up to a point.
class StreamEvent final : public Event {
 public:
  explicit StreamEvent(Device& d) : device_(d) {
    check(api(), api().cuEventCreate(&event_, driver_types::kEventDisableTiming), "cuEventCreate");
    check(api(), api().cuEventRecord(event_, d.stream), "cuEventRecord");
  }
  StreamEvent(const StreamEvent&) = delete;
  StreamEvent& operator=(const StreamEvent&) = delete;
  ~StreamEvent() override {
    device_.gpu.try_make_current();
    api().cuEventDestroy_v2(event_);
  }
  driver_types::Event handle() const { return event_; }
  void wait() override {
    device_.gpu.make_current();
    check(api(), api().cuEventSynchronize(event_), hci::detail::format("{}: cuEventSynchronize", device_.name));
  }
  bool ready() override {
    device_.gpu.make_current();
    const driver_types::Result r = api().cuEventQuery(event_);
    if (r == driver_types::kErrorNotReady) return false;
    check(api(), r, hci::detail::format("{}: cuEventQuery", device_.name));
    return true;
  }

 private:
  const DriverApi& api() const { return device_.api(); }
  Device& device_;
  driver_types::Event event_ = nullptr;
};

// Runs a kernel's code on the device's stream over its buffers, which are in device memory
// already: the parameter block and the scratch array (for reductions) come from the allocator,
// and are back in it when the launch is queued, as stream order allows.
class StreamRunner final : public jit::CodeRunner {
 public:
  explicit StreamRunner(Device& d) : d_(d) {}
  int32_t run(const Kernel& compiled, int64_t count, int64_t, int, void* scratch, size_t scratch_bytes) override {
    const DriverApi& api = d_.api();
    std::vector<int64_t> params = jit::pack_params(compiled.params);
    const Block scratch_block(d_.allocator, scratch ? scratch_bytes : 0);
    if (scratch) params.push_back(int64_t(scratch_block.address));
    const Block params_block(d_.allocator, params.size() * sizeof(int64_t));
    // From pageable memory: queued, and copied out of `params` before the call returns.
    copy_in(params_block.address, params.data(), params_block.bytes);
    const bool can_fail = jit::gpu_kernel_can_fail(compiled.structure);
    const int32_t no_failure = 0;
    if (can_fail) copy_in(d_.failure.address(), &no_failure, sizeof no_failure);

    // Blocks enough to fill the device at full occupancy, at most; the threads stride over the rest.
    const LoadedKernel& kernel = d_.modules.function(compiled.structure);
    const unsigned blocks = launch_blocks(compiled.structure, count, kernel.block_size, kernel.device_blocks);
    int64_t start = 0, end = count;
    driver_types::DevicePtr params_arg = params_block.address, failure_arg = d_.failure.address();
    void* arguments[] = {&start, &end, &params_arg, &failure_arg};
    check(api,
          api.cuLaunchKernel(kernel.function, blocks, 1, 1, kernel.block_size, 1, 1, 0, d_.stream, arguments, nullptr),
          hci::detail::format("{}: cuLaunchKernel of a {} kernel", d_.name, op_name(compiled.structure.root())));
    int32_t status = 0;
    if (scratch)
      check(api, api.cuMemcpyDtoHAsync_v2(scratch, scratch_block.address, scratch_bytes, d_.stream),
            "cuMemcpyDtoHAsync");
    if (can_fail)
      check(api, api.cuMemcpyDtoHAsync_v2(&status, d_.failure.address(), sizeof status, d_.stream),
            "cuMemcpyDtoHAsync");
    if (scratch || can_fail) d_.synchronize();  // the host reads what came back
    return status;
  }

 private:
  // A block from the allocator for one launch, back in it when the launch is queued (or failed):
  // later users of the block are queued after this launch. None for 0 bytes.
  struct Block {
    Block(DeviceAllocator& a, size_t n) : allocator(a), bytes(n), address(n ? a.allocate(n) : 0) {}
    Block(const Block&) = delete;
    Block& operator=(const Block&) = delete;
    ~Block() { allocator.deallocate(address, bytes); }
    DeviceAllocator& allocator;
    size_t bytes;
    driver_types::DevicePtr address;
  };

  void copy_in(driver_types::DevicePtr to, const void* from, size_t bytes) {
    check(d_.api(), d_.api().cuMemcpyHtoDAsync_v2(to, from, bytes, d_.stream),
          hci::detail::format("{}: cuMemcpyHtoDAsync", d_.name));
  }
  void store_output(const Kernel& k, const std::function<void(const Kernel&)>& store) override;

  Device& d_;
};

// A kernel over host copies of the device storage its buffers reach: all of them, or with
// `output_only` the output's alone. store_output() copies the output's span back.
class HostCopies {
 public:
  HostCopies(Device& d, const Kernel& k, bool output_only = false) : d_(d), device_(k), host_(k) {
    const size_t copied = output_only ? 1 : k.params.buffers.size();  // buffers whose storage is copied
    for (const auto& [storage, span] : storage_spans(k, copied)) {
      std::vector<std::byte>& copy = copies_.emplace_back(size_t(span.second - span.first));
      if (!copy.empty())
        check(d.api(),
              d.api().cuMemcpyDtoHAsync_v2(copy.data(), device_address(storage) + uint64_t(span.first), copy.size(),
                                           d.stream),
              hci::detail::format("{}: cuMemcpyDtoHAsync", d.name));
      for (size_t b = 0; b < copied; ++b)  // at the storage's start, as kernels expect
        if (BufferParam& p = host_.params.buffers[b]; p.data == storage)
          p.data = as_pointer(uintptr_t(copy.data()) - uintptr_t(span.first));
    }
    d.synchronize();
  }
  const Kernel& kernel() const { return host_; }
  void store_output() {
    const auto [first, end] = byte_span(device_, 0);
    if (end <= first) return;
    const void* written = as_pointer(uintptr_t(host_.params.buffers[0].data) + uintptr_t(first));
    check(d_.api(),
          d_.api().cuMemcpyHtoDAsync_v2(device_address(device_.params.buffers[0].data) + uint64_t(first), written,
                                        size_t(end - first), d_.stream),
          hci::detail::format("{}: cuMemcpyHtoDAsync", d_.name));
    d_.synchronize();  // the host copy goes when this returns
  }

 private:
  Device& d_;
  const Kernel& device_;
  Kernel host_;
  std::vector<std::vector<std::byte>> copies_;
};

inline void StreamRunner::store_output(const Kernel& k, const std::function<void(const Kernel&)>& store) {
  HostCopies output(d_, k, true);
  store(output.kernel());
  output.store_output();
}

// A kernel without GPU code, run by the CPU backend's executors over host copies of the storage
// each buffer reaches; the output's span is copied back.
inline void run_on_host(Device& d, const Kernel& kernel) {
  HostCopies copies(d, kernel);
  if (kernel.structure.root() == OpKind::Matmul)
    cpu::run_matmul(copies.kernel(), *cpu::thread_pool());
  else if (!jit::detail::run_kernel(copies.kernel(), *cpu::thread_pool()))
    cpu::interp::run_kernel(copies.kernel(), *cpu::thread_pool());
  copies.store_output();
}

// The backend of the GPUs of one driver library: CUDA's for DeviceType::CUDA, HIP's (adapted to
// the CUDA driver API, rocm/hip.hpp) for DeviceType::ROCm.
class GpuBackend final : public Backend {
 public:
  GpuBackend(DeviceType type, const DriverLibrary& library, const CublasLibrary& (*blas)())
      : type_(type), library_(library), blas_(blas) {}
  std::string name() const override { return std::string(device_type_name(type_)); }
  std::string unavailable_reason() override {
    if (!library_.api) return library_.reason;
    return device_count() == 0 ? hci::detail::format("the {} driver finds no device", library_.api->runtime) : "";
  }
  int device_count() override {
    if (!library_.api) return 0;
    int count = 0;
    return library_.api->cuDeviceGetCount(&count) == driver_types::kSuccess ? count : 0;
  }
  std::string device_name(int index) override { return device(index).gpu.name(); }
  std::string device_description(int index) { return device(index).gpu.description(); }

  void* allocate(int index, size_t bytes) override {
    Device& d = device(index);
    const auto lock = d.use();
    return as_pointer(d.allocator.allocate(bytes));
  }
  void deallocate(int index, void* data, size_t bytes) override {
    Device& d = device(index);
    std::lock_guard lock(d.mutex);
    d.allocator.deallocate(device_address(data), bytes);  // reused in stream order
  }
  void copy_to_host(int index, void* host_dst, const void* src, size_t bytes) override {
    copy_to_pinned_host(index, host_dst, src, bytes)->wait();  // the driver accepts pageable memory too
  }
  void copy_from_host(int index, void* dst, const void* host_src, size_t bytes) override {
    // Waited for: `host_src` may be pinned memory, which the copy reads only as it runs.
    copy_from_pinned_host(index, dst, host_src, bytes)->wait();
  }
  EventPtr launch(int index, const Kernel& kernel) override {
    Device& d = device(index);
    const auto lock = d.use();
    auto on_gpu = [&](const Kernel& k) {
      if (!jit::gpu_takes(k)) return false;
      StreamRunner runner(d);
      jit::run_with(k, runner, 1, [&](const Kernel& part) { run_on_host(d, part); });
      return true;
    };
    // Matrix products: the vendor's BLAS, else the JIT's tiled kernel.
    const bool product = kernel.structure.root() == OpKind::Matmul;
    if (!((product && d.blas_matmul(kernel)) || on_gpu(kernel))) run_on_host(d, kernel);
    return std::make_shared<StreamEvent>(d);
  }
  void synchronize(int index) override {
    Device& d = device(index);
    const auto lock = d.use();
    d.synchronize();
  }
  bool order_before_stream(int index, uintptr_t stream) override {
    Device& d = device(index);
    const auto lock = d.use();
    const StreamEvent done(d);  // destroyed at once: the driver keeps it while the wait needs it
    check(d.api(), d.api().cuStreamWaitEvent(static_cast<driver_types::Stream>(as_pointer(stream)), done.handle(), 0),
          hci::detail::format("{}: cuStreamWaitEvent on stream {:#x}", d.name, stream));
    return true;
  }

  void* allocate_pinned(int index, size_t bytes) override {
    Device& d = device(index);
    const auto lock = d.use();
    void* memory = nullptr;
    check(d.api(), d.api().cuMemHostAlloc(&memory, bytes, driver_types::kMemHostAllocPortable),
          hci::detail::format("{}: cuMemHostAlloc of {} bytes", d.name, bytes));
    return memory;
  }
  EventPtr copy_from_pinned_host(int index, void* dst, const void* pinned_src, size_t bytes) override {
    Device& d = device(index);
    const auto lock = d.use();
    if (bytes)
      check(d.api(), d.api().cuMemcpyHtoDAsync_v2(device_address(dst), pinned_src, bytes, d.stream),
            hci::detail::format("{}: cuMemcpyHtoDAsync of {} bytes", d.name, bytes));
    return std::make_shared<StreamEvent>(d);
  }
  EventPtr copy_to_pinned_host(int index, void* pinned_dst, const void* src, size_t bytes) override {
    Device& d = device(index);
    const auto lock = d.use();
    if (bytes)
      check(d.api(), d.api().cuMemcpyDtoHAsync_v2(pinned_dst, device_address(src), bytes, d.stream),
            hci::detail::format("{}: cuMemcpyDtoHAsync of {} bytes", d.name, bytes));
    return std::make_shared<StreamEvent>(d);
  }
  void free_pinned(int index, void* data) override {
    Device& d = device(index);
    std::lock_guard lock(d.mutex);
    d.gpu.try_make_current();
    d.api().cuMemFreeHost(data);  // no copy reads it any more: its storage waited for them
  }
  // On the destination's stream, between events: the copy waits for the source's queued work, and
  // the source's later work (a new user of the source's block, once freed) waits for the copy.
  bool copy_between_devices(int dst_index, void* dst, int src_index, const void* src, size_t bytes) override {
    if (bytes == 0) return true;
    Device& from = device(src_index);
    Device& to = device(dst_index);
    std::unique_ptr<StreamEvent> written, copied;
    {
      const auto lock = from.use();
      written = std::make_unique<StreamEvent>(from);
    }
    {
      const auto lock = to.use();
      check(to.api(), to.api().cuStreamWaitEvent(to.stream, written->handle(), 0),
            hci::detail::format("{}: cuStreamWaitEvent", to.name));
      check(to.api(),
            to.api().cuMemcpyPeerAsync(device_address(dst), to.gpu.context(), device_address(src), from.gpu.context(),
                                       bytes, to.stream),
            hci::detail::format("{}: cuMemcpyPeerAsync of {} bytes from {}", to.name, bytes, from.name));
      copied = std::make_unique<StreamEvent>(to);
    }
    const auto lock = from.use();
    check(from.api(), from.api().cuStreamWaitEvent(from.stream, copied->handle(), 0),
          hci::detail::format("{}: cuStreamWaitEvent", from.name));
    return true;
  }

  Device& device(int index) {
    std::lock_guard lock(devices_mutex_);
    HCI_CHECK(index >= 0 && index < device_count(), "{}: no such device ({} found)", hci::Device(type_, index).str(),
              device_count());
    if (devices_.size() <= size_t(index)) devices_.resize(size_t(index) + 1);
    if (!devices_[size_t(index)])
      devices_[size_t(index)] = std::make_unique<Device>(library_, hci::Device(type_, index), blas_);
    return *devices_[size_t(index)];
  }

 private:
  DeviceType type_;
  const DriverLibrary& library_;
  const CublasLibrary& (*blas_)();
  std::mutex devices_mutex_;
  std::vector<std::unique_ptr<Device>> devices_;
};

// The backend registered for `type`, which must be a GpuBackend's.
inline GpuBackend& backend(DeviceType type = DeviceType::CUDA) {
  return static_cast<GpuBackend&>(backend_for(hci::Device(type, 0)));
}

}  // namespace cuda::detail

HCI_RUNTIME_DEF std::unique_ptr<Backend> cuda::detail::make_gpu_backend(DeviceType type, const DriverLibrary& library,
                                                                        const CublasLibrary& (*blas)()) {
  return std::make_unique<GpuBackend>(type, library, blas);
}

HCI_RUNTIME_DEF MemoryStats cuda::detail::memory_stats(DeviceType type, int device) {
  return backend(type).device(device).allocator.stats();
}

HCI_RUNTIME_DEF void cuda::detail::empty_cache(DeviceType type, int device) {
  Device& d = backend(type).device(device);
  const auto lock = d.use();
  d.synchronize();
  d.allocator.empty_cache();
}

HCI_RUNTIME_DEF std::string cuda::detail::device_description(DeviceType type, int device) {
  return backend(type).device_description(device);
}

HCI_RUNTIME_DEF uintptr_t cuda::detail::stream_handle(DeviceType type, int device) {
  return reinterpret_cast<uintptr_t>(backend(type).device(device).stream);
}

HCI_RUNTIME_DEF std::pair<std::optional<Device>, size_t> cuda::detail::roomiest_device(DeviceType type,
                                                                                       const DriverLibrary& library) {
  int count = 0;
  if (!library.api || library.api->cuDeviceGetCount(&count) != driver_types::kSuccess || count == 0) return {};
  GpuBackend& gpus = backend(type);
  std::pair<std::optional<hci::Device>, size_t> best;
  for (int i = 0; i < gpus.device_count(); ++i) {
    detail::Device& d = gpus.device(i);
    const auto lock = d.use();
    size_t free = 0, total = 0;
    check(d.api(), d.api().cuMemGetInfo_v2(&free, &total), "cuMemGetInfo");
    free += size_t(d.allocator.stats().cached_bytes);
    if (!best.first || free > best.second) best = {hci::Device(type, i), free};
  }
  return best;
}

HCI_RUNTIME_DEF std::unique_ptr<Backend> cuda::make_backend() {
  return detail::make_gpu_backend(DeviceType::CUDA, driver(), cublas);
}
HCI_RUNTIME_DEF MemoryStats cuda::memory_stats(int device) { return detail::memory_stats(DeviceType::CUDA, device); }
HCI_RUNTIME_DEF void cuda::empty_cache(int device) { detail::empty_cache(DeviceType::CUDA, device); }
HCI_RUNTIME_DEF std::string cuda::device_description(int device) {
  return detail::device_description(DeviceType::CUDA, device);
}
HCI_RUNTIME_DEF uintptr_t cuda::stream_handle(int device) { return detail::stream_handle(DeviceType::CUDA, device); }

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
