// Internal: the per-ISA, per-weight-type kernel table behind kernels::matmul.
//
// Each ISA file (matmul_scalar.cpp, matmul_avx2.cpp, matmul_avx512.cpp)
// provides, for every weight type it handles, a TypeKernels entry:
//   * tile[nr-1][nt-1]: dot products of nr consecutive weight rows with nt
//     consecutive tokens, written straight to y. The driver (matmul.cpp)
//     covers the matrix with full tiles and uses the smaller shapes at the
//     edges.
//   * to_f32: decodes one row (get_row).
// A new weight type (Q8_0, Q4_K, ...) adds one entry per ISA it has kernels
// for; the driver falls back to a lower ISA for types a higher one lacks.
//
// Quantized weight types (act_type != F32) have qtile instead of tile: the
// driver first quantizes each token's activations to act_type (ggml's
// vec_dot_type, with tensor/quants.h's quantize_activations, identical on
// every ISA), and qtile computes the integer dot products. In exact-weights
// mode (set_exact_weights) the driver instead decodes weight rows with to_f32
// and runs the active ISA's F32 tiles on them (see matmul.cpp).
//
// Determinism contract for every tile function of one ISA and type: the value
// written for (row r, token t) is computed by the same sequence of operations
// whatever the tile shape and whatever else is in the tile, so batched and
// one-token calls, and any thread split, give identical bits.
//
// ODR caution: this header is included by files compiled with different -m
// flags. It must hold only declarations, types and constexpr helpers that are
// instantiated with file-local types; an inline function with floating-point
// code here could be emitted with AVX-512 instructions and then picked by the
// linker for a baseline caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/matmul.h"
#include "tensor/ggml_type.h"

