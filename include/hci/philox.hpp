// Counter-based Philox4x32-10 random numbers: element i of a draw depends only on the seed
// and its counter, so results never depend on threads, chunking or evaluation order.
#pragma once

#include <hci/config.hpp>

#include <array>
#include <atomic>
#include <cstdint>

HCI_BEGIN_NAMESPACE

namespace detail {

inline std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u, kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kMul0) * ctr[0];
    const uint64_t p1 = uint64_t(kMul1) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ key[1], uint32_t(p0)};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return ctr;
}

// The default generator: a seed and the next unused counter.
struct Generator {
  std::atomic<uint64_t> seed{67280421310721ull};
  std::atomic<uint64_t> offset{0};
};

inline Generator& default_generator() {
  static Generator g;
  return g;
}

// Four random words for element `index` of the draw that starts at counter `offset`.
inline std::array<uint32_t, 4> philox_words(uint64_t seed, uint64_t offset, uint64_t index) {
  const uint64_t counter = offset + index;
  return philox4x32_10({uint32_t(counter), uint32_t(counter >> 32), 0, 0}, {uint32_t(seed), uint32_t(seed >> 32)});
}

}  // namespace detail

// Seeds the default generator, as torch.manual_seed.
inline void manual_seed(uint64_t seed) {
  detail::default_generator().seed = seed;
  detail::default_generator().offset = 0;
}

HCI_END_NAMESPACE
