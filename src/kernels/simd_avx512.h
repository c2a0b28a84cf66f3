// Internal helpers shared by the *_avx512.cpp kernel files. Include only from
// files compiled with the AVX-512 flags: everything here has internal linkage
// (static), so no copy compiled with AVX-512 can be picked by the linker for
// a baseline caller (see the ODR note in matmul_table.h).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

// GCC 12's _mm512_undefined_* (used inside many intrinsics) self-initialise
// a variable, which -Wall reports as uninitialised use: a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace hearth::kernels::detail::avx512 {

// Sum of the 16 lanes in one fixed order (halving tree), so every (row,
// token) accumulator is reduced identically.
static inline float hsum(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 s8 = _mm256_add_ps(lo, hi);
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
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

// F16 at p broadcast to 16 lanes.
static inline __m512 bcast_half(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_set1_epi16(static_cast<short>(load_u16(p))));
}

static inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// 32 bytes at p in both 256-bit halves.
static inline __m512i bcast256(const void* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

// Per-16-bit-word shift counts: a in the low 256 bits, b in the high ones.
static inline __m512i counts16(short a, short b) {
  return _mm512_inserti64x4(_mm512_set1_epi16(a), _mm256_set1_epi16(b), 1);
}

// (a & 0x0F-style mask m) | (b & ~m), bitwise select: ternary-logic table
// f(a, b, m) = m ? a : b.
static inline __m512i select_bits(__m512i a, __m512i b, __m512i m) {
  return _mm512_ternarylogic_epi32(a, b, m, 0xE4);
}

// Prefetches [p, p + bytes) into L1, a cache line at a time (decode streams
// each weight byte once; hardware prefetchers stop at 4 KiB page edges,
// and mmapped weights sit in 4 KiB pages).
template <int kBytes>
static inline void prefetch_bytes(const uint8_t* p) {
#pragma GCC unroll 8
  for (int off = 0; off < kBytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
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

}  // namespace hearth::kernels::detail::avx512
