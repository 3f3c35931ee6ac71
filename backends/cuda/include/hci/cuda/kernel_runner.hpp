// JIT-compiled kernels on a GPU through the CUDA driver API (or HIP's, adapted to it): the
// scheduled kernel's PTX or AMD code object (jit::gpu_code: from the kernel cache, or compiled)
// loaded once per structure, and launched
// over device copies of the kernel's buffers. KernelRunner is a jit::CodeRunner, so
// jit::run_with drives it exactly as the host executor is driven (reductions finished on the
// host in the interpreter's order); it copies every buffer in and the output back out around
// each launch, which suits checking GPU code against the interpreter, not speed. For timing,
// ResidentKernel keeps one kernel's buffers on the device and launches it again and again.
#pragma once

#include <hci/cuda/driver.hpp>
#include <hci/error.hpp>
#include <hci/jit/amdgpu_linker.hpp>
#include <hci/jit/emit_cpu.hpp>
#include <hci/jit/emit_gpu.hpp>
#include <hci/jit/gpu_target.hpp>
#include <hci/jit/jit.hpp>
#include <hci/kernel.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace cuda {

// Device memory of the current context's device, freed when dropped.
class DeviceMemory {
 public:
  DeviceMemory() = default;
  DeviceMemory(const DriverApi& api, size_t bytes) : api_(&api), bytes_(bytes) {
    check(api, api.cuMemAlloc_v2(&address_, std::max<size_t>(bytes, 1)),
          hci::detail::format("cuMemAlloc of {} bytes", bytes));
  }
  DeviceMemory(DeviceMemory&& other) noexcept
      : api_(other.api_), address_(std::exchange(other.address_, 0)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceMemory& operator=(DeviceMemory&& other) noexcept {
    std::swap(api_, other.api_);
    std::swap(address_, other.address_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  ~DeviceMemory() {
    if (address_) api_->cuMemFree_v2(address_);
  }
  driver_types::DevicePtr address() const { return address_; }
  size_t bytes() const { return bytes_; }
  void upload(const void* from, size_t bytes) {
    if (bytes) check(*api_, api_->cuMemcpyHtoD_v2(address_, from, bytes), "cuMemcpyHtoD");
  }
  void download(void* to, size_t bytes) const {
    if (bytes) check(*api_, api_->cuMemcpyDtoH_v2(to, address_, bytes), "cuMemcpyDtoH");
  }

 private:
  const DriverApi* api_ = nullptr;
  driver_types::DevicePtr address_ = 0;
  size_t bytes_ = 0;
};

// One GPU: the primary context of a device, current on the thread that made it.
class Gpu {
 public:
  // A device of the CUDA driver.
  explicit Gpu(int index = 0) : Gpu(driver(), index) {}
  // A device of `library` (the CUDA driver, or HIP: rocm::hip()).
  Gpu(const DriverLibrary& library, int index) : api_(require(library)) {
    check(api_, api_.cuDeviceGet(&device_, index), "cuDeviceGet");
    check(api_, api_.cuDevicePrimaryCtxRetain(&context_, device_), "cuDevicePrimaryCtxRetain");
    check(api_, api_.cuCtxSetCurrent(context_), "cuCtxSetCurrent");
    char text[256] = {};
    check(api_, api_.cuDeviceGetName(text, int(sizeof text) - 1, device_), "cuDeviceGetName");
    name_ = text;
    if (api_.is_hip()) {
      check(api_, api_.amd_processor_name(text, int(sizeof text) - 1, device_), "hipGetDeviceProperties");
      processor_ = text;
    }
    auto attribute = [&](int& value, int which, const char* what) {
      check(api_, api_.cuDeviceGetAttribute(&value, which, device_),
            hci::detail::format("cuDeviceGetAttribute {}", what));
    };
    attribute(major_, driver_types::kAttributeComputeCapabilityMajor, "compute capability");
    attribute(minor_, driver_types::kAttributeComputeCapabilityMinor, "compute capability");
    attribute(multiprocessors_, driver_types::kAttributeMultiprocessorCount, "multiprocessor count");
  }
  Gpu(const Gpu&) = delete;
  Gpu& operator=(const Gpu&) = delete;
  ~Gpu() { api_.cuDevicePrimaryCtxRelease_v2(device_); }

  const DriverApi& api() const { return api_; }
  driver_types::Context context() const { return context_; }
  const std::string& name() const { return name_; }
  // The code target for this device. NVIDIA: its own sm where hci knows it; for a device newer
  // than any hci knows, the newest it knows (the driver compiles PTX for newer devices). AMD: its
  // processor, at its native wave size.
  jit::GpuTarget target() const {
    if (api_.is_hip()) return jit::GpuTarget::parse(processor_.substr(0, processor_.find(':')));
    try {
      return jit::GpuTarget::parse(hci::detail::format("sm_{}{}", major_, minor_));
    } catch (const Error&) {
      if (major_ < 9) throw;
      return jit::GpuTarget::parse("sm_90");
    }
  }
  void synchronize() const { check(api_, api_.cuCtxSynchronize(), "cuCtxSynchronize"); }
  // Makes the device's context current on the calling thread, as every driver call needs.
  void make_current() const { check(api_, api_.cuCtxSetCurrent(context_), "cuCtxSetCurrent"); }
  // The same for destructors, which cannot throw: false where the driver refuses.
  bool try_make_current() const noexcept { return api_.cuCtxSetCurrent(context_) == driver_types::kSuccess; }
  // "NAME, 143771 MiB, compute capability 9.0, 132 multiprocessors", or on AMD
  // "NAME, 65520 MiB, gfx90a:sramecc+:xnack-, 104 compute units".
  std::string description() const {
    size_t bytes = 0;
    check(api_, api_.cuDeviceTotalMem_v2(&bytes, device_), "cuDeviceTotalMem");
    if (api_.is_hip())
      return hci::detail::format("{}, {} MiB, {}, {} compute units", name_, bytes >> 20, processor_, multiprocessors_);
    return hci::detail::format("{}, {} MiB, compute capability {}.{}, {} multiprocessors", name_, bytes >> 20, major_,
                               minor_, multiprocessors_);
  }

 private:
  static const DriverApi& require(const DriverLibrary& library) {
    HCI_CHECK(library.api, "no GPU driver: {}", library.reason);
    return *library.api;
  }
  const DriverApi& api_;
  driver_types::Device device_ = 0;
  driver_types::Context context_ = nullptr;
  std::string name_, processor_;
  int major_ = 0, minor_ = 0, multiprocessors_ = 0;
};

// A kernel's function on one GPU, with the block size to launch it in: the kernel's own
// (jit::gpu_block_size), else the driver's choice for full occupancy (a multiple of
// jit::kGpuBlockGranule threads), and the fewest blocks that fill the device at the occupancy's
// size.
struct LoadedKernel {
  driver_types::Function function = nullptr;
  unsigned block_size = 0;
  int64_t device_blocks = 0;
};

// The kernels' code on one GPU: each structure's PTX (or AMD code object) loaded once, as the
// function hci_kernel.
class KernelModules {
 public:
  explicit KernelModules(const Gpu& gpu) : gpu_(gpu), api_(gpu.api()), target_(gpu.target()) {}
  KernelModules(const KernelModules&) = delete;
  KernelModules& operator=(const KernelModules&) = delete;
  ~KernelModules() {
    for (auto& [hash, loaded] : modules_) api_.cuModuleUnload(loaded.first);
  }

  const LoadedKernel& function(const KernelStructure& s) {
    const uint64_t hash = s.hash();
    if (auto found = modules_.find(hash); found != modules_.end()) return found->second.second;
    std::string code = jit::gpu_code(s, target_);
    const bool amd = target_.vendor == jit::GpuTarget::Vendor::Amd;
    if (amd) code = jit::link_amdgpu_code_object(code);
    std::string log(8192, '\0');  // the driver's error log (CUDA's; HIP leaves it empty)
    int options[] = {driver_types::kJitErrorLogBuffer, driver_types::kJitErrorLogBufferSizeBytes};
    void* values[] = {log.data(), as_pointer(log.size())};
    driver_types::Module module = nullptr;
    if (const auto r = api_.cuModuleLoadDataEx(&module, code.c_str(), 2, options, values); r != 0) {
      log.resize(std::strlen(log.c_str()));
      check(api_, r,
            hci::detail::format("cuModuleLoadDataEx of a {} kernel for {}{}", op_name(s.root()), target_.name(),
                                log.empty() ? "" : " (" + log + ")"));
    }
    LoadedKernel k;
    try {
      check(api_, api_.cuModuleGetFunction(&k.function, module, "hci_kernel"), "cuModuleGetFunction");
      int min_grid = 0, block = 0;
      // AMD kernels are compiled for blocks of jit::kGpuBlockSize threads at most.
      check(api_,
            api_.cuOccupancyMaxPotentialBlockSize(&min_grid, &block, k.function, nullptr, 0,
                                                  amd ? jit::kGpuBlockSize : 1024),
            "cuOccupancyMaxPotentialBlockSize");
      k.block_size = unsigned(std::max(block / jit::kGpuBlockGranule, 1) * jit::kGpuBlockGranule);
      k.device_blocks = std::max(min_grid, 1);
      if (const int fixed = jit::gpu_block_size(s)) {  // as many threads in its blocks
        k.device_blocks = std::max<int64_t>(k.device_blocks * k.block_size / unsigned(fixed), 1);
        k.block_size = unsigned(fixed);
      }
    } catch (const Error&) {
      api_.cuModuleUnload(module);
      throw;
    }
    return modules_.emplace(hash, std::pair(module, k)).first->second.second;
  }
  const Gpu& gpu() const { return gpu_; }

 private:
  const Gpu& gpu_;
  const DriverApi& api_;
  jit::GpuTarget target_;
  std::map<uint64_t, std::pair<driver_types::Module, LoadedKernel>> modules_;
};

// The bytes [first, end) of buffer `b`'s storage that kernel k reaches: from its offset and strides
// over the iteration space and, where a gather reads it, over the whole dim gathered from. Empty
// where a dim the buffer moves along is empty (a reduction's output does not move along the
// reduced dims: over none, it still gets the identity).
inline std::pair<int64_t, int64_t> byte_span(const Kernel& k, size_t b) {
  const BufferParam& buffer = k.params.buffers[b];
  int64_t low = buffer.offset, high = buffer.offset;
  auto reach = [&](int64_t size, int64_t stride) { (stride < 0 ? low : high) += (size - 1) * stride; };
  for (size_t d = 0; d < k.params.sizes.size(); ++d) {
    if (buffer.strides[d] == 0) continue;
    if (k.params.sizes[d] == 0) return {0, 0};
    reach(k.params.sizes[d], buffer.strides[d]);
  }
  for (const KernelOp& op : k.structure.ops)
    if (op.op == OpKind::Gather && size_t(op.args[0]) == b) {
      const int64_t stride = k.params.scalars[size_t(op.args[2])].i, size = k.params.scalars[size_t(op.args[2]) + 1].i;
      if (size > 0) reach(size, stride);
    }
  const int64_t element = int64_t(element_size(buffer.dtype));
  return {low * element, (high + 1) * element};
}

// Per storage (a buffer's data address), the span of it the kernel's first `buffers` buffers
// (all by default) reach together.
inline std::map<void*, std::pair<int64_t, int64_t>> storage_spans(const Kernel& k, size_t buffers = SIZE_MAX) {
  std::map<void*, std::pair<int64_t, int64_t>> spans;
  for (size_t b = 0; b < std::min(buffers, k.params.buffers.size()); ++b) {
    const auto [first, end] = byte_span(k, b);
    auto [at, added] = spans.emplace(k.params.buffers[b].data, std::pair(first, end));
    if (!added) at->second = {std::min(at->second.first, first), std::max(at->second.second, end)};
  }
  return spans;
}

// Blocks of `block_size` threads for a launch over [0, count): as many as the range needs, at most
// `max_blocks` (the threads then stride over the range).
inline unsigned launch_blocks(const KernelStructure& s, int64_t count, unsigned block_size, int64_t max_blocks) {
  const int64_t threads = count * jit::gpu_threads_per_item(s);
  return unsigned(std::clamp<int64_t>((threads + block_size - 1) / block_size, 1, max_blocks));
}

// One launch of a scheduled kernel's code over [0, count), its buffers and scratch array copied
// to the device, in blocks of the size the driver suggests; `max_blocks` (0: as many as the range
// needs) bounds the grid, whose threads then stride over the range.
class ResidentKernel {
 public:
  ResidentKernel(KernelModules& modules, const Kernel& compiled, int64_t count, const void* scratch,
                 size_t scratch_bytes, unsigned max_blocks = 0)
      : api_(modules.gpu().api()), kernel_(modules.function(compiled.structure)), count_(count) {
    Kernel on_device = compiled;
    // One device copy per storage, covering every element the kernel's buffers reach in it.
    for (const auto& [storage, span] : storage_spans(compiled)) {
      DeviceMemory memory(api_, size_t(span.second - span.first));
      memory.upload(static_cast<const char*>(storage) + span.first, memory.bytes());
      copies_.push_back({storage, span.first, std::move(memory)});
    }
    for (BufferParam& b : on_device.params.buffers) {
      const Copy& c = copy_of(b.data);
      b.data = as_pointer(c.memory.address() - uint64_t(c.first));
    }
    std::vector<int64_t> params = jit::pack_params(on_device.params);
    if (scratch) {
      scratch_ = DeviceMemory(api_, scratch_bytes);
      scratch_.upload(scratch, scratch_bytes);
      params.push_back(int64_t(scratch_.address()));
    }
    params_ = DeviceMemory(api_, params.size() * sizeof(int64_t));
    params_.upload(params.data(), params_.bytes());
    const int32_t no_failure = 0;
    failure_.upload(&no_failure, sizeof no_failure);
    blocks_ = launch_blocks(compiled.structure, count, kernel_.block_size, max_blocks ? max_blocks : int64_t(1) << 30);
  }

  void launch() {
    int64_t start = 0, end = count_;
    driver_types::DevicePtr params = params_.address(), failure = failure_.address();
    void* arguments[] = {&start, &end, &params, &failure};
    check(
        api_,
        api_.cuLaunchKernel(kernel_.function, blocks_, 1, 1, kernel_.block_size, 1, 1, 0, nullptr, arguments, nullptr),
        "cuLaunchKernel");
  }
  // Copies the storage behind `storage` (the host address of one of the kernel's buffers) back.
  void download(void* storage) {
    const Copy& c = copy_of(storage);
    c.memory.download(static_cast<char*>(storage) + c.first, c.memory.bytes());
  }
  void download_scratch(void* to) { scratch_.download(to, scratch_.bytes()); }
  // The status a failing thread stored (see jit::gpu_kernel_can_fail), 0 for none.
  int32_t failure() const {
    int32_t status = 0;
    failure_.download(&status, sizeof status);
    return status;
  }
  unsigned blocks() const { return blocks_; }

 private:
  struct Copy {
    void* storage;
    int64_t first;  // byte of the storage at the start of the device copy
    DeviceMemory memory;
  };
  const Copy& copy_of(void* storage) const {
    return *std::find_if(copies_.begin(), copies_.end(), [&](const Copy& c) { return c.storage == storage; });
  }
  const DriverApi& api_;
  LoadedKernel kernel_;
  int64_t count_;
  std::vector<Copy> copies_;
  DeviceMemory scratch_, params_, failure_{api_, sizeof(int32_t)};
  unsigned blocks_ = 1;
};

// A jit::CodeRunner on the GPU: each run copies the kernel's buffers in, launches, and copies
// the output (buffer 0) and the scratch array back. The last launch stays resident (last()), so
// that a benchmark can time it again with exactly the executor's parameters.
class KernelRunner final : public jit::CodeRunner {
 public:
  explicit KernelRunner(KernelModules& modules, unsigned max_blocks = 0) : modules_(modules), max_blocks_(max_blocks) {}
  int32_t run(const Kernel& compiled, int64_t count, int64_t, int, void* scratch, size_t scratch_bytes) override {
    last_.reset();
    last_ = std::make_unique<ResidentKernel>(modules_, compiled, count, scratch, scratch_bytes, max_blocks_);
    last_->launch();
    modules_.gpu().synchronize();
    if (jit::gpu_kernel_can_fail(compiled.structure))
      if (const int32_t status = last_->failure()) return status;
    last_->download(compiled.params.buffers[0].data);
    if (scratch) last_->download_scratch(scratch);
    return 0;
  }
  ResidentKernel* last() { return last_.get(); }

 private:
  KernelModules& modules_;
  unsigned max_blocks_;
  std::unique_ptr<ResidentKernel> last_;
};

}  // namespace cuda

HCI_END_NAMESPACE
