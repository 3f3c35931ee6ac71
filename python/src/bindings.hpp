// What the module's translation units share: Python values read as hci's (numbers, shapes,
// devices, tensors), and the functions that add each part of the bindings.
#pragma once

#include <hci/hci.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

namespace hci_python {

namespace py = pybind11;
using hci::Tensor;

inline py::tuple as_tuple(hci::IntList values) { return py::cast(std::vector<int64_t>(values.begin(), values.end())); }

// NumPy's scalars (numpy.float32(2), numpy.int64(3), numpy.bool_(True)).
inline bool is_numpy_scalar(const py::handle& value) {
  const py::handle type = value.get_type();
  return py::str(type.attr("__module__")).cast<std::string>() == "numpy" && py::hasattr(value, "item") &&
         !py::hasattr(value, "__len__");
}

// A Python number, or a NumPy scalar.
inline bool is_number(const py::handle& value) {
  return py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value) ||
         is_numpy_scalar(value);
}

// A Python int as int64; an OverflowError beyond it.
inline int64_t to_int64(const py::handle& value) {
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow) {
    PyErr_SetString(PyExc_OverflowError, (std::string(py::repr(value)) + " does not fit in int64").c_str());
    throw py::error_already_set();
  }
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return v;
}

inline hci::Scalar to_scalar(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return to_int64(value);
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (is_numpy_scalar(value)) return to_scalar(value.attr("item")());
  throw py::type_error("expected a Tensor, bool, int or float, not " + std::string(py::str(value.get_type())));
}

// A Tensor as it is; a number as a 0-dim operand (PyTorch's wrapped-number promotion).
inline hci::detail::Operand to_operand(const py::handle& value) {
  if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
  return to_scalar(value);
}

// A Tensor as it is; anything else (lists, NumPy arrays, numbers) through hci.tensor, a copy,
// made in `dtype` where one is given (the dtype it is written into, so no precision is lost).
inline Tensor to_tensor(const py::handle& value, std::optional<hci::DType> dtype = std::nullopt) {
  if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
  const py::object made = dtype ? py::module_::import("hci").attr("tensor")(value, py::arg("dtype") = *dtype)
                                : py::module_::import("hci").attr("tensor")(value);
  return made.cast<Tensor>();
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

// fn() without the GIL, for what computes now (in-place ops, reads of values): a DLPack
// producer's deleter may need the GIL on one of hci's threads meanwhile.
template <class F>
decltype(auto) computing(F&& fn) {
  py::gil_scoped_release unlocked;
  return fn();
}

void bind_dlpack(py::module_& m, py::class_<Tensor>& tensor);
void bind_indexing(py::class_<Tensor>& tensor);
void bind_ops(py::module_& m, py::class_<Tensor>& tensor);
void bind_kernels(py::module_& m);

}  // namespace hci_python
