// hci's Python module (`hci._hci`): Tensor over the C++ API, and DLPack capsules both ways.
// hci/__init__.py adds the protocol's consumer side (from_dlpack) in Python.
#include <hci/cuda/backend.hpp>
#include <hci/hci.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace py = pybind11;
using hci::Tensor;

namespace {

constexpr const char* kVersionedName = "dltensor_versioned";
constexpr const char* kLegacyName = "dltensor";

py::tuple as_tuple(hci::IntList values) { return py::cast(std::vector<int64_t>(values.begin(), values.end())); }

hci::DType dtype_named(const std::string& name) {
  for (int t = 0; t <= int(hci::kFloat64); ++t)
    if (hci::dtype_name(hci::DType(t)) == name) return hci::DType(t);
  throw py::value_error("no dtype '" + name + "'");
}

// DLPack's codes for hci's devices and dtypes (the runtime has its own, not in a user's build).
std::pair<int, int> dlpack_device_of(hci::Device d) {
  using namespace hci::dlpack;
  const DLDeviceType type = d.is_cpu() ? kDLCPU : d.type() == hci::DeviceType::CUDA ? kDLCUDA : kDLROCM;
  return {int(type), d.is_cpu() ? 0 : d.index()};
}

hci::Device device_of_dlpack(int type, int index) {
  using namespace hci::dlpack;
  if (type == kDLCPU) return hci::Device::cpu();
  if (type == kDLCUDA) return hci::Device::cuda(index);
  if (type == kDLROCM) return hci::Device::rocm(index);
  throw py::buffer_error("__dlpack__: hci has no device of DLPack type " + std::to_string(type));
}

hci::dlpack::DLDataType dlpack_dtype_of(hci::DType t) {
  using namespace hci::dlpack;
  const auto bits = uint8_t(hci::element_size(t) * 8);
  if (t == hci::kBool) return {kDLBool, 8, 1};
  if (t == hci::kBFloat16) return {kDLBfloat, 16, 1};
  if (hci::is_floating_point(t)) return {kDLFloat, bits, 1};
  return {t == hci::kUInt8 ? uint8_t(kDLUInt) : uint8_t(kDLInt), bits, 1};
}

hci::Scalar to_scalar(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return value.cast<int64_t>();
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  throw py::type_error("expected a Tensor, bool, int or float, not " + std::string(py::str(value.get_type())));
}

// A tensor operand from a Tensor or a Python number (0-dim, PyTorch's wrapped-number promotion).
template <class Op>
auto binary(Op op) {
  return [op](const Tensor& a, const py::object& b) -> Tensor {
    if (py::isinstance<Tensor>(b)) return op(a, b.cast<const Tensor&>());
    return op(a, to_scalar(b));
  };
}
template <class Op>
auto reflected(Op op) {  // number OP tensor
  return [op](const Tensor& a, const py::object& b) -> Tensor { return op(hci::full({}, to_scalar(b)), a); };
}

hci::Device to_device(const py::object& device) {
  if (py::isinstance<py::str>(device)) return hci::Device(device.cast<std::string>());
  throw py::type_error("a device is a string: 'cpu', 'cuda:0', 'rocm:1'");
}

std::vector<int64_t> to_dims(const py::object& dims) {
  if (dims.is_none()) return {};
  if (py::isinstance<py::int_>(dims)) return {dims.cast<int64_t>()};
  return dims.cast<std::vector<int64_t>>();
}

std::vector<int64_t> to_shape(const py::args& args) {  // f(2, 3) and f((2, 3)) alike
  if (args.size() == 1 && !py::isinstance<py::int_>(args[0])) return args[0].cast<std::vector<int64_t>>();
  return args.cast<std::vector<int64_t>>();
}

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

// A capsule holding an exported struct: the consumer renames it once it has taken the struct;
// one never taken is released here.
template <class Managed>
py::capsule capsule_of(Managed* managed, const char* name) {
  PyObject* capsule = PyCapsule_New(managed, name, [](PyObject* self) {
    const char* taken = PyCapsule_GetName(self);
    if (taken && (std::strcmp(taken, kVersionedName) == 0 || std::strcmp(taken, kLegacyName) == 0)) {
      auto* m = static_cast<Managed*>(PyCapsule_GetPointer(self, taken));
      if (m && m->deleter) m->deleter(m);
    }
    PyErr_Clear();  // a destructor raises nothing
  });
  if (!capsule) {
    if (managed->deleter) managed->deleter(managed);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(capsule);
}

// The array API's __dlpack__: the versioned struct when the consumer names a max_version of
// 1 or more, else the unversioned one that older consumers (PyTorch, NumPy) expect.
py::capsule dlpack(const Tensor& t, const py::object& stream, const py::object& max_version,
                   const py::object& dl_device, const py::object& copy) {
  Tensor exported = t;
  if (!dl_device.is_none()) {
    const auto [type, index] = dl_device.cast<std::pair<int, int>>();
    const hci::Device wanted = device_of_dlpack(type, index);
    if (wanted != t.device()) {
      if (!copy.is_none() && !copy.cast<bool>())
        throw py::buffer_error("__dlpack__: the tensor is on " + t.device().str() + " and copy=False");
      exported = t.to(wanted);
    }
  }
  if (!copy.is_none() && copy.cast<bool>() && exported.impl_ptr() == t.impl_ptr()) exported = t.clone();
  std::optional<int64_t> consumer_stream;
  if (!stream.is_none()) {
    if (t.device().is_cpu()) throw py::buffer_error("__dlpack__: a CPU tensor takes no stream");
    consumer_stream = stream.cast<int64_t>();
  }
  bool versioned = false;
  if (!max_version.is_none()) versioned = max_version.cast<std::pair<int, int>>().first >= 1;
  py::gil_scoped_release unlocked;  // exporting waits for pending work
  if (versioned) {
    auto* managed = hci::to_dlpack(exported, consumer_stream);
    py::gil_scoped_acquire locked;
    return capsule_of(managed, kVersionedName);
  }
  auto* managed = hci::to_dlpack_legacy(exported, consumer_stream);
  py::gil_scoped_acquire locked;
  return capsule_of(managed, kLegacyName);
}

// A capsule taken over: renamed, as the protocol has consumers do, then owned by the tensor.
Tensor from_capsule(const py::capsule& capsule) {
  const char* name = PyCapsule_GetName(capsule.ptr());
  if (name && std::strcmp(name, kVersionedName) == 0) {
    auto* managed = static_cast<hci::dlpack::DLManagedTensorVersioned*>(PyCapsule_GetPointer(capsule.ptr(), name));
    PyCapsule_SetName(capsule.ptr(), "used_dltensor_versioned");
    return hci::from_dlpack(managed);
  }
  if (name && std::strcmp(name, kLegacyName) == 0) {
    auto* managed = static_cast<hci::dlpack::DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), name));
    PyCapsule_SetName(capsule.ptr(), "used_dltensor");
    return hci::from_dlpack(managed);
  }
  throw py::value_error(std::string("from_dlpack: a capsule named '") + (name ? name : "") +
                        "', not an unused 'dltensor_versioned' or 'dltensor' (was it consumed already?)");
}

