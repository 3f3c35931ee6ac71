// What the module's translation units share: Python values read as hci's (numbers, shapes,
// devices, tensors), and the functions that add each part of the bindings.
#pragma once

#include <hci/hci.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace hci_python {

namespace py = pybind11;
using hci::Tensor;

inline py::tuple as_tuple(hci::IntList values) { return py::cast(std::vector<int64_t>(values.begin(), values.end())); }

inline bool is_number(const py::handle& value) {
  return py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value);
}

inline hci::Scalar to_scalar(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return value.cast<int64_t>();
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  throw py::type_error("expected a Tensor, bool, int or float, not " + std::string(py::str(value.get_type())));
}

// A Tensor as it is; a number as a 0-dim operand (PyTorch's wrapped-number promotion).
inline hci::detail::Operand to_operand(const py::handle& value) {
  if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
  return to_scalar(value);
}

// A Tensor as it is; anything else (lists, NumPy arrays, numbers) through hci.tensor, a copy.
inline Tensor to_tensor(const py::handle& value) {
  if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
  return py::module_::import("hci").attr("tensor")(value).cast<Tensor>();
}

inline hci::Device to_device(const py::handle& device) {
  if (py::isinstance<py::str>(device)) return hci::Device(device.cast<std::string>());
  throw py::type_error("a device is a string: 'cpu', 'cuda:0', 'rocm:1'");
}

// None (every dim), one dim, or a sequence of them.
inline std::vector<int64_t> to_dims(const py::handle& dims) {
  if (dims.is_none()) return {};
  if (py::isinstance<py::int_>(dims)) return {dims.cast<int64_t>()};
  return dims.cast<std::vector<int64_t>>();
}

// f(2, 3) and f((2, 3)) alike.
inline std::vector<int64_t> to_shape(const py::args& args) {
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0])) return args[0].cast<std::vector<int64_t>>();
  return args.cast<std::vector<int64_t>>();
}

void bind_dlpack(py::module_& m, py::class_<Tensor>& tensor);
void bind_indexing(py::class_<Tensor>& tensor);
void bind_ops(py::module_& m, py::class_<Tensor>& tensor);
void bind_kernels(py::module_& m);

}  // namespace hci_python
