// AVX2 kernels for Q4_K, Q5_K and Q6_K weights against Q8_K activations (AK
// layout, natural order); the tile loop is in quant_kq_avx2.h.
//
// Per 64-element chunk: maddubs of the unsigned quants (0..15 / 0..31 /
// 0..63) with the int8 activations (|a| <= 127: int16 pair sums at most
// 2 * 63 * 127 < 2^15), madd with the sub-block scales into int32, exact
// over the super-block as in ggml, then scaled once in F32:
//   Q4_K / Q5_K: acc += yd * (d * isum - dmin * sum(min_j * bsum32_j))
//   Q6_K:        acc += yd * d * (isum - 32 * sum(scale_j * bsum16_j))
#include "kernels/quant_kq_avx2.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx2;

// Q4_K / Q5_K: scales and mins of the 8 sub-blocks (ggml's unpacking of the
// 12 packed bytes) as int16 [scales 0..7 | mins 0..7], plus d and dmin.
struct K4Scales {
  alignas(32) int16_t sm[16];
  __m256 dm;  // [d x 4, -dmin x 4]
  explicit K4Scales(const uint8_t* b) {
    const uint32_t u0 = load_u32(b + 4), u1 = load_u32(b + 8), u2 = load_u32(b + 12);
    const uint32_t sc_lo = u0 & 0x3f3f3f3fu;
    const uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
    const uint32_t mn_lo = u1 & 0x3f3f3f3fu;
    const uint32_t mn_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
    const __m128i bytes = _mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(mn_lo),
                                         static_cast<int>(mn_hi));
    _mm256_store_si256(reinterpret_cast<__m256i*>(sm), _mm256_cvtepu8_epi16(bytes));
    const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(b))));  // d, dmin
    dm = _mm256_mul_ps(pair_lanes(dd), _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1));
  }
  __m256 finish(__m256 acc, __m256i isum, float yd, const int16_t* bsum32) const {
    const __m128i imin = _mm_madd_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(sm + 8)), load128(bsum32));
    const __m128i i4 = _mm_add_epi32(_mm256_castsi256_si128(isum), _mm256_extracti128_si256(isum, 1));
    const __m256 f = _mm256_cvtepi32_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(i4), imin, 1));
    return _mm256_fmadd_ps(_mm256_mul_ps(f, dm), _mm256_set1_ps(yd), acc);
  }
};

struct Q4K {
  static constexpr GgmlType kType = GgmlType::Q4_K;
  static constexpr int kBlockBytes = 144;  // d, dmin, scales[12], qs[128]
  static constexpr AkSums kSums = AkSums::BSum32;
  struct Row {
    K4Scales s;
    const uint8_t* qs;
    explicit Row(const uint8_t* b) : s(b), qs(b + 16) {}
    __m256i init(const int16_t*) const { return _mm256_setzero_si256(); }
    // Chunk k: qs[32k ..] low nibbles are sub-block 2k, high nibbles 2k + 1.
    __m256i dot(int k, const int8_t* a) const {
      const __m256i q = load256(qs + 32 * k);
      const __m256i m4 = _mm256_set1_epi8(0x0F);
      return _mm256_add_epi32(
          scaled_dot(_mm256_and_si256(q, m4), a, _mm256_set1_epi16(s.sm[2 * k])),
          scaled_dot(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), a + 32, _mm256_set1_epi16(s.sm[2 * k + 1])));
    }
    __m256 finish(__m256 acc, __m256i isum, float yd, const int16_t* bsum) const {
      return s.finish(acc, isum, yd, bsum);
    }
  };
};

struct Q5K {
  static constexpr GgmlType kType = GgmlType::Q5_K;
  static constexpr int kBlockBytes = 176;  // d, dmin, scales[12], qh[32], qs[128]
  static constexpr AkSums kSums = AkSums::BSum32;
  struct Row {
    K4Scales s;
    const uint8_t* qs;
    __m256i qh;
    explicit Row(const uint8_t* b) : s(b), qs(b + 48), qh(load256(b + 16)) {}
    __m256i init(const int16_t*) const { return _mm256_setzero_si256(); }
    // As Q4_K, plus bit j of qh[l] as the fifth bit of sub-block j.
    __m256i dot(int k, const int8_t* a) const {
      const __m256i q = load256(qs + 32 * k);
      const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
      const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), one), 4);
      const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k + 1), one), 4);
      return _mm256_add_epi32(
          scaled_dot(_mm256_or_si256(_mm256_and_si256(q, m4), h0), a, _mm256_set1_epi16(s.sm[2 * k])),
          scaled_dot(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1), a + 32,
                     _mm256_set1_epi16(s.sm[2 * k + 1])));
    }
    __m256 finish(__m256 acc, __m256i isum, float yd, const int16_t* bsum) const {
      return s.finish(acc, isum, yd, bsum);
    }
  };
};

struct Q6K {
  static constexpr GgmlType kType = GgmlType::Q6_K;
  static constexpr int kBlockBytes = 210;  // ql[128], qh[64], scales[16], d
  static constexpr AkSums kSums = AkSums::BSum16;
  struct Row {
    const uint8_t* b;
    alignas(32) int16_t sc[16];
    __m256 d;
    explicit Row(const uint8_t* block) : b(block), d(bcast_half(block + 208)) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(sc), _mm256_cvtepi8_epi16(load128(block + 192)));
    }
    __m256i init(const int16_t* bsum16) const {
      const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
      return _mm256_madd_epi16(_mm256_mullo_epi16(s, _mm256_set1_epi16(-32)), load256(bsum16));
    }
    // Chunk k = 2h + p covers elements 128h + 64p ..: ql[64h ..] nibble p and
    // ql[64h + 32 ..] nibble p, with qh[32h + l] bit pairs 2p, 2p + 1 (first
    // 32) and 2p + 2, 2p + 3 (next 32) on top; 16-element sub-blocks 4k .. 4k + 3.
    __m256i dot(int k, const int8_t* a) const {
      const int h = k / 2, p = k % 2;
      const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
      const __m256i qh = load256(b + 128 + 32 * h);
      __m256i l0 = load256(b + 64 * h), l1 = load256(b + 64 * h + 32);
      if (p) {
        l0 = _mm256_srli_epi16(l0, 4);
        l1 = _mm256_srli_epi16(l1, 4);
      }
      const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 4 * p), m2);
      const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 4 * p + 2), m2);
      const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(h0, 4));
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(h1, 4));
      return _mm256_add_epi32(scaled_dot(q0, a, two_scales(sc[4 * k], sc[4 * k + 1])),
                              scaled_dot(q1, a + 32, two_scales(sc[4 * k + 2], sc[4 * k + 3])));
    }
    __m256 finish(__m256 acc, __m256i isum, float yd, const int16_t*) const {
      return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum), d), _mm256_set1_ps(yd), acc);
    }
  };
};

}  // namespace

const TypeKernels* find_avx2_kq_kernels(GgmlType type) {
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
