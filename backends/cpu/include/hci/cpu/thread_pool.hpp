// The persistent CPU thread pool: created on first use, sized from the process's CPU
// affinity and cgroup quota, and recreated lazily in a child after fork.
#pragma once

#include <hci/error.hpp>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace cpu {

// CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota.
inline int available_cpus() {
  int cpus = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = int(std::max(1u, std::thread::hardware_concurrency()));
  if (FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {  // "max 100000" or "150000 100000"
    long long quota = 0, period = 0;
    if (std::fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0)
      cpus = std::min<int>(cpus, int(std::max<long long>(1, (quota + period - 1) / period)));
    std::fclose(f);
  }
  return cpus;
}

inline int default_num_threads() {
  if (const char* env = std::getenv("HCI_NUM_THREADS")) {
    const int n = std::atoi(env);
    HCI_CHECK(n > 0, "HCI_NUM_THREADS must be a positive integer, got \"{}\"", env);
    return n;
  }
  return available_cpus();
}

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : size_(std::max(threads, 1)) {
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int size() const { return size_; }

  // Runs body(part) for part in [0, parts), parts <= size(), the caller taking part 0. A call
  // made while the pool is busy (another thread, or from inside a task) runs inline instead.
  void run(int parts, const std::function<void(int)>& body) {
    parts = std::min(parts, size_);
    std::unique_lock busy(busy_, std::try_to_lock);
    if (parts <= 1 || !busy.owns_lock()) {
      for (int p = 0; p < parts; ++p) body(p);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      body_ = &body;
      parts_ = parts;
      pending_ = parts - 1;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    std::exception_ptr error;
    try {
      body(0);
    } catch (...) {
      error = std::current_exception();
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    body_ = nullptr;
    if (!error) error = error_;
    if (error) std::rethrow_exception(error);
  }

 private:
  void work(int index) {
    uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= parts_) continue;
      const auto* body = body_;
      lock.unlock();
      std::exception_ptr error;
      try {
        (*body)(index);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error && !error_) error_ = error;
      if (--pending_ == 0) done_.notify_one();
    }
  }

  const int size_;
  std::vector<std::thread> workers_;
  std::mutex busy_;  // held by the thread whose job the pool runs
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* body_ = nullptr;
  int parts_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

namespace detail {

struct PoolState {
  std::mutex mutex;
  std::shared_ptr<ThreadPool> pool;
  pid_t owner = 0;
  int requested = 0;  // 0: the default
};

inline PoolState& pool_state() {
  static PoolState state;
  return state;
}

}  // namespace detail

// The process's pool, created on first use. After fork the parent's workers do not exist in
// the child, so a pool made by another process is abandoned (never joined) and made anew.
inline std::shared_ptr<ThreadPool> thread_pool() {
  auto& state = detail::pool_state();
  std::lock_guard lock(state.mutex);
  if (!state.pool || state.owner != getpid()) {
    if (state.pool && state.owner != getpid())
      new std::shared_ptr<ThreadPool>(std::move(state.pool));  // NOLINT: leak on purpose
    state.pool = std::make_shared<ThreadPool>(state.requested > 0 ? state.requested : default_num_threads());
    state.owner = getpid();
  }
  return state.pool;
}

}  // namespace cpu

// The number of threads hci's CPU work runs on (HCI_NUM_THREADS, else the CPUs available).
inline int get_num_threads() { return cpu::thread_pool()->size(); }

inline void set_num_threads(int threads) {
  HCI_CHECK(threads > 0, "set_num_threads: expected a positive number of threads, got {}", threads);
  auto& state = cpu::detail::pool_state();
  std::lock_guard lock(state.mutex);
  state.requested = threads;
  if (state.pool && state.owner == getpid() && state.pool->size() == threads) return;
  state.pool.reset();  // joins the old workers once no task holds the pool
}

HCI_END_NAMESPACE
