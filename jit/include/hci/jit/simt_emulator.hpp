// GPU kernels run on the host, so that GPU backends can be tested without a GPU (the mock CUDA
// driver runs what is launched on it this way). The kernel is the GPU emitter's code for the
// emulated target (jit::emulated_gpu_code): host code whose @hci.simt.* calls read the
// SimtThread it is given and call back into the emulator.
//
// A launch runs its blocks one after another, which share one block's shared memory. Every thread
// of a block is a fiber of its own, so that a shuffle or a barrier waits for its peers as on a GPU: warps of
// kEmulatedWarpSize lanes, shuffles among the lanes of their member mask, barriers across the block (a thread that has
// finished counts as arrived). A wait that no peer can end, such as a shuffle some member lane
// never reaches, is an hci::Error naming it, not a hang. Threads between waits run to completion
// on their own, as the kernels hci emits need; only the order in which peers' memory accesses
// interleave differs from a GPU's. Not part of hci.hpp: included by what emulates a device.
#pragma once

#include <hci/error.hpp>
#include <hci/jit/gpu_target.hpp>
#include <hci/jit/jit.hpp>
#include <hci/kernel.hpp>
#include <hci/precise_fp.hpp>

#include <fmt/format.h>
#include <ucontext.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define HCI_SIMT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HCI_SIMT_ASAN 1
#endif
#endif
#if HCI_SIMT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

HCI_BEGIN_NAMESPACE

namespace jit {

inline constexpr int kEmulatedWarpSize = 32;

// One emulated thread, laid out as the emulated @hci.simt.* functions read it (emit_gpu.hpp).
struct SimtThread {
  int32_t thread_index = 0, block_index = 0, block_size = 0, block_count = 0, lane_index = 0;
  int32_t (*shuffle)(SimtThread* self, int32_t value, int32_t source_lane, int32_t members) = nullptr;
  void (*barrier)(SimtThread* self) = nullptr;
  void* emulator = nullptr;
  void* shared = nullptr;  // the block's shared memory, kGpuSharedBytes
};
static_assert(offsetof(SimtThread, shuffle) == 24 && offsetof(SimtThread, barrier) == 32 &&
                  offsetof(SimtThread, shared) == 48,
              "the emulated @hci.simt.* functions read these offsets");

using EmulatedKernel = void (*)(int64_t start, int64_t end, const void* params, int32_t* failure, SimtThread* thread);

class SimtEmulator {
 public:
  // Runs `kernel` over a grid of `blocks` blocks of `block_size` threads, with the kernel's
  // arguments (host addresses). Throws hci::Error for a launch no GPU would take, or a deadlock.
  void launch(EmulatedKernel kernel, unsigned blocks, unsigned block_size, int64_t start, int64_t end,
              const void* params, int32_t* failure) {
    HCI_CHECK(blocks >= 1 && block_size >= 1 && block_size <= 1024,
              "an emulated launch takes 1 or more blocks of 1 to 1024 threads, not {} of {}", blocks, block_size);
    error_[0] = '\0';  // from a launch that failed before
    kernel_ = kernel;
    start_ = start;
    end_ = end;
    params_ = params;
    failure_ = failure;
    while (fibers_.size() < block_size) fibers_.push_back(std::make_unique<Fiber>());
    hci::detail::PreciseFloatMode mode;  // the fibers start with this thread's floating-point mode
    Running running(this);
    for (unsigned b = 0; b < blocks; ++b) run_block(int32_t(b), int32_t(blocks), int32_t(block_size));
  }

 private:
  static constexpr size_t kStackBytes = size_t(256) << 10;
  enum class Wait { None, Shuffle, Barrier };

  struct Fiber {
    SimtThread thread;
    ucontext_t context{};
    std::unique_ptr<char[]> stack{new char[kStackBytes]};  // not zeroed: pages are touched as used
    int32_t posted[2] = {};                                // the values of its last two shuffles
    uint64_t shuffles = 0;                                 // shuffles it has posted a value to
    uint64_t barriers = 0;                                 // barriers it has arrived at
    Wait wait = Wait::None;
    bool done = false;
    void* fake_stack = nullptr;  // AddressSanitizer's, while it is switched away
  };

