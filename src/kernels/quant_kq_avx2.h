// Internal: the tile loop shared by the AVX2 K-quant kernel files
// (quant_kq_avx2.cpp, quant_kq_low_avx2.cpp). Include only from files
// compiled with the AVX2 flags.
//
// Activations are AK in natural order (act_format.h). A weight type T provides
//   kType, kBlockBytes, kSums (which per-token sums Row reads, act_format.h)
//   struct Row {
//     explicit Row(const uint8_t* block);          // scales etc. of one super-block
//     __m256i init(const Sums* sums) const;        // integer start value of a token's sum
//     __m256i dot(int k, const int8_t* a) const;   // scaled int32 sums of 64-element chunk k (0..3)
//     __m256 finish(__m256 acc, __m256i isum, float yd, const Sums* sums) const;
//   };
// Every (row, token) gets the same operations whatever the tile shape.
#pragma once

#include <type_traits>

#include "kernels/act_format.h"
#include "kernels/matmul_table.h"
#include "kernels/simd_avx2.h"

namespace hearth::kernels::detail::avx2 {

template <class T>
struct KQuantKernels {
  static constexpr GgmlType kActType = GgmlType::Q8_K;
  // 16 ymm registers: 4 int32 sums + 4 F32 accumulators + a row's chunk.
  static constexpr int kTileRows = 2;
  static constexpr int kTileTokens = 2;
  static constexpr bool kDecodeByRow = true;

  static size_t act_row_bytes(int64_t cols) { return AK::row_bytes(cols); }
  static void quantize_act(const float* x, int64_t cols, uint8_t* out) {
    quantize_ak_avx2(x, cols, out, AkOrder::Natural);
  }

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
    __m256 acc[NR][NT];
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) acc[i][j] = _mm256_setzero_ps();
    }
    const size_t ahead = prefetch_ahead(NR * row_bytes);
    for (int64_t sb = 0; sb < nsb; ++sb) {
#pragma GCC unroll 4
      for (int i = 0; i < NR; ++i) {
        const uint8_t* block = w + i * row_bytes + sb * T::kBlockBytes;
        if constexpr (NT == 1) {
          for (int off = 0; off < T::kBlockBytes; off += 64) {
            _mm_prefetch(reinterpret_cast<const char*>(block + ahead + off), _MM_HINT_T0);
          }
        }
        const typename T::Row r(block);
        __m256i isum[NT];
#pragma GCC unroll 4
        for (int j = 0; j < NT; ++j) isum[j] = r.init(ab[j] + bsum_len * sb);
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
#pragma GCC unroll 4
          for (int j = 0; j < NT; ++j) isum[j] = _mm256_add_epi32(isum[j], r.dot(k, aq[j] + 256 * sb + 64 * k));
        }
#pragma GCC unroll 4
        for (int j = 0; j < NT; ++j) acc[i][j] = r.finish(acc[i][j], isum[j], ad[j][sb], ab[j] + bsum_len * sb);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < NT; ++j) y[j * y_stride + i] = hsum(acc[i][j]);
    }
  }

  // Decoding stays with the scalar reference (get_row is not hot).
  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    find_scalar_quant_kernels(T::kType)->to_f32(row, cols, out);
  }
};

// maddubs(u, a) summed in int32 pairs scaled by the int16 lanes of s.
static inline __m256i scaled_dot(__m256i u, const int8_t* a, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, load256(a)), s);
}

// [lo x 8 | hi x 8] int16.
static inline __m256i two_scales(int16_t lo, int16_t hi) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(lo)), _mm_set1_epi16(hi), 1);
}

}  // namespace hearth::kernels::detail::avx2
