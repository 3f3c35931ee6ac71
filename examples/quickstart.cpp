// A first tour of hci on the default (CPU) device: tensors, lazy fused evaluation,
// reductions, views, in-place updates and errors.
#include <hci/hci.hpp>

#include <iostream>

int main() {
  hci::manual_seed(0);

  // Operations are recorded, not run: this chain becomes one fused kernel when it is read.
  const hci::Tensor x = hci::linspace(-2, 2, 6).reshape({2, 3});
  const hci::Tensor w = hci::randn({2, 3});
  const hci::Tensor y = hci::relu(x * w + 1) * 0.5 + hci::exp(-x);
  std::cout << "x =\n" << x << "\ny = relu(x * w + 1) * 0.5 + exp(-x) =\n" << y << "\n";

  // Reductions over any dims, with or without keepdim.
  std::cout << "sum over rows: " << y.sum({1}) << "\nmean of all:   " << y.mean() << "\n";

  // Views share memory; broadcasting and type promotion follow PyTorch.
  const hci::Tensor counts = hci::arange(6).reshape({3, 2}).t();
  std::cout << "int64 counts transposed * 2.5 (float32): " << counts * 2.5 << "\n";

  // Laziness never changes a result: b keeps the value a had when b was recorded.
  hci::Tensor a = hci::ones({3});
  const hci::Tensor b = a * 2;
  a.add_(1);
  std::cout << "a after add_(1): " << a << ", b recorded before it: " << b << "\n";

  // Bad input is a clear hci::Error naming the op, the shapes and where it was written.
  try {
    (void)(hci::ones({2, 3}) + hci::ones({4}));
  } catch (const hci::Error& e) {
    std::cout << "hci::Error: " << e.what() << "\n";
  }
  return 0;
}