  // The emulator whose fibers run on this thread.
  static SimtEmulator*& running() {
    static thread_local SimtEmulator* emulator = nullptr;
    return emulator;
  }
  struct Running {
    explicit Running(SimtEmulator* e) : previous(std::exchange(running(), e)) {}
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
    ~Running() { running() = previous; }
    SimtEmulator* previous;
  };

  // Stack switches, announced to AddressSanitizer where it runs.
  static void start_switch([[maybe_unused]] void** fake_stack, [[maybe_unused]] const void* bottom,
                           [[maybe_unused]] size_t size) {
#if HCI_SIMT_ASAN
    __sanitizer_start_switch_fiber(fake_stack, bottom, size);
#endif
  }
  static void finish_switch([[maybe_unused]] void* fake_stack, [[maybe_unused]] const void** bottom,
                            [[maybe_unused]] size_t* size) {
#if HCI_SIMT_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, bottom, size);
#endif
  }

  void run_block(int32_t block, int32_t blocks, int32_t size) {
    for (int32_t t = 0; t < size; ++t) {
      Fiber& f = *fibers_[size_t(t)];
      f.thread = {t, block, size, blocks, t % kEmulatedWarpSize, &shuffle, &barrier, this, shared_.get()};
      f.shuffles = f.barriers = 0;
      f.wait = Wait::None;
      f.done = false;
      start_at_fiber_main(f);
    }
    size_ = size;
    for (int32_t live = size; live > 0;) {
      const uint64_t progress = progress_;
      live = 0;
      for (int32_t t = 0; t < size; ++t) {
        if (fibers_[size_t(t)]->done) continue;
        resume(t);
        HCI_CHECK(error_[0] == '\0', "emulated GPU kernel, block {} thread {}: {}", block, t, error_.data());
        live += !fibers_[size_t(t)]->done;
      }
      if (live > 0 && progress == progress_) throw_deadlock(block);
    }
  }

  // The fiber's context, to start at fiber_main on its own stack. Apart from run_block, whose
  // locals getcontext (which returns twice) could otherwise clobber.
  [[gnu::noinline]] static void start_at_fiber_main(Fiber& f) {
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = nullptr;
    makecontext(&f.context, &fiber_main, 0);
  }

  void resume(int32_t t) {
    current_ = t;
    Fiber& f = *fibers_[size_t(t)];
    start_switch(&scheduler_fake_stack_, f.stack.get(), kStackBytes);
    swapcontext(&scheduler_, &f.context);
    finish_switch(scheduler_fake_stack_, nullptr, nullptr);
  }
  // From a fiber back to the scheduler, until it resumes this fiber.
  void yield(Fiber& f) {
    start_switch(&f.fake_stack, scheduler_bottom_, scheduler_size_);
    swapcontext(&f.context, &scheduler_);
    finish_switch(f.fake_stack, &scheduler_bottom_, &scheduler_size_);
  }

  static void fiber_main() {
    SimtEmulator& e = *running();
    e.finish_switch(nullptr, &e.scheduler_bottom_, &e.scheduler_size_);
    Fiber& f = *e.fibers_[size_t(e.current_)];
    e.kernel_(e.start_, e.end_, e.params_, e.failure_, &f.thread);
    f.done = true;
    ++e.progress_;
    e.start_switch(nullptr, e.scheduler_bottom_, e.scheduler_size_);  // this fiber's stack is done with
    setcontext(&e.scheduler_);
  }

  // A kernel's misuse of the SIMT functions: recorded for the scheduler to throw; the fiber is
  // never resumed. The message is formatted in place, so that the abandoned stack owns no memory.
  template <class... Args>
  void fail(Fiber& f, fmt::format_string<Args...> text, const Args&... args) {
    const auto written = fmt::vformat_to_n(error_.data(), error_.size() - 1, text, fmt::make_format_args(args...));
    *written.out = '\0';
    for (;;) yield(f);
  }

