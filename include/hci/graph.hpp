// The lazy graph: storages, and the nodes that operations record instead of computing.
#pragma once

#include <hci/backend.hpp>
#include <hci/kernel.hpp>

#include <atomic>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace detail {

// Device memory. Owned memory is freed through its backend, in stream order; borrowed memory
// (from_blob, DLPack) is handed to its deleter once no pending work can touch it.
struct Storage {
  Device device;
  Backend* backend = nullptr;
  void* data = nullptr;
  size_t nbytes = 0;
  std::function<void(void*)> deleter;  // set for borrowed memory
  bool borrowed = false;
  bool read_only = false;
  bool pinned = false;  // page-locked host memory (Tensor::pin_memory)
  EventPtr ready;       // completion of the last write enqueued
  // A copy out of this memory still in flight on another device (from pinned host memory to a
  // GPU): writes and the free wait for it (wait_for_readers).
  EventPtr copy_in_flight;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    try {
      wait_for_readers();
    } catch (const std::exception& e) {  // a destructor cannot throw: said on stderr instead
      std::fprintf(stderr, "hci: a copy out of memory being freed failed: %s\n", e.what());
    }
    if (borrowed) {
      if (ready) ready->wait();
      if (deleter) deleter(data);
    } else if (data) {
      backend->deallocate(device.index(), data, nbytes);
    }
  }

  void wait_ready() const {
    if (ready) ready->wait();
  }
  // Host memory a device may still be writing to (a copy queued into pinned memory): what a host
  // kernel reading or writing it waits for. Device memory needs no wait: its writes and kernels
  // are in one stream's order.
  void wait_for_device_writes() const {
    if (device.is_cpu()) wait_ready();
  }
  void wait_for_readers() {
    if (copy_in_flight) copy_in_flight->wait();
    copy_in_flight.reset();
  }
};

struct Node;

// An operand of a node: another node's result seen through a view. The strides and offset
// are in elements of that result's layout (its storage once materialised, the contiguous
// layout of its shape while lazy), one stride per dim of the consumer's iteration space, so
// broadcasting and views cost nothing at record time.
struct Input {
  std::shared_ptr<Node> node;
  Dims strides;
  int64_t offset = 0;
  uint64_t version = 0;  // of the operand's storage when recorded
};

// One recorded operation. Its result is logically a contiguous tensor of `shape`; once
// computed, `storage` holds it and the inputs are released. A node whose storage was given at
// creation is a buffer (a leaf).
struct Node {
  OpKind op = OpKind::Load;
  DType dtype = kFloat32;     // of the result
  DType in_dtype = kFloat32;  // of the operands
  Device device;
  Dims shape;               // of the result
  Dims iter_sizes;          // the iteration space: `shape` for elementwise ops; kept dims, then reduced dims
  int32_t reduce_rank = 0;  // trailing iteration dims reduced (or scanned)
  Dims output_strides;      // of the result over the iteration space, where not the default (scans)
  Dims attributes;          // what some ops need beyond their inputs (concat: dim and lengths; gather:
                            // the source's stride and size along the dim; argsort: descending)
  std::vector<Input> inputs;
  ScalarParam scalar{};
  std::source_location recorded_at;

  std::shared_ptr<Storage> storage;  // set once materialised, then `computed` is raised
  std::atomic<bool> computed{false};
  std::atomic<uint64_t> version{0};  // bumped by every write to the storage
  std::atomic<int32_t> depth{0};     // longest lazy chain below; 0 once materialised
  std::atomic<int32_t> handles{0};   // tensors referring to this node
  std::mutex readers_mutex;
  std::vector<std::weak_ptr<Node>> readers;  // lazy nodes recorded as reading this one
  size_t readers_pruned_at = 8;

  bool materialized() const { return computed.load(std::memory_order_acquire); }

  void set_storage(std::shared_ptr<Storage> s) {
    storage = std::move(s);
    computed.store(true, std::memory_order_release);
    depth.store(0, std::memory_order_relaxed);
  }

  void add_reader(const std::shared_ptr<Node>& reader) {
    std::lock_guard lock(readers_mutex);
    if (readers.size() >= readers_pruned_at) {  // amortised: drop readers already gone or computed
      std::erase_if(readers, [](const std::weak_ptr<Node>& w) {
        auto n = w.lock();
        return !n || n->materialized();
      });
      readers_pruned_at = std::max<size_t>(8, 2 * readers.size());
    }
    readers.push_back(reader);
  }

  std::vector<std::shared_ptr<Node>> pending_readers() {
    std::lock_guard lock(readers_mutex);
    std::vector<std::shared_ptr<Node>> out;
    for (auto& w : readers)
      if (auto n = w.lock(); n && !n->materialized()) out.push_back(std::move(n));
    readers.clear();
    return out;
  }
};

using NodePtr = std::shared_ptr<Node>;

}  // namespace detail

HCI_END_NAMESPACE
