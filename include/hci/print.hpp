// Printing tensors: operator<< and a fmt formatter, in PyTorch's layout.
#pragma once

#include <hci/ops/access.hpp>

#include <algorithm>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace detail {

// PyTorch-like text of a tensor; compiled with the runtime (see HCI_SEPARATE_RUNTIME).
HCI_RUNTIME_DECL std::string format_tensor(const Tensor& t);

#if HCI_RUNTIME_DEFINITIONS
HCI_RUNTIME_DEF std::string format_tensor(const Tensor& t) {
  if (!t.defined()) return "[ Tensor (undefined) ]";
  // Each element's text first, then one layout of nested brackets for every dtype.
  std::vector<std::string> elements;
  if (is_floating_point(t.dtype())) {
    for (double x : t.to_vector<double>()) elements.push_back(fmt::format("{:.4f}", x));
  } else {
    for (int64_t x : t.to_vector<int64_t>())
      elements.push_back(t.dtype() == kBool ? (x ? "True" : "False") : fmt::format("{}", x));
  }
  std::string body;
  size_t next = 0;
  std::function<void(int64_t)> nest = [&](int64_t d) {
    if (d == t.dim()) {
      body += elements[next++];
      return;
    }
    body += "[";
    for (int64_t k = 0; k < t.size(d); ++k) {
      if (k) body += d + 1 == t.dim() ? ", " : ",\n" + std::string(size_t(8 + d), ' ');
      nest(d + 1);
    }
    body += "]";
  };
  nest(0);
  std::string suffix;
  if (t.dtype() != kFloat32 && t.dtype() != kInt64 && t.dtype() != kBool)
    suffix += fmt::format(", dtype={}", t.dtype());
  if (!t.device().is_cpu()) suffix += fmt::format(", device='{}'", t.device().str());
  return fmt::format("tensor({}{})", body, suffix);
}
#endif

}  // namespace detail

inline std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << detail::format_tensor(t); }

HCI_END_NAMESPACE

// Printed as text without format specs: a plain formatter keeps fmt's spec parsing out of every
// translation unit that formats one.
template <>
struct fmt::formatter<hci::Tensor> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  auto format(const hci::Tensor& t, format_context& ctx) const {
    const auto text = hci::detail::format_tensor(t);
    return std::copy(text.begin(), text.end(), ctx.out());
  }
};
