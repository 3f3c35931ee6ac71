// DLPack export and import: the fields hci writes, zero-copy sharing, deleters run exactly once,
// the read-only flag, and a clear error (with the struct released) for every tensor refused.
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

namespace {

using Catch::Matchers::Contains;
using hci::Tensor;
using hci::dlpack::DLManagedTensor;
using hci::dlpack::DLManagedTensorVersioned;

std::vector<int64_t> shape_of(const hci::dlpack::DLTensor& dl) { return {dl.shape, dl.shape + dl.ndim}; }
std::vector<int64_t> strides_of(const hci::dlpack::DLTensor& dl) { return {dl.strides, dl.strides + dl.ndim}; }

// Releases a struct the test received, as a consumer does.
template <class Managed>
void release(Managed* m) {
  if (m->deleter) m->deleter(m);
}

// A tensor owned by another framework: the buffer, shape and strides live in a context that the
// deleter frees (so a use after release is caught by the sanitizers), and the deleter counts its
// calls.
struct ForeignContext {
  std::vector<float> buffer;
  std::vector<int64_t> shape, strides;
  int* deletions = nullptr;
};

template <class Managed>
Managed* foreign_tensor(int* deletions, std::vector<float> buffer, std::vector<int64_t> shape,
                        std::vector<int64_t> strides, uint64_t byte_offset = 0) {
  auto* ctx = new ForeignContext{std::move(buffer), std::move(shape), std::move(strides), deletions};
  auto* m = new Managed{};
  if constexpr (std::is_same_v<Managed, DLManagedTensorVersioned>) m->version = {1, 0};
  m->manager_ctx = ctx;
  m->deleter = [](Managed* self) {
    auto* c = static_cast<ForeignContext*>(self->manager_ctx);
    ++*c->deletions;
    delete c;
    delete self;
  };
  hci::dlpack::DLTensor& dl = m->dl_tensor;
  dl.data = ctx->buffer.data();
  dl.device = {hci::dlpack::kDLCPU, 0};
  dl.ndim = int32_t(ctx->shape.size());
  dl.dtype = {hci::dlpack::kDLFloat, 32, 1};
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = byte_offset;
  return m;
}

float* foreign_buffer(const hci::dlpack::DLTensor& dl) { return static_cast<float*>(dl.data); }

TEST_CASE("to_dlpack describes the tensor's memory", "[dlpack]") {
  const Tensor t = hci::arange(12, hci::kFloat32).reshape({3, 4});

  SECTION("a contiguous tensor") {
    DLManagedTensorVersioned* m = hci::to_dlpack(t);
    CHECK(m->version.major == 1);
    CHECK(m->version.minor == 1);
    CHECK(m->flags == 0);
    const hci::dlpack::DLTensor& dl = m->dl_tensor;
    CHECK(dl.device.device_type == hci::dlpack::kDLCPU);
    CHECK(dl.device.device_id == 0);
    CHECK(dl.ndim == 2);
    CHECK(shape_of(dl) == std::vector<int64_t>{3, 4});
    CHECK(strides_of(dl) == std::vector<int64_t>{4, 1});
    CHECK((dl.dtype.code == hci::dlpack::kDLFloat && dl.dtype.bits == 32 && dl.dtype.lanes == 1));
    CHECK(dl.byte_offset == 0);
    CHECK(dl.data == t.const_data_ptr<float>());
    release(m);
  }

  SECTION("views keep their strides and start at their first element") {
    DLManagedTensorVersioned* transposed = hci::to_dlpack(t.transpose(0, 1));
    CHECK(shape_of(transposed->dl_tensor) == std::vector<int64_t>{4, 3});
    CHECK(strides_of(transposed->dl_tensor) == std::vector<int64_t>{1, 4});
    DLManagedTensorVersioned* sliced = hci::to_dlpack(t.slice(1, 1, 3).select(0, 2));
    CHECK(shape_of(sliced->dl_tensor) == std::vector<int64_t>{2});
    CHECK(sliced->dl_tensor.data == t.const_data_ptr<float>() + 9);
    CHECK(foreign_buffer(sliced->dl_tensor)[1] == 10.0f);
    DLManagedTensorVersioned* expanded = hci::to_dlpack(hci::arange(3, hci::kFloat32).expand({2, 3}));
    CHECK(strides_of(expanded->dl_tensor) == std::vector<int64_t>{0, 1});
    release(transposed);
    release(sliced);
    release(expanded);
  }

  SECTION("a lazy result is computed first") {
    DLManagedTensor* m = hci::to_dlpack_legacy(t * 2 + 1);
    const float* values = foreign_buffer(m->dl_tensor);
    CHECK(std::vector<float>(values, values + 12) == std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
    release(m);
  }

  SECTION("0-dim and empty tensors") {
    DLManagedTensorVersioned* scalar = hci::to_dlpack(hci::full({}, 2.5, hci::kFloat64));
    CHECK(scalar->dl_tensor.ndim == 0);
    CHECK(*static_cast<const double*>(scalar->dl_tensor.data) == 2.5);
    DLManagedTensorVersioned* empty = hci::to_dlpack(hci::zeros({0, 3}));
    CHECK(shape_of(empty->dl_tensor) == std::vector<int64_t>{0, 3});
    CHECK(empty->dl_tensor.data == nullptr);
    release(scalar);
    release(empty);
  }
}

TEST_CASE("every dtype has its DLPack type, both ways", "[dlpack]") {
  struct Expected {
    hci::DType dtype;
    uint8_t code, bits;
  };
  using namespace hci::dlpack;
  const Expected table[] = {{hci::kBool, kDLBool, 8},      {hci::kUInt8, kDLUInt, 8},
                            {hci::kInt8, kDLInt, 8},       {hci::kInt16, kDLInt, 16},
                            {hci::kInt32, kDLInt, 32},     {hci::kInt64, kDLInt, 64},
                            {hci::kFloat16, kDLFloat, 16}, {hci::kBFloat16, kDLBfloat, 16},
                            {hci::kFloat32, kDLFloat, 32}, {hci::kFloat64, kDLFloat, 64}};
  static_assert(std::size(table) == hci::kNumDTypes);
  for (const Expected& e : table) {
    INFO(hci::dtype_name(e.dtype));
    const Tensor t = hci::arange(-3, 4).to(e.dtype).reshape({7, 1});
    DLManagedTensorVersioned* m = hci::to_dlpack(t);
    CHECK(m->dl_tensor.dtype.code == e.code);
    CHECK(m->dl_tensor.dtype.bits == e.bits);
    CHECK(m->dl_tensor.dtype.lanes == 1);
    // Through the generic import path (a copy of the struct that hci does not recognise as its own).
    int deletions = 0;
    auto* foreign = foreign_tensor<DLManagedTensorVersioned>(&deletions, {}, {7, 1}, {1, 1});
    foreign->dl_tensor.data = m->dl_tensor.data;
    foreign->dl_tensor.dtype = m->dl_tensor.dtype;
    {
      const Tensor back = hci::from_dlpack(foreign);
      CHECK(back.dtype() == e.dtype);
      CHECK(back.to_vector<double>() == t.to_vector<double>());
    }
    CHECK(deletions == 1);
    release(m);
  }
}

TEST_CASE("an export keeps the memory alive until its deleter runs, exactly once", "[dlpack]") {
  std::vector<float> host{1, 2, 3};
  int freed = 0;
  DLManagedTensorVersioned* versioned = nullptr;
  DLManagedTensor* legacy = nullptr;
  {
    const Tensor t = hci::from_blob(host.data(), {3}, hci::kFloat32, [&](void*) { ++freed; });
    versioned = hci::to_dlpack(t);
    legacy = hci::to_dlpack_legacy(t.slice(0, 1));
  }
  CHECK(freed == 0);
  CHECK(foreign_buffer(versioned->dl_tensor)[2] == 3.0f);
  release(versioned);
  CHECK(freed == 0);
  CHECK(foreign_buffer(legacy->dl_tensor)[0] == 2.0f);
  release(legacy);
  CHECK(freed == 1);
}

TEST_CASE("a consumer may write through a writable export", "[dlpack]") {
  const Tensor a = hci::from_vector<float>({1, 2, 3});
  const Tensor b = a * 10;  // recorded, not yet computed
  DLManagedTensorVersioned* m = hci::to_dlpack(a);
  foreign_buffer(m->dl_tensor)[0] = 100;
  CHECK(a.to_vector<float>() == std::vector<float>{100, 2, 3});
  CHECK(b.to_vector<float>() == std::vector<float>{10, 20, 30});  // computed before the export
  release(m);
}

TEST_CASE("read-only memory is flagged, and refused by the unversioned struct", "[dlpack]") {
  const std::vector<float> frozen{1, 2};
  const Tensor r = hci::from_blob(static_cast<const void*>(frozen.data()), {2}, hci::kFloat32);
  DLManagedTensorVersioned* m = hci::to_dlpack(r);
  CHECK(m->flags == hci::dlpack::kFlagReadOnly);
  release(m);
  CHECK_THROWS_WITH(hci::to_dlpack_legacy(r), Contains("read-only") && Contains("DLManagedTensor cannot express"));
  DLManagedTensor* copy = hci::to_dlpack_legacy(r.clone());
  release(copy);
}

TEMPLATE_TEST_CASE("from_dlpack shares foreign memory without a copy", "[dlpack]", DLManagedTensorVersioned,
                   DLManagedTensor) {
  int deletions = 0;
  // A 2x3 view with row stride 4 that starts one element into the buffer.
  auto* m = foreign_tensor<TestType>(&deletions, {0, 1, 2, 3, 4, 5, 6, 7, 8}, {2, 3}, {4, 1}, sizeof(float));
  float* buffer = foreign_buffer(m->dl_tensor);
  Tensor r;
  {
    Tensor t = hci::from_dlpack(m);
    CHECK(t.sizes().vec() == std::vector<int64_t>{2, 3});
    CHECK(t.strides().vec() == std::vector<int64_t>{4, 1});
    CHECK(t.const_data_ptr<float>() == buffer + 1);
    CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 5, 6, 7});

    t.add_(10);  // hci's writes land in the producer's memory
    CHECK(std::vector<float>(buffer, buffer + 9) == std::vector<float>{0, 11, 12, 13, 4, 15, 16, 17, 8});
    (void)t.data_ptr<float>();  // the producer writes after data_ptr(), as from_blob asks
    buffer[1] = -1;
    CHECK(t.to_vector<float>()[0] == -1.0f);

    r = t.transpose(0, 1).sum({1});  // pending on the foreign memory
    const Tensor view = t.select(0, 1);
    t = Tensor();
    CHECK(deletions == 0);
    CHECK(view.to_vector<float>() == std::vector<float>{15, 16, 17});
  }
  CHECK(deletions == 0);  // r still reads it
  CHECK(r.to_vector<float>() == std::vector<float>{14, 28, 30});
  CHECK(deletions == 1);
  r = Tensor();
  CHECK(deletions == 1);
}