namespace hearth::kernels::detail {

inline constexpr int kMaxTileRows = 4;
inline constexpr int kMaxTileTokens = 8;

// y[t * y_stride + r] = dot(weight row r, x + t * cols) for r < nr, t < nt,
// where weight row r starts at w + r * row_bytes and nr x nt is the tile shape.
using TileFn = void (*)(const uint8_t* w, size_t row_bytes, const float* x, int64_t cols, float* y,
                        int64_t y_stride);
// The same dot products over columns [c0, c1) only, for prefill's column
// blocking: c0 is a multiple of the ISA's vector width and c1 one too or
// cols. The tile's accumulators (acc_floats per (row, token), at acc + (i *
// nt + j) * acc_floats) start at zero if mode has kChunkFirst, else are
// loaded from acc; with kChunkLast they are reduced into y as tile would,
// else stored back to acc. A row's chunks in column order, first to last,
// give the same bits as one tile call.
inline constexpr int kChunkFirst = 1;
inline constexpr int kChunkLast = 2;
using ChunkFn = void (*)(const uint8_t* w, size_t row_bytes, const float* x, int64_t cols, int64_t c0, int64_t c1,
                         float* acc, int mode, float* y, int64_t y_stride);
// out[0 .. cols) = row decoded to F32, exactly.
using RowToF32Fn = void (*)(const uint8_t* row, int64_t cols, float* out);
// As TileFn, for quantized weights: token j's activations are the act_type
// row at xq + j * xq_row_bytes.
using QTileFn = void (*)(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                         float* y, int64_t y_stride);
// A kernel's own activation layout (act_format.h): bytes of one token's row,
// and the quantizer writing it (same values as quantize_activations(act_type)).
// out is 64-byte aligned.
using ActRowBytesFn = size_t (*)(int64_t cols);
// y[r] = dot(weight row r, one token's activations xq) for r < n_rows.
using DecodeRowsFn = void (*)(const uint8_t* w, size_t row_bytes, const uint8_t* xq, int64_t cols, float* y,
                              int64_t n_rows);
using ActQuantizeFn = void (*)(const float* x, int64_t cols, uint8_t* out);

struct TypeKernels {
  int tile_rows = 0;    // largest tile: tile_rows x tile_tokens
  int tile_tokens = 0;  // every smaller shape is present too
  TileFn tile[kMaxTileRows][kMaxTileTokens] = {};
  // Optional (dense types): column-blocked tiles; acc_floats = 0 when absent.
  ChunkFn chunk[kMaxTileRows][kMaxTileTokens] = {};
  int acc_floats = 0;
  RowToF32Fn to_f32 = nullptr;
  GgmlType act_type = GgmlType::F32;  // F32: tile is used; else qtile
  QTileFn qtile[kMaxTileRows][kMaxTileTokens] = {};
  // Both null: act_type's standard block layout from quantize_activations.
  ActRowBytesFn act_row_bytes = nullptr;
  ActQuantizeFn quantize_act = nullptr;
  // Optional: one token against rows [0, n_rows), one row at a time (a
  // single linear stream of weights); the same bits as qtile[0][0] per row.
  DecodeRowsFn decode_rows = nullptr;
};

// Kernels of one ISA for `type`, or nullptr when that ISA has none.
// Each ISA file defines its function; the driver calls only those the CPU runs.
const TypeKernels* find_scalar_kernels(GgmlType type);
const TypeKernels* find_avx2_kernels(GgmlType type);
const TypeKernels* find_avx512_kernels(GgmlType type);
// The quantized-weight kernels (matmul_quant_<isa>.cpp), which the ISA's
// find_*_kernels also returns. The scalar ones cover every quantized type.
const TypeKernels* find_scalar_quant_kernels(GgmlType type);
const TypeKernels* find_avx2_quant_kernels(GgmlType type);
const TypeKernels* find_avx512_quant_kernels(GgmlType type);
// Per family of types (quant_<family>_<isa>.cpp), chained by the above.
const TypeKernels* find_avx512_kq_kernels(GgmlType type);
const TypeKernels* find_avx512_kq_low_kernels(GgmlType type);
const TypeKernels* find_avx512_legacy_kernels(GgmlType type);
// Kernels for packed rows (packed_layout.h); only AVX-512 has them so far.
const TypeKernels* find_avx512_packed_kernels(GgmlType type);
const TypeKernels* find_avx512_packed_k_kernels(GgmlType type);
const TypeKernels* find_avx2_kq_kernels(GgmlType type);
const TypeKernels* find_avx2_kq_low_kernels(GgmlType type);
const TypeKernels* find_avx2_legacy_kernels(GgmlType type);

// Builds a TypeKernels from a kernel family K (a file-local struct) with
//   static constexpr int kTileRows, kTileTokens;
//   template <int NR, int NT> static void tile(<TileFn arguments>);
//   static void to_f32(<RowToF32Fn arguments>);
// and optionally
//   static constexpr int kAccFloats;
//   template <int NR, int NT> static void chunk(<ChunkFn arguments>);
// instantiating K::tile (K::chunk) for every shape up to kTileRows x kTileTokens.
template <class K, int I>
constexpr TileFn tile_entry() {
  constexpr int nr = I / kMaxTileTokens + 1;
  constexpr int nt = I % kMaxTileTokens + 1;
  if constexpr (nr <= K::kTileRows && nt <= K::kTileTokens) {
    return &K::template tile<nr, nt>;
  } else {
    return nullptr;
  }
}

template <class K, int I>
constexpr ChunkFn chunk_entry() {
  constexpr int nr = I / kMaxTileTokens + 1;
  constexpr int nt = I % kMaxTileTokens + 1;
  if constexpr (nr <= K::kTileRows && nt <= K::kTileTokens) {
    return &K::template chunk<nr, nt>;
  } else {
    return nullptr;
  }
}

template <class K, int... I>
constexpr TypeKernels make_type_kernels_impl(std::integer_sequence<int, I...>) {
  static_assert(K::kTileRows >= 1 && K::kTileRows <= kMaxTileRows);
  static_assert(K::kTileTokens >= 1 && K::kTileTokens <= kMaxTileTokens);
  TypeKernels k;
  k.tile_rows = K::kTileRows;
  k.tile_tokens = K::kTileTokens;
  ((k.tile[I / kMaxTileTokens][I % kMaxTileTokens] = tile_entry<K, I>()), ...);
  if constexpr (requires { K::kAccFloats; }) {
    ((k.chunk[I / kMaxTileTokens][I % kMaxTileTokens] = chunk_entry<K, I>()), ...);
    k.acc_floats = K::kAccFloats;
  }
  k.to_f32 = &K::to_f32;
  return k;
}

template <class K>
constexpr TypeKernels make_type_kernels() {
  return make_type_kernels_impl<K>(std::make_integer_sequence<int, kMaxTileRows * kMaxTileTokens>{});
}

// The same for a quantized kernel family K with
//   static constexpr GgmlType kActType;
//   static constexpr int kTileRows, kTileTokens;
//   template <int NR, int NT> static void qtile(<QTileFn arguments>);
//   static void to_f32(<RowToF32Fn arguments>);
// and optionally its own activation layout:
//   static size_t act_row_bytes(int64_t cols);
//   static void quantize_act(const float* x, int64_t cols, uint8_t* out);
// and, to decode one token a row at a time (decode_rows: one linear stream
// of weights instead of tile_rows short ones),
//   static constexpr bool kDecodeByRow = true;
template <class K, int I>
constexpr QTileFn qtile_entry() {
  constexpr int nr = I / kMaxTileTokens + 1;
  constexpr int nt = I % kMaxTileTokens + 1;
  if constexpr (nr <= K::kTileRows && nt <= K::kTileTokens) {
    return &K::template qtile<nr, nt>;
  } else {
    return nullptr;
  }
}

template <class K>
void decode_by_row(const uint8_t* w, size_t row_bytes, const uint8_t* xq, int64_t cols, float* y, int64_t n_rows) {
  for (int64_t r = 0; r < n_rows; ++r) K::template qtile<1, 1>(w + r * row_bytes, row_bytes, xq, 0, cols, y + r, 1);
}

template <class K, int... I>
constexpr TypeKernels make_quant_type_kernels_impl(std::integer_sequence<int, I...>) {
  static_assert(K::kTileRows >= 1 && K::kTileRows <= kMaxTileRows);
  static_assert(K::kTileTokens >= 1 && K::kTileTokens <= kMaxTileTokens);
  static_assert(K::kActType != GgmlType::F32);
  TypeKernels k;
  k.tile_rows = K::kTileRows;
  k.tile_tokens = K::kTileTokens;
  ((k.qtile[I / kMaxTileTokens][I % kMaxTileTokens] = qtile_entry<K, I>()), ...);
  k.to_f32 = &K::to_f32;
  k.act_type = K::kActType;
  if constexpr (requires { &K::quantize_act; }) {
    k.act_row_bytes = &K::act_row_bytes;
    k.quantize_act = &K::quantize_act;
  }
  if constexpr (requires { K::kDecodeByRow; }) {
    if constexpr (K::kDecodeByRow) k.decode_rows = &decode_by_row<K>;
  }
  return k;
}

template <class K>
constexpr TypeKernels make_quant_type_kernels() {
  return make_quant_type_kernels_impl<K>(std::make_integer_sequence<int, kMaxTileRows * kMaxTileTokens>{});
}

struct KernelEntry {
  GgmlType type;
  TypeKernels kernels;
};

}  // namespace hearth::kernels::detail
