// K-quants (Q2_K .. Q6_K, 256-element super-blocks with 16- or 32-element
// sub-blocks): decoding, the Q8_K activation format, and ggml's generic dot
// products with their exact accumulation order (eight float partial sums per
// row, one per lane of the int32 accumulators). The weight quantizers are in
// quants_k_quantize.cpp.
#include <algorithm>
#include <cmath>

#include "tensor/quants_impl.h"

namespace hearth::quants_detail {
namespace {

constexpr int QK = kQK_K;

// Q4_K / Q5_K: the 8 scales and 8 mins of a block as two byte arrays.
void unpack_k4_scales(const uint8_t packed[12], uint8_t scales[8], uint8_t mins[8]) {
  for (int j = 0; j < 8; ++j) get_scale_min_k4(j, packed, &scales[j], &mins[j]);
}

// sum over 16-element groups g of q8[g*16 ..] * a[..] * scale(g), kept in
// eight int32 lanes (lane l takes elements l mod 8), as ggml's generic code
// does; `group` is the number of elements that share one scale (16 or 32).
void accumulate_lanes(const int8_t* q8, const int8_t* a, const int* scales, int group, int32_t aux32[8]) {
  for (int l = 0; l < 8; ++l) aux32[l] = 0;
  for (int e = 0; e < QK; e += 8) {
    const int scale = scales[e / group];
    for (int l = 0; l < 8; ++l) {
      const int16_t prod = static_cast<int16_t>(q8[e + l] * a[e + l]);
      aux32[l] += scale * prod;
    }
  }
}

}  // namespace

void unpack_q3_K_scales(const uint8_t packed[12], int8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

// ---- decoding -------------------------------------------------------------

void dequantize_q2_K(const BlockQ2_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16(x[i].d);
    const float min = fp16(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int n = 0; n < QK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = min * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void dequantize_q3_K(const BlockQ3_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = fp16(x[i].d);
    int8_t scales[16];
    unpack_q3_K_scales(x[i].scales, scales);
    const uint8_t* q = x[i].qs;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * static_cast<float>(scales[is++]);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((x[i].hmask[l] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

void dequantize_q4_K(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16(x[i].d);
    const float min = fp16(x[i].dmin);
    uint8_t sc[8], mn[8];
    unpack_k4_scales(x[i].scales, sc, mn);
    const uint8_t* q = x[i].qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
      const float d1 = d * sc[is], m1 = min * mn[is];
      const float d2 = d * sc[is + 1], m2 = min * mn[is + 1];
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequantize_q5_K(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16(x[i].d);
    const float min = fp16(x[i].dmin);
    uint8_t sc[8], mn[8];
    unpack_k4_scales(x[i].scales, sc, mn);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32) {
      const float d1 = d * sc[is], m1 = min * mn[is];
      const float d2 = d * sc[is + 1], m2 = min * mn[is + 1];
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

void dequantize_q6_K(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < QK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // ggml: d * sc * q, evaluated left to right in float.
        y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequantize_q8_K(const BlockQ8_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    for (int j = 0; j < QK; ++j) *y++ = x[i].d * static_cast<float>(x[i].qs[j]);
  }
}

// ---- Q8_K activations (quantize_row_q8_K_ref, which x86 uses as is) ---------

// Symmetric: the value of largest magnitude maps to -127 (the scale takes
// the opposite sign), and d stays F32.
void quantize_q8_K(const float* x, BlockQ8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      for (int j = 0; j < QK / 16; ++j) y[i].bsums[j] = 0;
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < QK / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

// ---- dot products (ggml_vec_dot_*_q8_K_generic) -----------------------------

float vec_dot_q2_K_q8_K(const BlockQ2_K* x, const BlockQ8_K* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* q2 = x[i].qs;
    const int8_t* q8 = y[i].qs;
    const uint8_t* sc = x[i].scales;
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);
    const float dall = y[i].d * fp16(x[i].d);
    const float dmin = y[i].d * fp16(x[i].dmin);
    int isum = 0;
    int is = 0;
    for (int k = 0; k < QK / 128; ++k, q2 += 32) {
      for (int shift = 0; shift < 8; shift += 2, q8 += 32) {
        int isuml = 0;
        for (int l = 0; l < 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += (sc[is++] & 0xF) * isuml;
        isuml = 0;
        for (int l = 16; l < 32; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += (sc[is++] & 0xF) * isuml;
      }
    }
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

float vec_dot_q3_K_q8_K(const BlockQ3_K* x, const BlockQ8_K* y, int64_t nb) {
  float sums[8] = {};
  for (int64_t i = 0; i < nb; ++i) {
    int8_t a[QK];
    const uint8_t* q3 = x[i].qs;
    int8_t* p = a;
    uint8_t m = 1;
    for (int j = 0; j < QK; j += 128, q3 += 32) {
      for (int shift = 0; shift < 8; shift += 2, p += 32, m = static_cast<uint8_t>(m << 1)) {
        for (int l = 0; l < 32; ++l) {
          p[l] = static_cast<int8_t>(((q3[l] >> shift) & 3) - ((x[i].hmask[l] & m) ? 0 : 4));
        }
      }
    }
    int8_t sc8[16];
    unpack_q3_K_scales(x[i].scales, sc8);
    int scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = sc8[j];
    int32_t aux32[8];
    accumulate_lanes(y[i].qs, a, scales, 16, aux32);
    const float d = fp16(x[i].d) * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
  }
  float sumf = 0;
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

namespace {

// Shared by Q4_K and Q5_K, which differ only in how `a` is unpacked.
float dot_k4_block_sums(const uint8_t packed_scales[12], uint16_t d16, uint16_t dmin16, const int8_t* a,
                        const BlockQ8_K& y, float sums[8], float sumf) {
  uint8_t sc[8], mn[8];
  unpack_k4_scales(packed_scales, sc, mn);
  int sumi = 0;
  for (int j = 0; j < QK / 16; ++j) sumi += y.bsums[j] * mn[j / 2];
  int scales[8];
  for (int j = 0; j < 8; ++j) scales[j] = sc[j];
  int32_t aux32[8];
  accumulate_lanes(y.qs, a, scales, 32, aux32);
  const float d = fp16(d16) * y.d;
  for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
  const float dmin = fp16(dmin16) * y.d;
  return sumf - dmin * static_cast<float>(sumi);
}

}  // namespace

float vec_dot_q4_K_q8_K(const BlockQ4_K* x, const BlockQ8_K* y, int64_t nb) {
  float sums[8] = {};
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t a[QK];
    const uint8_t* q4 = x[i].qs;
    for (int j = 0; j < QK / 64; ++j, q4 += 32) {
      for (int l = 0; l < 32; ++l) a[64 * j + l] = static_cast<int8_t>(q4[l] & 0xF);
      for (int l = 0; l < 32; ++l) a[64 * j + 32 + l] = static_cast<int8_t>(q4[l] >> 4);
    }
    sumf = dot_k4_block_sums(x[i].scales, x[i].d, x[i].dmin, a, y[i], sums, sumf);
  }
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

float vec_dot_q5_K_q8_K(const BlockQ5_K* x, const BlockQ8_K* y, int64_t nb) {
  float sums[8] = {};
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t a[QK];
    const uint8_t* q4 = x[i].qs;
    const uint8_t* hm = x[i].qh;
    uint8_t m = 1;
    for (int j = 0; j < QK / 64; ++j, q4 += 32) {
      for (int l = 0; l < 32; ++l) a[64 * j + l] = static_cast<int8_t>((q4[l] & 0xF) + (hm[l] & m ? 16 : 0));
      m = static_cast<uint8_t>(m << 1);
      for (int l = 0; l < 32; ++l) a[64 * j + 32 + l] = static_cast<int8_t>((q4[l] >> 4) + (hm[l] & m ? 16 : 0));
      m = static_cast<uint8_t>(m << 1);
    }
    sumf = dot_k4_block_sums(x[i].scales, x[i].d, x[i].dmin, a, y[i], sums, sumf);
  }
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

float vec_dot_q6_K_q8_K(const BlockQ6_K* x, const BlockQ8_K* y, int64_t nb) {
  float sums[8] = {};
  for (int64_t i = 0; i < nb; ++i) {
    int8_t a[QK];
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    for (int j = 0; j < QK; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        a[j + l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        a[j + l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        a[j + l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        a[j + l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = x[i].scales[j];
    int32_t aux32[8];
    accumulate_lanes(y[i].qs, a, scales, 16, aux32);
    const float d = fp16(x[i].d) * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
  }
  float sumf = 0;
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

}  // namespace hearth::quants_detail
