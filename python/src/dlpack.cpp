// DLPack both ways, as the Python array API's protocol has it: __dlpack__ and __dlpack_device__
// on hci tensors, and the capsules of any producer taken over (hci.from_dlpack, in Python, asks
// the producer for them).
#include "bindings.hpp"

#include <hci/cuda/backend.hpp>

#include <cstring>

namespace hci_python {
namespace {

constexpr const char* kVersionedName = "dltensor_versioned";
constexpr const char* kLegacyName = "dltensor";

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

void bind_dlpack(py::module_& m, py::class_<Tensor>& tensor) {
  tensor
      .def("data_ptr",  // the address of the first element, once computed
           [](const Tensor& t) {
             py::gil_scoped_release unlocked;
             hci::dlpack::DLManagedTensorVersioned* managed = hci::to_dlpack(t);  // read-only memory too
             const auto address = reinterpret_cast<uintptr_t>(managed->dl_tensor.data) + managed->dl_tensor.byte_offset;
             managed->deleter(managed);
             return address;
           })
      .def("__dlpack__", &dlpack, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
           py::arg("dl_device") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack_device__", [](const Tensor& t) {
        const auto [type, index] = dlpack_device_of(t.device());
        return py::make_tuple(type, index);
      });
  m.def("_from_capsule", &from_capsule);
  m.def("_stream_handle", [](const std::string& device) {
    const hci::Device d(device);
    return d.is_cpu() ? uintptr_t(0) : hci::cuda::detail::stream_handle(d.type(), d.index());
  });
  m.def("_testing_capsule", &testing_capsule, py::arg("data"), py::arg("dtype"), py::arg("shape"), py::arg("strides"),
        py::arg("major") = 1, py::arg("minor") = 1, py::arg("read_only") = false);
}

}  // namespace hci_python
