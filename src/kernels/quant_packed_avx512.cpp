// AVX-512 (VNNI) kernels for packed Q4_0 / Q8_0 rows (packed_layout.h)
// against A32T activations (act_format.h).
//
// A super-group of 16 blocks is 8 planes of 64 bytes on each side: plane k
// holds elements 4k .. 4k+3 of every block, one block per 32-bit lane. So
// per super-group and (row, token):
//   dot = corr; dot = vpdpbusd(dot, w_k, a_k) for k = 0..7    exact int32, lane b = block b
//   acc += float(dot) * (dw * da)                             one F32 scale per block
// The weight quants are unsigned (Q4_0 nibbles are q + 8; packed Q8_0 bytes
// q + 128) and corr = -offset * sum(a) per block (from the activation
// quantizer) takes the offset back out exactly. Each (row, token) has its own
// accumulator, reduced by one fixed hsum, so results do not depend on the
// tile shape or the thread split.
//
// Decoding (one token) goes one row at a time (decode_rows): the packed rows
// are then read as one linear stream; four rows read in step are four short
// streams (a 2048-wide Q4_0 row is 18 cache lines) and measured ~15 % slower
// from memory.
#include "kernels/act_format.h"
#include "kernels/matmul_table.h"
#include "kernels/packed_layout.h"
#include "kernels/simd_avx512.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx512;

constexpr int kGroup = kPackedGroupBlocks;

// Reads the m (<= 16) F16 scales of a super-group; kFull: m == 16, else a
// masked load (zero scales in the missing lanes).
template <bool kFull>
inline __m512 load_scales(const uint8_t* g, int m) {
  if constexpr (kFull) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g)));
  } else {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << m) - 1), g));
  }
}

// Plane k of kPlanes of a super-group of m blocks. In a partial one (the
// last of a row) the lanes past m hold the next planes' bytes: harmless, as
// the activations' missing blocks are zero (and so are their scales). Only
// loads that would reach past the row are masked. (Masked loads of the
// weight stream itself run at about half the speed.)
template <bool kFull, int kPlanes>
inline __m512i load_plane(const uint8_t* planes, int m, int k) {
  if constexpr (kFull) {
    return load512(planes + 64 * k);
  } else {
    if (m * (kPlanes - k) >= 16) return load512(planes + 4 * m * k);
    return _mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << m) - 1), planes + 4 * m * k);
  }
}

// A weight type gives, for stored plane p (0 .. kStored-1) of a super-group,
// the unsigned quants that go with activation planes p (and p + 4 when
// kSplit: Q4_0's low and high nibbles).
struct PackedQ4_0 {
  static constexpr GgmlType kType = GgmlType::Q4_0;
  static constexpr int kOffset = 8, kStored = 4;
  static constexpr bool kSplit = true;
  static constexpr bool kDecodePrefetch = true;  // see qtile
  template <bool kFull>
  static void planes(const uint8_t* g, int m, int p, __m512i (&q)[2]) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    __m512i x = load_plane<kFull, kStored>(g, m, p);
    // One load into a register: GCC would otherwise fold the load into both
    // users, and two loads per weight line leave fewer lines in flight (the
    // loop keeps less memory traffic going: ~4 % from memory).
    __asm__("" : "+v"(x));
    q[0] = _mm512_and_si512(x, low);
    q[1] = _mm512_and_si512(_mm512_srli_epi16(x, 4), low);
  }
};

struct PackedQ8_0 {
  static constexpr GgmlType kType = GgmlType::Q8_0;
  static constexpr int kOffset = 128, kStored = 8;
  static constexpr bool kSplit = false;
  static constexpr bool kDecodePrefetch = false;
  template <bool kFull>
  static void planes(const uint8_t* g, int m, int p, __m512i (&q)[2]) {
    q[0] = load_plane<kFull, kStored>(g, m, p);
  }
};

template <class T>
struct PackedKernels {
  static constexpr GgmlType kActType = GgmlType::Q8_0;
  // Registers: NR * NT int32 sums and as many F32 accumulators, NT * 2
  // activation planes, a row's planes: 4 x 2 fits in the 32 zmm registers.
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 2;
  static constexpr bool kDecodeByRow = true;
  static constexpr size_t kGroupBytes = static_cast<size_t>(kGroup) * 4 * T::kStored;  // planes only

  static size_t act_row_bytes(int64_t cols) { return A32T::row_bytes(cols); }
  static void quantize_act(const float* x, int64_t cols, uint8_t* out) {
    quantize_a32t_avx2(x, cols, out, T::kOffset);
  }

