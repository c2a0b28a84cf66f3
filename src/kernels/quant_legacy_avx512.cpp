// AVX-512 (VNNI) kernels for the 32-element block types: Q4_0, Q5_0, Q8_0,
// IQ4_NL (against Q8_0 activations) and Q4_1, Q5_1 (against Q8_1), with the
// activations in the A32 layout (act_format.h).
//
// Work goes in groups of four blocks, two 512-bit vectors per group and side:
// one with elements 0..15 of each block, one with 16..31, a block per
// 128-bit lane. So each block owns four int32 lanes of the dot product, and
// one conversion and one FMA scale four blocks at once.
//
// The weight quants are made unsigned (u = q + offset: Q4_0 stores q + 8,
// Q5_0 q + 16, Q8_0 and IQ4_NL get + 128), so vpdpbusd multiplies them with
// the signed activations directly; the offset comes back out exactly through
// the integer start value -offset * sum(a) of each block (precomputed per
// token in A32's corr, placed in the block's first lane). Per group and
// (row, token):
//   dot = vpdpbusd(vpdpbusd(corr, u_lo, a_lo), u_hi, a_hi)  exact int32
//   acc += float(dot) * (dw * da)                           one F32 scale per block
// plus, for Q4_1 / Q5_1, acc += m * s (ggml's min term, per block). Each
// (row, token) has its own accumulator, reduced by one fixed hsum, so results
// do not depend on the tile shape or the thread split.
#include <cstring>

#include "kernels/act_format.h"
#include "kernels/matmul_table.h"
#include "kernels/simd_avx512.h"

