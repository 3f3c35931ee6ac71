// Printing against PyTorch's own text for the same tensors (its str(), with "torch." dropped
// from dtype names, which lets a dtype stay on a last line PyTorch would break): element modes,
// alignment, line wrapping, nesting and summarisation.
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <sstream>

namespace {

std::string str(const hci::Tensor& t) {
  std::ostringstream os;
  os << t;
  CHECK(fmt::format("{}", t) == os.str());  // the fmt formatter writes the same text
  return os.str();
}

}  // namespace

TEST_CASE("tensors print as PyTorch prints them", "[print]") {
  CHECK(str(hci::ones({3}) * 2) == "tensor([2., 2., 2.])");
  CHECK(str(hci::arange(6).reshape({2, 3})) == "tensor([[0, 1, 2],\n        [3, 4, 5]])");
  CHECK(str(hci::linspace(-1, 1, 5)) == "tensor([-1.0000, -0.5000,  0.0000,  0.5000,  1.0000])");
  CHECK(str(hci::linspace(-1, 1, 1)) == "tensor([-1.])");  // one step is the start, as PyTorch's
  CHECK(str(hci::from_vector(std::vector<double>{1e-5, 1, 1e5})) ==
        "tensor([1.0000e-05, 1.0000e+00, 1.0000e+05], dtype=float64)");
  CHECK(str(hci::arange(4) > 1) == "tensor([False, False,  True,  True])");
  CHECK(str(hci::arange(24).reshape({2, 3, 4})) ==
        "tensor([[[ 0,  1,  2,  3],\n"
        "         [ 4,  5,  6,  7],\n"
        "         [ 8,  9, 10, 11]],\n"
        "\n"
        "        [[12, 13, 14, 15],\n"
        "         [16, 17, 18, 19],\n"
        "         [20, 21, 22, 23]]])");
  CHECK(str(hci::arange(5000)) == "tensor([   0,    1,    2,  ..., 4997, 4998, 4999])");
  CHECK(str(hci::zeros({0, 3})) == "tensor([], size=(0, 3))");
  CHECK(str(hci::zeros({0})) == "tensor([])");
  CHECK(str(hci::full({}, 3.5)) == "tensor(3.5000)");
  CHECK(str(hci::from_vector(std::vector<float>{NAN, 1.5f, -INFINITY})) == "tensor([   nan, 1.5000,   -inf])");
  CHECK(str(hci::arange(30).to(hci::kFloat16) * 1.5) ==
        "tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n"
        "        12.0000, 13.5000, 15.0000, 16.5000, 18.0000, 19.5000, 21.0000, 22.5000,\n"
        "        24.0000, 25.5000, 27.0000, 28.5000, 30.0000, 31.5000, 33.0000, 34.5000,\n"
        "        36.0000, 37.5000, 39.0000, 40.5000, 42.0000, 43.5000], dtype=float16)");
  CHECK(str(hci::arange(2000).reshape({40, 50}).to(hci::kFloat64) / 7) ==
        "tensor([[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 6.7143e+00, 6.8571e+00,\n"
        "         7.0000e+00],\n"
        "        [7.1429e+00, 7.2857e+00, 7.4286e+00,  ..., 1.3857e+01, 1.4000e+01,\n"
        "         1.4143e+01],\n"
        "        [1.4286e+01, 1.4429e+01, 1.4571e+01,  ..., 2.1000e+01, 2.1143e+01,\n"
        "         2.1286e+01],\n"
        "        ...,\n"
        "        [2.6429e+02, 2.6443e+02, 2.6457e+02,  ..., 2.7100e+02, 2.7114e+02,\n"
        "         2.7129e+02],\n"
        "        [2.7143e+02, 2.7157e+02, 2.7171e+02,  ..., 2.7814e+02, 2.7829e+02,\n"
        "         2.7843e+02],\n"
        "        [2.7857e+02, 2.7871e+02, 2.7886e+02,  ..., 2.8529e+02, 2.8543e+02,\n"
        "         2.8557e+02]], dtype=float64)");
  CHECK(str(hci::Tensor()) == "[ Tensor (undefined) ]");
}
