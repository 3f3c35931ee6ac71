// Printing tensors: operator<< and a fmt formatter, in PyTorch's layout.
#pragma once

#include <hci/ops/access.hpp>

#include <algorithm>
#include <ostream>

HCI_BEGIN_NAMESPACE

namespace detail {

// PyTorch-like text of a tensor; compiled with the runtime (see HCI_SEPARATE_RUNTIME).
HCI_RUNTIME_DECL std::string format_tensor(const Tensor& t);

#if HCI_RUNTIME_DEFINITIONS
HCI_RUNTIME_DEF std::string format_tensor(const Tensor& t) {
  if (!t.defined()) return "[ Tensor (undefined) ]";
  const auto values = t.to(is_floating_point(t.dtype()) ? kFloat64 : kInt64).contiguous();
  std::string body;
  if (is_floating_point(t.dtype())) {
    const auto v = values.to_vector<double>();
    auto fmt_one = [](double x) { return fmt::format("{:.4f}", x); };
    std::function<void(int64_t, size_t&)> rec = [&](int64_t d, size_t& i) {
      if (d == t.dim()) {
        body += fmt_one(v[i++]);
        return;
      }
      body += "[";
      for (int64_t k = 0; k < t.size(d); ++k) {
        if (k) body += d + 1 == t.dim() ? ", " : ",\n" + std::string(size_t(8 + d), ' ');
        rec(d + 1, i);
      }
      body += "]";
    };
    size_t i = 0;
    rec(0, i);
  } else {
    const auto v = values.to_vector<int64_t>();
    std::function<void(int64_t, size_t&)> rec = [&](int64_t d, size_t& i) {
      if (d == t.dim()) {
        body += t.dtype() == kBool ? (v[i++] ? "True" : "False") : fmt::format("{}", v[i++]);
        return;
      }
      body += "[";
      for (int64_t k = 0; k < t.size(d); ++k) {
        if (k) body += d + 1 == t.dim() ? ", " : ",\n" + std::string(size_t(8 + d), ' ');
        rec(d + 1, i);
      }
      body += "]";
    };
    size_t i = 0;
    rec(0, i);
  }
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
