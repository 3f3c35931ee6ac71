// hci's Python module (`hci._hci`): the Tensor class with its attributes, conversions, views and
// factories. The other parts are added by ops.cpp, indexing.cpp, dlpack.cpp and kernels.cpp; hci/__init__.py
// adds what is simpler in Python (hci.tensor, from_dlpack's protocol, numpy()).
#include "bindings.hpp"

#include <sstream>

namespace hci_python {
namespace {

py::object item(const Tensor& t) {
  HCI_CHECK(t.numel() == 1, "item: the tensor has {} elements, not one", t.numel());
  const hci::DType dtype = t.dtype();
  double real = 0;
  int64_t integer = 0;
  {
    py::gil_scoped_release unlocked;  // the value is computed now
    if (hci::is_floating_point(dtype))
      real = t.to(hci::kFloat64).item<double>();
    else
      integer = t.to(hci::kInt64).item<int64_t>();
  }
  if (dtype == hci::kBool) return py::bool_(integer != 0);
  if (hci::is_floating_point(dtype)) return py::float_(real);
  return py::int_(integer);
}

hci::TensorOptions options(hci::DType dtype, const std::string& device) {
  return hci::TensorOptions(dtype).device(hci::Device(device));
}

void bind_tensor(py::class_<Tensor>& tensor) {
  tensor.def_property_readonly("shape", [](const Tensor& t) { return as_tuple(t.sizes()); })
      .def_property_readonly("dtype", [](const Tensor& t) { return t.dtype(); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", [](const Tensor& t) { return t.dim(); })
      .def("dim", [](const Tensor& t) { return t.dim(); })
      .def(
          "size",
          [](const Tensor& t, const py::object& dim) -> py::object {
            if (dim.is_none()) return as_tuple(t.sizes());
            return py::int_(t.size(dim.cast<int64_t>()));
          },
          py::arg("dim") = py::none())
      .def("stride", [](const Tensor& t) { return as_tuple(t.strides()); })
      .def("numel", [](const Tensor& t) { return t.numel(); })
      .def("element_size", [](const Tensor& t) { return t.element_size(); })
      .def("is_contiguous", [](const Tensor& t) { return t.is_contiguous(); })
      .def("is_floating_point", [](const Tensor& t) { return t.is_floating_point(); })
      .def("__len__",
           [](const Tensor& t) { return t.dim() ? t.size(0) : throw py::type_error("len() of a 0-d tensor"); })
      .def("item", &item)
      // Python's conversions of a one-element tensor, as PyTorch's.
      .def("__bool__", [](const Tensor& t) { return item(t.to(hci::kBool)).cast<bool>(); })
      .def("__float__", [](const Tensor& t) { return item(t.to(hci::kFloat64)).cast<double>(); })
      .def("__int__", [](const Tensor& t) { return py::int_(item(t)); })  // Python's int(): NaN is an error
      .def("__index__",
           [](const Tensor& t) {
             if (!hci::is_integral(t.dtype()) || t.numel() != 1)
               throw py::type_error("only integer tensors of a single element can be converted to an index");
             return item(t).cast<int64_t>();
           })
      .def("tolist", [](const Tensor& t) { return py::module_::import("hci").attr("_tolist")(t); })
      .def("__repr__",
           [](const Tensor& t) {
             std::ostringstream out;
             {
               py::gil_scoped_release unlocked;
               out << t;
             }
             return out.str();
           })
      .def("to",
           [](const Tensor& t, const py::object& target) {
             if (py::isinstance<hci::DType>(target)) return t.to(target.cast<hci::DType>());
             return t.to(to_device(target));
           })
      .def("cpu", [](const Tensor& t) { return t.to(hci::Device::cpu()); })
      .def("contiguous", [](const Tensor& t) { return t.contiguous(); })
      .def("clone", [](const Tensor& t) { return t.clone(); })
      .def("reshape", [](const Tensor& t, const py::args& shape) { return t.reshape(to_shape(shape)); })
      .def("view", [](const Tensor& t, const py::args& shape) { return t.view(to_shape(shape)); })
      .def("expand", [](const Tensor& t, const py::args& shape) { return t.expand(to_shape(shape)); })
      .def("expand_as", [](const Tensor& t, const Tensor& other) { return t.expand_as(other); })
      .def("permute", [](const Tensor& t, const py::args& dims) { return t.permute(to_shape(dims)); })
      .def("transpose", [](const Tensor& t, int64_t a, int64_t b) { return t.transpose(a, b); })
      .def("t", [](const Tensor& t) { return t.t(); })
      .def_property_readonly("T",  // every dim reversed, as PyTorch's (and NumPy's)
                             [](const Tensor& t) {
                               std::vector<int64_t> reversed(size_t(t.dim()));
                               for (int64_t d = 0; d < t.dim(); ++d) reversed[size_t(d)] = t.dim() - 1 - d;
                               return t.permute(reversed);
                             })
      .def("unsqueeze", [](const Tensor& t, int64_t dim) { return t.unsqueeze(dim); })
      .def(
          "squeeze",
          [](const Tensor& t, const py::object& dim) {
            return dim.is_none() ? t.squeeze() : t.squeeze(dim.cast<int64_t>());
          },
          py::arg("dim") = py::none())
      .def(
          "flatten", [](const Tensor& t, int64_t start, int64_t end) { return t.flatten(start, end); },
          py::arg("start_dim") = 0, py::arg("end_dim") = -1)
      .def("narrow",
           [](const Tensor& t, int64_t dim, int64_t start, int64_t length) { return t.narrow(dim, start, length); })
      .def("select", [](const Tensor& t, int64_t dim, int64_t index) { return t.select(dim, index); })
      .def(
          "slice",
          [](const Tensor& t, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) {
            return t.slice(dim, start, end, step);
          },
          py::arg("dim"), py::arg("start") = py::none(), py::arg("end") = py::none(), py::arg("step") = 1)
      .def(
          "chunk", [](const Tensor& t, int64_t chunks, int64_t dim) { return t.chunk(chunks, dim); }, py::arg("chunks"),
          py::arg("dim") = 0)
      .def(
          "split", [](const Tensor& t, int64_t size, int64_t dim) { return t.split(size, dim); }, py::arg("split_size"),
          py::arg("dim") = 0);
}

void bind_factories(py::module_& m) {
  m.def("_empty", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::empty(shape, options(dtype, device));
  });
  m.def("_zeros", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::zeros(shape, options(dtype, device));
  });
  m.def("_ones", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::ones(shape, options(dtype, device));
  });
  m.def("_full", [](const std::vector<int64_t>& shape, const py::object& value, hci::DType dtype,
                    const std::string& device) { return hci::full(shape, to_scalar(value), options(dtype, device)); });
  m.def("_arange", [](const py::object& start, const py::object& end, const py::object& step,
                      std::optional<hci::DType> dtype, const std::string& device) {
    if (dtype) return hci::arange(to_scalar(start), to_scalar(end), to_scalar(step), options(*dtype, device));
    // int64 from ints, else float32, made on the host
    return hci::arange(to_scalar(start), to_scalar(end), to_scalar(step)).to(hci::Device(device));
  });
  m.def("_linspace", [](double start, double end, int64_t steps, hci::DType dtype, const std::string& device) {
    return hci::linspace(start, end, steps, options(dtype, device));
  });
  m.def("_eye", [](int64_t n, int64_t columns, hci::DType dtype, const std::string& device) {
    return hci::eye(n, columns, options(dtype, device));
  });
  m.def("_rand", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::rand(shape, options(dtype, device));
  });
  m.def("_randn", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::randn(shape, options(dtype, device));
  });
  m.def("manual_seed", [](uint64_t seed) { hci::manual_seed(seed); });
}

}  // namespace
}  // namespace hci_python

PYBIND11_MODULE(_hci, m) {
  using namespace hci_python;
  m.doc() = "hci: one tensor API over CPU, CUDA and ROCm devices";
  py::register_exception<hci::Error>(m, "Error", PyExc_RuntimeError);

  py::enum_<hci::DType>(m, "dtype")
      .value("bool", hci::kBool)
      .value("uint8", hci::kUInt8)
      .value("int8", hci::kInt8)
      .value("int16", hci::kInt16)
      .value("int32", hci::kInt32)
      .value("int64", hci::kInt64)
      .value("float16", hci::kFloat16)
      .value("bfloat16", hci::kBFloat16)
      .value("float32", hci::kFloat32)
      .value("float64", hci::kFloat64)
      .export_values();

  py::class_<Tensor> tensor(m, "Tensor");
  bind_tensor(tensor);
  bind_kernels(m);  // first: their math functions on kernel values go before the tensor ones
  bind_ops(m, tensor);
  bind_indexing(tensor);
  bind_dlpack(m, tensor);
  bind_factories(m);
  m.attr("__version__") = HCI_VERSION_STRING;
}
