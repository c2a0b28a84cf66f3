// AVX2 kernels for Q2_K, Q3_K and IQ4_XS weights against Q8_K activations
// (AK layout, natural order); the tile loop is in quant_kq_avx2.h. Integer
// sums exact over each super-block, scaled once in F32:
//   Q2_K:   acc += yd * (d * sum(scale_j * q.a) - dmin * sum(min_j * bsum16_j))
//   Q3_K:   acc += yd * d * (sum(scale_j * q.a) - 4 * sum(scale_j * bsum16_j))
//           (q = the 3-bit value + 4, unsigned)
//   IQ4_XS: acc += yd * d * sum(scale_j * v.a), the signed non-linear values
//           through ggml's sign trick (maddubs(|v|, sign(a, v)), |v| <= 127).
#include "kernels/quant_kq_avx2.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx2;

// Chunk c (64 elements) of a Q2_K / Q3_K super-block is 2-bit planes m =
// 2 (c % 2) and m + 1 of the 32 packed bytes of half c / 2.
struct Q2K {
  static constexpr GgmlType kType = GgmlType::Q2_K;
  static constexpr int kBlockBytes = 84;  // scales[16], qs[64], d, dmin
  static constexpr AkSums kSums = AkSums::BSum16;
  struct Row {
    const uint8_t* qs;
    alignas(32) int16_t sc[16];
    alignas(32) int16_t mn[16];
    float d, dmin;
    explicit Row(const uint8_t* b) : qs(b + 16) {
      const __m128i s = load128(b);
      const __m128i m4 = _mm_set1_epi8(0x0F);
      _mm256_store_si256(reinterpret_cast<__m256i*>(sc), _mm256_cvtepu8_epi16(_mm_and_si128(s, m4)));
      _mm256_store_si256(reinterpret_cast<__m256i*>(mn), _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), m4)));
      const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(b + 80))));
      d = _mm_cvtss_f32(dd);
      dmin = _mm_cvtss_f32(_mm_movehdup_ps(dd));
    }
    __m256i init(const int16_t*) const { return _mm256_setzero_si256(); }
    __m256i dot(int c, const int8_t* a) const {
      const int m = 2 * (c % 2);
      const __m256i q = load256(qs + 32 * (c / 2));
      const __m256i m2 = _mm256_set1_epi8(3);
      const __m256i v0 = _mm256_and_si256(_mm256_srli_epi16(q, 2 * m), m2);
      const __m256i v1 = _mm256_and_si256(_mm256_srli_epi16(q, 2 * m + 2), m2);
      return _mm256_add_epi32(scaled_dot(v0, a, two_scales(sc[4 * c], sc[4 * c + 1])),
                              scaled_dot(v1, a + 32, two_scales(sc[4 * c + 2], sc[4 * c + 3])));
    }
    __m256 finish(__m256 acc, __m256i isum, float yd, const int16_t* bsum16) const {
      const __m256i imin = _mm256_madd_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(mn)), load256(bsum16));
      const __m256 t = _mm256_fmsub_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d),
                                       _mm256_mul_ps(_mm256_cvtepi32_ps(imin), _mm256_set1_ps(dmin)));
      return _mm256_fmadd_ps(t, _mm256_set1_ps(yd), acc);
    }
  };
};

