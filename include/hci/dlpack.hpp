// DLPack: zero-copy exchange of tensors with other frameworks (PyTorch, NumPy, CuPy, JAX, ...).
//
// The structs of DLPack 1.1 are declared here, in hci::dlpack, with the C header's names and
// layout, so hci needs no dlpack.h and never clashes with the one an application includes: a
// pointer to that header's DLManagedTensorVersioned or DLManagedTensor converts to the one here
// with reinterpret_cast (the static_asserts below pin the layout).
//
// Ownership follows the standard. An exported struct belongs to the consumer, who calls its
// deleter exactly once; until then it keeps the tensor's memory alive like any view.
// from_dlpack takes the struct over in every case: its deleter runs exactly once, when no tensor
// or pending computation uses the memory any more, or before from_dlpack throws if the tensor is
// refused. A null deleter means there is nothing to release.
#pragma once

#include <hci/tensor.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

HCI_BEGIN_NAMESPACE

namespace dlpack {

// The version hci writes into exported DLManagedTensorVersioned; it reads any 1.x.
inline constexpr uint32_t kMajorVersion = 1;
inline constexpr uint32_t kMinorVersion = 1;

struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};

enum DLDeviceType : int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,  // pinned host memory (cudaMallocHost)
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,  // pinned host memory (hipMallocHost)
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
  kDLMAIA = 17,
  kDLTrn = 18,
};

struct DLDevice {
  DLDeviceType device_type;
  int32_t device_id;
};

// Codes past kDLBool are 8-, 6- and 4-bit floats, which hci has no dtype for.
enum DLDataTypeCode : uint8_t {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6,
};

struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; may be null (compact row-major) from producers before 1.2
  uint64_t byte_offset;
};

// The unversioned struct of DLPack before 1.0, still the one many producers exchange.
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

// Bits of DLManagedTensorVersioned::flags (DLPACK_FLAG_BITMASK_* in the C header).
inline constexpr uint64_t kFlagReadOnly = uint64_t(1) << 0;
inline constexpr uint64_t kFlagIsCopied = uint64_t(1) << 1;
inline constexpr uint64_t kFlagIsSubbyteTypePadded = uint64_t(1) << 2;

struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};

static_assert(sizeof(void*) != 8 ||
                  (sizeof(DLTensor) == 48 && sizeof(DLManagedTensor) == 64 && sizeof(DLManagedTensorVersioned) == 80 &&
                   offsetof(DLManagedTensorVersioned, dl_tensor) == 32),
              "the DLPack structs must keep the C header's layout");

}  // namespace dlpack

// Where the consumer of an exported GPU tensor will use it, as the array API's
// __dlpack__(stream=...) says: its CUDA or HIP stream handle (1: the legacy default stream, 2: the
// per-thread one), or kDLPackNoSync (the consumer orders its work itself). Without one, the host
// waits until the tensor is computed.
inline constexpr int64_t kDLPackNoSync = -1;

// A DLPack 1.x view of t's memory (computed first), flagged read-only where hci's copy is. The
// consumer may write through it unless flagged: every hci computation that was pending on the
// memory is done first, as for data_ptr(). Given the consumer's stream, a GPU tensor's pending
// computation is ordered before that stream's later work instead, and the host does not wait.
HCI_RUNTIME_DECL dlpack::DLManagedTensorVersioned* to_dlpack(const Tensor& t,
                                                             std::optional<int64_t> consumer_stream = std::nullopt);
// The same through the unversioned struct, which has no read-only flag: read-only memory is
// refused rather than handed out as writable.
HCI_RUNTIME_DECL dlpack::DLManagedTensor* to_dlpack_legacy(const Tensor& t,
                                                           std::optional<int64_t> consumer_stream = std::nullopt);

// A tensor over the memory a DLPack struct describes, without a copy (see ownership above): host
// memory (plain or pinned) on the CPU, CUDA and ROCm device memory on that device, whose producer
// has ordered its writes before hci's stream (pass it hci::cuda::stream_handle). A struct hci
// exported itself comes back as a view of the original tensor.
HCI_RUNTIME_DECL Tensor from_dlpack(dlpack::DLManagedTensorVersioned* managed, Loc loc = Loc::current());
HCI_RUNTIME_DECL Tensor from_dlpack(dlpack::DLManagedTensor* managed, Loc loc = Loc::current());

#if HCI_RUNTIME_DEFINITIONS

