// AVX-512 (VNNI) kernels for Q2_K, Q3_K and IQ4_XS weights against Q8_K
// activations in the AK layout (act_format.h); the tile loop is in
// quant_kq_avx512.h. As there, the integer sum over each super-block is
// exact and scaled once in F32:
//   Q2_K:   acc += yd * (d * sum(scale_j * q.a) - dmin * sum(min_j * bsum16_j))
//   Q3_K:   acc += yd * d * (sum(scale_j * q.a) - 4 * sum(scale_j * bsum16_j))
//           (q = the 3-bit value + 4, unsigned)
//   IQ4_XS: acc += yd * d * (sum(scale_j * u.a) - 128 * sum(scale_j * bsum32_j))
//           (u = the non-linear value + 128, unsigned)
// Q2_K / Q3_K quants fit maddubs (int16 pair sums of at most 2 * 7 * 127);
// IQ4_XS's u up to 241 does not, so it uses vpdpbusd and multiplies the
// int32 sums by the sub-block scales.
#include "kernels/quant_kq_avx512.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx512;

// int16 lanes for a 64-element vector in K2 order (act_format.h): the 2-bit
// plane m of a 64-byte load holds 16-element sub-blocks 2m, 2m + 1 (bytes
// 0..31) and 8 + 2m, 9 + 2m (bytes 32..63), eight int16 pairs each.
inline __m512i k2_plane_index(int m) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_setr_epi16(2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 2 * m + 1,
                                               2 * m + 1, 2 * m + 1, 2 * m + 1, 2 * m + 1, 2 * m + 1, 2 * m + 1,
                                               2 * m + 1)),
      _mm256_setr_epi16(8 + 2 * m, 8 + 2 * m, 8 + 2 * m, 8 + 2 * m, 8 + 2 * m, 8 + 2 * m, 8 + 2 * m, 8 + 2 * m,
                        9 + 2 * m, 9 + 2 * m, 9 + 2 * m, 9 + 2 * m, 9 + 2 * m, 9 + 2 * m, 9 + 2 * m, 9 + 2 * m),
      1);
}

struct Q2K {
  static constexpr GgmlType kType = GgmlType::Q2_K;
  static constexpr int kBlockBytes = 84;  // scales[16], qs[64], d, dmin
  static constexpr AkOrder kOrder = AkOrder::K2;
  static constexpr AkSums kSums = AkSums::BSum16;

  struct Row {
    __m512i q[4];   // plane m: 0..3
    __m512i s[4];   // int16 scales per pair
    __m256i mins;   // 16 int16 mins
    __m512 dm;      // [d x 8, -dmin x 8]
    explicit Row(const uint8_t* b) {
      const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
      const __m128i m4 = _mm_set1_epi8(0x0F);
      const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sc, m4)));
      mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), m4));
      const __m512i z = load512(b + 16);
      const __m512i m2 = _mm512_set1_epi8(3);
#pragma GCC unroll 4
      for (int m = 0; m < 4; ++m) {
        q[m] = _mm512_and_si512(_mm512_srli_epi16(z, 2 * m), m2);
        s[m] = _mm512_permutexvar_epi16(k2_plane_index(m), scales);
      }
      const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(b + 80))));  // d, dmin
      dm = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                 _mm512_zextps128_ps512(dd));
      dm = _mm512_mask_sub_ps(dm, 0xFF00, _mm512_setzero_ps(), dm);
    }
    __m512 accumulate(__m512 acc, const int8_t* a, float yd, const int16_t* bsum16) const {
      __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int m = 0; m < 4; ++m) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[m], load512(a + 64 * m)), s[m]);
      const __m256i imin = _mm256_madd_epi16(mins, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsum16)));
      const __m256i i8 = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(i8), imin, 1);
      return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(both), dm), _mm512_set1_ps(yd), acc);
    }
  };
};

struct Q3K {
  static constexpr GgmlType kType = GgmlType::Q3_K;
  static constexpr int kBlockBytes = 110;  // hmask[32], qs[64], scales[12], d
  static constexpr AkOrder kOrder = AkOrder::K2;
  static constexpr AkSums kSums = AkSums::BSum16;

  // The 16 signed 6-bit scales (ggml's unpacking of the 12 bytes), as int8.
  static __m128i unpack_scales(const uint8_t* p) {
    const uint32_t a0 = load_u32(p), a1 = load_u32(p + 4), t = load_u32(p + 8);
    const uint32_t m2 = 0x0f0f0f0fu, m1 = 0x03030303u;
    const uint32_t s0 = (a0 & m2) | ((t & m1) << 4);
    const uint32_t s1 = (a1 & m2) | (((t >> 2) & m1) << 4);
    const uint32_t s2 = ((a0 >> 4) & m2) | (((t >> 4) & m1) << 4);
    const uint32_t s3 = ((a1 >> 4) & m2) | (((t >> 6) & m1) << 4);
    const __m128i u = _mm_setr_epi32(static_cast<int>(s0), static_cast<int>(s1), static_cast<int>(s2),
                                     static_cast<int>(s3));
    return _mm_sub_epi8(u, _mm_set1_epi8(32));
  }

