// AVX2 kernels for the 32-element block types: Q4_0, Q5_0, Q8_0, IQ4_NL
// (against Q8_0 activations) and Q4_1, Q5_1 (against Q8_1), with the
// activations in the A32 layout (act_format.h), which the AVX-512 kernels
// use too.
//
// Work goes in halves of A32's four-block groups: two blocks per 256-bit
// vector pair, one with elements 0..15 of each block, one with 16..31 (a
// block per 128-bit lane), so each block owns four int32 lanes of the dot
// product and one conversion and FMA scale two blocks.
//  * Q4_0, Q5_0, Q4_1, Q5_1: unsigned quants u (Q4_0 / Q5_0 store q + 8 /
//    q + 16) times signed activations with maddubs; the two int16 pair sums
//    of a lane add without overflow (2 * 2 * 31 * 127 < 2^15); the offset
//    comes back out exactly as A32's corr (-offset * sum(a)).
//  * Q8_0, IQ4_NL: signed quants up to |128|, where q + 128 would overflow
//    maddubs' int16 pairs; ggml's sign trick instead: maddubs(|q|, sign(a, q)).
// Per block: acc += float(dot) * (dw * da), plus m * s for Q4_1 / Q5_1, as
// ggml. Each (row, token) has its own accumulator, reduced by one fixed hsum.
#include <cstring>

#include "kernels/act_format.h"
#include "kernels/matmul_table.h"
#include "kernels/simd_avx2.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx2;

// Two blocks of one row: quants of elements 0..15 (lo) and 16..31 (hi) of
// each, a block per 128-bit lane; scales [d0 x 4, d1 x 4]; mins [m0, 0, 0,
// 0, m1, 0, 0, 0].
struct Pair {
  __m256i lo, hi;
  __m256 d, m;
};

inline void split_nibbles(__m256i x, Pair& p) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  p.lo = _mm256_and_si256(x, m4);
  p.hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
}

inline __m256 half_pair(const uint8_t* a, const uint8_t* b) {
  const uint32_t bits = load_u16(a) | (static_cast<uint32_t>(load_u16(b)) << 16);
  return pair_lanes(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(bits))));
}

// Fifth bits of two Q5 blocks (uint32 qh at a and b): bit j of each is
// element j's.
inline void add_fifth_bits(const uint8_t* a, const uint8_t* b, Pair& p) {
  const uint32_t qa = load_u32(a), qb = load_u32(b);
  const __m256i sixteen = _mm256_set1_epi8(16);
  p.lo = _mm256_or_si256(p.lo, _mm256_and_si256(bits_to_bytes((qa & 0xFFFF) | (qb << 16)), sixteen));
  p.hi = _mm256_or_si256(p.hi, _mm256_and_si256(bits_to_bytes((qa >> 16) | (qb & 0xFFFF0000u)), sixteen));
}

struct Q4_0 {
  static constexpr GgmlType kType = GgmlType::Q4_0;
  static constexpr int kBytes = 18, kOffset = 8;
  static constexpr bool kSigned = false, kHasMin = false, kFifthBits = false;
  static void load(const uint8_t* b, Pair& p) {
    split_nibbles(load2x128(b + 2, b + kBytes + 2), p);
    p.d = half_pair(b, b + kBytes);
  }
};

struct Q5_0 {
  static constexpr GgmlType kType = GgmlType::Q5_0;
  static constexpr int kBytes = 22, kOffset = 16;
  static constexpr bool kSigned = false, kHasMin = false, kFifthBits = true;
  static void load(const uint8_t* b, Pair& p) {
    split_nibbles(load2x128(b + 6, b + kBytes + 6), p);
    add_fifth_bits(b + 2, b + kBytes + 2, p);
    p.d = half_pair(b, b + kBytes);
  }
};

struct Q4_1 {
  static constexpr GgmlType kType = GgmlType::Q4_1;
  static constexpr int kBytes = 20, kOffset = 0;
  static constexpr bool kSigned = false, kHasMin = true, kFifthBits = false;
  static void load(const uint8_t* b, Pair& p) {
    split_nibbles(load2x128(b + 4, b + kBytes + 4), p);
    p.d = half_pair(b, b + kBytes);
    p.m = _mm256_blend_ps(_mm256_setzero_ps(), half_pair(b + 2, b + kBytes + 2), 0x11);
  }
};