  static int32_t shuffle(SimtThread* self, int32_t value, int32_t source_lane, int32_t members) noexcept {
    SimtEmulator& e = *static_cast<SimtEmulator*>(self->emulator);
    Fiber& me = *e.fibers_[size_t(self->thread_index)];
    const uint64_t round = me.shuffles++;
    me.posted[round & 1] = value;
    ++e.progress_;
    const int32_t warp = self->thread_index - self->lane_index;
    const auto mask = uint32_t(members);
    if (!(mask >> self->lane_index & 1)) e.fail(me, "a shuffle's member mask {:#x} leaves out its own lane", mask);
    if (source_lane < 0 || source_lane >= kEmulatedWarpSize || !(mask >> source_lane & 1))
      e.fail(me, "a shuffle reads lane {}, outside its member mask {:#x}", source_lane, mask);
    me.wait = Wait::Shuffle;
    for (;;) {
      bool ready = true;
      for (int32_t lane = 0; lane < kEmulatedWarpSize; ++lane) {
        if (!(mask >> lane & 1)) continue;
        if (warp + lane >= e.size_) e.fail(me, "a shuffle's member mask {:#x} names lanes past the block", mask);
        const Fiber& peer = *e.fibers_[size_t(warp + lane)];
        if (peer.done && peer.shuffles <= round)
          e.fail(me, "lane {} of the shuffle's members finished without reaching it", lane);
        ready = ready && peer.shuffles > round;
      }
      if (ready) break;
      e.yield(me);
    }
    me.wait = Wait::None;
    // A peer may have posted its next value, never the one after: that waits for this thread's.
    return e.fibers_[size_t(warp + source_lane)]->posted[round & 1];
  }

  static void barrier(SimtThread* self) noexcept {
    SimtEmulator& e = *static_cast<SimtEmulator*>(self->emulator);
    Fiber& me = *e.fibers_[size_t(self->thread_index)];
    const uint64_t generation = ++me.barriers;
    ++e.progress_;
    me.wait = Wait::Barrier;
    for (;;) {
      bool all = true;
      for (int32_t t = 0; t < e.size_ && all; ++t)
        all = e.fibers_[size_t(t)]->done || e.fibers_[size_t(t)]->barriers >= generation;
      if (all) break;
      e.yield(me);
    }
    me.wait = Wait::None;
  }

  [[noreturn]] void throw_deadlock(int32_t block) const {
    int shuffling = 0, waiting = 0, finished = 0;
    for (int32_t t = 0; t < size_; ++t) {
      const Fiber& f = *fibers_[size_t(t)];
      finished += f.done;
      shuffling += !f.done && f.wait == Wait::Shuffle;
      waiting += !f.done && f.wait == Wait::Barrier;
    }
    hci::detail::throw_error(
        "emulated GPU kernel, block {}: deadlock: {} threads wait at a shuffle and {} at a barrier that their "
        "peers never reach ({} of {} threads finished)",
        block, shuffling, waiting, finished, size_);
  }

  EmulatedKernel kernel_ = nullptr;
  int64_t start_ = 0, end_ = 0;
  const void* params_ = nullptr;
  int32_t* failure_ = nullptr;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  // Shared by the threads of the block being run (blocks run one after another).
  std::unique_ptr<std::max_align_t[]> shared_{new std::max_align_t[kGpuSharedBytes / sizeof(std::max_align_t)]};
  int32_t size_ = 0;               // threads in the block being run
  int32_t current_ = 0;            // the fiber being resumed
  uint64_t progress_ = 0;          // shuffle values posted, barriers arrived at, threads finished
  std::array<char, 256> error_{};  // a kernel's misuse of the SIMT functions; "" for none
  ucontext_t scheduler_{};
  void* scheduler_fake_stack_ = nullptr;
  const void* scheduler_bottom_ = nullptr;
  size_t scheduler_size_ = 0;
};

// Runs the GPU kernel of structure `s` (compiled for the emulated target on first use) over a
// grid, as a GPU launch of it with these arguments would. Each thread keeps an emulator, and so
// its fibers' stacks, for its next launch.
inline void run_emulated(const KernelStructure& s, unsigned blocks, unsigned block_size, int64_t start, int64_t end,
                         const void* params, int32_t* failure) {
  static thread_local SimtEmulator emulator;
  emulator.launch(reinterpret_cast<EmulatedKernel>(emulated_gpu_code(s)), blocks, block_size, start, end, params,
                  failure);
}

}  // namespace jit

HCI_END_NAMESPACE
