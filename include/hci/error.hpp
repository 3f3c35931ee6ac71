// hci::Error and the one check macro every precondition goes through.
#pragma once

#include <hci/config.hpp>

#include <fmt/format.h>

#include <source_location>
#include <stdexcept>
#include <string>

HCI_BEGIN_NAMESPACE

// The one exception type hci throws for bad input and failed operations. Messages name the
// operation, the shapes, dtypes and devices involved, and what to do about it.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

[[noreturn]] HCI_NOINLINE inline void throw_error(const std::string& message) { throw Error(message); }

template <class... Args>
[[noreturn]] HCI_NOINLINE void throw_error(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

inline std::string location_str(const std::source_location& loc) {
  return fmt::format("{}:{} ({})", loc.file_name(), loc.line(), loc.function_name());
}

}  // namespace detail

HCI_END_NAMESPACE

// HCI_CHECK(condition, "format {}", args...) throws hci::Error with the formatted message.
#define HCI_CHECK(condition, ...)              \
  do {                                         \
    if (!(condition)) [[unlikely]]             \
      ::hci::detail::throw_error(__VA_ARGS__); \
  } while (false)
