// Blocks that end where an inaccessible page begins (HCI_GUARD_PAGES=1): a kernel that reads or
// writes past its buffer faults at once instead of corrupting a neighbour. A debugging aid, and
// what the sanitizer test stage uses for JIT-compiled kernels, which AddressSanitizer cannot
// instrument. Slow: every block is fresh pages, unmapped when freed (so a use after free faults
// too).
#pragma once

#include <hci/config.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

HCI_BEGIN_NAMESPACE

namespace cpu::guard_pages {

inline bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("HCI_GUARD_PAGES");
    return v && std::string_view(v) == "1";
  }();
  return on;
}

// Where a block of `bytes` lies: `data_bytes` rounded up to `alignment`, then whole pages, then
// the guard page.
struct Placement {
  size_t data_bytes, data_pages_bytes, page;
};
inline Placement placement(size_t bytes, size_t alignment) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const size_t data = (std::max<size_t>(bytes, 1) + alignment - 1) / alignment * alignment;
  return {data, (data + page - 1) / page * page, page};
}

// A block of `bytes` aligned to `alignment` whose end touches the guard page; null if the
// system has no memory for it.
inline void* allocate(size_t bytes, size_t alignment) {
  const Placement p = placement(bytes, alignment);
  void* base = mmap(nullptr, p.data_pages_bytes + p.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  auto* start = static_cast<std::byte*>(base);
  if (mprotect(start + p.data_pages_bytes, p.page, PROT_NONE) != 0) {
    munmap(base, p.data_pages_bytes + p.page);
    return nullptr;
  }
  return start + p.data_pages_bytes - p.data_bytes;
}

// Frees a block from allocate(bytes, alignment), given the same size and alignment.
inline void deallocate(void* block, size_t bytes, size_t alignment) {
  const Placement p = placement(bytes, alignment);
  munmap(static_cast<std::byte*>(block) + p.data_bytes - p.data_pages_bytes, p.data_pages_bytes + p.page);
}

}  // namespace cpu::guard_pages

HCI_END_NAMESPACE
