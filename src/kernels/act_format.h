// Internal: the activation layouts of the SIMD quantized kernels.
//
// ggml quantizes each token's activations to a vec_dot_type (Q8_0, Q8_1 or
// Q8_K) before an integer matmul. The SIMD kernels use the same numbers
// (quantize_act_* below reproduce tensor/quants.h's quantize_activations bit
// for bit; a test checks it), but laid out for their loads: 64-byte aligned
// arrays, scales already widened to F32, the block sums the kernels need
// precomputed, and for the K-quants the 32-element chunks of each
// super-block permuted to the order in which a weight type's packed quants
// come out of a 64-byte load. Computed once per token per matmul, reused by
// every weight row.
//
// ODR caution (see matmul_table.h): declarations and constexpr only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::kernels::detail {

constexpr size_t align64(size_t n) { return (n + 63) & ~static_cast<size_t>(63); }

// ---- A32: Q8_0 / Q8_1 values (blocks of 32), for the legacy types ----------
// Per token row of cols = 32 * nb, in groups of four blocks (ng = ceil(nb /
// 4); missing blocks of the last group are zero):
//   int8_t  qs[128 * ng]  at 0         group g: elements 0..15 of its blocks
//                                      0..3 (16 bytes each), then 16..31
//   float   d[4 * ng]     at d_off     fp16(d) as F32 (what ggml multiplies by)
//   int32_t corr[4 * ng]  at corr_off  -offset * (sum of the block's quants),
//                                      offset chosen by the weight type
//   float   s[4 * ng]     at s_off     Q8_1's fp16(d * sum) as F32
// A 512-bit load of half a group puts each block in one 128-bit lane: four
// int32 lanes of dot products per block.
struct A32 {
  static constexpr int64_t groups(int64_t cols) { return (cols / 32 + 3) / 4; }
  static constexpr size_t d_off(int64_t cols) { return static_cast<size_t>(128 * groups(cols)); }
  static constexpr size_t corr_off(int64_t cols) { return d_off(cols) + align64(16 * groups(cols)); }
  static constexpr size_t s_off(int64_t cols) { return corr_off(cols) + align64(16 * groups(cols)); }
  static constexpr size_t row_bytes(int64_t cols) { return s_off(cols) + align64(16 * groups(cols)); }
};

// ---- A32T: Q8_0 values for packed rows (packed_layout.h) ------------------
// Per token row of cols = 32 * nb, in super-groups of 16 blocks (ns =
// ceil(nb / 16); missing blocks of the last one are zero), 640 bytes each:
//   int8_t  planes[8][64]  at 0    plane k, lane b: elements 4k .. 4k+3 of block b
//   float   d[16]          at 512  fp16(d) as F32
//   int32_t corr[16]       at 576  -offset * (sum of the block's quants)
struct A32T {
  static constexpr int64_t groups(int64_t cols) { return (cols / 32 + 15) / 16; }
  static constexpr size_t kGroupBytes = 640;
  static constexpr size_t kDOff = 512;
  static constexpr size_t kCorrOff = 576;
  static constexpr size_t row_bytes(int64_t cols) { return kGroupBytes * static_cast<size_t>(groups(cols)); }
};

// ---- AK: Q8_K values (super-blocks of 256), for the K-quants and IQ4_XS ----
// Per token row of cols = 256 * nsb:
//   int8_t  qs[256 * nsb]  at 0               permuted within each super-block (below)
//   float   d[nsb]         at ak_d(cols)
//   int16_t bsum16[16 * nsb] at ak_bsum16(cols)  sums per 16 elements (Q8_K's bsums)
//   int16_t bsum32[8 * nsb]  at ak_bsum32(cols)  sums per 32 elements
//   float   dsum32[8 * nsb]  at ak_dsum32(cols)  d * bsum32, rounded to F32
//                                               (Q4_K / Q5_K min terms)
struct AK {
  static constexpr int64_t blocks(int64_t cols) { return cols / 256; }
  static constexpr size_t d_off(int64_t cols) { return static_cast<size_t>(256 * blocks(cols)); }
  static constexpr size_t bsum16_off(int64_t cols) { return d_off(cols) + align64(4 * blocks(cols)); }
  static constexpr size_t bsum32_off(int64_t cols) { return bsum16_off(cols) + align64(32 * blocks(cols)); }
  static constexpr size_t dsum32_off(int64_t cols) { return bsum32_off(cols) + align64(16 * blocks(cols)); }
  static constexpr size_t row_bytes(int64_t cols) { return dsum32_off(cols) + align64(32 * blocks(cols)); }
};

// Order of the 16-element chunks of a super-block's quants in AK's qs: entry
// k is the natural chunk stored at position k. One order per weight layout:
enum class AkOrder {
  Natural,  // Q6_K (AVX-512), every type on AVX2
  K4,       // Q4_K / Q5_K: a 64-byte load of qs is [chunks 0,1 | 4,5] low, [2,3 | 6,7] high nibbles
  K2,       // Q2_K / Q3_K: 2-bit planes of 64 bytes: [chunks 0,1 | 8,9] for shift 0, ...
  XS,       // IQ4_XS: 16-byte sub-block halves: lows of 4 sub-blocks, then highs
};
constexpr int ak_chunk(AkOrder order, int k) {
  // k = position (0..15) of a 16-byte chunk; returns the natural chunk index.
  switch (order) {
    case AkOrder::Natural:
      return k;
    case AkOrder::K4: {
      // 32-element sub-blocks in the order 0,2,1,3 | 4,6,5,7.
      constexpr int sub[8] = {0, 2, 1, 3, 4, 6, 5, 7};
      return 2 * sub[k / 2] + k % 2;
    }
    case AkOrder::K2: {
      constexpr int sub[8] = {0, 4, 1, 5, 2, 6, 3, 7};
      return 2 * sub[k / 2] + k % 2;
    }
    case AkOrder::XS: {
      constexpr int c[8] = {0, 2, 4, 6, 1, 3, 5, 7};
      return 8 * (k / 8) + c[k % 8];
    }
  }
  return k;
}

// Which of AK's per-token sums a kernel reads.
enum class AkSums { BSum16, BSum32, DSum32 };
template <AkSums S>
constexpr size_t ak_sums_off(int64_t cols) {
  return S == AkSums::BSum16 ? AK::bsum16_off(cols) : S == AkSums::BSum32 ? AK::bsum32_off(cols) : AK::dsum32_off(cols);
}
template <AkSums S>
constexpr int ak_sums_per_block() {
  return S == AkSums::BSum16 ? 16 : 8;
}

// SIMD quantizers (act_quant_avx2.cpp; the AVX-512 kernels use them too).
// out must be 64-byte aligned and hold row_bytes(cols); cols a multiple of
// the block size.
void quantize_a32_avx2(const float* x, int64_t cols, uint8_t* out, int offset);
void quantize_a32t_avx2(const float* x, int64_t cols, uint8_t* out, int offset);
void quantize_ak_avx2(const float* x, int64_t cols, uint8_t* out, AkOrder order);

}  // namespace hearth::kernels::detail