  // Super-group (m blocks) of rows[i] against NT tokens, whose activations
  // for this super-group are at xq + j * xq_row_bytes. Plane by plane, each
  // plane of every row against every token: each 512-bit load (one per
  // cycle on Zen 4, the limit here) then feeds NR or NT vpdpbusd, and the
  // NR * NT dependency chains interleave (GCC keeps this order). A one-row,
  // one-token tile (decoding) splits its chain in two instead.
  template <int NR, int NT, bool kFull>
  static void group(const uint8_t* const rows[NR], const uint8_t* const scales[NR], int m, const uint8_t* xq,
                    size_t xq_row_bytes, __m512 (&acc)[NR][NT]) {
    constexpr int kChains = NR * NT >= 2 ? 1 : 2;
    __m512i dots[NR][NT][kChains];
#pragma GCC unroll 4
    for (int j = 0; j < NT; ++j) {
      const __m512i corr = load512(xq + j * xq_row_bytes + A32T::kCorrOff);
#pragma GCC unroll 4
      for (int i = 0; i < NR; ++i) {
        dots[i][j][0] = corr;
        if constexpr (kChains == 2) dots[i][j][1] = _mm512_setzero_si512();
      }
    }
    constexpr int kPer = T::kSplit ? 2 : 1;
#pragma GCC unroll 8
    for (int p = 0; p < T::kStored; ++p) {
      __m512i a[NT][kPer];
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) {
        a[j][0] = load512(xq + j * xq_row_bytes + 64 * p);
        if constexpr (T::kSplit) a[j][1] = load512(xq + j * xq_row_bytes + 64 * (p + 4));
      }
#pragma GCC unroll 4
      for (int i = 0; i < NR; ++i) {
        __m512i q[2];
        T::template planes<kFull>(rows[i], m, p, q);
#pragma GCC unroll 2
        for (int h = 0; h < kPer; ++h) {
#pragma GCC unroll 4
          for (int j = 0; j < NT; ++j) {
            __m512i& dot = dots[i][j][(p * kPer + h) % kChains];
            dot = _mm512_dpbusd_epi32(dot, q[h], a[j][h]);
          }
        }
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
      const __m512 wd = load_scales<kFull>(scales[i], m);
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) {
        __m512i dot = dots[i][j][0];
        if constexpr (kChains == 2) dot = _mm512_add_epi32(dot, dots[i][j][1]);
        const float* da = reinterpret_cast<const float*>(xq + j * xq_row_bytes + A32T::kDOff);
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd, _mm512_load_ps(da)), acc[i][j]);
      }
    }
  }

  template <int NR, int NT>
  static void qtile(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                    float* y, int64_t y_stride) {
    const int64_t nb = cols / 32;
    const int64_t full = nb / kGroup;
    __m512 acc[NR][NT];
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_setzero_ps();
    }
    const uint8_t* rows[NR];
    const uint8_t* scales[NR];
    const size_t scales_off = packed_scales_offset(T::kType, nb);
    // Q4_0 decoding prefetches each super-group's planes and scales ~12 KiB
    // ahead, as the GGUF-layout kernels do: a row is two streams (its
    // planes, and its scales after them: 2.8 KB further in a 5632-wide down
    // projection), which the hardware prefetchers alone followed poorly
    // (TinyLlama Q4_0, a decoding step's matrices from memory, alternating:
    // 83-85 -> 93-95 % of a plain read of the same bytes; tg64 against the
    // previous binary 67 / 73 -> 72 / 77 % of the roofline). Q8_0 decoding
    // does not: the same prefetch took it from 99-101 to 83 % (its kernel
    // has half the work per weight line, and the prefetches take the L1 miss
    // buffers its own loads would use).
    const size_t ahead = prefetch_ahead(NR * row_bytes);
    for (int64_t s = 0; s < full; ++s) {
#pragma GCC unroll 4
      for (int i = 0; i < NR; ++i) {
        rows[i] = w + i * row_bytes + s * kGroupBytes;
        scales[i] = w + i * row_bytes + scales_off + s * 2 * kGroup;
      }
      if constexpr (NT == 1 && T::kDecodePrefetch) {
#pragma GCC unroll 4
        for (int i = 0; i < NR; ++i) {
          prefetch_bytes<kGroupBytes>(rows[i] + ahead);
          _mm_prefetch(reinterpret_cast<const char*>(scales[i] + ahead), _MM_HINT_T0);
        }
      }
      group<NR, NT, true>(rows, scales, kGroup, xq + s * A32T::kGroupBytes, xq_row_bytes, acc);
    }
    if (const int m = static_cast<int>(nb - full * kGroup); m != 0) {
      for (int i = 0; i < NR; ++i) {
        rows[i] = w + i * row_bytes + full * kGroupBytes;
        scales[i] = w + i * row_bytes + scales_off + full * 2 * kGroup;
      }
      group<NR, NT, false>(rows, scales, m, xq + full * A32T::kGroupBytes, xq_row_bytes, acc);
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) y[j * y_stride + i] = hsum(acc[i][j]);
    }
  }

  // Decoding (get_row) unpacks and uses the scalar reference: not hot.
  static void to_f32(const uint8_t* row, int64_t cols, float* out) { packed_to_f32(T::kType, row, cols, out); }
};

}  // namespace

const TypeKernels* find_avx512_packed_kernels(GgmlType type) {
  static constexpr KernelEntry kTable[] = {
      {GgmlType::Q4_0, make_quant_type_kernels<PackedKernels<PackedQ4_0>>()},
      {GgmlType::Q8_0, make_quant_type_kernels<PackedKernels<PackedQ8_0>>()},
  };
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return find_avx512_packed_k_kernels(type);
}

}  // namespace hearth::kernels::detail
