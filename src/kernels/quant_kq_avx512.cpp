// AVX-512 (VNNI) kernels for Q4_K, Q5_K and Q6_K weights against Q8_K
// activations in the AK layout (act_format.h).
//
// Per super-block (256 weights) and (row, token):
//   isum = sum over 64-element vectors k of dpwssd(maddubs(q_k, a_k), s_k)
// where q_k are the weight quants as unsigned bytes (0..15 / 0..31 / 0..63),
// a_k the int8 activations (|a| <= 127, so maddubs' int16 pair sums cannot
// saturate: 2 * 63 * 127 < 2^15) and s_k the sub-block scales widened to one
// int16 per pair. The integer sum over the super-block is exact, as in
// ggml; it is scaled once in F32:
//   Q4_K / Q5_K: acc += yd * (d * isum - dmin * sum(min_j * bsum32_j))
//   Q6_K:        acc += yd * d * (isum - 32 * sum(scale_j * bsum16_j))
// (Q6_K's -32 offset folded in as the integer start value.) Each (row, token)
// has its own F32 accumulator vector, reduced by one fixed hsum at the end,
// so the result does not depend on the tile shape or thread split.
//
// The 64-byte loads of packed quants give the elements in a type-specific
// order; the activations are stored in that order (AkOrder), so nothing is
// shuffled per weight row.
#include "kernels/quant_kq_avx512.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx512;

// Q4_K / Q5_K: 6-bit scales and mins of the 8 sub-blocks (ggml's bit
// juggling on the 12 packed bytes u0 u1 u2), as bytes [scales 0..7 | mins
// 0..7]:
//   scales 0-3 = u0 & 0x3f..   scales 4-7 = (u2 & 0x0f..) | ((u0 >> 6) & 3..) << 4
//   mins 0-3   = u1 & 0x3f..   mins 4-7   = ((u2 >> 4) & 0x0f..) | ((u1 >> 6) & 3..) << 4
// in vector registers (a scalar version took ~20 instructions per
// super-block, a third of the kernel's, and fewer instructions per weight
// byte keep more of them in flight from memory). The 16-byte load reads 4
// bytes of quants past the scales; the super-block holds them.
inline __m128i k4_scales_mins(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));   // dwords u0 u1 u2 (q)
  const __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x3f));                  // [sc_lo, mn_lo, ., .]
  const __m128i top = _mm_and_si128(_mm_srli_epi32(v, 2), _mm_set1_epi8(0x30));  // (u >> 6 & 3) << 4 per byte
  const __m128i u2 = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 2, 2));
  const __m128i nib = _mm_and_si128(_mm_srlv_epi32(u2, _mm_setr_epi32(0, 4, 0, 0)), _mm_set1_epi8(0x0f));
  const __m128i hi = _mm_or_si128(nib, top);                                  // [sc_hi, mn_hi, ., .]
  return _mm_unpacklo_epi32(lo, hi);                                          // [sc_lo, sc_hi, mn_lo, mn_hi]
}

// Shared by Q4_K and Q5_K: everything but the quants. The min term
// dmin * yd * sum(min_j * bsum32_j) goes in F32 as sum((dmin * min_j) *
// (yd * bsum32_j)), one FMA against the token's precomputed dsum32 (its
// rounding differs from ggml's integer sum only at float precision).
struct K4Common {
  __m512i s[4];   // int16 scales; vector k holds sub-blocks (0,2), (1,3), (4,6), (5,7)
  __m256 mins;    // -dmin * min_j
  float d;

  void load(const uint8_t* b) {
    const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(b))));  // d, dmin, 0, 0
    d = _mm_cvtss_f32(dd);
    const __m128i sm = k4_scales_mins(b + 4);
    k4_pair_scales(_mm512_broadcast_i32x4(sm), s);
    const __m256 m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(sm, sm)));
    const __m256 neg_dmin = _mm256_set1_ps(-_mm_cvtss_f32(_mm_movehdup_ps(dd)));
    mins = _mm256_mul_ps(m, neg_dmin);
  }

  // The super-block's isum goes in F32 as isum * (d * yd), one FMA on all
  // 16 lanes; the min term (8 lanes) into its own 256-bit accumulator.
  __m512 accumulate(const __m512i q[4], __m512 acc, __m256& accm, const int8_t* a, float yd,
                    const float* dsum32) const {
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], load512(a + 64 * k)), s[k]);
    accm = _mm256_fmadd_ps(mins, _mm256_loadu_ps(dsum32), accm);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * yd), acc);
  }
};

