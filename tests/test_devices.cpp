// The core on a device whose memory the host cannot address and whose work is asynchronous:
// everything goes through the backend interface, in stream order.
#include "fake_device.hpp"

#include <hci/rocm/hip.hpp>

#include <catch2/catch.hpp>

TEST_CASE("tensors live and compute on a non-host device", "[device]") {
  const hci::Device dev = fake::device();
  const hci::Tensor a = hci::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}, hci::TensorOptions().device(dev));
  CHECK(a.device() == dev);
  const hci::Tensor b = hci::ones({3}, hci::TensorOptions().device(dev));
  const hci::Tensor c = (a * 2 + b).t().contiguous();
  CHECK(c.device() == dev);
  CHECK(c.to_vector<float>() == std::vector<float>{3, 9, 5, 11, 7, 13});
  CHECK(c.sum().item<float>() == 48);
  CHECK(hci::amax(a, {0}).to_vector<float>() == std::vector<float>{4, 5, 6});
  const hci::Tensor on_cpu = c.to(hci::Device::cpu());
  CHECK(on_cpu.device().is_cpu());
  CHECK(on_cpu.to_vector<float>() == c.to_vector<float>());
  CHECK(on_cpu.to(dev).to(hci::Device(hci::DeviceType::PrivateUse, 1)).to_vector<float>() == c.to_vector<float>());
}

TEST_CASE("in-place ops and pending readers on a device", "[device][inplace]") {
  const hci::Device dev = fake::device();
  fake::backend().launch_delay_us = 2000;  // work is still queued when the host moves on
  hci::Tensor a = hci::zeros({1000}, hci::TensorOptions().device(dev));
  const hci::Tensor before = a + 1;
  a.fill_(5);
  a.slice(0, 0, 10).add_(1);
  CHECK(before.sum().item<float>() == 1000);
  CHECK(a.sum().item<float>() == 5010);
  fake::backend().launch_delay_us = 0;
}

TEST_CASE("device addresses are handed out but never dereferenced by the core", "[device]") {
  const hci::Device dev = fake::device();
  hci::Tensor a = hci::ones({4}, hci::TensorOptions().device(dev));
  float* p = a.data_ptr<float>();  // a device address, meaningful to device code only
  CHECK(reinterpret_cast<uintptr_t>(p) & fake::kScramble);
  CHECK_THROWS_WITH((a.accessor<float, 1>()), Catch::Contains("the host cannot address"));
}

TEST_CASE("buffers are freed in stream order, after the work that reads them", "[device]") {
  const hci::Device dev = fake::device();
  auto& backend = fake::backend();
  hci::synchronize(dev);
  backend.trace.clear();
  const int live = backend.live_allocations;
  backend.launch_delay_us = 5000;
  {
    hci::Tensor x = hci::full({64}, 2.0, hci::TensorOptions().device(dev));
    hci::Tensor y = x * 3;
    hci::eval(y);  // enqueued: fill x, then y = x * 3
  }  // both dropped while their kernels may still be queued
  hci::synchronize(dev);
  backend.launch_delay_us = 0;
  CHECK(backend.live_allocations == live);
  const auto& t = backend.trace;
  const auto last_launch = std::find(t.rbegin(), t.rend(), "launch");
  const auto first_free = std::find(t.begin(), t.end(), "free");
  REQUIRE(last_launch != t.rend());
  REQUIRE(first_free != t.end());
  CHECK(std::distance(t.begin(), first_free) > std::distance(t.begin(), last_launch.base() - 1));
}

TEST_CASE("device errors are clear", "[device][errors]") {
  const hci::Device dev = fake::device();
  const hci::Tensor a = hci::ones({2}, hci::TensorOptions().device(dev));
  const hci::Tensor cpu = hci::ones({2});
  CHECK_THROWS_WITH(a + cpu,
                    Catch::Contains("same device") && Catch::Contains("privateuse:0") && Catch::Contains("cpu"));
  CHECK_THROWS_WITH(hci::ones({2}, hci::TensorOptions().device(hci::Device(hci::DeviceType::PrivateUse, 7))),
                    Catch::Contains("index out of range"));
  if (!hci::rocm::hip().api)  // no HIP runtime, or no AMD GPU: HIP's reason, in the error
    CHECK_THROWS_WITH(
        hci::ones({2}, hci::TensorOptions().device(hci::Device::rocm(0))),
        Catch::Contains("device rocm:0: backend rocm is unavailable: ") && Catch::Contains(hci::rocm::hip().reason));
  if (!hci::cuda::driver().api)  // no driver: the reason, in the error
    CHECK_THROWS_WITH(
        hci::ones({2}, hci::TensorOptions().device(hci::Device::cuda(0))),
        Catch::Contains("device cuda:0: backend cuda is unavailable: ") && Catch::Contains(hci::cuda::driver().reason));
}

TEST_CASE("a launch failure names the op and where it was recorded", "[device][errors]") {
  const hci::Device dev = fake::device();
  const hci::Tensor a = hci::ones({8}, hci::TensorOptions().device(dev));
  hci::eval(a);
  fake::backend().fail_next_launch = true;  // eager mode evaluates, and fails, on the next line
  hci::Tensor b;
  const int line = __LINE__ + 2;
  try {
    b = hci::exp(a);
    hci::eval(b);
    FAIL("expected the injected fault");
  } catch (const hci::Error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("injected fault"));
    CHECK_THAT(message, Catch::Contains("exp recorded at"));
    CHECK_THAT(message, Catch::Contains("test_devices.cpp:" + std::to_string(line)));
  }
  // The graph is intact: it can run again.
  CHECK(hci::exp(a).to_vector<float>()[0] == Approx(std::exp(1.0f)));
}

TEST_CASE("pin_memory without a GPU is an hci::Error saying why", "[device][error]") {
  if (!hci::Device::best().is_cpu()) return;  // a GPU here: pinning works, as the GPU tests check
  CHECK_THROWS_WITH(hci::ones({3}).pin_memory(),
                    Catch::Contains("pin_memory") && Catch::Contains("no CUDA or ROCm device"));
}
