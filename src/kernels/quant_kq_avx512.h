// Internal: the tile loop shared by the AVX-512 K-quant kernel files
// (quant_kq_avx512.cpp, quant_kq_low_avx512.cpp). Include only from files
// compiled with the AVX-512 flags.
//
// A weight type T provides
//   kType, kBlockBytes (bytes per 256-element super-block), kOrder (the
//   AkOrder its activations need), kSums (which per-token sums
//   Row::accumulate reads: bsum16, bsum32 or dsum32), and
//   struct Row { explicit Row(const uint8_t* block);
//                __m512 accumulate(__m512 acc, const int8_t* a, float yd, const Sums* sums) const; }
// which unpacks one super-block of one row and adds its product with one
// token's super-block to that (row, token)'s accumulator. A type with
// kMinAcc = true (Q4_K, Q5_K) instead takes accumulate(acc, accm, a, yd,
// sums), accm an 8-lane accumulator for its min terms (half-width FMAs).
#pragma once





#include <type_traits>

#include "kernels/act_format.h"
#include "kernels/matmul_table.h"
#include "kernels/simd_avx512.h"

namespace hearth::kernels::detail::avx512 {

// pshufb control giving int16 lanes [byte a x 16 | byte b x 16] of a
// broadcast 16-byte source (0x80 zeroes the high byte).
static inline __m512i pair_scale_index(int a, int b) {
  const __m256i lo = _mm256_set1_epi16(static_cast<short>(0x8000 | a));
  const __m256i hi = _mm256_set1_epi16(static_cast<short>(0x8000 | b));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Q4_K / Q5_K sub-block scales as int16 pairs for dpwssd, from a vector
// holding [scales 0..7 | mins 0..7] bytes in every 128-bit lane: vector k
// holds sub-blocks (0,2), (1,3), (4,6), (5,7).
static inline void k4_pair_scales(__m512i smb, __m512i (&s)[4]) {
  s[0] = _mm512_shuffle_epi8(smb, pair_scale_index(0, 2));
  s[1] = _mm512_shuffle_epi8(smb, pair_scale_index(1, 3));
  s[2] = _mm512_shuffle_epi8(smb, pair_scale_index(4, 6));
  s[3] = _mm512_shuffle_epi8(smb, pair_scale_index(5, 7));
}

// A Q4_K super-block's qs[128] as unsigned nibbles in AkOrder::K4.
static inline void k4_quants_q4(const uint8_t* qs, __m512i (&q)[4]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i z0 = load512(qs), z1 = load512(qs + 64);
  // One load each (GCC would fold them into both users: two loads per
  // weight line leave fewer lines in flight from memory).
  __asm__("" : "+v"(z0), "+v"(z1));
  q[0] = _mm512_and_si512(z0, m4);
  q[1] = _mm512_and_si512(_mm512_srli_epi16(z0, 4), m4);
  q[2] = _mm512_and_si512(z1, m4);
  q[3] = _mm512_and_si512(_mm512_srli_epi16(z1, 4), m4);
}

// A Q5_K super-block's qh[32], qs[128] as unsigned 5-bit values in
// AkOrder::K4: sub-block j's fifth bit is bit j of qh[l], moved to bit 4.
static inline void k4_quants_q5(const uint8_t* qh_bytes, const uint8_t* qs, __m512i (&q)[4]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  const __m512i qh = bcast256(qh_bytes);
  __m512i z0 = load512(qs), z1 = load512(qs + 64);
  __asm__("" : "+v"(z0), "+v"(z1));
  q[0] = select_bits(z0, _mm512_and_si512(_mm512_sllv_epi16(qh, counts16(4, 2)), bit4), m4);
  q[1] = select_bits(_mm512_srli_epi16(z0, 4), _mm512_and_si512(_mm512_sllv_epi16(qh, counts16(3, 1)), bit4), m4);
  q[2] = select_bits(z1, _mm512_and_si512(_mm512_srlv_epi16(qh, counts16(0, 2)), bit4), m4);
  q[3] = select_bits(_mm512_srli_epi16(z1, 4), _mm512_and_si512(_mm512_srlv_epi16(qh, counts16(1, 3)), bit4), m4);
}

template <class T>
constexpr bool has_min_acc = requires { requires T::kMinAcc; };

template <class T>
struct KQuantKernels {
  static constexpr GgmlType kActType = GgmlType::Q8_K;
  // 16 accumulators + one row's unpacked super-block (10 vectors) in the 32
  // zmm registers; wider tiles measured no faster.
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 4;
  static constexpr bool kDecodeByRow = true;

  static size_t act_row_bytes(int64_t cols) { return AK::row_bytes(cols); }
  static void quantize_act(const float* x, int64_t cols, uint8_t* out) { quantize_ak_avx2(x, cols, out, T::kOrder); }

  template <int NR, int NT>
  static void qtile(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                    float* y, int64_t y_stride) {
    const int64_t nsb = AK::blocks(cols);
    using Sums = std::conditional_t<T::kSums == AkSums::DSum32, float, int16_t>;
    const size_t bsum_off = ak_sums_off<T::kSums>(cols);
    const int bsum_len = ak_sums_per_block<T::kSums>();
    const int8_t* aq[NT];
    const float* ad[NT];
    const Sums* ab[NT];
#pragma GCC unroll 8
    for (int j = 0; j < NT; ++j) {
      const uint8_t* row = xq + j * xq_row_bytes;
      aq[j] = reinterpret_cast<const int8_t*>(row);
      ad[j] = reinterpret_cast<const float*>(row + AK::d_off(cols));
      ab[j] = reinterpret_cast<const Sums*>(row + bsum_off);
    }
    __m512 acc[NR][NT];
    __m256 accm[NR][NT];
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) {
        acc[i][j] = _mm512_setzero_ps();
        accm[i][j] = _mm256_setzero_ps();
      }
    }
    const size_t ahead = prefetch_ahead(NR * row_bytes);
    for (int64_t sb = 0; sb < nsb; ++sb) {
#pragma GCC unroll 8
      for (int i = 0; i < NR; ++i) {
        const uint8_t* block = w + i * row_bytes + sb * T::kBlockBytes;
        if constexpr (NT == 1) prefetch_bytes<T::kBlockBytes>(block + ahead);
        const typename T::Row r(block);
#pragma GCC unroll 8
        for (int j = 0; j < NT; ++j) {
          if constexpr (has_min_acc<T>) {
            acc[i][j] = r.accumulate(acc[i][j], accm[i][j], aq[j] + 256 * sb, ad[j][sb], ab[j] + bsum_len * sb);
          } else {
            acc[i][j] = r.accumulate(acc[i][j], aq[j] + 256 * sb, ad[j][sb], ab[j] + bsum_len * sb);
          }
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) {
        if constexpr (has_min_acc<T>) acc[i][j] = _mm512_add_ps(acc[i][j], _mm512_zextps256_ps512(accm[i][j]));
        y[j * y_stride + i] = hsum(acc[i][j]);
      }
    }
  }

  // Decoding stays with the scalar reference (get_row is not hot).
  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    find_scalar_quant_kernels(T::kType)->to_f32(row, cols, out);
  }
};

}  // namespace hearth::kernels::detail::avx512
