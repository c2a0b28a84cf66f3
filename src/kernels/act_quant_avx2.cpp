// SIMD activation quantizers for the A32 and AK layouts (act_format.h).
//
// They must give exactly tensor/quants.h's quantize_activations values:
//  * Q8_0 / Q8_1 (ggml's AVX code): amax = max |x| over the block, d = amax /
//    127, q = round-half-even(x * (127 / amax)); d rounded to F16.
//  * Q8_K (quantize_row_q8_K_ref): the first element of largest magnitude,
//    max, sets iscale = -127 / max; q = min(127, round-half-even(iscale * x));
//    d = 1 / iscale in F32.
// Same float operations in the same order, so the same bits. (The rounding
// of cvtps2dq follows MXCSR, round-to-nearest-even unless a program changes
// it, which is what nearbyint and ggml's nearest_int use too.) NaN inputs are
// skipped by the amax search as in the reference (max_ps returns its second
// operand, the running maximum, when the first is NaN).
//
// AVX2 only, so one copy serves both SIMD paths.
#include <immintrin.h>

#include <cstring>

#include "kernels/act_format.h"

namespace hearth::kernels::detail {
namespace {

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

inline float round_to_half(float f) { return _cvtsh_ss(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

// Four vectors of 8 int32 (values within int8) -> 32 int8 in element order.
inline __m256i pack_i8(__m256i q0, __m256i q1, __m256i q2, __m256i q3) {
  const __m256i p01 = _mm256_packs_epi32(q0, q1);  // lanes interleave: 0 2 | 1 3 (in 4-element groups)
  const __m256i p23 = _mm256_packs_epi32(q2, q3);
  const __m256i p = _mm256_packs_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// max |x| over n floats (multiple of 8), NaN-skipping like std::max(amax, |x|).
inline float abs_max(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), m);
  return hmax(m);
}

// One Q8_0 block of 32 floats: the 32 quants in element order, the F16-rounded
// scale as F32, and the sum of the quants.
struct BlockQ8 {
  __m256i q;
  float d;        // fp16(d) as F32
  float d_exact;  // d before rounding (Q8_1's sum term uses it)
  int sum;
};

inline BlockQ8 quantize_block(const float* x) {
  const float amax = abs_max(x, 32);
  const float d = amax / 127.0f;
  const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id));
  return {pack_i8(q[0], q[1], q[2], q[3]), round_to_half(d), d,
          hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])))};
}

}  // namespace

void quantize_a32t_avx2(const float* x, int64_t cols, uint8_t* out, int offset) {
  const int64_t nb = cols / 32;
  std::memset(out, 0, A32T::row_bytes(cols));  // the last group's missing blocks
  for (int64_t b = 0; b < nb; ++b, x += 32) {
    const BlockQ8 q = quantize_block(x);
    uint8_t* group = out + A32T::kGroupBytes * static_cast<size_t>(b / 16);
    const int lane = static_cast<int>(b % 16);
    alignas(32) uint32_t words[8];  // words[k] = elements 4k .. 4k+3
    _mm256_store_si256(reinterpret_cast<__m256i*>(words), q.q);
    for (int k = 0; k < 8; ++k) std::memcpy(group + 64 * k + 4 * lane, &words[k], 4);
    std::memcpy(group + A32T::kDOff + 4 * lane, &q.d, 4);
    const int32_t corr = -offset * q.sum;
    std::memcpy(group + A32T::kCorrOff + 4 * lane, &corr, 4);
  }
}

void quantize_a32_avx2(const float* x, int64_t cols, uint8_t* out, int offset) {
  const int64_t nb = cols / 32;
  const int64_t padded = 4 * A32::groups(cols);
  int8_t* qs = reinterpret_cast<int8_t*>(out);
  float* d_out = reinterpret_cast<float*>(out + A32::d_off(cols));
  int32_t* corr_out = reinterpret_cast<int32_t*>(out + A32::corr_off(cols));
  float* s_out = reinterpret_cast<float*>(out + A32::s_off(cols));
  for (int64_t b = 0; b < nb; ++b, x += 32) {
    const BlockQ8 q = quantize_block(x);
    int8_t* g = qs + 128 * (b / 4) + 16 * (b % 4);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(g), _mm256_castsi256_si128(q.q));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(g + 64), _mm256_extracti128_si256(q.q, 1));
    d_out[b] = q.d;
    corr_out[b] = -offset * q.sum;
    // Q8_1's s = fp16(d * sum) with the unrounded d (ggml's order).
    s_out[b] = round_to_half(q.d_exact * static_cast<float>(q.sum));
  }
  for (int64_t b = nb; b < padded; ++b) {  // zero blocks completing the last group
    int8_t* g = qs + 128 * (b / 4) + 16 * (b % 4);
    std::memset(g, 0, 16);
    std::memset(g + 64, 0, 16);
    d_out[b] = 0.0f;
    corr_out[b] = 0;
    s_out[b] = 0.0f;
  }
}