  struct Row {
    __m512i q[4];   // 3-bit value + 4: 0..7
    __m512i s[4];
    __m256i corr;   // -4 * scales
    __m512 d;
    explicit Row(const uint8_t* b) {
      const __m512i hm = bcast256(b);
      const __m512i z = load512(b + 32);
      const __m512i m2 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
      const __m256i sc = _mm256_cvtepi8_epi16(unpack_scales(b + 96));
      const __m512i scz = _mm512_castsi256_si512(sc);
#pragma GCC unroll 4
      for (int m = 0; m < 4; ++m) {
        // Plane m's high bit is hmask bit m for bytes 0..31, bit 4 + m for 32..63.
        const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << m)),
                                               _mm256_set1_epi8(static_cast<char>(1 << (4 + m))), 1);
        const __m512i low = _mm512_and_si512(_mm512_srli_epi16(z, 2 * m), m2);
        q[m] = _mm512_mask_add_epi8(low, _mm512_test_epi8_mask(hm, bit), low, four);
        s[m] = _mm512_permutexvar_epi16(k2_plane_index(m), scz);
      }
      corr = _mm256_mullo_epi16(sc, _mm256_set1_epi16(-4));
      d = bcast_half(b + 108);
    }
    __m512 accumulate(__m512 acc, const int8_t* a, float yd, const int16_t* bsum16) const {
      __m512i isum = _mm512_zextsi256_si512(
          _mm256_madd_epi16(corr, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsum16))));
#pragma GCC unroll 4
      for (int m = 0; m < 4; ++m) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[m], load512(a + 64 * m)), s[m]);
      return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), d), _mm512_set1_ps(yd), acc);
    }
  };
};

struct IQ4XS {
  static constexpr GgmlType kType = GgmlType::IQ4_XS;
  static constexpr int kBlockBytes = 136;  // d, scales_h, scales_l[4], qs[128]
  static constexpr AkOrder kOrder = AkOrder::XS;
  static constexpr AkSums kSums = AkSums::BSum32;

  struct Row {
    __m512i u[4];    // lo/hi nibbles of sub-blocks 0..3, then 4..7: value + 128
    __m512i sc[2];   // int32 scales, four lanes per sub-block
    __m128i corr;    // -128 * scales, int16
    __m512 d;
    explicit Row(const uint8_t* b) {
      // Scale ib = (nibble ib of scales_l) | (bits 2ib.. of scales_h) << 4, minus 32.
      const __m128i sl = _mm_cvtsi32_si128(static_cast<int>(load_u32(b + 4)));
      const __m128i m4 = _mm_set1_epi8(0x0F);
      const __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(sl, m4), _mm_and_si128(_mm_srli_epi16(sl, 4), m4));
      const __m128i hi2 = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16(static_cast<short>(load_u16(b + 2))),
                                                      _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)),
                                        _mm_set1_epi16(3));
      const __m128i ls = _mm_or_si128(_mm_cvtepu8_epi16(nib), _mm_slli_epi16(hi2, 4));  // 8 int16
      const __m128i s16 = _mm_sub_epi16(ls, _mm_set1_epi16(32));
      corr = _mm_mullo_epi16(s16, _mm_set1_epi16(-128));
      const __m256i s32 = _mm256_cvtepi16_epi32(s16);
      const __m512i quad = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
      sc[0] = _mm512_permutexvar_epi32(quad, _mm512_castsi256_si512(s32));
      sc[1] = _mm512_permutexvar_epi32(_mm512_add_epi32(quad, _mm512_set1_epi32(4)), _mm512_castsi256_si512(s32));
      // kIQ4NLValues + 128, looked up per nibble.
      const __m512i table = _mm512_broadcast_i32x4(
          _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
                        static_cast<char>(153), static_cast<char>(166), static_cast<char>(181),
                        static_cast<char>(197), static_cast<char>(217), static_cast<char>(241)));
      const __m512i m4z = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m512i z = load512(b + 8 + 64 * h);
        u[2 * h] = _mm512_shuffle_epi8(table, _mm512_and_si512(z, m4z));
        u[2 * h + 1] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(z, 4), m4z));
      }
      d = bcast_half(b);
    }
    __m512 accumulate(__m512 acc, const int8_t* a, float yd, const int16_t* bsum32) const {
      __m512i isum = _mm512_zextsi128_si512(
          _mm_madd_epi16(corr, _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsum32))));
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        __m512i t = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[2 * h], load512(a + 128 * h));
        t = _mm512_dpbusd_epi32(t, u[2 * h + 1], load512(a + 128 * h + 64));
        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(t, sc[h]));
      }
      return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), d), _mm512_set1_ps(yd), acc);
    }
  };
};

}  // namespace

const TypeKernels* find_avx512_kq_low_kernels(GgmlType type) {
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
