// A GPU the JIT generates code for, named as `HCI_JIT_TARGETS` names it: `sm_90` (NVIDIA: compute
// capability 9.0, PTX at the oldest ISA that architecture needs; `sm_90:ptx80` picks the ISA) or
// `gfx942` (AMD: the processor, at its native wave size; `gfx1100:w64` picks the wave size).
// AMD code objects are pinned to code-object version 5.
#pragma once

#include <hci/config.hpp>

#include <string>
#include <string_view>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit {

// The most threads per block AMD kernels are compiled for. Launches pick their block size (by
// occupancy on NVIDIA GPUs), any multiple of kGpuBlockGranule threads.
inline constexpr int kGpuBlockSize = 256;
// Block sizes are multiples of this: whole warps (of 32) and wave halves, so whole groups of the
// 8 threads that share a reduction's item.
inline constexpr int kGpuBlockGranule = 32;
inline constexpr int kAmdCodeObjectVersion = 5;
// The shared memory (LDS on AMD GPUs) a block may use, in bytes: what every GPU hci targets gives
// a kernel without asking, and what the SIMT emulator gives each block.
inline constexpr int kGpuSharedBytes = 48 << 10;

struct GpuTarget {
  // Emulated: GPU kernels compiled for the host, whose @hci.simt.* calls a host emulation of the
  // GPU answers (jit/simt_emulator.hpp); for testing GPU backends without a GPU. Not a target
  // HCI_JIT_TARGETS names.
  enum class Vendor { Nvidia, Amd, Emulated };
  Vendor vendor = Vendor::Nvidia;
  int sm = 0;       // NVIDIA: compute capability times ten (80, 90)
  int ptx = 0;      // NVIDIA: PTX ISA version times ten (78)
  std::string gfx;  // AMD: the processor (gfx90a, gfx942)
  int wave = 0;     // AMD: threads per wave, 32 or 64

  // Throws hci::Error naming what is wrong and what is accepted.
  static GpuTarget parse(std::string_view text);
  static GpuTarget emulated() {
    GpuTarget t;
    t.vendor = Vendor::Emulated;
    return t;
  }
  std::string name() const;      // canonical: sm_90:ptx78, gfx942:w64
  std::string triple() const;    // LLVM's target triple
  std::string cpu() const;       // LLVM's processor name
  std::string features() const;  // LLVM's feature string
  // The kind of code made for it: "ptx" (text the driver assembles) or "amdgpu" (a relocatable
  // object, linked into a code object before loading); "host" for the emulation.
  std::string code_kind() const { return vendor == Vendor::Nvidia ? "ptx" : vendor == Vendor::Amd ? "amdgpu" : "host"; }
  bool operator==(const GpuTarget&) const = default;
};

// A comma-separated list of targets, as HCI_JIT_TARGETS holds it; "" is none.
HCI_RUNTIME_DECL std::vector<GpuTarget> parse_gpu_targets(std::string_view list);

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>

#include <charconv>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// The PTX ISA each architecture LLVM 19 knows first appeared in (CUDA's ptxas accepts later ones).
struct PtxArchitecture {
  int sm, ptx;
};
inline constexpr PtxArchitecture kPtxArchitectures[] = {{70, 60}, {72, 61}, {75, 63}, {80, 70},
                                                        {86, 71}, {87, 74}, {89, 78}, {90, 78}};

inline bool parse_number(std::string_view text, int& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace jit::detail

HCI_RUNTIME_DEF jit::GpuTarget jit::GpuTarget::parse(std::string_view text) {
  const size_t colon = text.find(':');
  const std::string_view base = text.substr(0, colon);
  const std::string_view option = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  GpuTarget t;
  if (base.starts_with("sm_")) {
    t.vendor = Vendor::Nvidia;
    const bool known = detail::parse_number(base.substr(3), t.sm);
    for (const detail::PtxArchitecture& a : detail::kPtxArchitectures)
      if (known && a.sm == t.sm) t.ptx = a.ptx;
    HCI_CHECK(t.ptx != 0,
              "unknown NVIDIA GPU target '{}': the JIT knows sm_70, sm_72, sm_75, sm_80, sm_86, sm_87, "
              "sm_89 and sm_90",
              text);
    if (!option.empty()) {
      int ptx = 0;
      HCI_CHECK(option.starts_with("ptx") && detail::parse_number(option.substr(3), ptx),
                "GPU target '{}': the option after ':' is the PTX ISA, as ptx78", text);
      HCI_CHECK(ptx >= t.ptx && ptx <= 85, "GPU target '{}': sm_{} needs PTX ISA {}.{} to 8.5 (LLVM 19's newest)", text,
                t.sm, t.ptx / 10, t.ptx % 10);
      t.ptx = ptx;
    }
    return t;
  }
  HCI_CHECK(base.starts_with("gfx") && base.size() >= 6 && base.size() <= 7 &&
                base.find_first_not_of("0123456789abcdef", 3) == std::string_view::npos,
            "unknown GPU target '{}': name an NVIDIA architecture (sm_80, sm_90) or an AMD processor (gfx90a, gfx942)",
            text);
  t.vendor = Vendor::Amd;
  t.gfx = std::string(base);
  t.wave = base.size() == 7 ? 32 : 64;  // gfx10 and later run waves of 32 natively; gfx9 of 64
  if (!option.empty()) {
    HCI_CHECK(option == "w32" || option == "w64", "GPU target '{}': the option after ':' is the wave size, w32 or w64",
              text);
    t.wave = option == "w32" ? 32 : 64;
    HCI_CHECK(t.wave == 64 || base.size() == 7, "GPU target '{}': {} has waves of 64 only", text, base);
  }
  return t;
}

HCI_RUNTIME_DEF std::string jit::GpuTarget::name() const {
  switch (vendor) {
    case Vendor::Nvidia: return hci::detail::format("sm_{}:ptx{}", sm, ptx);
    case Vendor::Amd: return hci::detail::format("{}:w{}", gfx, wave);
    case Vendor::Emulated: break;
  }
  return "emulated";
}

// The emulation is compiled as host code: the host's triple and processor are the JIT's.
HCI_RUNTIME_DEF std::string jit::GpuTarget::triple() const {
  return vendor == Vendor::Nvidia ? "nvptx64-nvidia-cuda" : vendor == Vendor::Amd ? "amdgcn-amd-amdhsa" : "";
}

HCI_RUNTIME_DEF std::string jit::GpuTarget::cpu() const {
  return vendor == Vendor::Nvidia ? hci::detail::format("sm_{}", sm) : gfx;
}

HCI_RUNTIME_DEF std::string jit::GpuTarget::features() const {
  return vendor == Vendor::Nvidia ? hci::detail::format("+ptx{}", ptx)
         : vendor == Vendor::Amd  ? hci::detail::format("+wavefrontsize{}", wave)
                                  : "";
}

HCI_RUNTIME_DEF std::vector<jit::GpuTarget> jit::parse_gpu_targets(std::string_view list) {
  std::vector<GpuTarget> targets;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    if (!item.empty()) {
      GpuTarget t = GpuTarget::parse(item);
      bool seen = false;
      for (const GpuTarget& other : targets) seen = seen || other == t;
      if (!seen) targets.push_back(std::move(t));
    }
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return targets;
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
