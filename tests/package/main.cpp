// Uses hci from a project of its own: a fused expression, a reduction and a view.
#include <hci/hci.hpp>

#include <cstdio>

int main() {
  const hci::Tensor x = hci::arange(12).reshape({3, 4}).to(hci::kFloat32);
  const float total = (x.t() * 2 + 1).sum().item<float>();
  std::printf("hci %s: %g\n", HCI_VERSION_STRING, total);
  return total == 144.0f ? 0 : 1;
}
