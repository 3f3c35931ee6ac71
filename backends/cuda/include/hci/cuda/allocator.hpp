// The caching allocator for one GPU's memory. cuMemAlloc and cuMemFree synchronise the whole
// device, so freed blocks are kept by size class and handed out again. Everything that uses a
// block is queued on the device's one stream, so a block freed while queued kernels still use it
// may be reused at once: its next user is queued after them.
#pragma once

#include <hci/cpu/allocator.hpp>
#include <hci/cuda/driver.hpp>
#include <hci/error.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace cuda {

class DeviceAllocator {
 public:
  // Blocks below 1 MiB round up to 512 bytes, larger ones to a multiple of 2 MiB (the driver's
  // own granularity for large allocations).
  static size_t size_class(size_t bytes) {
    constexpr size_t kSmall = 512, kLarge = size_t(2) << 20;
    bytes = std::max<size_t>(bytes, 1);
    if (bytes < (size_t(1) << 20)) return (bytes + kSmall - 1) / kSmall * kSmall;
    return (bytes + kLarge - 1) / kLarge * kLarge;
  }

  // `device` names the GPU in errors; the device's context must be current on the calling thread
  // for every call.
  DeviceAllocator(const DriverApi& api, std::string device) : api_(api), device_(std::move(device)) {}
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;
  ~DeviceAllocator() { release_cache(); }

  // A block of at least `bytes`; out of device memory, the cache goes back to the driver and the
  // allocation is tried once more before it is an hci::Error naming the sizes.
  driver_types::DevicePtr allocate(size_t bytes) {
    const size_t size = size_class(bytes);
    std::lock_guard lock(mutex_);
    ++stats_.allocations;
    driver_types::DevicePtr block = 0;
    if (auto it = free_.find(size); it != free_.end() && !it->second.empty()) {
      block = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= int64_t(size);
      ++stats_.cache_hits;
    } else {
      driver_types::Result r = api_.cuMemAlloc_v2(&block, size);
      if (r == driver_types::kErrorOutOfMemory && stats_.cached_bytes > 0) {
        release_cache();
        r = api_.cuMemAlloc_v2(&block, size);
      }
      if (r == driver_types::kErrorOutOfMemory) {
        size_t free = 0, total = 0;
        api_.cuMemGetInfo_v2(&free, &total);
        throw Error(hci::detail::format(
            "{}: out of memory allocating {} bytes ({} free of {}; {} in tensors, {} cached, after emptying the cache)",
            device_, bytes, free, total, stats_.allocated_bytes, stats_.cached_bytes));
      }
      check(api_, r, hci::detail::format("{}: cuMemAlloc of {} bytes", device_, size));
    }
    stats_.allocated_bytes += int64_t(size);
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
    return block;
  }

  void deallocate(driver_types::DevicePtr block, size_t bytes) {
    if (!block) return;
    const size_t size = size_class(bytes);
    std::lock_guard lock(mutex_);
    stats_.allocated_bytes -= int64_t(size);
    free_[size].push_back(block);
    stats_.cached_bytes += int64_t(size);
  }

  // Gives the cached blocks back to the driver (which waits for the device's work first).
  void empty_cache() {
    std::lock_guard lock(mutex_);
    release_cache();
  }

  MemoryStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  void release_cache() {
    for (auto& [size, blocks] : free_)
      for (driver_types::DevicePtr b : blocks) api_.cuMemFree_v2(b);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  const DriverApi& api_;
  const std::string device_;
  std::mutex mutex_;
  std::map<size_t, std::vector<driver_types::DevicePtr>> free_;
  MemoryStats stats_;
};

}  // namespace cuda

HCI_END_NAMESPACE
