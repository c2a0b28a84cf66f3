// Internal: the packed row layouts of Q4_0, Q8_0, Q4_K and Q5_K
// (WeightMatrix::packed; see matmul.h for when it is used).
//
// ---- Q4_0 / Q8_0 (32-element blocks) ----
//
// A GGUF row stores each block as [F16 scale][quants]. Kernels that keep one
// block per 128-bit lane must gather and permute bytes of four blocks before
// every integer dot product, and convert and multiply one scale per four
// lanes. The packed row instead groups up to 16 blocks (a "super-group") so
// that one 512-bit load gives four consecutive quant bytes of each of 16
// blocks, one block per 32-bit lane:
//
//   for each super-group s of m blocks (m = 16, the last one of a row
//   m = nb % 16), at s * 64 * P:
//     plane k = 0 .. P-1: m x 4 bytes   block b's quant bytes 4k .. 4k+3
//   then, at nb * 4 * P: uint16 d[nb]   every block's F16 scale, in order
//   Q4_0: P = 4; the bytes are GGUF's qs bytes unchanged (low nibble =
//         element 4k+i, high nibble = element 16+4k+i), so a plane's low
//         nibbles go with activation plane k and its high ones with k + 4.
//   Q8_0: P = 8; the bytes are q + 128 (unsigned), elements 4k .. 4k+3.
//
// A row keeps its GGUF size (18 or 34 bytes per block) and is self-contained,
// so row addressing and the thread split are unchanged; the full
// super-groups' planes are whole 64-byte units, aligned when the row is (a
// load that straddles two cache lines streams ~15 % slower from memory).
// The matching activations (A32T in act_format.h) put elements 4k .. 4k+3 of
// each block in plane k, so every vpdpbusd multiplies 4 elements of 16
// blocks and one F32 conversion and FMA scale 16 blocks.
//
// ---- Q4_K / Q5_K (256-element super-blocks of 144 / 176 bytes) ----
// A GGUF super-block is [16-byte header: F16 d, F16 dmin, 12 bytes of 6-bit
// scales and mins][body: Q4_K qs[128]; Q5_K qh[32], qs[128]]. Decoding spends about as many
// instructions unpacking one header as multiplying its quants. The packed
// row puts the headers of up to 4 super-blocks (a "group") in one 64-byte
// line, so one set of 512-bit instructions unpacks four:
//
//   for each group g of m super-blocks (m = 4, the last one of a row
//   m = nsb % 4), at g * 4 * block bytes:
//     m headers (16 bytes each, unchanged), then their m bodies (unchanged)
//
// Same size, self-contained rows; within a super-block nothing moves.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/ggml_type.h"

namespace hearth::kernels::detail {

inline constexpr int kPackedGroupBlocks = 16;

// Quant planes per block type (0: not a plane-packed type).
constexpr int packed_planes(GgmlType type) {
  return type == GgmlType::Q4_0 ? 4 : type == GgmlType::Q8_0 ? 8 : 0;
}

inline constexpr int kK4GroupBlocks = 4;
inline constexpr size_t kK4HeaderBytes = 16;
// Super-block bytes of a header-grouped type (0: not one).
constexpr size_t k4_block_bytes(GgmlType type) {
  return type == GgmlType::Q4_K ? 144 : type == GgmlType::Q5_K ? 176 : 0;
}
// Its bytes after the header (the body; 0: not one).
constexpr size_t k4_body_bytes(GgmlType type) {
  return k4_block_bytes(type) == 0 ? 0 : k4_block_bytes(type) - kK4HeaderBytes;
}

// Byte offsets in a packed row of nb blocks (Q4_0 / Q8_0): super-group s's planes (all
// earlier groups are full) and the scales.
constexpr size_t packed_planes_offset(GgmlType type, int64_t s) {
  return static_cast<size_t>(s) * kPackedGroupBlocks * 4 * packed_planes(type);
}
constexpr size_t packed_scales_offset(GgmlType type, int64_t nb) {
  return static_cast<size_t>(nb) * 4 * packed_planes(type);
}

// One row (cols elements) between GGUF's block layout and the packed one.
// src and dst must not overlap.
void pack_row(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols);
void unpack_row(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols);
// A packed row decoded to F32 (exactly, as the GGUF row would be).
void packed_to_f32(GgmlType type, const uint8_t* row, int64_t cols, float* out);

}  // namespace hearth::kernels::detail
