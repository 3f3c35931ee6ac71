// Version, the versioned inline namespace, and portability macros shared by every header.
#pragma once

#define HCI_VERSION_MAJOR 0
#define HCI_VERSION_MINOR 1
#define HCI_VERSION_PATCH 0
#define HCI_VERSION_STRING "0.1.0"

// Everything lives in an inline namespace named after the version, so two copies of hci
// embedded in one process (say, by two libraries) never share a symbol.
#define HCI_ABI_NAMESPACE v0_1
#define HCI_BEGIN_NAMESPACE \
  namespace hci {           \
  inline namespace HCI_ABI_NAMESPACE {
#define HCI_END_NAMESPACE \
  }                       \
  }

#if defined(__GNUC__) || defined(__clang__)
#define HCI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define HCI_ALWAYS_INLINE inline
#endif

// The runtime (the evaluator, the interpreter and the formatting of messages) is defined in
// every translation unit by default, so hci works as plain headers. With HCI_SEPARATE_RUNTIME
// (which the hci::hci CMake target sets) it is only declared, and compiled once per target from
// src/runtime.cpp, which defines HCI_COMPILING_RUNTIME: that keeps each user translation unit
// quick to compile. Its functions are weak there, so several targets can be linked together.
#if defined(HCI_SEPARATE_RUNTIME) && !defined(HCI_COMPILING_RUNTIME)
#define HCI_RUNTIME_DEFINITIONS 0
#define HCI_RUNTIME_DECL
#define HCI_RUNTIME_DEF
#elif defined(HCI_SEPARATE_RUNTIME)
#define HCI_RUNTIME_DEFINITIONS 1
#define HCI_RUNTIME_DECL
#define HCI_RUNTIME_DEF __attribute__((weak))
#else
#define HCI_RUNTIME_DEFINITIONS 1
#define HCI_RUNTIME_DECL inline
#define HCI_RUNTIME_DEF inline
#endif