namespace detail {

inline dlpack::DLDataType dlpack_dtype(DType t) {
  using namespace dlpack;
  const auto bits = uint8_t(element_size(t) * 8);
  switch (t) {
    case kBool: return {kDLBool, 8, 1};
    case kUInt8: return {kDLUInt, 8, 1};
    case kInt8:
    case kInt16:
    case kInt32:
    case kInt64: return {kDLInt, bits, 1};
    case kBFloat16: return {kDLBfloat, 16, 1};
    case kFloat16:
    case kFloat32:
    case kFloat64: return {kDLFloat, bits, 1};
  }
  throw_error("to_dlpack: dtype {} has no DLPack type", t);
}

inline DType dtype_from_dlpack(dlpack::DLDataType t) {
  HCI_CHECK(t.lanes == 1, "from_dlpack: vector elements (DLPack dtype code {}, {} bits, {} lanes) are not supported",
            t.code, t.bits, t.lanes);
  for (int d = 0; d < kNumDTypes; ++d) {
    const dlpack::DLDataType candidate = dlpack_dtype(DType(d));
    if (candidate.code == t.code && candidate.bits == t.bits) return DType(d);
  }
  constexpr std::string_view kinds[] = {"int", "uint", "float", "opaque handle", "bfloat", "complex", "bool"};
  throw_error("from_dlpack: hci has no dtype for DLPack {} of {} bits (type code {})",
              t.code < std::size(kinds) ? kinds[t.code] : "narrow float", t.bits, t.code);
}

inline dlpack::DLDevice dlpack_device(Device d) {
  switch (d.type()) {
    case DeviceType::CPU: return {dlpack::kDLCPU, 0};
    case DeviceType::CUDA: return {dlpack::kDLCUDA, d.index()};
    case DeviceType::ROCm: return {dlpack::kDLROCM, d.index()};
    case DeviceType::PrivateUse: break;
  }
  throw_error("to_dlpack: device {} has no DLPack device type", d.str());
}

// Host memory, plain or pinned, is the CPU's; device memory (managed memory included) its GPU's.
inline Device device_from_dlpack(dlpack::DLDevice d) {
  using namespace dlpack;
  if (d.device_type == kDLCPU || d.device_type == kDLCUDAHost || d.device_type == kDLROCMHost) return Device::cpu();
  HCI_CHECK(d.device_id >= 0, "from_dlpack: negative device id {}", d.device_id);
  const bool cuda = d.device_type == kDLCUDA || d.device_type == kDLCUDAManaged;
  if (!cuda && d.device_type != kDLROCM)
    throw_error("from_dlpack: hci has no backend for memory of DLPack device type {}, device {}", int(d.device_type),
                d.device_id);
  const Device device = cuda ? Device::cuda(d.device_id) : Device::rocm(d.device_id);
  try {
    backend_for(device);
  } catch (const Error& e) {
    throw_error("from_dlpack: memory of DLPack device type {}, device {} is on {}, which hci cannot use here: {}",
                int(d.device_type), d.device_id, device.str(), e.what());
  }
  return device;
}

// What an exported struct points into: a reference to the tensor (its memory) and the shape
// and strides arrays. manager_ctx points at the holder; release is the struct's deleter.
template <class Managed>
struct DLPackExport {
  Managed managed{};
  Tensor tensor;
  Dims shape, strides;

