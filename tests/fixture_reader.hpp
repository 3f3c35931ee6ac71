// Reads the PyTorch fixtures written by tests/fixtures/generate.py into hci tensors.
#pragma once

#include <hci/hci.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace fixtures {

struct TensorText {
  hci::DType dtype = hci::kFloat32;
  hci::Dims shape;
  std::vector<double> values;  // exact in double for every dtype used
};

struct Case {
  std::string op;
  std::vector<std::string> args;
  std::vector<std::variant<TensorText, hci::Scalar>> inputs;
  bool expect_error = false;
  TensorText expected;
  int line = 0;
};

inline hci::DType parse_dtype(const std::string& name) {
  for (int t = 0; t < hci::kNumDTypes; ++t)
    if (hci::dtype_name(hci::DType(t)) == name) return hci::DType(t);
  throw std::runtime_error("fixture: unknown dtype " + name);
}

inline hci::Dims parse_list(std::string text) {
  hci::Dims out;
  text = text.substr(1, text.size() - 2);
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(std::stoll(item));
  return out;
}

inline TensorText parse_tensor(std::istringstream& in) {
  TensorText t;
  std::string dtype, shape, value;
  in >> dtype >> shape;
  t.dtype = parse_dtype(dtype);
  t.shape = parse_list(shape);
  while (in >> value) t.values.push_back(std::strtod(value.c_str(), nullptr));
  return t;
}

// Calls on_line(number, head, in, line) for each line that is neither blank nor a comment:
// `head` is its first word and `in` reads the rest.
template <class F>
void for_each_line(const std::string& path, F on_line) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("fixture: cannot open " + path);
  std::string line;
  int number = 0;
  while (std::getline(file, line)) {
    ++number;
    std::istringstream in(line);
    std::string head;
    if (!(in >> head) || head[0] == '#') continue;
    on_line(number, head, in, line);
  }
}

inline std::vector<Case> read(const std::string& path) {
  std::vector<Case> cases;
  for_each_line(path, [&](int number, const std::string& head, std::istringstream& in, const std::string&) {
    if (head == "case") {
      cases.emplace_back();
      cases.back().line = number;
      in >> cases.back().op;
      std::string arg;
      while (in >> arg) cases.back().args.push_back(arg);
    } else if (head == "in") {
      cases.back().inputs.emplace_back(parse_tensor(in));
    } else if (head == "scalar") {
      std::string kind, value;
      in >> kind >> value;
      if (kind == "float")
        cases.back().inputs.emplace_back(hci::Scalar(std::strtod(value.c_str(), nullptr)));
      else if (kind == "bool")
        cases.back().inputs.emplace_back(hci::Scalar(value != "0"));
      else
        cases.back().inputs.emplace_back(hci::Scalar(int64_t(std::stoll(value))));
    } else if (head == "out") {
      cases.back().expected = parse_tensor(in);
    } else if (head == "error") {
      cases.back().expect_error = true;
    }
  });
  return cases;
}

// The tensor, contiguous; or, with strided = true, the same values seen through a view
// whose strides are not contiguous (a permuted copy permuted back, or every other element).
inline hci::Tensor make_tensor(const TensorText& t, bool strided) {
  hci::Tensor flat = hci::from_vector(t.values, {int64_t(t.values.size())}).to(t.dtype);
  if (!strided || t.values.size() < 2) return flat.reshape(t.shape).contiguous();
  if (t.shape.size() == 1) {
    hci::Tensor wide = hci::zeros({int64_t(t.values.size()) * 2}, t.dtype);
    hci::Tensor view = wide.slice(0, 0, std::nullopt, 2);
    view.copy_(flat);
    return view;
  }
  hci::Dims reversed(t.shape.rbegin(), t.shape.rend()), order;
  for (int64_t d = int64_t(t.shape.size()) - 1; d >= 0; --d) order.push_back(d);
  hci::Tensor storage = flat.reshape(t.shape).permute(order).contiguous();
  return storage.permute(order);
}

}  // namespace fixtures