TEMPLATE_TEST_CASE("from_dlpack reads null strides as row-major and tolerates a null deleter", "[dlpack]",
                   DLManagedTensorVersioned, DLManagedTensor) {
  std::vector<float> values{1, 2, 3, 4, 5, 6};
  std::vector<int64_t> shape{3, 2};
  TestType m{};
  if constexpr (std::is_same_v<TestType, DLManagedTensorVersioned>) m.version = {1, 1};
  m.dl_tensor = {values.data(), {hci::dlpack::kDLCPU, 0}, 2, {hci::dlpack::kDLFloat, 32, 1}, shape.data(), nullptr, 0};
  const Tensor t = hci::from_dlpack(&m);
  CHECK(t.strides().vec() == std::vector<int64_t>{2, 1});
  CHECK(t.sum({0}).to_vector<float>() == std::vector<float>{9, 12});
}

TEST_CASE("the read-only flag is respected", "[dlpack]") {
  int deletions = 0;
  auto* m = foreign_tensor<DLManagedTensorVersioned>(&deletions, {1, 2, 3}, {3}, {1});
  m->flags = hci::dlpack::kFlagReadOnly;
  {
    Tensor t = hci::from_dlpack(m);
    CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
    CHECK_THROWS_WITH(t.add_(1), Contains("read-only"));
    CHECK_THROWS_WITH(t.data_ptr<float>(), Contains("read-only"));
    CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
    DLManagedTensorVersioned* again = hci::to_dlpack(t);
    CHECK(again->flags == hci::dlpack::kFlagReadOnly);
    release(again);
    Tensor copy = t.clone();
    copy.add_(1);
    CHECK(copy.to_vector<float>() == std::vector<float>{2, 3, 4});
  }
  CHECK(deletions == 1);
}