struct Q4K {
  static constexpr GgmlType kType = GgmlType::Q4_K;
  static constexpr int kBlockBytes = 144;  // d, dmin, scales[12], qs[128]
  static constexpr AkOrder kOrder = AkOrder::K4;
  static constexpr AkSums kSums = AkSums::DSum32;
  static constexpr bool kMinAcc = true;

  struct Row {
    K4Common c;
    __m512i q[4];
    explicit Row(const uint8_t* b) {
      c.load(b);
      k4_quants_q4(b + 16, q);
    }
    __m512 accumulate(__m512 acc, __m256& accm, const int8_t* a, float yd, const float* dsum32) const {
      return c.accumulate(q, acc, accm, a, yd, dsum32);
    }
  };
};

struct Q5K {
  static constexpr GgmlType kType = GgmlType::Q5_K;
  static constexpr int kBlockBytes = 176;  // d, dmin, scales[12], qh[32], qs[128]
  static constexpr AkOrder kOrder = AkOrder::K4;
  static constexpr AkSums kSums = AkSums::DSum32;
  static constexpr bool kMinAcc = true;

  struct Row {
    K4Common c;
    __m512i q[4];
    explicit Row(const uint8_t* b) {
      c.load(b);
      k4_quants_q5(b + 16, b + 48, q);
    }
    __m512 accumulate(__m512 acc, __m256& accm, const int8_t* a, float yd, const float* dsum32) const {
      return c.accumulate(q, acc, accm, a, yd, dsum32);
    }
  };
};

struct Q6K {
  static constexpr GgmlType kType = GgmlType::Q6_K;
  static constexpr int kBlockBytes = 210;  // ql[128], qh[64], scales[16], d
  static constexpr AkOrder kOrder = AkOrder::Natural;
  static constexpr AkSums kSums = AkSums::BSum16;

  struct Row {
    __m512i q[4];   // 0..63, elements 64k .. 64k + 63
    __m512i s[4];   // int16 scale per pair: lane n -> sub-block 4k + n / 8
    __m256i corr;   // -32 * scales, for the offset term against bsum16
    __m512 d;
    explicit Row(const uint8_t* b) {
      const __m512i m4 = _mm512_set1_epi8(0x0F);
      const __m512i bits45 = _mm512_set1_epi8(0x30);
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        // 128 elements: ql[64h ..] low nibbles are elements 0..63, high
        // nibbles 64..127; qh[32h + l] bit pairs 0-1, 2-3, 4-5, 6-7 belong to
        // elements l, l + 32, l + 64, l + 96.
        __m512i ql = load512(b + 64 * h);
        __asm__("" : "+v"(ql));  // one load (see Q4K)
        const __m512i qh = bcast256(b + 128 + 32 * h);
        const __m512i h0 = _mm512_and_si512(_mm512_sllv_epi16(qh, counts16(4, 2)), bits45);
        const __m512i h1 = _mm512_and_si512(_mm512_srlv_epi16(qh, counts16(0, 2)), bits45);
        q[2 * h] = select_bits(ql, h0, m4);
        q[2 * h + 1] = select_bits(_mm512_srli_epi16(ql, 4), h1, m4);
      }
      const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
      const __m512i scz = _mm512_castsi256_si512(sc);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m512i idx = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_setr_epi16(4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k,
                                                     4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                                                     4 * k + 1, 4 * k + 1, 4 * k + 1)),
            _mm256_setr_epi16(4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2,
                              4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3),
            1);
        s[k] = _mm512_permutexvar_epi16(idx, scz);
      }
      corr = _mm256_mullo_epi16(sc, _mm256_set1_epi16(-32));
      d = bcast_half(b + 208);
    }
    __m512 accumulate(__m512 acc, const int8_t* a, float yd, const int16_t* bsum16) const {
      __m512i isum = _mm512_zextsi256_si512(
          _mm256_madd_epi16(corr, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsum16))));
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], load512(a + 64 * k)), s[k]);
      }
      return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), d), _mm512_set1_ps(yd), acc);
    }
  };
};

}  // namespace

const TypeKernels* find_avx512_kq_kernels(GgmlType type) {
  static constexpr KernelEntry kTable[] = {
      {GgmlType::Q4_K, make_quant_type_kernels<KQuantKernels<Q4K>>()},
      {GgmlType::Q5_K, make_quant_type_kernels<KQuantKernels<Q5K>>()},
      {GgmlType::Q6_K, make_quant_type_kernels<KQuantKernels<Q6K>>()},
  };
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return nullptr;
}

}  // namespace hearth::kernels::detail
