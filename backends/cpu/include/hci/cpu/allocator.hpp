// The caching allocator for CPU buffers: 64-byte aligned blocks reused by size class, so
// repeated evaluations do not pay for fresh pages and page faults.
#pragma once

#include <hci/cpu/guard_pages.hpp>
#include <hci/error.hpp>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

HCI_BEGIN_NAMESPACE

struct MemoryStats {
  int64_t allocated_bytes = 0;  // in live buffers (size-class rounded)
  int64_t peak_allocated_bytes = 0;
  int64_t cached_bytes = 0;  // free blocks kept for reuse
  int64_t allocations = 0;   // requests served
  int64_t cache_hits = 0;    // of which from the cache
};

namespace cpu {

inline constexpr size_t kAlignment = 64;

class CachingAllocator {
 public:
  // Blocks up to 1 MiB round to a power of two; larger ones to a multiple of 1 MiB, so
  // reuse wastes at most half a block for small ones and 1 MiB for large ones.
  static size_t size_class(size_t bytes) {
    bytes = std::max<size_t>(bytes, kAlignment);
    if (bytes <= (size_t(1) << 20)) return std::bit_ceil(bytes);
    return (bytes + (size_t(1) << 20) - 1) & ~((size_t(1) << 20) - 1);
  }

  ~CachingAllocator() { empty_cache(); }

  void* allocate(size_t bytes) {
    const size_t size = size_class(bytes);
    std::lock_guard lock(mutex_);
    ++stats_.allocations;
    void* block = nullptr;
    auto it = free_.find(size);
    if (guard_pages::enabled()) {
      block = guard_pages::allocate(bytes, kAlignment);
      HCI_CHECK(block, "cpu allocator: out of memory allocating {} bytes with a guard page", bytes);
    } else if (it != free_.end() && !it->second.empty()) {
      block = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= int64_t(size);
      ++stats_.cache_hits;
    } else {
      block = std::aligned_alloc(kAlignment, size);
      if (!block) {  // give the cache back to the system and try once more
        release_cache_locked();
        block = std::aligned_alloc(kAlignment, size);
      }
      HCI_CHECK(block, "cpu allocator: out of memory allocating {} bytes ({} bytes in use)", bytes,
                stats_.allocated_bytes);
    }
    stats_.allocated_bytes += int64_t(size);
    stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
    return block;
  }

  void deallocate(void* block, size_t bytes) {
    if (!block) return;
    const size_t size = size_class(bytes);
    std::lock_guard lock(mutex_);
    stats_.allocated_bytes -= int64_t(size);
    if (guard_pages::enabled()) {
      guard_pages::deallocate(block, bytes, kAlignment);
      return;
    }
    if (stats_.cached_bytes + int64_t(size) > max_cached_bytes_) {
      std::free(block);
      return;
    }
    free_[size].push_back(block);
    stats_.cached_bytes += int64_t(size);
  }

  void empty_cache() {
    std::lock_guard lock(mutex_);
    release_cache_locked();
  }

  MemoryStats stats() {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  void release_cache_locked() {
    for (auto& [size, blocks] : free_)
      for (void* b : blocks) std::free(b);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  MemoryStats stats_;
  int64_t max_cached_bytes_ = int64_t(4) << 30;
};

}  // namespace cpu

HCI_END_NAMESPACE