namespace hearth::kernels::detail {
namespace {

using namespace avx512;

struct WordIndex {
  alignas(64) int16_t v[32];
};

// Lane L (8 words) = the 16 bytes at byte offset first + L * stride.
constexpr WordIndex lane_bytes16(int first, int stride) {
  WordIndex w{};
  for (int i = 0; i < 32; ++i) w.v[i] = static_cast<int16_t>((first + (i / 8) * stride) / 2 + i % 8);
  return w;
}

// Words 0..15: the F16 at byte offset first + L * stride, four times each.
constexpr WordIndex lane_halves(int first, int stride) {
  WordIndex w{};
  for (int i = 0; i < 32; ++i) w.v[i] = static_cast<int16_t>((first + ((i / 4) % 4) * stride) / 2);
  return w;
}

// Words 0..7: low then high halves of the uint32 at first + L * stride, L = 0..3.
constexpr WordIndex qh_words(int first, int stride) {
  WordIndex w{};
  for (int i = 0; i < 32; ++i) w.v[i] = static_cast<int16_t>((first + (i % 4) * stride) / 2 + (i / 4) % 2);
  return w;
}

inline __m512i load_index(const WordIndex& w) { return _mm512_load_si512(w.v); }

// Lanes 4L .. 4L + 3 from element L.
inline __m512i quad_index() { return _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3); }

// The 4 * kBytes bytes of a group of blocks (at most 128) in two registers,
// reading nothing past the group. (Plain loads for the bytes past 64: a
// masked 64-byte load there streams from memory at half the speed.)
template <int kBytes>
struct GroupBytes {
  static_assert(4 * kBytes > 64 && 4 * kBytes <= 128);
  __m512i z0, z1;
  explicit GroupBytes(const uint8_t* g) : z0(load512(g)), z1(load_rest(g + 64)) {}
  static __m512i load_rest(const uint8_t* p) {
    constexpr int n = 4 * kBytes - 64;
    if constexpr (n == 8) {
      return _mm512_zextsi128_si512(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (n == 16) {
      return _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (n == 24) {
      const __m256i lo = _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      return _mm512_zextsi256_si512(
          _mm256_inserti128_si256(lo, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16)), 1));
    } else {
      static_assert(n == 32);
      return _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
  }
  __m512i words(const WordIndex& idx) const { return _mm512_permutex2var_epi16(z0, load_index(idx), z1); }
  // F16 scales, four lanes per block.
  __m512 halves(const WordIndex& idx) const { return _mm512_cvtph_ps(_mm512_castsi512_si256(words(idx))); }
};

// Unsigned quants of a group: lo = elements 0..15 of each block, hi = 16..31.
struct GroupQuants {
  __m512i lo, hi;
  __m512 d;  // block scales, four lanes each
  __m512 m;  // Q4_1 / Q5_1 mins in each block's first lane, else unused
};

inline void split_nibbles(__m512i x, GroupQuants& q) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  q.lo = _mm512_and_si512(x, m4);
  q.hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
}

// Fifth bits (Q5_0 / Q5_1): words = [low, high 16 bits of each block's qh]
// (qh_words); bit j of the 64-bit masks is byte j of lo / hi.
inline void add_fifth_bits(__m512i words, GroupQuants& q) {
  const __m128i w = _mm512_castsi512_si128(words);
  const __m512i sixteen = _mm512_set1_epi8(16);
  q.lo = _mm512_mask_add_epi8(q.lo, static_cast<__mmask64>(_mm_cvtsi128_si64(w)), q.lo, sixteen);
  q.hi = _mm512_mask_add_epi8(q.hi, static_cast<__mmask64>(_mm_extract_epi64(w, 1)), q.hi, sixteen);
}

struct Q4_0 {
  static constexpr GgmlType kType = GgmlType::Q4_0;
  static constexpr int kBytes = 18, kOffset = 8;
  static constexpr bool kHasMin = false;
  static void load(const uint8_t* g, GroupQuants& q) {
    static constexpr WordIndex kQs = lane_bytes16(2, kBytes), kD = lane_halves(0, kBytes);
    const GroupBytes<kBytes> b(g);
    split_nibbles(b.words(kQs), q);
    q.d = b.halves(kD);
  }
};

struct IQ4_NL {
  static constexpr GgmlType kType = GgmlType::IQ4_NL;
  static constexpr int kBytes = 18, kOffset = 128;
  static constexpr bool kHasMin = false;
  static void load(const uint8_t* g, GroupQuants& q) {
    Q4_0::load(g, q);
    // kIQ4NLValues + 128, looked up per nibble.
    const __m512i table = _mm512_broadcast_i32x4(
        _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
                      static_cast<char>(153), static_cast<char>(166), static_cast<char>(181), static_cast<char>(197),
                      static_cast<char>(217), static_cast<char>(241)));
    q.lo = _mm512_shuffle_epi8(table, q.lo);
    q.hi = _mm512_shuffle_epi8(table, q.hi);
  }
};

struct Q5_0 {
  static constexpr GgmlType kType = GgmlType::Q5_0;
  static constexpr int kBytes = 22, kOffset = 16;
  static constexpr bool kHasMin = false;
  static void load(const uint8_t* g, GroupQuants& q) {
    static constexpr WordIndex kQs = lane_bytes16(6, kBytes), kD = lane_halves(0, kBytes), kQh = qh_words(2, kBytes);
    const GroupBytes<kBytes> b(g);
    split_nibbles(b.words(kQs), q);
    add_fifth_bits(b.words(kQh), q);
    q.d = b.halves(kD);
  }
};

struct Q4_1 {
  static constexpr GgmlType kType = GgmlType::Q4_1;
  static constexpr int kBytes = 20, kOffset = 0;
  static constexpr bool kHasMin = true;
  static void load(const uint8_t* g, GroupQuants& q) {
    static constexpr WordIndex kQs = lane_bytes16(4, kBytes), kD = lane_halves(0, kBytes), kM = lane_halves(2, kBytes);
    const GroupBytes<kBytes> b(g);
    split_nibbles(b.words(kQs), q);
    q.d = b.halves(kD);
    q.m = _mm512_maskz_mov_ps(0x1111, b.halves(kM));
  }
};

struct Q5_1 {
  static constexpr GgmlType kType = GgmlType::Q5_1;
  static constexpr int kBytes = 24, kOffset = 0;
  static constexpr bool kHasMin = true;
  static void load(const uint8_t* g, GroupQuants& q) {
    static constexpr WordIndex kQs = lane_bytes16(8, kBytes), kD = lane_halves(0, kBytes),
                               kM = lane_halves(2, kBytes), kQh = qh_words(4, kBytes);
    const GroupBytes<kBytes> b(g);
    split_nibbles(b.words(kQs), q);
    add_fifth_bits(b.words(kQh), q);
    q.d = b.halves(kD);
    q.m = _mm512_maskz_mov_ps(0x1111, b.halves(kM));
  }
};

struct Q8_0 {
  static constexpr GgmlType kType = GgmlType::Q8_0;
  static constexpr int kBytes = 34, kOffset = 128;
  static constexpr bool kHasMin = false;
  // A group is 136 bytes: elements 0..15 of the four blocks (bytes 2, 36, 70,
  // 104 on) and the scales lie in [0, 128); elements 16..31 (bytes 18, 52,
  // 86, 120 on) in [8, 136).
  static void load(const uint8_t* g, GroupQuants& q) {
    static constexpr WordIndex kLo = lane_bytes16(2, kBytes), kHi = lane_bytes16(18 - 8, kBytes),
                               kD = lane_halves(0, kBytes);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i z0 = load512(g), z1 = load512(g + 64);
    q.lo = _mm512_xor_si512(_mm512_permutex2var_epi16(z0, load_index(kLo), z1), flip);
    q.hi = _mm512_xor_si512(_mm512_permutex2var_epi16(load512(g + 8), load_index(kHi), load512(g + 72)), flip);
    q.d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(z0, load_index(kD), z1)));
  }
};

