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

// fmt's formatting engine is compiled with the runtime (see HCI_SEPARATE_RUNTIME); callers
// only pack their arguments, and format strings are still checked at compile time.
HCI_RUNTIME_DECL std::string vformat_string(fmt::string_view format, fmt::format_args args);
[[noreturn]] HCI_RUNTIME_DECL void throw_formatted(fmt::string_view format, fmt::format_args args);

template <class... Args>
std::string format(fmt::format_string<Args...> format, const Args&... args) {
  return detail::vformat_string(format, fmt::make_format_args(args...));
}

template <class... Args>
[[noreturn]] void throw_error(fmt::format_string<Args...> format, const Args&... args) {
  detail::throw_formatted(format, fmt::make_format_args(args...));
}

inline std::string location_str(const std::source_location& loc) {
  return detail::format("{}:{} ({})", loc.file_name(), loc.line(), loc.function_name());
}

#if HCI_RUNTIME_DEFINITIONS
HCI_RUNTIME_DEF std::string vformat_string(fmt::string_view format, fmt::format_args args) {
  return fmt::vformat(format, args);
}
[[noreturn]] HCI_RUNTIME_DEF void throw_formatted(fmt::string_view format, fmt::format_args args) {
  throw Error(fmt::vformat(format, args));
}
#endif

}  // namespace detail

HCI_END_NAMESPACE

// HCI_CHECK(condition, "format {}", args...) throws hci::Error with the formatted message.
#define HCI_CHECK(condition, ...)              \
  do {                                         \
    if (!(condition)) [[unlikely]]             \
      ::hci::detail::throw_error(__VA_ARGS__); \
  } while (false)
