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
