// The built-in matrix multiply: cache-blocked (Goto's scheme), packed panels, and a register
// tile computed with vector instructions chosen at run time (AVX-512, AVX2+FMA, or the
// compiler's baseline). It serves every dtype and machines without a BLAS.
//
// Each element of C sums its K products in one fixed order (blocks of kKc, each in order), and
// the work is split over rows and columns only, so the result does not depend on the number of
// threads. It may differ in the last bits between machines with and without FMA.
#pragma once

#include <hci/cpu/thread_pool.hpp>
#include <hci/precise_fp.hpp>

#include <cstdint>

HCI_BEGIN_NAMESPACE

namespace cpu::gemm {

// A strided matrix view: element (i, j) at data[i * row_stride + j * col_stride].
template <class T>
struct Matrix {
  T* data;
  int64_t rows, cols, row_stride, col_stride;
};

// C = A * B, computing in Acc (C's element type): A's and B's elements are converted on packing.
template <class Acc, class TA, class TB>
void multiply(Matrix<const TA> a, Matrix<const TB> b, Matrix<Acc> c, ThreadPool& pool);

}  // namespace cpu::gemm

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace cpu::gemm {

inline constexpr int64_t kKc = 256;   // depth of a packed block (K)
inline constexpr int64_t kMc = 96;    // rows of A packed per block
inline constexpr int64_t kNc = 2048;  // columns of B packed per panel

enum class Isa { Baseline, Avx2, Avx512 };

inline Isa detect_isa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const Isa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
    return Isa::Baseline;
  }();
  return isa;
#else
  return Isa::Baseline;
#endif
}

// The register tile of each instruction set: kMr rows by two vectors of kVectorBytes.
template <Isa I>
struct Tile;
template <>
struct Tile<Isa::Baseline> {
  static constexpr int kVectorBytes = 16, kMr = 4;
};
template <>
struct Tile<Isa::Avx2> {
  static constexpr int kVectorBytes = 32, kMr = 6;
};
template <>
struct Tile<Isa::Avx512> {
  static constexpr int kVectorBytes = 64, kMr = 12;
};

template <class Acc, Isa I>
inline constexpr int kNr = 2 * Tile<I>::kVectorBytes / int(sizeof(Acc));

// The micro-kernel: c (mr x nr, row stride ldc) = or += a_panel * b_panel over kc, where the
// packed a_panel holds kMr values per k and b_panel kNr. Compiled once per instruction set, with
// multiply-adds contracted into FMA where the set has it.
#if defined(__clang__)
#define HCI_GEMM_TARGET(isa) __attribute__((target(isa)))
#define HCI_GEMM_CONTRACT _Pragma("clang fp contract(fast)")
#elif defined(__GNUC__)
#define HCI_GEMM_TARGET(isa) __attribute__((target(isa), optimize("fp-contract=fast")))
#define HCI_GEMM_CONTRACT
#endif

#define HCI_GEMM_MICRO_KERNEL_BODY                                                           \
  HCI_GEMM_CONTRACT                                                                          \
  constexpr int W = Tile<I>::kVectorBytes / int(sizeof(Acc)), MR = Tile<I>::kMr, NR = 2 * W; \
  typedef Acc V __attribute__((vector_size(Tile<I>::kVectorBytes)));                         \
  V acc[MR][2];                                                                              \
  _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = V{};         \
  for (int64_t k = 0; k < kc; ++k) {                                                         \
    V b0, b1;                                                                                \
    std::memcpy(&b0, b + k * NR, sizeof(V));                                                 \
    std::memcpy(&b1, b + k * NR + W, sizeof(V));                                             \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {                                  \
      const V ai = V{} + a[k * MR + i];                                                      \
      acc[i][0] += ai * b0;                                                                  \
      acc[i][1] += ai * b1;                                                                  \
    }                                                                                        \
  }                                                                                          \
  if (mr == MR && nr == NR) {                                                                \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; ++i) {                                  \
      for (int h = 0; h < 2; ++h) {                                                          \
        V v = acc[i][h];                                                                     \
        if (accumulate) {                                                                    \
          V old;                                                                             \
          std::memcpy(&old, c + i * ldc + h * W, sizeof(V));                                 \
          v = old + v;                                                                       \
        }                                                                                    \
        std::memcpy(c + i * ldc + h * W, &v, sizeof(V));                                     \
      }                                                                                      \
    }                                                                                        \
    return;                                                                                  \
  }                                                                                          \
  Acc tile[MR][NR];                                                                          \
  for (int i = 0; i < MR; ++i) {                                                             \
    std::memcpy(&tile[i][0], &acc[i][0], sizeof(V));                                         \
    std::memcpy(&tile[i][W], &acc[i][1], sizeof(V));                                         \
  }                                                                                          \
  for (int i = 0; i < mr; ++i)                                                               \
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i][j] : tile[i][j];

