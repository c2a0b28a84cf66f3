// AVX2 + FMA + F16C dense kernels (F32 / F16 / BF16 weights, F32
// activations). Compiled with the AVX2 flags (see CMakeLists.txt); run only
// when dispatch.cpp has checked the CPU. Uses nothing from the C++ library or
// from project headers with inline code (see the ODR note in matmul_table.h).
#include <immintrin.h>

#include "kernels/matmul_table.h"

namespace hearth::kernels::detail {
namespace {

constexpr int kLanes = 8;

// Lane mask selecting the first n (< 8) lanes, for maskload/maskstore.
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The first n (< 8) 16-bit elements at p, zero-padded to 8. AVX2 has no
// 16-bit masked load, so the tail goes through a small buffer.
inline __m128i load_u16_tail(const uint8_t* p, int64_t n) {
  alignas(16) uint16_t buf[kLanes] = {};
  __builtin_memcpy(buf, p, static_cast<size_t>(n) * 2);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(buf));
}

// Weight loaders: 8 consecutive elements of a row from element c, widened
// exactly to F32. The tail forms read only the first n lanes and zero the rest.
struct F32Weights {
  static constexpr int kBytes = 4;
  static __m256 load(const uint8_t* row, int64_t c) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
  }
  static __m256 load_tail(const uint8_t* row, int64_t c, int64_t /*n*/, __m256i mask) {
    return _mm256_maskload_ps(reinterpret_cast<const float*>(row) + c, mask);
  }
};

struct F16Weights {
  static constexpr int kBytes = 2;
  static __m256 load(const uint8_t* row, int64_t c) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
  }
  static __m256 load_tail(const uint8_t* row, int64_t c, int64_t n, __m256i /*mask*/) {
    return _mm256_cvtph_ps(load_u16_tail(row + 2 * c, n));
  }
};

// bfloat16 is the top half of an F32: zero-extend to 32 bits, shift up.
struct BF16Weights {
  static constexpr int kBytes = 2;
  static __m256 widen(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
  static __m256 load(const uint8_t* row, int64_t c) {
    return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
  }
  static __m256 load_tail(const uint8_t* row, int64_t c, int64_t n, __m256i /*mask*/) {
    return widen(load_u16_tail(row + 2 * c, n));
  }
};

// Sum of the 8 lanes in one fixed order (halving tree).
inline float hsum(__m256 v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  return _mm_cvtss_f32(s4);
}

// One F32 accumulator vector per (row, token): lane l sums the products of
// columns c = l (mod 8) in increasing c with FMA; the last partial vector is
// zero-padded; then hsum. 4 x 3 uses 12 accumulators + 3 activation vectors
// + 1 weight vector = all 16 ymm registers.
template <class W>
struct DenseKernels {
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 3;

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
    __m256 acc[NR][NT];
#pragma GCC unroll 16
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) {
        acc[i][j] = (mode & kChunkFirst) ? _mm256_setzero_ps() : _mm256_load_ps(accmem + (i * NT + j) * kLanes);
      }
    }
    // Decode prefetch distance: whole tiles, about 12 KiB in all (hardware
    // prefetchers stop at 4 KiB pages; see prefetch_ahead in simd_avx512.h).
    const size_t tile_bytes = NR * row_bytes;
    const size_t tiles = (12 * 1024 + tile_bytes / 2) / tile_bytes;
    const size_t ahead = (tiles < 1 ? 1 : tiles) * tile_bytes;
    int64_t c = c0;
    for (; c + kLanes <= c1; c += kLanes) {
      // Decode streams each weight row once: fetch the next tile's rows
      // ahead (hardware prefetchers stop at 4 KiB pages).
      if constexpr (NT == 1) {
#pragma GCC unroll 16
        for (int i = 0; i < NR; ++i) {
          _mm_prefetch(reinterpret_cast<const char*>(w + ahead + i * row_bytes) + c * W::kBytes, _MM_HINT_T0);
        }
      }
      __m256 xv[NT];
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) xv[j] = _mm256_loadu_ps(x + j * cols + c);
#pragma GCC unroll 16
      for (int i = 0; i < NR; ++i) {
        const __m256 wv = W::load(w + i * row_bytes, c);
#pragma GCC unroll 16
        for (int j = 0; j < NT; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
    if (c < c1) {
      const int64_t n = c1 - c;
      const __m256i m = first_lanes(n);
      __m256 xv[NT];
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) xv[j] = _mm256_maskload_ps(x + j * cols + c, m);
#pragma GCC unroll 16
      for (int i = 0; i < NR; ++i) {
        const __m256 wv = W::load_tail(w + i * row_bytes, c, n, m);
#pragma GCC unroll 16
        for (int j = 0; j < NT; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 16
      for (int j = 0; j < NT; ++j) {
        if (mode & kChunkLast) {
          y[j * y_stride + i] = hsum(acc[i][j]);
        } else {
          _mm256_store_ps(accmem + (i * NT + j) * kLanes, acc[i][j]);
        }
      }
    }
  }

  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    int64_t c = 0;
    for (; c + kLanes <= cols; c += kLanes) _mm256_storeu_ps(out + c, W::load(row, c));
    if (c < cols) {
      const __m256i m = first_lanes(cols - c);
      _mm256_maskstore_ps(out + c, m, W::load_tail(row, c, cols - c, m));
    }
  }
};

constexpr KernelEntry kTable[] = {
    {GgmlType::F32, make_type_kernels<DenseKernels<F32Weights>>()},
    {GgmlType::F16, make_type_kernels<DenseKernels<F16Weights>>()},
    {GgmlType::BF16, make_type_kernels<DenseKernels<BF16Weights>>()},
};

}  // namespace

const TypeKernels* find_avx2_kernels(GgmlType type) {
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return find_avx2_quant_kernels(type);
}

}  // namespace hearth::kernels::detail