void quantize_ak_avx2(const float* x, int64_t cols, uint8_t* out, AkOrder order) {
  const int64_t nsb = AK::blocks(cols);
  float* d_out = reinterpret_cast<float*>(out + AK::d_off(cols));
  int16_t* bsum16 = reinterpret_cast<int16_t*>(out + AK::bsum16_off(cols));
  int16_t* bsum32 = reinterpret_cast<int16_t*>(out + AK::bsum32_off(cols));
  float* dsum32 = reinterpret_cast<float*>(out + AK::dsum32_off(cols));
  // position of each natural 16-element chunk
  int pos[16];
  for (int k = 0; k < 16; ++k) pos[ak_chunk(order, k)] = k;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < nsb; ++i, x += 256) {
    int8_t* qs = reinterpret_cast<int8_t*>(out) + 256 * i;
    const float amax = abs_max(x, 256);
    if (amax == 0.0f) {
      std::memset(qs, 0, 256);
      d_out[i] = 0.0f;
      std::memset(bsum16 + 16 * i, 0, 32);
      std::memset(bsum32 + 8 * i, 0, 16);
      std::memset(dsum32 + 8 * i, 0, 32);
      continue;
    }
    // The first element of largest magnitude (ggml keeps the first on ties).
    const __m256 vmax = _mm256_set1_ps(amax);
    int first = 0;
    for (int g = 0; g < 32; ++g) {
      const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * g)), vmax,
                                                     _CMP_EQ_OQ));
      if (m != 0) {
        first = 8 * g + __builtin_ctz(static_cast<unsigned>(m));
        break;
      }
    }
    const float iscale = -127.0f / x[first];
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i limit = _mm256_set1_epi32(127);
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256i sums[8];  // per 32 elements: int32 sums of 4 consecutive quants
    for (int g = 0; g < 8; ++g) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + 32 * g + 8 * k))), limit);
      }
      const __m256i p = pack_i8(q[0], q[1], q[2], q[3]);
      // natural chunks 2g, 2g + 1 (16 bytes each) to their positions
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16 * pos[2 * g]), _mm256_castsi256_si128(p));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16 * pos[2 * g + 1]), _mm256_extracti128_si256(p, 1));
      // |sum of 4| <= 508: maddubs of ones (unsigned) with q never saturates
      sums[g] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, p), ones16);
    }
    // sums[g] = [c(2g) quarter sums | c(2g+1) quarter sums]; fold quarters.
    alignas(32) int32_t s16[16];
    for (int g = 0; g < 8; g += 2) {
      const __m256i h = _mm256_hadd_epi32(sums[g], sums[g + 1]);  // lane0: c2g halves, c2g+2 halves; lane1: odd
      const __m256i hh = _mm256_hadd_epi32(h, h);                 // lane0: [c2g, c2g+2, ..]; lane1: [c2g+1, c2g+3, ..]
      s16[2 * g + 0] = _mm256_extract_epi32(hh, 0);
      s16[2 * g + 1] = _mm256_extract_epi32(hh, 4);
      s16[2 * g + 2] = _mm256_extract_epi32(hh, 1);
      s16[2 * g + 3] = _mm256_extract_epi32(hh, 5);
    }
    for (int k = 0; k < 16; ++k) bsum16[16 * i + k] = static_cast<int16_t>(s16[k]);
    const float d = 1 / iscale;
    for (int k = 0; k < 8; ++k) {
      bsum32[8 * i + k] = static_cast<int16_t>(s16[2 * k] + s16[2 * k + 1]);
      dsum32[8 * i + k] = d * static_cast<float>(s16[2 * k] + s16[2 * k + 1]);
    }
    d_out[i] = d;
  }
}

}  // namespace hearth::kernels::detail