template <class Acc, Isa I>
struct MicroKernel;
template <class Acc>
struct MicroKernel<Acc, Isa::Baseline> {
  static constexpr Isa I = Isa::Baseline;
  static void run(int64_t kc, const Acc* a, const Acc* b, Acc* c, int64_t ldc, int mr, int nr, bool accumulate) {
    HCI_GEMM_MICRO_KERNEL_BODY
  }
};
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
template <class Acc>
struct MicroKernel<Acc, Isa::Avx2> {
  static constexpr Isa I = Isa::Avx2;
  HCI_GEMM_TARGET("avx2,fma")
  static void run(int64_t kc, const Acc* a, const Acc* b, Acc* c, int64_t ldc, int mr, int nr, bool accumulate) {
    HCI_GEMM_MICRO_KERNEL_BODY
  }
};
template <class Acc>
struct MicroKernel<Acc, Isa::Avx512> {
  static constexpr Isa I = Isa::Avx512;
  HCI_GEMM_TARGET("avx512f,avx512dq,avx512vl,fma")
  static void run(int64_t kc, const Acc* a, const Acc* b, Acc* c, int64_t ldc, int mr, int nr, bool accumulate) {
    HCI_GEMM_MICRO_KERNEL_BODY
  }
};
#endif
#undef HCI_GEMM_MICRO_KERNEL_BODY

// Packs rows [i0, i0 + m) x depth [k0, k0 + kc) of A into slivers of MR rows, zero-padded.
template <class Acc, int MR, class TA>
void pack_a(Matrix<const TA> a, int64_t i0, int64_t m, int64_t k0, int64_t kc, Acc* out) {
  for (int64_t s = 0; s < m; s += MR)
    for (int64_t k = 0; k < kc; ++k)
      for (int i = 0; i < MR; ++i) {
        const int64_t row = i0 + s + i;
        *out++ = s + i < m ? Acc(a.data[row * a.row_stride + (k0 + k) * a.col_stride]) : Acc(0);
      }
}

// Packs depth [k0, k0 + kc) x columns [j0, j0 + n) of B into slivers of NR columns, zero-padded.
template <class Acc, int NR, class TB>
void pack_b(Matrix<const TB> b, int64_t k0, int64_t kc, int64_t j0, int64_t n, Acc* out) {
  for (int64_t s = 0; s < n; s += NR)
    for (int64_t k = 0; k < kc; ++k)
      for (int j = 0; j < NR; ++j) {
        const int64_t col = j0 + s + j;
        *out++ = s + j < n ? Acc(b.data[(k0 + k) * b.row_stride + col * b.col_stride]) : Acc(0);
      }
}

template <class Acc, Isa I, class TA, class TB>
void multiply_with(Matrix<const TA> a, Matrix<const TB> b, Matrix<Acc> c, ThreadPool& pool) {
  constexpr int MR = Tile<I>::kMr, NR = kNr<Acc, I>;
  const int64_t m = a.rows, n = b.cols, depth = a.cols;
  if (depth == 0) {  // an empty sum
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c.data[i * c.row_stride + j * c.col_stride] = Acc(0);
    return;
  }
  const bool direct = c.col_stride == 1;  // otherwise tiles go through a contiguous scratch C
  std::vector<Acc> scratch(direct ? 0 : size_t(m * n));
  Acc* out = direct ? c.data : scratch.data();
  const int64_t ldc = direct ? c.row_stride : n;
  const int64_t m_blocks = (m + kMc - 1) / kMc;
  for (int64_t j0 = 0; j0 < n; j0 += kNc) {
    const int64_t nc = std::min(kNc, n - j0);
    const int64_t n_padded = (nc + NR - 1) / NR * NR;
    std::vector<Acc> b_panel(size_t(kKc * n_padded));
    for (int64_t k0 = 0; k0 < depth; k0 += kKc) {
      const int64_t kc = std::min(kKc, depth - k0);
      pack_b<Acc, NR>(b, k0, kc, j0, nc, b_panel.data());
      const int parts = int(std::min<int64_t>(m_blocks, pool.size()));
      pool.run(parts, [&](int part) {
        hci::detail::PreciseFloatMode mode;
        std::vector<Acc> a_block(size_t((kMc + MR) * kc));
        for (int64_t block = m_blocks * part / parts; block < m_blocks * (part + 1) / parts; ++block) {
          const int64_t i0 = block * kMc, mc = std::min(kMc, m - i0);
          pack_a<Acc, MR>(a, i0, mc, k0, kc, a_block.data());
          for (int64_t js = 0; js < nc; js += NR)
            for (int64_t is = 0; is < mc; is += MR)
              MicroKernel<Acc, I>::run(kc, a_block.data() + is * kc, b_panel.data() + js * kc,
                                       out + (i0 + is) * ldc + j0 + js, ldc, int(std::min<int64_t>(MR, mc - is)),
                                       int(std::min<int64_t>(NR, nc - js)), k0 > 0);
        }
      });
    }
  }
  if (!direct)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c.data[i * c.row_stride + j * c.col_stride] = scratch[size_t(i * n + j)];
}

template <class Acc, class TA, class TB>
void multiply(Matrix<const TA> a, Matrix<const TB> b, Matrix<Acc> c, ThreadPool& pool) {
  switch (detect_isa()) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case Isa::Avx512: return multiply_with<Acc, Isa::Avx512>(a, b, c, pool);
    case Isa::Avx2: return multiply_with<Acc, Isa::Avx2>(a, b, c, pool);
#endif
    default: return multiply_with<Acc, Isa::Baseline>(a, b, c, pool);
  }
}

}  // namespace cpu::gemm

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
