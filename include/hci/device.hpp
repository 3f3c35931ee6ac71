// hci::Device: a device type and index, parsed from and printed as "cpu", "cuda:1", "rocm:0".
#pragma once

#include <hci/error.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

HCI_BEGIN_NAMESPACE

// `PrivateUse` is a device type for out-of-tree backends, as in PyTorch (tests register a
// device there whose memory the host cannot address).
enum class DeviceType : uint8_t { CPU, CUDA, ROCm, PrivateUse };
inline constexpr int kNumDeviceTypes = 4;

constexpr std::string_view device_type_name(DeviceType t) {
  constexpr std::string_view names[] = {"cpu", "cuda", "rocm", "privateuse"};
  return names[static_cast<int>(t)];
}

class Device {
 public:
  constexpr Device() = default;
  constexpr Device(DeviceType type, int index) : type_(type), index_(index) {}  // NOLINT

  // "cpu", "cuda", "cuda:1", "rocm:0"; an index omitted means 0.
  explicit Device(std::string_view spec) {
    const auto colon = spec.find(':');
    const std::string_view name = spec.substr(0, colon);
    bool known = false;
    for (int t = 0; t < kNumDeviceTypes; ++t) {
      if (device_type_name(static_cast<DeviceType>(t)) == name) {
        type_ = static_cast<DeviceType>(t);
        known = true;
      }
    }
    HCI_CHECK(known,
              "Device: unknown device type in \"{}\" (expected cpu, cuda, rocm or privateuse, "
              "optionally followed by :index)",
              spec);
    if (colon == std::string_view::npos) return;
    const std::string_view digits = spec.substr(colon + 1);
    HCI_CHECK(!digits.empty() && digits.size() <= 6 && digits.find_first_not_of("0123456789") == std::string_view::npos,
              "Device: bad index in \"{}\" (expected a non-negative integer after ':')", spec);
    index_ = 0;
    for (char c : digits) index_ = index_ * 10 + (c - '0');
  }
  explicit Device(const char* spec) : Device(std::string_view(spec)) {}
  explicit Device(const std::string& spec) : Device(std::string_view(spec)) {}

  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  static constexpr Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  static constexpr Device rocm(int index = 0) { return {DeviceType::ROCm, index}; }
  // The device to use where the choice is hci's: the GPU with the most free memory (what its
  // driver reports free plus what hci's cache holds), else the CPU.
  HCI_RUNTIME_DECL static Device best();

  constexpr DeviceType type() const { return type_; }
  constexpr int index() const { return index_; }
  constexpr bool is_cpu() const { return type_ == DeviceType::CPU; }

  std::string str() const {
    if (type_ == DeviceType::CPU && index_ == 0) return "cpu";
    return detail::format("{}:{}", device_type_name(type_), index_);
  }

  friend constexpr bool operator==(Device, Device) = default;

 private:
  DeviceType type_ = DeviceType::CPU;
  int index_ = 0;
};

HCI_END_NAMESPACE

// Printed as text without format specs: a plain formatter keeps fmt's spec parsing out of every
// translation unit that formats one.
template <>
struct fmt::formatter<hci::Device> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  auto format(const hci::Device& d, format_context& ctx) const {
    const auto text = d.str();
    return std::copy(text.begin(), text.end(), ctx.out());
  }
};
