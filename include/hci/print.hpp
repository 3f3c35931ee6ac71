// Printing tensors: operator<< and a fmt formatter, in PyTorch's layout: one width for every
// element, floats as integers ("2."), fixed ("0.1250") or scientific ("1.0000e+08") as the
// values ask, lines wrapped at 80 columns, and tensors of more than 1000 elements summarised to
// their first and last 3 entries along each dim.
#pragma once

#include <hci/ops/indexing.hpp>

#include <ostream>
#include <string>

HCI_BEGIN_NAMESPACE

namespace detail {

// PyTorch-like text of a tensor; compiled with the runtime (see HCI_SEPARATE_RUNTIME).
HCI_RUNTIME_DECL std::string format_tensor(const Tensor& t);

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

#if HCI_RUNTIME_DEFINITIONS

#include <cmath>
#include <functional>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace detail {

struct PrintOptions {
  static constexpr int64_t kThreshold = 1000;  // more elements than this are summarised
  static constexpr int64_t kEdgeItems = 3;     // entries shown at each end of a summarised dim
  static constexpr int64_t kLineWidth = 80;
  static constexpr int kPrecision = 4;
};

// How every element of one tensor is written: the mode the values need, padded to one width.
class ElementFormatter {
 public:
  ElementFormatter(const std::vector<double>& values, DType dtype) : dtype_(dtype) {
    if (is_floating_point(dtype)) {
      double lo = INFINITY, hi = 0;
      for (double v : values) {
        if (!std::isfinite(v)) continue;
        if (v != std::ceil(v)) int_mode_ = false;
        if (v != 0) lo = std::min(lo, std::abs(v)), hi = std::max(hi, std::abs(v));
      }
      if (hi > 0) sci_mode_ = hi / lo > 1000 || hi > 1e8 || (!int_mode_ && lo < 1e-4);
    }
    for (double v : values) width_ = std::max(width_, text(v).size());
  }

  size_t width() const { return width_; }

  std::string operator()(double v) const {
    std::string s = text(v);
    return std::string(width_ - std::min(width_, s.size()), ' ') + s;
  }

 private:
  std::string text(double v) const {
    if (dtype_ == kBool) return v != 0 ? "True" : "False";
    if (!is_floating_point(dtype_)) return fmt::format("{}", int64_t(v));
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (sci_mode_) return fmt::format("{:.{}e}", v, PrintOptions::kPrecision);
    if (int_mode_) return fmt::format("{:.0f}.", v);
    return fmt::format("{:.{}f}", v, PrintOptions::kPrecision);
  }

  DType dtype_;
  bool int_mode_ = true, sci_mode_ = false;
  size_t width_ = 1;
};

// The entries shown along each dim: all of them, or the first and last kEdgeItems.
inline Tensor summarised(const Tensor& t, std::vector<bool>& cut) {
  Tensor s = t;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t n = t.size(d), e = PrintOptions::kEdgeItems;
    cut[size_t(d)] = n > 2 * e;
    if (!cut[size_t(d)]) continue;
    const Tensor index = from_vector(std::vector<int64_t>{0, 1, 2, n - 3, n - 2, n - 1});
    s = index_select(s, d, index);
  }
  return s;
}

HCI_RUNTIME_DEF std::string format_tensor(const Tensor& t) {
  if (!t.defined()) return "[ Tensor (undefined) ]";
  std::vector<std::string> notes;  // "dtype=..." and "device=..." where not the defaults
  if (t.dtype() != kFloat32 && t.dtype() != kInt64 && t.dtype() != kBool)
    notes.push_back(fmt::format("dtype={}", t.dtype()));
  if (!t.device().is_cpu()) notes.push_back(fmt::format("device='{}'", t.device().str()));
  const std::string suffix = fmt::format("{}", fmt::join(notes, ", "));
  if (t.numel() == 0) {
    if (t.dim() != 1) notes.insert(notes.begin(), fmt::format("size=({})", fmt::join(t.sizes(), ", ")));
    return fmt::format("tensor([]{}{})", notes.empty() ? "" : ", ", fmt::join(notes, ", "));
  }
  std::vector<bool> cut(size_t(t.dim()), false);
  const Tensor shown = t.numel() > PrintOptions::kThreshold ? summarised(t, cut) : t;
  const std::vector<double> values = is_floating_point(t.dtype()) ? shown.to_vector<double>() : [&] {
    std::vector<double> v;
    for (int64_t x : shown.to_vector<int64_t>()) v.push_back(double(x));
    return v;
  }();
  const ElementFormatter format(values, t.dtype());
  const std::string prefix = "tensor(";
  size_t next = 0;
  // The text of the sub-tensor of `shown` starting at `next` with dims d.., indented by indent.
  std::function<std::string(int64_t, size_t)> nest = [&](int64_t d, size_t indent) -> std::string {
    std::vector<std::string> parts;
    const int64_t n = shown.size(d);
    for (int64_t i = 0; i < n; ++i) {
      if (cut[size_t(d)] && i == PrintOptions::kEdgeItems) parts.emplace_back(d + 1 == t.dim() ? " ..." : "...");
      parts.push_back(d + 1 == t.dim() ? format(values[next++]) : nest(d + 1, indent + 1));
    }
    if (d + 1 < t.dim()) {  // sub-tensors on lines of their own, blank lines between blocks
      std::string separator(size_t(t.dim() - d - 1), '\n');
      separator.insert(separator.begin(), ',');
      separator.append(indent + 1, ' ');
      return fmt::format("[{}]", fmt::join(parts, separator));
    }
    // Elements wrap so that lines stay within the line width.
    const size_t per_line = std::max<size_t>(1, (PrintOptions::kLineWidth - indent) / (format.width() + 2));
    std::string text = "[";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0 && i % per_line == 0)
        text.append(",\n").append(indent + 1, ' ');
      else if (i > 0)
        text.append(", ");
      text += parts[i];
    }
    return text + "]";
  };
  const std::string body = t.dim() == 0 ? format(values[0]) : nest(0, prefix.size());
  if (suffix.empty()) return prefix + body + ")";
  // The notes go on a line of their own when the last line has no room for them.
  const size_t newline = body.rfind('\n');
  const size_t last_line = newline == std::string::npos ? body.size() : body.size() - newline - 1;
  const bool room = last_line + suffix.size() + 2 <= size_t(PrintOptions::kLineWidth);
  std::string text = prefix;
  text.append(body).append(",");
  if (room)
    text.append(" ");
  else
    text.append("\n").append(prefix.size(), ' ');
  return text.append(suffix).append(")");
}

}  // namespace detail

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
