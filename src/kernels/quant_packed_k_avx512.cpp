// AVX-512 (VNNI) kernels for packed Q4_K and Q5_K rows (packed_layout.h)
// against Q8_K activations in the AK layout, K4 order (act_format.h).
//
// The arithmetic is that of the GGUF-layout kernel (quant_kq_avx512.cpp):
// per super-block, isum = sum over k of dpwssd(maddubs(q_k, a_k), s_k), exact;
// then, per (row, token), in F32:
//   acc += float(isum) * (d * yd)                        16 lanes
//   acc -= (dmin * min_j) * dsum32_j                     8 lanes per super-block
// What changes is the header work: one group's four headers sit in one
// 64-byte line, and their 6-bit scales and mins, F16 d and dmin are unpacked
// by one set of 512-bit instructions, a quarter of the per-super-block cost
// (decoding one token is bound by instructions per weight byte once the
// memory bus is fast). The min terms of two super-blocks fill one 16-lane
// FMA, added to the same accumulator after the group's quants.
//
// Every (row, token) sees the same operations in the same order whatever
// the tile shape (each has its own accumulator, one fixed hsum), so results
// do not depend on the tile shape or thread split.
#include "kernels/act_format.h"
#include "kernels/matmul_table.h"
#include "kernels/packed_layout.h"
#include "kernels/quant_kq_avx512.h"
#include "kernels/simd_avx512.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx512;

constexpr int kGroup = kK4GroupBlocks;

// One row's group of m super-blocks, unpacked from its header line.
struct GroupHeader {
  __m512i sm;           // 128-bit lane i: super-block i's bytes [scales 0..7 | mins 0..7]
  __m512 mins[2];       // dmin_i * min_j: super-blocks 0, 1 in [0], 2, 3 in [1], 8 lanes each
  __m128 d;             // d of super-blocks 0..3

  explicit GroupHeader(const uint8_t* g) {
    // Lane i holds header i as dwords [d|dmin, u0, u1, u2] (a partial
    // group's missing lanes read its quants: unused below). The 6-bit
    // fields, as ggml packs them:
    //   scales 0-3 = u0 & 0x3f..   scales 4-7 = (u2 & 0x0f..) | ((u0 >> 6) & 3..) << 4
    //   mins 0-3   = u1 & 0x3f..   mins 4-7   = ((u2 >> 4) & 0x0f..) | ((u1 >> 6) & 3..) << 4
    const __m512i h = load512(g);
    const __m512i lo = _mm512_and_si512(h, _mm512_set1_epi8(0x3f));  // dwords 1, 2: scales / mins 0-3
    const __m512i top = _mm512_and_si512(_mm512_srli_epi32(h, 2), _mm512_set1_epi8(0x30));
    const __m512i u2 = _mm512_shuffle_epi32(h, _MM_PERM_DDDD);
    const __m512i nib = _mm512_srlv_epi32(u2, _mm512_setr_epi32(0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0));
    // (nib & 0x0f) | top: dwords 1, 2: scales / mins 4-7
    const __m512i hi = _mm512_ternarylogic_epi32(nib, _mm512_set1_epi8(0x0f), top, 0xEA);
    sm = _mm512_permutex2var_epi32(
        lo, _mm512_setr_epi32(1, 17, 2, 18, 5, 21, 6, 22, 9, 25, 10, 26, 13, 29, 14, 30), hi);
    // All 32 mins in order (super-block 0's 8, then 1's, ...) in the low 256 bits.
    const __m512i mn = _mm512_permutexvar_epi32(
        _mm512_setr_epi32(2, 3, 6, 7, 10, 11, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0), sm);
    // d, dmin of super-blocks 0..3, as F32 [d0, dmin0, d1, dmin1, ...].
    const __m256 dd = _mm256_cvtph_ps(_mm512_castsi512_si128(
        _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), h)));
    const __m512 dd16 = _mm512_castps256_ps512(dd);
    d = _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), dd16));
    const __m512 m01 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(mn)));
    const __m512 m23 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(mn, 1)));
    mins[0] = _mm512_mul_ps(m01, _mm512_permutexvar_ps(
                                     _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3), dd16));
    mins[1] = _mm512_mul_ps(m23, _mm512_permutexvar_ps(
                                     _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7), dd16));
  }
};

// 128-bit lane i of v in all four (i a constant once the loops unroll).
inline __m512i lane_broadcast(__m512i v, int i) {
  switch (i) {
    case 0:
      return _mm512_shuffle_i32x4(v, v, 0x00);
    case 1:
      return _mm512_shuffle_i32x4(v, v, 0x55);
    case 2:
      return _mm512_shuffle_i32x4(v, v, 0xAA);
    default:
      return _mm512_shuffle_i32x4(v, v, 0xFF);
  }
}

// Super-block i of a group: quants as unsigned 4- or 5-bit values in the K4
// order (as the GGUF-layout kernels decode them), and its scales as int16
// pairs (vector k: sub-blocks (0,2), (1,3), (4,6), (5,7)).
template <GgmlType kType>
struct Block {
  __m512i q[4];
  __m512i s[4];
  Block(const GroupHeader& h, int i, const uint8_t* body) {
    if constexpr (kType == GgmlType::Q4_K) {
      k4_quants_q4(body, q);  // qs[128]
    } else {
      k4_quants_q5(body, body + 32, q);  // qh[32], qs[128]
    }
    k4_pair_scales(lane_broadcast(h.sm, i), s);
  }
  // acc += float(isum) * dy, dy = d * yd of this super-block and token.
  __m512 accumulate(__m512 acc, const int8_t* a, const float* dy) const {
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], load512(a + 64 * k)), s[k]);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(*dy), acc);
  }
};