// A DLManagedTensorVersioned over a copy of `data` made here, with the version and flags given:
// what the installed producers cannot make (read-only memory, other versions, every dtype).
struct TestExport {
  std::vector<std::byte> bytes;
  std::vector<int64_t> shape, strides;
  hci::dlpack::DLManagedTensorVersioned managed{};
};

py::capsule testing_capsule(const py::bytes& data, const std::string& dtype, const std::vector<int64_t>& shape,
                            const std::vector<int64_t>& strides, int major, int minor, bool read_only) {
  auto* holder = new TestExport;
  const std::string text = data;
  holder->bytes.resize(text.size());
  std::memcpy(holder->bytes.data(), text.data(), text.size());
  holder->shape = shape;
  holder->strides = strides;
  auto& m = holder->managed;
  m.version = {uint32_t(major), uint32_t(minor)};
  m.manager_ctx = holder;
  m.deleter = [](hci::dlpack::DLManagedTensorVersioned* self) { delete static_cast<TestExport*>(self->manager_ctx); };
  m.flags = read_only ? hci::dlpack::kFlagReadOnly : 0;
  m.dl_tensor.data = holder->bytes.data();
  m.dl_tensor.device = {hci::dlpack::kDLCPU, 0};
  m.dl_tensor.ndim = int32_t(shape.size());
  m.dl_tensor.dtype = dlpack_dtype_of(dtype_named(dtype));
  m.dl_tensor.shape = holder->shape.data();
  m.dl_tensor.strides = holder->strides.empty() ? nullptr : holder->strides.data();
  return capsule_of(&m, kVersionedName);
}

}  // namespace