struct Q5_1 {
  static constexpr GgmlType kType = GgmlType::Q5_1;
  static constexpr int kBytes = 24, kOffset = 0;
  static constexpr bool kSigned = false, kHasMin = true, kFifthBits = true;
  static void load(const uint8_t* b, Pair& p) {
    split_nibbles(load2x128(b + 8, b + kBytes + 8), p);
    add_fifth_bits(b + 4, b + kBytes + 4, p);
    p.d = half_pair(b, b + kBytes);
    p.m = _mm256_blend_ps(_mm256_setzero_ps(), half_pair(b + 2, b + kBytes + 2), 0x11);
  }
};

struct Q8_0 {
  static constexpr GgmlType kType = GgmlType::Q8_0;
  static constexpr int kBytes = 34, kOffset = 0;
  static constexpr bool kSigned = true, kHasMin = false, kFifthBits = false;
  static void load(const uint8_t* b, Pair& p) {
    p.lo = load2x128(b + 2, b + kBytes + 2);
    p.hi = load2x128(b + 18, b + kBytes + 18);
    p.d = half_pair(b, b + kBytes);
  }
};

struct IQ4_NL {
  static constexpr GgmlType kType = GgmlType::IQ4_NL;
  static constexpr int kBytes = 18, kOffset = 0;
  static constexpr bool kSigned = true, kHasMin = false, kFifthBits = false;
  static void load(const uint8_t* b, Pair& p) {
    split_nibbles(load2x128(b + 2, b + kBytes + 2), p);
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    p.lo = _mm256_shuffle_epi8(table, p.lo);
    p.hi = _mm256_shuffle_epi8(table, p.hi);
    p.d = half_pair(b, b + kBytes);
  }
};

template <class T>
struct LegacyKernels {
  static constexpr GgmlType kActType = T::kHasMin ? GgmlType::Q8_1 : GgmlType::Q8_0;
  // 16 ymm registers: 8 accumulators, a row's pair of blocks, constants.
  // The Q5 types' bit expansion needs more constants: 2 x 2 avoids spills.
  static constexpr int kTileRows = 2;
  static constexpr int kTileTokens = T::kFifthBits ? 2 : 4;
  static constexpr bool kDecodeByRow = true;

  static size_t act_row_bytes(int64_t cols) { return A32::row_bytes(cols); }
  static void quantize_act(const float* x, int64_t cols, uint8_t* out) {
    quantize_a32_avx2(x, cols, out, T::kOffset);
  }

