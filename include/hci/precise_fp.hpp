// Keeping results independent of the flags a user compiles with and of the process's
// floating-point mode: the precise-code markers and a guard that clears flush-to-zero.
#pragma once

#include <hci/config.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

// Code between these markers computes the same bits whatever flags a user compiles with:
// no contraction into FMAs, no reassociation, no assumptions that NaN or infinities are absent.
#if defined(__clang__)
#define HCI_PRECISE_FP_BEGIN _Pragma("float_control(precise, on, push)") _Pragma("clang fp contract(off)")
#define HCI_PRECISE_FP_END _Pragma("float_control(pop)")
#elif defined(__GNUC__)
#define HCI_PRECISE_FP_BEGIN  \
  _Pragma("GCC push_options") \
      _Pragma("GCC optimize(\"no-fast-math\", \"fp-contract=off\", \"no-math-errno\", \"no-trapping-math\")")
#define HCI_PRECISE_FP_END _Pragma("GCC pop_options")
#else
#define HCI_PRECISE_FP_BEGIN
#define HCI_PRECISE_FP_END
#endif

HCI_BEGIN_NAMESPACE

namespace detail {

// While alive, subnormals are computed as IEEE says even in a process that set flush-to-zero
// or denormals-are-zero (as -ffast-math's startup code does).
class PreciseFloatMode {
 public:
#if defined(__x86_64__) || defined(__i386__)
  PreciseFloatMode() { _mm_setcsr(saved_ & ~0x8040u); }
  ~PreciseFloatMode() { _mm_setcsr(saved_); }

 private:
  unsigned saved_ = _mm_getcsr();
#endif
 public:
  PreciseFloatMode(const PreciseFloatMode&) = delete;
  PreciseFloatMode& operator=(const PreciseFloatMode&) = delete;
};

}  // namespace detail

HCI_END_NAMESPACE
