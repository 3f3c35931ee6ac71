// The device-agnostic, asynchronous backend interface every device implements.
#pragma once

#include <hci/device.hpp>
#include <hci/kernel.hpp>

#include <cstdint>
#include <memory>
#include <string>

HCI_BEGIN_NAMESPACE

// Completion of work enqueued on a device. A null event means "already complete".
class Event {
 public:
  virtual ~Event() = default;
  virtual void wait() = 0;
  virtual bool ready() = 0;
};
using EventPtr = std::shared_ptr<Event>;

// What a device must provide. Everything that touches device memory goes through here, so the
// core never assumes it can dereference a device address. Work is enqueued in order on one
// stream per device: launches return an event, frees are ordered after earlier work, and copies
// to the host wait for what precedes them.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int device_count() = 0;
  virtual std::string device_name(int index) = 0;
  // Empty when usable; otherwise why not, in one line.
  virtual std::string unavailable_reason() { return {}; }

  virtual void* allocate(int device, size_t bytes) = 0;
  virtual void deallocate(int device, void* data, size_t bytes) = 0;  // ordered after pending work
  virtual void copy_to_host(int device, void* host_dst, const void* src, size_t bytes) = 0;    // blocking
  virtual void copy_from_host(int device, void* dst, const void* host_src, size_t bytes) = 0;  // blocking
  virtual EventPtr launch(int device, const Kernel& kernel) = 0;
  virtual void synchronize(int device) = 0;
  // Makes what another library queues on its `stream` of this device (a CUDA or HIP stream
  // handle, as a DLPack exchange passes it) wait for the work queued here so far, without the
  // host waiting; false where the device has no streams, and the caller then waits instead.
  virtual bool order_before_stream(int /*device*/, uintptr_t /*stream*/) { return false; }
  // Page-locked host memory, which the device copies to and from directly, usable by every device
  // of the backend; null where the backend has none. Freed by free_pinned.
  virtual void* allocate_pinned(int /*device*/, size_t /*bytes*/) { return nullptr; }
  virtual void free_pinned(int /*device*/, void* /*data*/) {}
  // A copy from such memory, queued without the host waiting: the event says when it has read
  // `pinned_src`. By default the copy is done when this returns (a null event).
  virtual EventPtr copy_from_pinned_host(int device, void* dst, const void* pinned_src, size_t bytes) {
    copy_from_host(device, dst, pinned_src, bytes);
    return nullptr;
  }
  // A copy to such memory, queued after the device's pending work without the host waiting: the
  // event says when `pinned_dst` holds the bytes. By default done when this returns.
  virtual EventPtr copy_to_pinned_host(int device, void* pinned_dst, const void* src, size_t bytes) {
    copy_to_host(device, pinned_dst, src, bytes);
    return nullptr;
  }
  // Copies `bytes` from `src` on device `src_device` to `dst` on `dst_device`, two devices of
  // this backend, after the work queued on either so far and before what is queued after, without
  // the host waiting; false where the backend cannot, and the caller then copies through the host.
  virtual bool copy_between_devices(int /*dst_device*/, void* /*dst*/, int /*src_device*/, const void* /*src*/,
                                    size_t /*bytes*/) {
    return false;
  }
};

HCI_END_NAMESPACE
