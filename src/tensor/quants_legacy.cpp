// The legacy 32-element formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (weights) and
// Q8_0 / Q8_1 (activations): decoding, ggml's reference quantizers and its
// generic integer dot products, operation for operation so that float
// rounding matches (see quants.h).
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "tensor/quants_impl.h"

namespace hearth::quants_detail {
namespace {

constexpr int QK = 32;

uint32_t load_qh(const uint8_t qh[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}

void store_qh(uint8_t qh[4], uint32_t v) { std::memcpy(qh, &v, sizeof v); }

// Largest |x| of the block and the signed value that has it (first wins).
void signed_absmax(const float* x, float* amax, float* max) {
  *amax = 0.0f;
  *max = 0.0f;
  for (int j = 0; j < QK; ++j) {
    if (*amax < std::fabs(x[j])) {
      *amax = std::fabs(x[j]);
      *max = x[j];
    }
  }
}

void min_max(const float* x, float* min, float* max) {
  *min = FLT_MAX;
  *max = -FLT_MAX;
  for (int j = 0; j < QK; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

// The AVX activation quantizer: returns d = amax / 127 and writes
// round_half_even(x * 127 / amax). std::nearbyint rounds in the current mode,
// which is round-to-nearest-even unless someone changed it (nobody does).
float quantize_block_q8_avx(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  for (int j = 0; j < QK; ++j) qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
  return d;
}

}  // namespace

// ---- decoding -------------------------------------------------------------

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const float d = fp16(x[i].d);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + QK / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const float d = fp16(x[i].d);
    const float m = fp16(x[i].m);
    for (int j = 0; j < QK / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + QK / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const float d = fp16(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      y[j + QK / 2] = static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const float d = fp16(x[i].d);
    const float m = fp16(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < QK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | h0) * d + m;
      y[j + QK / 2] = static_cast<float>((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const float d = fp16(x[i].d);
    for (int j = 0; j < QK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dequantize_q8_1(const BlockQ8_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK) {
    const float d = fp16(x[i].d);
    for (int j = 0; j < QK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// ---- reference quantizers (quantize_row_*_ref) ------------------------------

// Symmetric 4-bit: the value of largest magnitude maps to -8 exactly, so the
// scale's sign follows it and the positive side reaches only +7.
void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float amax, max;
    signed_absmax(x, &amax, &max);
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = to_fp16(d);
    for (int j = 0; j < QK / 2; ++j) {
      const int q0 = std::min(15, trunc_to_int(x[j] * id + 8.5f));
      const int q1 = std::min(15, trunc_to_int(x[QK / 2 + j] * id + 8.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

// Asymmetric 4-bit: [min, max] split into 15 steps.
void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = to_fp16(d);
    y[i].m = to_fp16(min);
    for (int j = 0; j < QK / 2; ++j) {
      const int q0 = std::min(15, trunc_to_int((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, trunc_to_int((x[QK / 2 + j] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float amax, max;
    signed_absmax(x, &amax, &max);
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const int q0 = std::min(31, trunc_to_int(x[j] * id + 16.5f));
      const int q1 = std::min(31, trunc_to_int(x[QK / 2 + j] * id + 16.5f));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((q1 & 0x10) >> 4) << (j + QK / 2);
    }
    store_qh(y[i].qh, qh);
  }
}

void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = to_fp16(d);
    y[i].m = to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; ++j) {
      // ggml does not clamp here; the top value rounds to 31 at most.
      const int q0 = trunc_to_int((x[j] - min) * id + 0.5f) & 0xFF;
      const int q1 = trunc_to_int((x[QK / 2 + j] - min) * id + 0.5f) & 0xFF;
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((q1 & 0x10) >> 4) << (j + QK / 2);
    }
    store_qh(y[i].qh, qh);
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = to_fp16(d);
    for (int j = 0; j < QK; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void quantize_q8_1(const float* x, BlockQ8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = to_fp16(d);
    int sum = 0;
    for (int j = 0; j < QK; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
      sum += y[i].qs[j];
    }
    y[i].s = to_fp16(static_cast<float>(sum) * d);
  }
}

// ---- activation quantizers (ggml-cpu's x86 quantize_row_q8_0 / q8_1) --------

void quantize_q8_0_activations(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) y[i].d = to_fp16(quantize_block_q8_avx(x, y[i].qs));
}

void quantize_q8_1_activations(const float* x, BlockQ8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    const float d = quantize_block_q8_avx(x, y[i].qs);
    y[i].d = to_fp16(d);
    int sum = 0;
    for (int j = 0; j < QK; ++j) sum += y[i].qs[j];
    y[i].s = to_fp16(d * static_cast<float>(sum));
  }
}

// ---- dot products (ggml_vec_dot_*_generic) ----------------------------------

float vec_dot_q4_0_q8_0(const BlockQ4_0* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK / 2; ++j) {
      sumi0 += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
      sumi1 += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK / 2];
    }
    sumf += static_cast<float>(sumi0 + sumi1) * fp16(x[i].d) * fp16(y[i].d);
  }
  return sumf;
}

float vec_dot_q4_1_q8_1(const BlockQ4_1* x, const BlockQ8_1* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK / 2; ++j) {
      sumi0 += (x[i].qs[j] & 0x0F) * y[i].qs[j];
      sumi1 += (x[i].qs[j] >> 4) * y[i].qs[j + QK / 2];
    }
    sumf += (fp16(x[i].d) * fp16(y[i].d)) * static_cast<float>(sumi0 + sumi1) + fp16(x[i].m) * fp16(y[i].s);
  }
  return sumf;
}

float vec_dot_q5_0_q8_0(const BlockQ5_0* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    const uint32_t qh = load_qh(x[i].qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      sumi0 += (((x[i].qs[j] & 0x0F) | h0) - 16) * y[i].qs[j];
      sumi1 += (((x[i].qs[j] >> 4) | h1) - 16) * y[i].qs[j + QK / 2];
    }
    sumf += (fp16(x[i].d) * fp16(y[i].d)) * static_cast<float>(sumi0 + sumi1);
  }
  return sumf;
}

float vec_dot_q5_1_q8_1(const BlockQ5_1* x, const BlockQ8_1* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    const uint32_t qh = load_qh(x[i].qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      sumi0 += ((x[i].qs[j] & 0x0F) | h0) * y[i].qs[j];
      sumi1 += ((x[i].qs[j] >> 4) | h1) * y[i].qs[j + QK / 2];
    }
    sumf += (fp16(x[i].d) * fp16(y[i].d)) * static_cast<float>(sumi0 + sumi1) + fp16(x[i].m) * fp16(y[i].s);
  }
  return sumf;
}

float vec_dot_q8_0_q8_0(const BlockQ8_0* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi = 0;
    for (int j = 0; j < QK; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sumf += static_cast<float>(sumi) * (fp16(x[i].d) * fp16(y[i].d));
  }
  return sumf;
}

}  // namespace hearth::quants_detail