  // Exact int32 dot products of two blocks, four lanes each.
  static __m256i dot(const Pair& w, const int8_t* a_lo, const int8_t* a_hi) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i alo = load256(a_lo), ahi = load256(a_hi);
    if constexpr (T::kSigned) {
      const __m256i plo = _mm256_maddubs_epi16(_mm256_sign_epi8(w.lo, w.lo), _mm256_sign_epi8(alo, w.lo));
      const __m256i phi = _mm256_maddubs_epi16(_mm256_sign_epi8(w.hi, w.hi), _mm256_sign_epi8(ahi, w.hi));
      return _mm256_add_epi32(_mm256_madd_epi16(plo, ones), _mm256_madd_epi16(phi, ones));
    } else {
      const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(w.lo, alo), _mm256_maddubs_epi16(w.hi, ahi));
      return _mm256_madd_epi16(p, ones);
    }
  }

  // Half h (blocks 2h, 2h + 1) of group g, for NR rows (pointers at the
  // pair's first block) and NT tokens.
  template <int NR, int NT>
  static void half(const uint8_t* const rows[NR], const uint8_t* xq, size_t xq_row_bytes, int64_t cols, int64_t g,
                   int h, __m256 (&acc)[NR][NT]) {
    const size_t d_off = A32::d_off(cols), corr_off = A32::corr_off(cols), s_off = A32::s_off(cols);
    const int64_t blk = 4 * g + 2 * h;
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
      Pair w;
      T::load(rows[i], w);
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) {
        const uint8_t* row = xq + j * xq_row_bytes;
        const int8_t* a = reinterpret_cast<const int8_t*>(row) + 128 * g + 32 * h;
        __m256i d = dot(w, a, a + 64);
        if constexpr (T::kOffset != 0) {
          // corr of the two blocks into lanes 0 and 4 (movq zeroes lane 2).
          const __m256i corr = _mm256_permutevar8x32_epi32(
              _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(
                  reinterpret_cast<const int32_t*>(row + corr_off) + blk))),
              _mm256_setr_epi32(0, 2, 2, 2, 1, 2, 2, 2));
          d = _mm256_add_epi32(d, corr);
        }
        const __m256 ad = pair_lanes(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(
            reinterpret_cast<const float*>(row + d_off) + blk))));
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(w.d, ad), acc[i][j]);
        if constexpr (T::kHasMin) {
          const __m256 s = pair_lanes(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(
              reinterpret_cast<const float*>(row + s_off) + blk))));
          acc[i][j] = _mm256_fmadd_ps(w.m, s, acc[i][j]);
        }
      }
    }
  }

  template <int NR, int NT>
  static void qtile(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                    float* y, int64_t y_stride) {
    const int64_t nb = cols / 32;
    const int64_t full = nb / 4;
    __m256 acc[NR][NT];
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) acc[i][j] = _mm256_setzero_ps();
    }
    const uint8_t* rows[NR];
    const size_t ahead = prefetch_ahead(NR * row_bytes);
    for (int64_t g = 0; g < full; ++g) {
      for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 4
        for (int i = 0; i < NR; ++i) {
          rows[i] = w + i * row_bytes + (4 * g + 2 * h) * T::kBytes;
          if constexpr (NT == 1) _mm_prefetch(reinterpret_cast<const char*>(rows[i] + ahead), _MM_HINT_T0);
        }
        half<NR, NT>(rows, xq, xq_row_bytes, cols, g, h, acc);
      }
    }
    if (const int64_t rest = nb - 4 * full; rest != 0) {
      // A last, partial group: copied next to zero blocks (zero scales; the
      // activations' padding blocks are zero too), so nothing past the row is read.
      alignas(32) uint8_t tail[NR][4 * T::kBytes];
      std::memset(tail, 0, sizeof tail);
      for (int i = 0; i < NR; ++i) {
        std::memcpy(tail[i], w + i * row_bytes + 4 * full * T::kBytes, static_cast<size_t>(rest * T::kBytes));
      }
      for (int h = 0; h < 2; ++h) {
        for (int i = 0; i < NR; ++i) rows[i] = tail[i] + 2 * h * T::kBytes;
        half<NR, NT>(rows, xq, xq_row_bytes, cols, full, h, acc);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) y[j * y_stride + i] = hsum(acc[i][j]);
    }
  }

  // Decoding stays with the scalar reference (get_row is not hot).
  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    find_scalar_quant_kernels(T::kType)->to_f32(row, cols, out);
  }
};

}  // namespace

const TypeKernels* find_avx2_legacy_kernels(GgmlType type) {
  static constexpr KernelEntry kTable[] = {
      {GgmlType::Q4_0, make_quant_type_kernels<LegacyKernels<Q4_0>>()},
      {GgmlType::Q8_0, make_quant_type_kernels<LegacyKernels<Q8_0>>()},
      {GgmlType::Q5_0, make_quant_type_kernels<LegacyKernels<Q5_0>>()},
      {GgmlType::IQ4_NL, make_quant_type_kernels<LegacyKernels<IQ4_NL>>()},
      {GgmlType::Q4_1, make_quant_type_kernels<LegacyKernels<Q4_1>>()},
      {GgmlType::Q5_1, make_quant_type_kernels<LegacyKernels<Q5_1>>()},
  };
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return nullptr;
}

}  // namespace hearth::kernels::detail
