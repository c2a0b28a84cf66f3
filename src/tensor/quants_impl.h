// Internal to src/tensor: the per-type functions behind quants.h's dispatch
// (quants.cpp), one family per file, and helpers those files share.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/quants.h"

namespace hearth::quants_detail {

// ggml's nearest_int: adding 1.5 * 2^23 makes the FPU round to an integer
// (ties to even) in the low mantissa bits. Valid for |x| <= 2^22 - 1, which
// the callers guarantee; a NaN or huge input gives a meaningless but defined
// integer (ggml only asserts).
inline int nearest_int(float fval) {
  const float val = fval + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &val, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

// Value + 0.5 truncated, as ggml's `(int8_t)(x + 0.5f)` style casts do, but
// clamped to int8_t first so that a NaN or out-of-range input (garbage in)
// stays defined behaviour instead of an invalid conversion.
inline int trunc_to_int(float v) {
  if (!(v > -128.0f)) return -128;  // also NaN
  if (v >= 255.0f) return 255;
  return static_cast<int>(v);
}

inline float fp16(uint16_t h) { return f16_to_f32(h); }
inline uint16_t to_fp16(float f) { return f32_to_f16(f); }

// Legacy 32-element formats (quants_legacy.cpp).
void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb);
void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb);
void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb);
void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb);
void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb);
void dequantize_q8_1(const BlockQ8_1* x, float* y, int64_t nb);
void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb);
void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb);
void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb);
void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb);
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb);
void quantize_q8_1(const float* x, BlockQ8_1* y, int64_t nb);
void quantize_q8_0_activations(const float* x, BlockQ8_0* y, int64_t nb);
void quantize_q8_1_activations(const float* x, BlockQ8_1* y, int64_t nb);
float vec_dot_q4_0_q8_0(const BlockQ4_0* x, const BlockQ8_0* y, int64_t nb);
float vec_dot_q4_1_q8_1(const BlockQ4_1* x, const BlockQ8_1* y, int64_t nb);
float vec_dot_q5_0_q8_0(const BlockQ5_0* x, const BlockQ8_0* y, int64_t nb);
float vec_dot_q5_1_q8_1(const BlockQ5_1* x, const BlockQ8_1* y, int64_t nb);
float vec_dot_q8_0_q8_0(const BlockQ8_0* x, const BlockQ8_0* y, int64_t nb);

// K-quants, 256-element super-blocks (quants_k.cpp, quants_k_quantize.cpp).
void dequantize_q2_K(const BlockQ2_K* x, float* y, int64_t nb);
void dequantize_q3_K(const BlockQ3_K* x, float* y, int64_t nb);
void dequantize_q4_K(const BlockQ4_K* x, float* y, int64_t nb);
void dequantize_q5_K(const BlockQ5_K* x, float* y, int64_t nb);
void dequantize_q6_K(const BlockQ6_K* x, float* y, int64_t nb);
void dequantize_q8_K(const BlockQ8_K* x, float* y, int64_t nb);
void quantize_q2_K(const float* x, BlockQ2_K* y, int64_t nb);
void quantize_q3_K(const float* x, BlockQ3_K* y, int64_t nb);
void quantize_q4_K(const float* x, BlockQ4_K* y, int64_t nb);
void quantize_q5_K(const float* x, BlockQ5_K* y, int64_t nb);
void quantize_q6_K(const float* x, BlockQ6_K* y, int64_t nb);
void quantize_q8_K(const float* x, BlockQ8_K* y, int64_t nb);
float vec_dot_q2_K_q8_K(const BlockQ2_K* x, const BlockQ8_K* y, int64_t nb);
float vec_dot_q3_K_q8_K(const BlockQ3_K* x, const BlockQ8_K* y, int64_t nb);
float vec_dot_q4_K_q8_K(const BlockQ4_K* x, const BlockQ8_K* y, int64_t nb);
float vec_dot_q5_K_q8_K(const BlockQ5_K* x, const BlockQ8_K* y, int64_t nb);
float vec_dot_q6_K_q8_K(const BlockQ6_K* x, const BlockQ8_K* y, int64_t nb);

// 6-bit scale/min pair j (0..7) of a Q4_K / Q5_K block's 12 scale bytes.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// The 16 signed 6-bit scales of a Q3_K block, unpacked.
void unpack_q3_K_scales(const uint8_t packed[12], int8_t out[16]);

// Non-linear 4-bit formats (quants_iq4.cpp).
void dequantize_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t nb);
void dequantize_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t nb);
void quantize_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb);
void quantize_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t nb);
float vec_dot_iq4_nl_q8_0(const BlockIQ4_NL* x, const BlockQ8_0* y, int64_t nb);
float vec_dot_iq4_xs_q8_K(const BlockIQ4_XS* x, const BlockQ8_K* y, int64_t nb);

}  // namespace hearth::quants_detail
