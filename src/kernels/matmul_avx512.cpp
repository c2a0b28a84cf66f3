// AVX-512 dense kernels (F32 / F16 / BF16 weights, F32 activations).
// Compiled with the AVX-512 flags (see CMakeLists.txt); run only when
// dispatch.cpp has checked the CPU. Uses nothing from the C++ library or from
// other project headers with inline code (see the ODR note in matmul_table.h).
#include <immintrin.h>

// GCC 12's _mm512_undefined_* (used inside many intrinsics) self-initialise
// a variable, which -Wall reports as uninitialised use: a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/matmul_table.h"

namespace hearth::kernels::detail {
namespace {

constexpr int kLanes = 16;

// Weight loaders: 16 consecutive elements of a row from element c, widened
// exactly to F32. The masked forms read only the first n lanes (n < 16, no
// access past them) and zero the rest.
struct F32Weights {
  static constexpr int kBytes = 4;
  static __m512 load(const uint8_t* row, int64_t c) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
  }
  static __m512 load_masked(const uint8_t* row, int64_t c, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
  }
};

struct F16Weights {
  static constexpr int kBytes = 2;
  static __m512 load(const uint8_t* row, int64_t c) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * c)));
  }
  static __m512 load_masked(const uint8_t* row, int64_t c, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * c));
  }
};

// bfloat16 is the top half of an F32: zero-extend to 32 bits, shift up.
struct BF16Weights {
  static constexpr int kBytes = 2;
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 load(const uint8_t* row, int64_t c) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * c)));
  }
  static __m512 load_masked(const uint8_t* row, int64_t c, __mmask16 m) {
    return widen(_mm256_maskz_loadu_epi16(m, row + 2 * c));
  }
};

// Sum of the 16 lanes in one fixed order (halving tree), so every (row,
// token) accumulator is reduced identically.
inline float hsum(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 s8 = _mm256_add_ps(lo, hi);
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  return _mm_cvtss_f32(s4);
}

inline __mmask16 first_lanes(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// One F32 accumulator vector per (row, token): lane l sums the products of
// columns c = l (mod 16) in increasing c with FMA; the last partial vector is
// zero-padded; then hsum. 4 x 6 keeps 24 accumulators + 6 activation vectors
// + 1 weight vector in the 32 zmm registers, and each converted weight vector
// is used by 6 tokens (the F16 / BF16 conversions compete with the FMAs for
// the same pipes, so the more tokens per conversion the better).
template <class W>
struct DenseKernels {
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 6;

  static constexpr int kAccFloats = kLanes;

  template <int NR, int NT>
  static void tile(const uint8_t* w, size_t row_bytes, const float* x, int64_t cols, float* y,
                   int64_t y_stride) {
    run<NR, NT>(w, row_bytes, x, cols, 0, cols, nullptr, kChunkFirst | kChunkLast, y, y_stride);
  }

  template <int NR, int NT>
  static void chunk(const uint8_t* w, size_t row_bytes, const float* x, int64_t cols, int64_t c0, int64_t c1,
                    float* accmem, int mode, float* y, int64_t y_stride) {
    run<NR, NT>(w, row_bytes, x, cols, c0, c1, accmem, mode, y, y_stride);
  }

  template <int NR, int NT>
  static inline __attribute__((always_inline)) void run(const uint8_t* w, size_t row_bytes, const float* x,
                                                        int64_t cols, int64_t c0, int64_t c1, float* accmem,
                                                        int mode, float* y, int64_t y_stride) {
    __m512 acc[NR][NT];
#pragma GCC unroll 16
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) {
        acc[i][j] = (mode & kChunkFirst) ? _mm512_setzero_ps() : _mm512_load_ps(accmem + (i * NT + j) * kLanes);
      }
    }
    // Decode prefetch distance: whole tiles, about 12 KiB in all (hardware
    // prefetchers stop at 4 KiB pages; see prefetch_ahead in simd_avx512.h).
    const size_t tile_bytes = NR * row_bytes;
    const size_t tiles = (12 * 1024 + tile_bytes / 2) / tile_bytes;
    const size_t ahead = (tiles < 1 ? 1 : tiles) * tile_bytes;
    int64_t c = c0;
    for (; c + kLanes <= c1; c += kLanes) {
      // Decode streams each weight row once: fetch the next tile's rows (the
      // next ones this thread multiplies) ahead; hardware prefetchers stop at
      // 4 KiB pages.
      if constexpr (NT == 1) {
#pragma GCC unroll 16
        for (int i = 0; i < NR; ++i) {
          _mm_prefetch(reinterpret_cast<const char*>(w + ahead + i * row_bytes) + c * W::kBytes, _MM_HINT_T0);
        }
      }
      __m512 xv[NT];
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) xv[j] = _mm512_loadu_ps(x + j * cols + c);
#pragma GCC unroll 16
      for (int i = 0; i < NR; ++i) {
        const __m512 wv = W::load(w + i * row_bytes, c);
#pragma GCC unroll 16
        for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
    if (c < c1) {
      const __mmask16 m = first_lanes(c1 - c);
      __m512 xv[NT];
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) xv[j] = _mm512_maskz_loadu_ps(m, x + j * cols + c);
#pragma GCC unroll 16
      for (int i = 0; i < NR; ++i) {
        const __m512 wv = W::load_masked(w + i * row_bytes, c, m);
#pragma GCC unroll 16
        for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) {
        if (mode & kChunkLast) {
          y[j * y_stride + i] = hsum(acc[i][j]);
        } else {
          _mm512_store_ps(accmem + (i * NT + j) * kLanes, acc[i][j]);
        }
      }
    }
  }

  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    int64_t c = 0;
    for (; c + kLanes <= cols; c += kLanes) _mm512_storeu_ps(out + c, W::load(row, c));
    if (c < cols) {
      const __mmask16 m = first_lanes(cols - c);
      _mm512_mask_storeu_ps(out + c, m, W::load_masked(row, c, m));
    }
  }
};

constexpr KernelEntry kTable[] = {
    {GgmlType::F32, make_type_kernels<DenseKernels<F32Weights>>()},
    {GgmlType::F16, make_type_kernels<DenseKernels<F16Weights>>()},
    {GgmlType::BF16, make_type_kernels<DenseKernels<BF16Weights>>()},
};

}  // namespace

const TypeKernels* find_avx512_kernels(GgmlType type) {
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return find_avx512_quant_kernels(type);
}

}  // namespace hearth::kernels::detail