struct Q3K {
  static constexpr GgmlType kType = GgmlType::Q3_K;
  static constexpr int kBlockBytes = 110;  // hmask[32], qs[64], scales[12], d
  static constexpr AkSums kSums = AkSums::BSum16;
  struct Row {
    const uint8_t* b;
    alignas(32) int16_t sc[16];
    __m256 d;
    explicit Row(const uint8_t* block) : b(block), d(bcast_half(block + 108)) {
      // ggml's unpacking of the 16 signed 6-bit scales.
      const uint32_t a0 = load_u32(block + 96), a1 = load_u32(block + 100), t = load_u32(block + 104);
      const uint32_t m2 = 0x0f0f0f0fu, m1 = 0x03030303u;
      const __m128i u = _mm_setr_epi32(static_cast<int>((a0 & m2) | ((t & m1) << 4)),
                                       static_cast<int>((a1 & m2) | (((t >> 2) & m1) << 4)),
                                       static_cast<int>(((a0 >> 4) & m2) | (((t >> 4) & m1) << 4)),
                                       static_cast<int>(((a1 >> 4) & m2) | (((t >> 6) & m1) << 4)));
      _mm256_store_si256(reinterpret_cast<__m256i*>(sc), _mm256_cvtepi8_epi16(_mm_sub_epi8(u, _mm_set1_epi8(32))));
    }
    __m256i init(const int16_t* bsum16) const {
      const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
      return _mm256_madd_epi16(_mm256_mullo_epi16(s, _mm256_set1_epi16(-4)), load256(bsum16));
    }
    __m256i dot(int c, const int8_t* a) const {
      const int k = c / 2, m = 2 * (c % 2);
      const __m256i q = load256(b + 32 + 32 * k);
      const __m256i hm = load256(b);
      const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
      // hmask bit 4k + m of byte l is the high bit of element 128k + 32m + l.
      const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * k + m), one);
      const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * k + m + 1), one);
      const __m256i v0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * m), m2), _mm256_slli_epi16(h0, 2));
      const __m256i v1 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * m + 2), m2), _mm256_slli_epi16(h1, 2));
      return _mm256_add_epi32(scaled_dot(v0, a, two_scales(sc[4 * c], sc[4 * c + 1])),
                              scaled_dot(v1, a + 32, two_scales(sc[4 * c + 2], sc[4 * c + 3])));
    }
    __m256 finish(__m256 acc, __m256i isum, float yd, const int16_t*) const {
      return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum), d), _mm256_set1_ps(yd), acc);
    }
  };
};

struct IQ4XS {
  static constexpr GgmlType kType = GgmlType::IQ4_XS;
  static constexpr int kBlockBytes = 136;  // d, scales_h, scales_l[4], qs[128]
  static constexpr AkSums kSums = AkSums::BSum32;
  struct Row {
    const uint8_t* qs;
    int16_t sc[8];
    __m256 d;
    explicit Row(const uint8_t* b) : qs(b + 8), d(bcast_half(b)) {
      const uint32_t h = load_u16(b + 2);
      for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((h >> (2 * ib)) & 3) << 4);
        sc[ib] = static_cast<int16_t>(ls - 32);
      }
    }
    __m256i init(const int16_t*) const { return _mm256_setzero_si256(); }
    // Sub-block ib: 16 bytes, low nibbles elements 0..15, high 16..31.
    __m256i sub_block(int ib, const int8_t* a) const {
      const __m256i x = _mm256_broadcastsi128_si256(load128(qs + 16 * ib));
      const __m256i m4 = _mm256_set1_epi8(0x0F);
      const __m256i n = _mm256_blend_epi32(_mm256_and_si256(x, m4), _mm256_and_si256(_mm256_srli_epi16(x, 4), m4), 0xF0);
      const __m256i table = _mm256_broadcastsi128_si256(
          _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
      const __m256i v = _mm256_shuffle_epi8(table, n);
      const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(load256(a), v));
      return _mm256_madd_epi16(p, _mm256_set1_epi16(sc[ib]));
    }
    __m256i dot(int c, const int8_t* a) const {
      return _mm256_add_epi32(sub_block(2 * c, a), sub_block(2 * c + 1, a + 32));
    }
    __m256 finish(__m256 acc, __m256i isum, float yd, const int16_t*) const {
      return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum), d), _mm256_set1_ps(yd), acc);
    }
  };
};

}  // namespace

const TypeKernels* find_avx2_kq_low_kernels(GgmlType type) {
  static constexpr KernelEntry kTable[] = {
      {GgmlType::Q2_K, make_quant_type_kernels<KQuantKernels<Q2K>>()},
      {GgmlType::Q3_K, make_quant_type_kernels<KQuantKernels<Q3K>>()},
      {GgmlType::IQ4_XS, make_quant_type_kernels<KQuantKernels<IQ4XS>>()},
  };
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return nullptr;
}

}  // namespace hearth::kernels::detail