  static void release(Managed* self) noexcept { delete static_cast<DLPackExport*>(self->manager_ctx); }
};

// The address of t's first element, computed: ready, or for a GPU tensor given the consumer's
// stream, ordered before that stream's later work. Writable memory may be written through the
// export, so every pending reader is computed first and the write counted, as data_ptr does.
inline void* exported_data(const Tensor& t, std::optional<int64_t> consumer_stream) {
  const NodePtr& node = t.impl().node;
  {
    std::lock_guard lock(eval_mutex());
    materialize_locked(node);
    if (!node->storage->read_only) begin_external_write_locked(*node);
  }
  const Storage& storage = *node->storage;
  HCI_CHECK(!consumer_stream || *consumer_stream != 0,
            "to_dlpack: stream 0 is ambiguous; name the legacy default stream as 1, the per-thread one as 2");
  const bool ordered = consumer_stream && !storage.device.is_cpu() &&
                       (*consumer_stream == kDLPackNoSync ||
                        storage.backend->order_before_stream(storage.device.index(), uintptr_t(*consumer_stream)));
  if (!ordered) storage.wait_ready();
  if (t.numel() == 0) return nullptr;  // as DLPack asks of empty tensors
  return first_element(t);
}

template <class Managed>
Managed* export_dlpack(const Tensor& t, std::optional<int64_t> consumer_stream) {
  auto holder = std::make_unique<DLPackExport<Managed>>();
  holder->tensor = t;
  holder->shape = t.sizes().vec();
  holder->strides = t.strides().vec();
  dlpack::DLTensor& dl = holder->managed.dl_tensor;
  dl.device = dlpack_device(t.device());
  dl.dtype = dlpack_dtype(t.dtype());
  dl.ndim = int32_t(t.dim());
  dl.shape = holder->shape.data();
  dl.strides = holder->strides.data();
  dl.byte_offset = 0;
  dl.data = exported_data(t, consumer_stream);
  holder->managed.manager_ctx = holder.get();
  holder->managed.deleter = &DLPackExport<Managed>::release;
  return &holder.release()->managed;
}

template <class Managed>
Tensor import_dlpack(Managed* managed, const Loc& loc) {
  HCI_CHECK(managed != nullptr, "from_dlpack: null DLPack tensor");
  // From here the struct is owned: every path out of this function, a throw included, ends with
  // its deleter run once the last reference to `owner` is gone.
  std::shared_ptr<Managed> owner(managed, [](Managed* m) noexcept {
    if (m->deleter) m->deleter(m);
  });
  bool read_only = false;
  if constexpr (std::is_same_v<Managed, dlpack::DLManagedTensorVersioned>) {
    // A different major version may lay out everything after `flags` differently.
    HCI_CHECK(managed->version.major == dlpack::kMajorVersion,
              "from_dlpack: DLPack version {}.{} is not supported (hci reads {}.x)", managed->version.major,
              managed->version.minor, dlpack::kMajorVersion);
    read_only = (managed->flags & dlpack::kFlagReadOnly) != 0;
  }
  if (managed->deleter == &DLPackExport<Managed>::release) {
    // One of hci's own: the original tensor, so its pending readers and version stay tracked.
    const Tensor& original = static_cast<DLPackExport<Managed>*>(managed->manager_ctx)->tensor;
    return make_view(original, original.sizes().vec(), original.strides().vec(), original.storage_offset());
  }

  const dlpack::DLTensor& dl = managed->dl_tensor;
  HCI_CHECK(dl.ndim >= 0, "from_dlpack: negative ndim {}", dl.ndim);
  HCI_CHECK(dl.ndim == 0 || dl.shape != nullptr, "from_dlpack: null shape for {} dims", dl.ndim);
  const DType dtype = dtype_from_dlpack(dl.dtype);
  const Device device = device_from_dlpack(dl.device);
  const IntList shape(std::span<const int64_t>(dl.shape, size_t(dl.ndim)));
  const Dims strides = dl.strides ? Dims(dl.strides, dl.strides + dl.ndim) : contiguous_strides(shape);
  const auto* first = dl.data ? static_cast<const std::byte*>(dl.data) + dl.byte_offset : nullptr;
  const bool empty = std::ranges::find(shape, 0) != shape.end();  // producers may give any address then
  HCI_CHECK(empty || reinterpret_cast<uintptr_t>(first) % element_size(dtype) == 0,
            "from_dlpack: the first element (data {} + byte_offset {}) is not aligned to the {} bytes of {}", dl.data,
            dl.byte_offset, element_size(dtype), dtype);
  // The memory is released with the storage: the deleter holds the last reference to `owner`.
  Tensor t = borrow_memory(first, shape, strides, dtype, [owner](void*) {}, loc, "from_dlpack", device);
  t.impl().node->storage->read_only = read_only;
  return t;
}

}  // namespace detail

HCI_RUNTIME_DEF dlpack::DLManagedTensorVersioned* to_dlpack(const Tensor& t, std::optional<int64_t> consumer_stream) {
  auto* managed = detail::export_dlpack<dlpack::DLManagedTensorVersioned>(t, consumer_stream);
  managed->version = {dlpack::kMajorVersion, dlpack::kMinorVersion};
  managed->flags = t.impl().node->storage->read_only ? dlpack::kFlagReadOnly : 0;
  return managed;
}

HCI_RUNTIME_DEF dlpack::DLManagedTensor* to_dlpack_legacy(const Tensor& t, std::optional<int64_t> consumer_stream) {
  detail::materialize(t.impl().node);
  HCI_CHECK(!t.impl().node->storage->read_only,
            "to_dlpack_legacy: the tensor's memory is read-only, which DLManagedTensor cannot express; use "
            "to_dlpack (DLPack 1.x flags it) or export a clone()");
  return detail::export_dlpack<dlpack::DLManagedTensor>(t, consumer_stream);
}

HCI_RUNTIME_DEF Tensor from_dlpack(dlpack::DLManagedTensorVersioned* managed, Loc loc) {
  return detail::import_dlpack(managed, loc);
}

HCI_RUNTIME_DEF Tensor from_dlpack(dlpack::DLManagedTensor* managed, Loc loc) {
  return detail::import_dlpack(managed, loc);
}

#endif  // HCI_RUNTIME_DEFINITIONS

HCI_END_NAMESPACE
