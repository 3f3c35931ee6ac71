// Layer normalisation composed from hci ops, and a small attention-style block: matmul, softmax
// over rows, and the layer norm after it. The elementwise steps fuse into the reductions and
// the final kernel; `HCI_PRINT_KERNELS=1` lists the kernels that ran.
#include <hci/hci.hpp>

#include <cstdlib>
#include <iostream>

namespace {

// y = (x - mean) / sqrt(var + eps) * gamma + beta over the last dim, with the biased variance
// as torch.nn.LayerNorm uses.
hci::Tensor layer_norm(const hci::Tensor& x, const hci::Tensor& gamma, const hci::Tensor& beta, double eps = 1e-5) {
  const hci::Tensor mean = x.mean({-1}, true);
  const hci::Tensor var = x.var({-1}, /*correction=*/0, true);
  return (x - mean) * hci::rsqrt(var + eps) * gamma + beta;
}

}  // namespace

int main() {
  hci::manual_seed(0);
  if (std::getenv("HCI_PRINT_KERNELS"))
    hci::set_launch_hook([](const hci::Kernel& k) {
      std::cout << "  kernel: " << k.structure.ops.size() << " ops, root " << hci::op_name(k.structure.root()) << ", "
                << k.bytes << " bytes, " << k.flops << " flops\n";
    });

  const int64_t tokens = 4, width = 8;
  const hci::Tensor x = hci::randn({tokens, width});
  const hci::Tensor gamma = hci::ones({width}), beta = hci::zeros({width});

  // Attention-like mixing: each token becomes a softmax-weighted average of all tokens.
  const hci::Tensor scores = hci::matmul(x, x.t()) / std::sqrt(double(width));
  const hci::Tensor mixed = hci::matmul(hci::softmax(scores, 1), x);
  const hci::Tensor y = layer_norm(mixed + x, gamma, beta);

  std::cout << "softmax(x x^T / sqrt(8)) rows sum to one:\n" << hci::softmax(scores, 1).sum({1}) << "\n";
  std::cout << "layer_norm(mixed + x):\n" << y << "\n";
  std::cout << "per-token mean (about 0): " << y.mean({1}) << "\n";
  std::cout << "per-token std  (about 1): " << y.std({1}, 0) << "\n";
  return 0;
}