template <GgmlType kType>
struct PackedK4Kernels {
  static constexpr size_t kBlockBytes = k4_block_bytes(kType);
  static constexpr size_t kBodyBytes = k4_body_bytes(kType);
  static constexpr size_t kGroupBytes = kGroup * kBlockBytes;
  static constexpr GgmlType kActType = GgmlType::Q8_K;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 4;
  static constexpr bool kDecodeByRow = true;

  static size_t act_row_bytes(int64_t cols) { return AK::row_bytes(cols); }
  static void quantize_act(const float* x, int64_t cols, uint8_t* out) { quantize_ak_avx2(x, cols, out, AkOrder::K4); }

  // Group g (m super-blocks, kFull: m == 4) of NR rows against NT tokens.
  template <int NR, int NT, bool kFull>
  static void group(const uint8_t* w, size_t row_bytes, size_t ahead, int64_t g, int m, const int8_t* const aq[NT],
                    const float* const ad[NT], const float* const dsum[NT], __m512 (&acc)[NR][NT]) {
    const int64_t first = g * kGroup;
    // dsum32 of this group's super-blocks; a partial group's are read with a
    // mask (they would run past the token's row) and missing lanes left alone.
    const __mmask16 k01 = kFull || m >= 2 ? 0xFFFF : 0x00FF;
    const __mmask16 k23 = kFull || m == 4 ? 0xFFFF : m == 3 ? 0x00FF : 0;
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
      const uint8_t* grp = w + i * row_bytes + g * kGroupBytes;
      if constexpr (NT == 1) {
        if constexpr (kFull) {
          prefetch_bytes<kGroupBytes>(grp + ahead);
        } else {
          for (size_t o = 0; o < m * kBlockBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(grp + ahead + o), _MM_HINT_T0);
        }
      }
      const GroupHeader h(grp);
      alignas(16) float dy[NT][4];
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) _mm_store_ps(dy[j], _mm_mul_ps(h.d, _mm_loadu_ps(ad[j] + first)));
      const uint8_t* bodies = grp + (kFull ? kGroup : m) * kK4HeaderBytes;
      const int n = kFull ? kGroup : m;
#pragma GCC unroll 4
      for (int b = 0; b < n; ++b) {
        const Block<kType> blk(h, b, bodies + b * kBodyBytes);
#pragma GCC unroll 4
        for (int j = 0; j < NT; ++j) acc[i][j] = blk.accumulate(acc[i][j], aq[j] + 256 * (first + b), &dy[j][b]);
      }
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) {
        const float* s = dsum[j] + 8 * first;
        if constexpr (kFull) {
          acc[i][j] = _mm512_fnmadd_ps(h.mins[0], _mm512_loadu_ps(s), acc[i][j]);
          acc[i][j] = _mm512_fnmadd_ps(h.mins[1], _mm512_loadu_ps(s + 16), acc[i][j]);
        } else {
          acc[i][j] = _mm512_mask3_fnmadd_ps(h.mins[0], _mm512_maskz_loadu_ps(k01, s), acc[i][j], k01);
          if (k23 != 0) {
            acc[i][j] = _mm512_mask3_fnmadd_ps(h.mins[1], _mm512_maskz_loadu_ps(k23, s + 16), acc[i][j], k23);
          }
        }
      }
    }
  }

  template <int NR, int NT>
  static void qtile(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                    float* y, int64_t y_stride) {
    const int64_t nsb = AK::blocks(cols);
    const int8_t* aq[NT];
    const float* ad[NT];
    const float* dsum[NT];
#pragma GCC unroll 4
    for (int j = 0; j < NT; ++j) {
      const uint8_t* row = xq + j * xq_row_bytes;
      aq[j] = reinterpret_cast<const int8_t*>(row);
      ad[j] = reinterpret_cast<const float*>(row + AK::d_off(cols));
      dsum[j] = reinterpret_cast<const float*>(row + AK::dsum32_off(cols));
    }
    __m512 acc[NR][NT];
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_setzero_ps();
    }
    // Decoding prefetches ~12 KiB ahead, as the other decode kernels do:
    // without, rows that end in a partial group (such as the 5632-wide down
    // projection's) streamed at half speed from memory (one thread, 4608-wide
    // rows: 16-17 against 29-39 GB/s with it); 2048-wide rows the same either
    // way.
    const size_t ahead = NT == 1 ? prefetch_ahead(NR * row_bytes) : 0;
    const int64_t full = nsb / kGroup;
    for (int64_t g = 0; g < full; ++g) group<NR, NT, true>(w, row_bytes, ahead, g, kGroup, aq, ad, dsum, acc);
    if (const int m = static_cast<int>(nsb - full * kGroup); m != 0) {
      group<NR, NT, false>(w, row_bytes, ahead, full, m, aq, ad, dsum, acc);
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) y[j * y_stride + i] = hsum(acc[i][j]);
    }
  }

  // Decoding (get_row) unpacks and uses the scalar reference: not hot.
  static void to_f32(const uint8_t* row, int64_t cols, float* out) { packed_to_f32(kType, row, cols, out); }
};

}  // namespace

const TypeKernels* find_avx512_packed_k_kernels(GgmlType type) {
  static constexpr TypeKernels kQ4K = make_quant_type_kernels<PackedK4Kernels<GgmlType::Q4_K>>();
  static constexpr TypeKernels kQ5K = make_quant_type_kernels<PackedK4Kernels<GgmlType::Q5_K>>();
  return type == GgmlType::Q4_K ? &kQ4K : type == GgmlType::Q5_K ? &kQ5K : nullptr;
}

}  // namespace hearth::kernels::detail