template <class T>
struct LegacyKernels {
  static constexpr GgmlType kActType = T::kHasMin ? GgmlType::Q8_1 : GgmlType::Q8_0;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 4;
  static constexpr bool kDecodeByRow = true;

  static size_t act_row_bytes(int64_t cols) { return A32::row_bytes(cols); }
  static void quantize_act(const float* x, int64_t cols, uint8_t* out) {
    quantize_a32_avx2(x, cols, out, T::kOffset);
  }

  // One group of one token.
  struct Act {
    __m512 d;      // scales, four lanes per block
    __m512i corr;  // start values, in each block's first lane
    __m512 s;      // Q8_1 sums
  };

  static __m512 accumulate(__m512 acc, const GroupQuants& w, const Act& x, const int8_t* a) {
    __m512i dot = _mm512_dpbusd_epi32(x.corr, w.lo, load512(a));
    dot = _mm512_dpbusd_epi32(dot, w.hi, load512(a + 64));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(w.d, x.d), acc);
    if constexpr (T::kHasMin) acc = _mm512_fmadd_ps(w.m, x.s, acc);
    return acc;
  }

  // Group g of rows w + i * row_bytes (NR of them, or their copies in
  // `tail`) against NT tokens.
  template <int NR, int NT>
  static void group(const uint8_t* const rows[NR], const uint8_t* xq, size_t xq_row_bytes, int64_t cols, int64_t g,
                    __m512 (&acc)[NR][NT]) {
    const size_t d_off = A32::d_off(cols), corr_off = A32::corr_off(cols), s_off = A32::s_off(cols);
    Act act[NT];
#pragma GCC unroll 8
    for (int j = 0; j < NT; ++j) {
      const uint8_t* row = xq + j * xq_row_bytes;
      act[j].d = _mm512_permutexvar_ps(quad_index(), _mm512_castps128_ps512(_mm_load_ps(
                                                         reinterpret_cast<const float*>(row + d_off) + 4 * g)));
      act[j].corr = _mm512_maskz_permutexvar_epi32(
          0x1111, quad_index(), _mm512_castsi128_si512(_mm_load_si128(reinterpret_cast<const __m128i*>(
                                    row + corr_off + 16 * g))));
      if constexpr (T::kHasMin) {
        act[j].s = _mm512_permutexvar_ps(quad_index(), _mm512_castps128_ps512(_mm_load_ps(
                                                           reinterpret_cast<const float*>(row + s_off) + 4 * g)));
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
      GroupQuants q;
      T::load(rows[i], q);
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) {
        acc[i][j] = accumulate(acc[i][j], q, act[j], reinterpret_cast<const int8_t*>(xq + j * xq_row_bytes) + 128 * g);
      }
    }
  }

  template <int NR, int NT>
  static void qtile(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                    float* y, int64_t y_stride) {
    const int64_t nb = cols / 32;
    const int64_t full = nb / 4;
    __m512 acc[NR][NT];
#pragma GCC unroll 8
    for (int i = 0; i < NR; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_setzero_ps();
    }
    const uint8_t* rows[NR];
    const size_t ahead = prefetch_ahead(NR * row_bytes);
    for (int64_t g = 0; g < full; ++g) {
#pragma GCC unroll 8
      for (int i = 0; i < NR; ++i) {
        rows[i] = w + i * row_bytes + 4 * g * T::kBytes;
        if constexpr (NT == 1) prefetch_bytes<4 * T::kBytes>(rows[i] + ahead);
      }
      group<NR, NT>(rows, xq, xq_row_bytes, cols, g, acc);
    }
    if (const int64_t rest = nb - 4 * full; rest != 0) {
      // A last, partial group: copied next to zero blocks (zero scales; the
      // activations' padding blocks are zero too), so nothing past the row is read.
      alignas(64) uint8_t tail[NR][4 * T::kBytes];
      std::memset(tail, 0, sizeof tail);
      for (int i = 0; i < NR; ++i) {
        std::memcpy(tail[i], w + i * row_bytes + 4 * full * T::kBytes, static_cast<size_t>(rest * T::kBytes));
        rows[i] = tail[i];
      }
      group<NR, NT>(rows, xq, xq_row_bytes, cols, full, acc);
    }
#pragma GCC unroll 8
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

const TypeKernels* find_avx512_legacy_kernels(GgmlType type) {
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
