// AVX-512 (VNNI) kernels for Q8_0 and Q4_0 weights against Q8_0 activations
// (the scalar file covers every other quantized type). Per block: the 32
// int8 products summed exactly in eight int32 lanes (vpdpbusd on |w| and a
// with w's sign), converted to float and accumulated with one FMA by the
// product of the two F16 scales; one hsum at the end. Each (row, token)
// accumulator sees the same operations whatever the tile shape.
//
// Block layouts (tensor/quants.h, not included here: see the ODR note in
// matmul_table.h): Q8_0 = F16 scale + 32 int8 (34 bytes); Q4_0 = F16 scale +
// 16 bytes, element j in the low nibble of byte j and j + 16 in the high
// nibble, stored + 8.
#include <immintrin.h>

// GCC 12's _mm512_undefined_* (used inside many intrinsics) self-initialise
// a variable, which -Wall reports as uninitialised use: a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/matmul_table.h"

namespace hearth::kernels::detail {
namespace {

constexpr int kQ8Bytes = 34;
constexpr int kQ4Bytes = 18;
constexpr int kBlock = 32;

inline float half(const uint8_t* p) { return _cvtsh_ss(static_cast<unsigned short>(p[0] | (p[1] << 8))); }

inline float hsum(__m256 v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  return _mm_cvtss_f32(s4);
}

// Eight int32 partial sums of w[i] * a[i] over 32 int8 pairs.
inline __m256i dot_i8(__m256i w, __m256i a) {
  const __m256i aw = _mm256_sign_epi8(w, w);  // |w| as unsigned bytes
  const __m256i sa = _mm256_sign_epi8(a, w);  // a with w's sign
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sa);
}

struct Q8_0Weights {
  static constexpr int kBytes = kQ8Bytes;
  static __m256i load(const uint8_t* block) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2)); }
};

struct Q4_0Weights {
  static constexpr int kBytes = kQ4Bytes;
  static __m256i load(const uint8_t* block) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
    const __m256i nibbles =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
  }
};

template <class W>
struct Q8Kernels {
  static constexpr GgmlType kActType = GgmlType::Q8_0;
  static constexpr int kTileRows = 2;
  static constexpr int kTileTokens = 4;

  template <int NR, int NT>
  static void qtile(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                    float* y, int64_t y_stride) {
    __m256 acc[NR][NT];
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) acc[i][j] = _mm256_setzero_ps();
    }
    const int64_t nb = cols / kBlock;
    for (int64_t b = 0; b < nb; ++b) {
      __m256i av[NT];
      float ad[NT];
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) {
        const uint8_t* blk = xq + j * xq_row_bytes + b * kQ8Bytes;
        av[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
        ad[j] = half(blk);
      }
#pragma GCC unroll 8
      for (int i = 0; i < NR; ++i) {
        const uint8_t* blk = w + i * row_bytes + b * W::kBytes;
        const __m256i wv = W::load(blk);
        const float wd = half(blk);
#pragma GCC unroll 8
        for (int j = 0; j < NT; ++j) {
          const __m256 s = _mm256_cvtepi32_ps(dot_i8(wv, av[j]));
          acc[i][j] = _mm256_fmadd_ps(_mm256_set1_ps(wd * ad[j]), s, acc[i][j]);
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) y[j * y_stride + i] = hsum(acc[i][j]);
    }
  }

  // Decoding stays with the scalar reference (get_row is not hot).
  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    find_scalar_quant_kernels(W::kBytes == kQ8Bytes ? GgmlType::Q8_0 : GgmlType::Q4_0)->to_f32(row, cols, out);
  }
};

constexpr KernelEntry kTable[] = {
    {GgmlType::Q8_0, make_quant_type_kernels<Q8Kernels<Q8_0Weights>>()},
    {GgmlType::Q4_0, make_quant_type_kernels<Q8Kernels<Q4_0Weights>>()},
};

}  // namespace

const TypeKernels* find_avx512_quant_kernels(GgmlType type) {
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return nullptr;
}

}  // namespace hearth::kernels::detail
