// Internal helpers shared by the quantized *_avx2.cpp kernel files. Include
// only from files compiled with the AVX2 flags: everything here has internal
// linkage (static), so no AVX2 copy can be picked by the linker for a
// baseline caller (see the ODR note in matmul_table.h).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace hearth::kernels::detail::avx2 {

// Sum of the 8 lanes in one fixed order (halving tree), so every (row,
// token) accumulator is reduced identically.
static inline float hsum(__m256 v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  return _mm_cvtss_f32(s4);
}

static inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

static inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

static inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
static inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// 16 bytes at a in the low lane, 16 bytes at b in the high one.
static inline __m256i load2x128(const uint8_t* a, const uint8_t* b) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(load128(a)), load128(b), 1);
}

// F16 at p broadcast to 8 lanes.
static inline __m256 bcast_half(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(load_u16(p))));
}

// Two F32 (or two F16 widened) as [a x 4, b x 4].
static inline __m256 pair_lanes(__m128 ab) {
  return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(ab), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
}

// Bit j of `bits` -> byte j of the result set to 0xFF (else 0x00).
static inline __m256i bits_to_bytes(uint32_t bits) {
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                        3, 3, 3, 3, 3, 3);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// Decode (one token) streams each weight byte once. Tiles prefetch the same
// position of a later tile's rows (the next rows this thread multiplies),
// whole tiles ahead, about kPrefetchBytes in all: hardware prefetchers stop
// at 4 KiB pages and a 4-row Q4_0 tile is only 4.6 KiB. (Measured: one tile
// ahead falls behind at ~50 GB/s; ~12 KiB keeps up.)
static inline size_t prefetch_ahead(size_t tile_bytes) {
  constexpr size_t kPrefetchBytes = 12 * 1024;
  const size_t tiles = (kPrefetchBytes + tile_bytes / 2) / tile_bytes;
  return (tiles < 1 ? 1 : tiles) * tile_bytes;
}

}  // namespace hearth::kernels::detail::avx2
