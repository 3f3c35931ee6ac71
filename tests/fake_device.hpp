// A test device whose memory the host cannot address: addresses handed to the core are
// scrambled, and work runs asynchronously, in order, on a worker thread (its stream). Kernels
// run through the CPU interpreter on unscrambled copies of their parameters.
#pragma once

#include <hci/hci.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace fake {

// Any dereference of a scrambled address faults, so a core that touched device memory
// directly would crash the test.
inline constexpr uintptr_t kScramble = uintptr_t(0x5a5a) << 48;
inline void* scramble(void* p) { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) ^ kScramble); }
inline const void* unscramble(const void* p) {
  return reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) ^ kScramble);
}

class StreamEvent final : public hci::Event {
 public:
  void wait() override {
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, [&] { return done_; });
  }
  bool ready() override {
    std::lock_guard lock(mutex_);
    return done_;
  }
  void complete() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

class FakeBackend final : public hci::Backend {
 public:
  // What happened on the stream, in order: "launch", "free", "read", "write".
  std::vector<std::string> trace;
  std::atomic<int> live_allocations{0};
  std::atomic<bool> fail_next_launch{false};
  std::atomic<int> launch_delay_us{0};

  FakeBackend() : worker_([this] { run(); }) {}
  ~FakeBackend() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  std::string name() const override { return "fake"; }
  int device_count() override { return 2; }
  std::string device_name(int index) override { return "fake device " + std::to_string(index); }

  void* allocate(int, size_t bytes) override {
    ++live_allocations;
    return scramble(std::malloc(bytes));
  }
  void deallocate(int, void* data, size_t) override {
    enqueue([this, data] {
      trace.push_back("free");
      std::free(const_cast<void*>(unscramble(data)));
      --live_allocations;
    });
  }
  void copy_to_host(int, void* dst, const void* src, size_t bytes) override {
    enqueue([=, this] {
      trace.push_back("read");
      std::memcpy(dst, unscramble(src), bytes);
    })->wait();
  }
  void copy_from_host(int, void* dst, const void* src, size_t bytes) override {
    std::vector<std::byte> staged(static_cast<const std::byte*>(src), static_cast<const std::byte*>(src) + bytes);
    enqueue([this, dst, staged = std::move(staged)] {
      trace.push_back("write");
      std::memcpy(const_cast<void*>(unscramble(dst)), staged.data(), staged.size());
    })->wait();
  }
  hci::EventPtr launch(int, const hci::Kernel& kernel) override {
    if (fail_next_launch.exchange(false)) throw hci::Error("fake device: launch failed (injected fault)");
    hci::Kernel copy = kernel;
    for (auto& b : copy.params.buffers) b.data = const_cast<void*>(unscramble(b.data));
    return enqueue([this, copy = std::move(copy)] {
      if (launch_delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(launch_delay_us.load()));
      trace.push_back("launch");
      hci::cpu::interp::run_kernel(copy, *hci::cpu::thread_pool());
    });
  }
  void synchronize(int) override {
    enqueue([] {})->wait();
  }

 private:
  std::shared_ptr<StreamEvent> enqueue(std::function<void()> work) {
    auto event = std::make_shared<StreamEvent>();
    {
      std::lock_guard lock(mutex_);
      queue_.emplace_back(std::move(work), event);
    }
    cv_.notify_all();
    return event;
  }

  void run() {
    for (;;) {
      std::pair<std::function<void()>, std::shared_ptr<StreamEvent>> item;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      item.first();
      item.second->complete();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<std::function<void()>, std::shared_ptr<StreamEvent>>> queue_;
  bool stop_ = false;
  std::thread worker_;
};

// Registers the fake backend for the PrivateUse device type once per process.
inline FakeBackend& backend() {
  static FakeBackend* instance = [] {
    FakeBackend* b = nullptr;
    hci::register_backend(hci::DeviceType::PrivateUse, [&b] {
      auto owned = std::make_unique<FakeBackend>();
      b = owned.get();
      return owned;
    });
    hci::backend_for(hci::Device(hci::DeviceType::PrivateUse, 0));
    return b;
  }();
  return *instance;
}

inline hci::Device device(int index = 0) {
  backend();
  return {hci::DeviceType::PrivateUse, index};
}

}  // namespace fake
