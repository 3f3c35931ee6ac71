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
#define HCI_NOINLINE __attribute__((noinline))
#else
#define HCI_ALWAYS_INLINE inline
#define HCI_NOINLINE
#endif
