// Quantized GGUF weight formats: block layouts, exact decoding, the reference
// quantizers, activation quantization and the integer dot products that the
// reference runtime (ggml) uses, reproduced operation for operation.
//
// Everything here is scalar and portable: it is the ground truth that the
// SIMD kernels in src/kernels are tested against, so clarity and exact
// agreement with ggml's generic C code come before speed.
//
// Block structs are packed (alignment 1): tensor data is used in place from a
// memory-mapped file and nothing guarantees that a block starts at an even
// address, so a uint16_t field must never be read through an aligned access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tensor/ggml_type.h"
#include "util/fp16.h"

namespace hearth {

inline constexpr int kQK4_0 = 32;   // elements per legacy block
inline constexpr int kQK_K = 256;   // elements per K-quant super-block
inline constexpr int kQK4_NL = 32;  // elements per IQ4_NL block

#define HEARTH_PACKED __attribute__((packed))

// Fields named as in ggml-common.h so that the layout can be checked side by
// side. `d`, `m`, `dmin`, `s` hold IEEE half bits (F16).
struct HEARTH_PACKED BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];  // element j in the low nibble of qs[j], j + 16 in the high one
};
struct HEARTH_PACKED BlockQ4_1 {
  uint16_t d;
  uint16_t m;  // value = q * d + m
  uint8_t qs[kQK4_0 / 2];
};
struct HEARTH_PACKED BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // 5th bit of element j is bit j of the little-endian uint32
  uint8_t qs[kQK4_0 / 2];
};
struct HEARTH_PACKED BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK4_0 / 2];
};
struct HEARTH_PACKED BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
struct HEARTH_PACKED BlockQ8_1 {
  uint16_t d;
  uint16_t s;  // d * sum(qs), for the min term of Q4_1 / Q5_1 dot products
  int8_t qs[32];
};
struct HEARTH_PACKED BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // low nibble: scale, high nibble: min, per 16 elements
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
struct HEARTH_PACKED BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];  // 16 6-bit scales
  uint16_t d;
};
struct HEARTH_PACKED BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // 8 6-bit scales and 8 6-bit mins
  uint8_t qs[kQK_K / 2];
};
struct HEARTH_PACKED BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct HEARTH_PACKED BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// Activations for K-quant and IQ4_XS dot products; never stored in files.
struct HEARTH_PACKED BlockQ8_K {
  float d;  // F32, not F16
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sums of qs per 16 elements
};
struct HEARTH_PACKED BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK4_NL / 2];  // indices into kIQ4NLValues
};
struct HEARTH_PACKED BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;  // high 2 bits of the 8 6-bit block scales
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};

#undef HEARTH_PACKED

// The 16 non-linear levels of IQ4_NL / IQ4_XS.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Whether this file handles `type` (F32, F16, BF16 and the quantized types
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS).
bool quant_supported(GgmlType type);

// Bytes of n elements of `type`; n must be a multiple of its block size.
size_t quant_row_bytes(GgmlType type, int64_t n);

// dst[0..n) = the exact values the row holds. n must be a multiple of the
// block size. Every supported type.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// Reference quantizer: what `llama-quantize --pure` writes without an
// importance matrix, byte for byte (checked against such files). That is
// ggml's quantize_row_*_ref, except for IQ4_NL, where llama-quantize runs the
// scale search with 7 candidates either side (quantize_iq4_nl) rather than
// quantize_row_iq4_nl_ref's single guess. Every supported type; F16 / BF16
// round to nearest even.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// The activation format ggml multiplies a weight type with (its vec_dot_type):
// Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants
// and IQ4_XS; F32 for anything else (no integer dot product).
GgmlType vec_dot_type(GgmlType weight_type);

// Quantizes one activation row to `act_type` (Q8_0, Q8_1 or Q8_K) exactly as
// ggml's CPU backend does on x86 before a quantized matmul. For Q8_0 / Q8_1
// that is its AVX code (scale 127 / amax, round half to even), which can
// differ in the last bit from quantize_row's reference (1 / d, round half
// away from zero); for Q8_K both are the same.
void quantize_activations(GgmlType act_type, const float* src, void* dst, int64_t n);

// Dot product of one weight row with one activation row in
// vec_dot_type(weight_type), both n elements, computed like ggml's generic C
// vec_dot: exact integer sums per block, scaled and accumulated in float in
// the same order, so results agree with ggml to float rounding.
float vec_dot(GgmlType weight_type, int64_t n, const void* w_row, const void* act_row);

// The same per type without the argument checks, for kernels that check a
// whole matrix once and then call these per row. n must be a multiple of the
// block size.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
using VecDotFn = float (*)(const void* w_row, const void* act_row, int64_t n);
DequantizeRowFn dequantize_row_fn(GgmlType type);  // nullptr when unsupported
VecDotFn vec_dot_fn(GgmlType weight_type);         // nullptr without an integer dot product

// Half <-> float with the exact conversions of util/fp16.h, on the raw bits
// stored in blocks.
inline float half_to_float(uint16_t h) { return f16_to_f32(h); }
inline uint16_t float_to_half(float f) { return f32_to_f16(f); }

}  // namespace hearth
