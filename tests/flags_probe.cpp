// Prints a hash of each of a battery of results. Built twice, at -O0 and at
// -O3 -march=native -ffast-math: the outputs must be identical, because hci's results must not
// depend on the flags its users compile with.
#include <hci/hci.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace {

uint64_t hash_bytes(const void* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 1099511628211ull;
  return h;
}

// NaN sign and payload are not specified (compilers may swap the operands of commutative
// operations, which picks the other NaN), so NaNs are made canonical before hashing.
template <class T>
void report(const char* name, const hci::Tensor& t) {
  auto v = t.to_vector<T>();
  if constexpr (std::is_floating_point_v<T>) {
    for (T& x : v)
      if (hci::math::is_nan(x)) x = std::numeric_limits<T>::quiet_NaN();  // std::isnan folds away under -ffast-math
  }
  std::printf("%-28s %016llx\n", name, static_cast<unsigned long long>(hash_bytes(v.data(), v.size() * sizeof(T))));
}

}  // namespace

int main() {
  hci::manual_seed(42);
  // Values across the whole range, subnormals, infinities and NaNs included.
  hci::Tensor x = hci::randn({20000}) * 30;
  hci::Tensor tiny = hci::rand({1000}) * 1e-38;
  const hci::Tensor special = hci::from_vector<float>({0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, 88.7f, -103.9f});
  x = hci::where(x > 0, x, x * 0.5);
  for (const hci::Tensor& in : {x, tiny, special}) {
    report<float>("exp", hci::exp(in));
    report<float>("log", hci::log(hci::abs(in)));
    report<float>("tanh", hci::tanh(in));
    report<float>("sigmoid", hci::sigmoid(in));
    report<float>("sqrt", hci::sqrt(hci::abs(in)));
    report<double>("exp f64", hci::exp(in.to(hci::kFloat64)));
    report<double>("log f64", hci::log(hci::abs(in.to(hci::kFloat64))));
    report<float>("chain", hci::relu(in * 1.1 + 0.3) * 0.5 + hci::exp(-in));
    report<float>("f16 chain", ((in.to(hci::kFloat16) * 3.3 + 0.7) / 3.3).to(hci::kFloat32));
    report<float>("bf16 chain", ((in.to(hci::kBFloat16) * 3.3 + 0.7) / 3.3).to(hci::kFloat32));
    report<float>("sum", (in * 1.5).sum());
    report<float>("mean rows", hci::mean(in.reshape({-1, in.numel() % 8 == 0 ? 8 : 1}), {1}));
    report<float>("amax", hci::amax(in));
    report<int64_t>("to int64", hci::where(hci::abs(in) < 1e9, in, 0).to(hci::kInt64));
    report<uint8_t>("compare", (in < 0.25).to(hci::kUInt8));
  }
  report<float>("randn", hci::randn({5000}));
  report<double>("rand f64", hci::rand({5000}, hci::kFloat64));
  return 0;
}