PYBIND11_MODULE(_hci, m) {
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
  tensor.def_property_readonly("shape", [](const Tensor& t) { return as_tuple(t.sizes()); })
      .def_property_readonly("dtype", [](const Tensor& t) { return t.dtype(); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", [](const Tensor& t) { return t.dim(); })
      .def("size", [](const Tensor& t) { return as_tuple(t.sizes()); })
      .def("stride", [](const Tensor& t) { return as_tuple(t.strides()); })
      .def("numel", [](const Tensor& t) { return t.numel(); })
      .def("is_contiguous", [](const Tensor& t) { return t.is_contiguous(); })
      .def("data_ptr",  // the address of the first element, once computed
           [](const Tensor& t) {
             py::gil_scoped_release unlocked;
             hci::dlpack::DLManagedTensor* managed = hci::to_dlpack_legacy(t);
             const auto address = reinterpret_cast<uintptr_t>(managed->dl_tensor.data) + managed->dl_tensor.byte_offset;
             managed->deleter(managed);
             return address;
           })
      .def("__len__",
           [](const Tensor& t) { return t.dim() ? t.size(0) : throw py::type_error("len() of a 0-d tensor"); })
      .def("item", &item)
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
      .def("permute", [](const Tensor& t, const py::args& dims) { return t.permute(to_shape(dims)); })
      .def("transpose", [](const Tensor& t, int64_t a, int64_t b) { return t.transpose(a, b); })
      .def_property_readonly("T", [](const Tensor& t) { return t.dim() < 2 ? t : t.transpose(-2, -1); })
      .def("unsqueeze", [](const Tensor& t, int64_t dim) { return t.unsqueeze(dim); })
      .def(
          "squeeze",
          [](const Tensor& t, const py::object& dim) {
            return dim.is_none() ? t.squeeze() : t.squeeze(dim.cast<int64_t>());
          },
          py::arg("dim") = py::none())
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
          "sum",
          [](const Tensor& t, const py::object& dim, bool keepdim) {
            return dim.is_none() ? t.sum() : t.sum(to_dims(dim), keepdim);
          },
          py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def(
          "mean",
          [](const Tensor& t, const py::object& dim, bool keepdim) {
            return dim.is_none() ? t.mean() : t.mean(to_dims(dim), keepdim);
          },
          py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def(
          "amax", [](const Tensor& t, const py::object& dim, bool keepdim) { return t.amax(to_dims(dim), keepdim); },
          py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def(
          "amin", [](const Tensor& t, const py::object& dim, bool keepdim) { return t.amin(to_dims(dim), keepdim); },
          py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def(
          "var",
          [](const Tensor& t, const py::object& dim, double correction, bool keepdim) {
            return t.var(to_dims(dim), correction, keepdim);
          },
          py::arg("dim") = py::none(), py::arg("correction") = 1.0, py::arg("keepdim") = false)
      .def(
          "argmax", [](const Tensor& t, std::optional<int64_t> dim, bool keepdim) { return t.argmax(dim, keepdim); },
          py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def(
          "softmax", [](const Tensor& t, int64_t dim) { return t.softmax(dim); }, py::arg("dim"))
      .def(
          "log_softmax", [](const Tensor& t, int64_t dim) { return t.log_softmax(dim); }, py::arg("dim"))
      .def("matmul", [](const Tensor& a, const Tensor& b) { return a.matmul(b); })
      .def("__matmul__", [](const Tensor& a, const Tensor& b) { return a.matmul(b); })
      .def("copy_", [](Tensor& t, const Tensor& src) -> Tensor& { return t.copy_(src); })
      .def("fill_", [](Tensor& t, const py::object& v) -> Tensor& { return t.fill_(to_scalar(v)); })
      .def("add_",
           [](Tensor& t, const py::object& v) -> Tensor& {
             return py::isinstance<Tensor>(v) ? t.add_(v.cast<const Tensor&>()) : t.add_(to_scalar(v));
           })
      .def("mul_",
           [](Tensor& t, const py::object& v) -> Tensor& {
             return py::isinstance<Tensor>(v) ? t.mul_(v.cast<const Tensor&>()) : t.mul_(to_scalar(v));
           })
      // These compute now, without the GIL: a producer's deleter may need it from hci's threads.
      .def(
          "equal", [](const Tensor& a, const Tensor& b) { return a.equal(b); },
          py::call_guard<py::gil_scoped_release>())
      .def(
          "allclose",
          [](const Tensor& a, const Tensor& b, double rtol, double atol) { return a.allclose(b, rtol, atol); },
          py::arg("other"), py::arg("rtol") = 1e-5, py::arg("atol") = 1e-8, py::call_guard<py::gil_scoped_release>())
      .def("__dlpack__", &dlpack, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
           py::arg("dl_device") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack_device__", [](const Tensor& t) {
        const auto [type, index] = dlpack_device_of(t.device());
        return py::make_tuple(type, index);
      });

#define HCI_PY_BINARY(py_name, op) tensor.def(py_name, binary([](const Tensor& a, const auto& b) { return op; }));
  HCI_PY_BINARY("__add__", a + b)
  HCI_PY_BINARY("__sub__", a - b)
  HCI_PY_BINARY("__mul__", a * b)
  HCI_PY_BINARY("__truediv__", a / b)
  HCI_PY_BINARY("__pow__", hci::pow(a, b))
  HCI_PY_BINARY("__eq__", a == b)
  HCI_PY_BINARY("__ne__", a != b)
  HCI_PY_BINARY("__lt__", a < b)
  HCI_PY_BINARY("__le__", a <= b)
  HCI_PY_BINARY("__gt__", a > b)
  HCI_PY_BINARY("__ge__", a >= b)
#undef HCI_PY_BINARY
  tensor.def("__radd__", reflected([](const Tensor& a, const Tensor& b) { return a + b; }))
      .def("__rsub__", reflected([](const Tensor& a, const Tensor& b) { return a - b; }))
      .def("__rmul__", reflected([](const Tensor& a, const Tensor& b) { return a * b; }))
      .def("__rtruediv__", reflected([](const Tensor& a, const Tensor& b) { return a / b; }))
      .def("__neg__", [](const Tensor& t) { return -t; })
      .def("__getitem__", [](const Tensor& t, int64_t i) { return t.select(0, i); });

#define HCI_PY_UNARY(name, Op)                                \
  m.def(#name, [](const Tensor& t) { return hci::name(t); }); \
  tensor.def(#name, [](const Tensor& t) { return hci::name(t); });
  HCI_UNARY_OPS(HCI_PY_UNARY)
#undef HCI_PY_UNARY

  m.def("matmul", [](const Tensor& a, const Tensor& b) { return hci::matmul(a, b); });
  m.def("softmax", [](const Tensor& t, int64_t dim) { return hci::softmax(t, dim); }, py::arg("input"), py::arg("dim"));
  m.def("where", [](const Tensor& c, const Tensor& a, const Tensor& b) { return hci::where(c, a, b); });
  m.def("_zeros", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::zeros(shape, hci::TensorOptions(dtype).device(hci::Device(device)));
  });
  m.def("_ones", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::ones(shape, hci::TensorOptions(dtype).device(hci::Device(device)));
  });
  m.def("_full",
        [](const std::vector<int64_t>& shape, const py::object& value, hci::DType dtype, const std::string& device) {
          return hci::full(shape, to_scalar(value), hci::TensorOptions(dtype).device(hci::Device(device)));
        });
  m.def("_arange", [](int64_t n, hci::DType dtype, const std::string& device) {
    return hci::arange(n, hci::TensorOptions(dtype).device(hci::Device(device)));
  });
  m.def("_rand", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::rand(shape, hci::TensorOptions(dtype).device(hci::Device(device)));
  });
  m.def("_randn", [](const std::vector<int64_t>& shape, hci::DType dtype, const std::string& device) {
    return hci::randn(shape, hci::TensorOptions(dtype).device(hci::Device(device)));
  });
  m.def("manual_seed", [](uint64_t seed) { hci::manual_seed(seed); });
  m.def("_from_capsule", &from_capsule);
  m.def("_stream_handle", [](const std::string& device) {
    const hci::Device d(device);
    return d.is_cpu() ? uintptr_t(0) : hci::cuda::detail::stream_handle(d.type(), d.index());
  });
  m.def("_testing_capsule", &testing_capsule, py::arg("data"), py::arg("dtype"), py::arg("shape"), py::arg("strides"),
        py::arg("major") = 1, py::arg("minor") = 1, py::arg("read_only") = false);
  m.attr("__version__") = HCI_VERSION_STRING;
}