TEST_CASE("a refused DLPack tensor is released once and reported clearly", "[dlpack]") {
  using namespace hci::dlpack;
  struct Case {
    const char* what;
    void (*spoil)(DLManagedTensorVersioned&);
    const char* message;
  };
  const Case cases[] = {
      {"another major version", [](auto& m) { m.version = {2, 0}; }, "DLPack version 2.0 is not supported"},
      {"negative ndim", [](auto& m) { m.dl_tensor.ndim = -1; }, "negative ndim -1"},
      {"no shape", [](auto& m) { m.dl_tensor.shape = nullptr; }, "null shape for 2 dims"},
      {"vector lanes", [](auto& m) { m.dl_tensor.dtype.lanes = 4; }, "vector elements"},
      {"uint16", [](auto& m) { m.dl_tensor.dtype = {kDLUInt, 16, 1}; }, "no dtype for DLPack uint of 16 bits"},
      {"complex64", [](auto& m) { m.dl_tensor.dtype = {kDLComplex, 64, 1}; }, "DLPack complex of 64 bits"},
      {"float8", [](auto& m) { m.dl_tensor.dtype = {8, 8, 1}; }, "narrow float of 8 bits (type code 8)"},
      {"float of 24 bits", [](auto& m) { m.dl_tensor.dtype = {kDLFloat, 24, 1}; }, "DLPack float of 24 bits"},
      {"device memory", [](auto& m) { m.dl_tensor.device = {kDLCUDA, 1}; }, "DLPack device type 2, device 1"},
      {"managed memory", [](auto& m) { m.dl_tensor.device = {kDLCUDAManaged, 0}; }, "DLPack device type 13"},
      {"a negative size", [](auto& m) { m.dl_tensor.shape[0] = -2; }, "negative size in shape [-2, 2]"},
      {"a negative stride", [](auto& m) { m.dl_tensor.strides[0] = -2; },
       "negative strides are not supported (strides [-2, 1])"},
      {"no data", [](auto& m) { m.dl_tensor.data = nullptr; }, "null data pointer for shape [2, 2]"},
      {"a misaligned start", [](auto& m) { m.dl_tensor.byte_offset = 2; }, "not aligned to the 4 bytes of float32"},
      {"strides past int64", [](auto& m) { m.dl_tensor.strides[0] = int64_t(1) << 62; }, "more bytes than int64"},
      {"sizes past int64", [](auto& m) { m.dl_tensor.shape[0] = m.dl_tensor.shape[1] = int64_t(1) << 32; },
       "more elements than int64 holds"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    int deletions = 0;
    auto* m = foreign_tensor<DLManagedTensorVersioned>(&deletions, {1, 2, 3, 4}, {2, 2}, {2, 1});
    c.spoil(*m);
    CHECK_THROWS_WITH(hci::from_dlpack(m), Contains("from_dlpack") && Contains(c.message));
    CHECK(deletions == 1);
  }
  CHECK_THROWS_WITH(hci::from_dlpack(static_cast<DLManagedTensor*>(nullptr)), Contains("null DLPack tensor"));
}

TEST_CASE("round trips share memory", "[dlpack]") {
  SECTION("hci to hci gives back a view of the same tensor") {
    Tensor t = hci::arange(6, hci::kFloat64).reshape({2, 3});
    const Tensor back = hci::from_dlpack(hci::to_dlpack(t.t()));
    CHECK(back.sizes().vec() == std::vector<int64_t>{3, 2});
    CHECK(back.const_data_ptr<double>() == t.const_data_ptr<double>());
    const Tensor pending = back * 1;  // recorded on the shared memory
    t.mul_(2);                        // so computed first
    CHECK(pending.to_vector<double>() == std::vector<double>{0, 3, 1, 4, 2, 5});
    CHECK(back.to_vector<double>() == std::vector<double>{0, 6, 2, 8, 4, 10});
    const Tensor legacy = hci::from_dlpack(hci::to_dlpack_legacy(t));
    CHECK(legacy.const_data_ptr<double>() == t.const_data_ptr<double>());
  }

  SECTION("foreign to hci to a consumer and back") {
    int deletions = 0;
    auto* m = foreign_tensor<DLManagedTensor>(&deletions, {5, 6, 7}, {3}, {1});
    const float* buffer = foreign_buffer(m->dl_tensor);
    DLManagedTensorVersioned* out = nullptr;
    {
      const Tensor t = hci::from_dlpack(m);
      out = hci::to_dlpack(t.slice(0, 1));
    }
    CHECK(out->dl_tensor.data == buffer + 1);
    CHECK(deletions == 0);
    {
      const Tensor back = hci::from_dlpack(out);
      CHECK(back.to_vector<float>() == std::vector<float>{6, 7});
      CHECK(deletions == 0);
    }
    CHECK(deletions == 1);
  }
}

}  // namespace
