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
// are then read as one linear stream, which the hardware prefetchers follow; four rows read
// in step are four short streams (a 2048-wide Q4_0 row is 18 cache lines)
// and measured ~15 % slower from memory.
#include "kernels/act_format.h"
#include "kernels/matmul_table.h"
#include "kernels/packed_layout.h"
#include "kernels/simd_avx512.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx512;

constexpr int kGroup = kPackedGroupBlocks;

// One super-group of one row: the eight unsigned quant planes and the block
// scales.
struct GroupWeights {
  __m512i plane[8];
  __m512 d;
};

// Reads the m (<= 16) F16 scales of a super-group and where its planes start;
// kFull: m == 16, else masked loads that touch nothing past the row.
template <bool kFull>
inline __m512 load_scales(const uint8_t* g, int m) {
  if constexpr (kFull) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g)));
  } else {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << m) - 1), g));
  }
}

template <bool kFull>
inline __m512i load_plane(const uint8_t* planes, int m, int k) {
  if constexpr (kFull) {
    return load512(planes + 64 * k);
  } else {
    return _mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << m) - 1), planes + 4 * m * k);
  }
}

struct PackedQ4_0 {
  static constexpr GgmlType kType = GgmlType::Q4_0;
  static constexpr int kBlockBytes = 18, kOffset = 8;
  template <bool kFull>
  static void load(const uint8_t* g, int m, GroupWeights& w) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    w.d = load_scales<kFull>(g, m);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i x = load_plane<kFull>(g + 2 * m, m, k);
      w.plane[k] = _mm512_and_si512(x, m4);
      w.plane[k + 4] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
    }
  }
};

struct PackedQ8_0 {
  static constexpr GgmlType kType = GgmlType::Q8_0;
  static constexpr int kBlockBytes = 34, kOffset = 128;
  template <bool kFull>
  static void load(const uint8_t* g, int m, GroupWeights& w) {
    w.d = load_scales<kFull>(g, m);
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) w.plane[k] = load_plane<kFull>(g + 2 * m, m, k);
  }
};

template <class T>
struct PackedKernels {
  static constexpr GgmlType kActType = GgmlType::Q8_0;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 4;
  static constexpr bool kDecodeByRow = true;
  static constexpr size_t kGroupBytes = static_cast<size_t>(kGroup) * T::kBlockBytes;

  static size_t act_row_bytes(int64_t cols) { return A32T::row_bytes(cols); }
  static void quantize_act(const float* x, int64_t cols, uint8_t* out) {
    quantize_a32t_avx2(x, cols, out, T::kOffset);
  }

  // Super-group (m blocks) of rows[i] against NT tokens, whose activations
  // for this super-group are at xq + j * xq_row_bytes.
  template <int NR, int NT, bool kFull>
  static void group(const uint8_t* const rows[NR], int m, const uint8_t* xq, size_t xq_row_bytes,
                    __m512 (&acc)[NR][NT]) {
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
      GroupWeights w;
      T::template load<kFull>(rows[i], m, w);
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) {
        const uint8_t* a = xq + j * xq_row_bytes;
        // Small tiles: two dependency chains of vpdpbusd, not one of eight
        // (its latency would bound a one-row decode tile).
        constexpr int kChains = NR * NT >= 4 ? 1 : 2;
        __m512i dots[kChains];
        dots[0] = load512(a + A32T::kCorrOff);
#pragma GCC unroll 4
        for (int c = 1; c < kChains; ++c) dots[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) {
          dots[k % kChains] = _mm512_dpbusd_epi32(dots[k % kChains], w.plane[k], load512(a + 64 * k));
        }
        __m512i dot = dots[0];
        if constexpr (kChains == 2) dot = _mm512_add_epi32(dot, dots[1]);
        const __m512 scale = _mm512_mul_ps(w.d, _mm512_load_ps(reinterpret_cast<const float*>(a + A32T::kDOff)));
        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[i][j]);
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
    const size_t ahead = prefetch_ahead(NR * row_bytes);
    for (int64_t s = 0; s < full; ++s) {
#pragma GCC unroll 4
      for (int i = 0; i < NR; ++i) {
        rows[i] = w + i * row_bytes + s * kGroupBytes;
        if constexpr (NT == 1) prefetch_bytes<kGroupBytes>(rows[i] + ahead);
      }
      group<NR, NT, true>(rows, kGroup, xq + s * A32T::kGroupBytes, xq_row_bytes, acc);
    }
    if (const int m = static_cast<int>(nb - full * kGroup); m != 0) {
      for (int i = 0; i < NR; ++i) rows[i] = w + i * row_bytes + full * kGroupBytes;
      group<NR, NT, false>(rows, m, xq + full * A32T::kGroupBytes, xq_row_bytes, acc);
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
  return nullptr;
}

}  // namespace hearth::kernels::detail
