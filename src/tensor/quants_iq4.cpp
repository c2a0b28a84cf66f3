// IQ4_NL (32-element blocks, one F16 scale) and IQ4_XS (256-element
// super-blocks, F16 scale plus eight 6-bit block scales): 4-bit indices into
// the fixed non-linear table kIQ4NLValues. Decoding, ggml's quantizer as
// llama-quantize runs it without importance matrix (quantize_iq4_nl /
// quantize_iq4_xs: 7 scale candidates either side), and the generic dot
// products against Q8_0 / Q8_K activations.
#include <algorithm>
#include <cmath>

#include "tensor/quants_impl.h"

namespace hearth::quants_detail {
namespace {

constexpr float kGroupMaxEps = 1e-15f;
constexpr int kNTry = 7;

// Index of the table value nearest to x (values ascending); an exact midpoint
// goes to the upper value.
int best_index_int8(int n, const int8_t* val, float x) {
  if (x <= val[0]) return 0;
  if (x >= val[n - 1]) return n - 1;
  int ml = 0, mu = n - 1;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) {
      mu = mav;
    } else {
      ml = mav;
    }
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// ggml's quantize_row_iq4_nl_impl for one super-block of `super_block`
// elements in 32-element blocks, without importance weights (weights x^2).
// Writes the F16 scale to *dh, the packed indices to q4 and, when there is
// more than one block, the 6-bit block scales to scales_h / scales_l.
void quantize_iq4_superblock(int super_block, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h,
                             uint8_t* scales_l) {
  constexpr int block = 32;
  const int8_t* values = kIQ4NLValues;
  float scales[kQK_K / block];
  float weight[block];
  uint8_t L[kQK_K];

  std::memset(q4, 0, static_cast<size_t>(super_block / 2));
  *dh = to_fp16(0.f);

  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < super_block / block; ++ib) {
    const float* xb = x + ib * block;
    uint8_t* Lb = L + ib * block;
    for (int j = 0; j < block; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < block; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      std::memset(Lb, 0, block);
      continue;
    }
    // Start with the largest magnitude on the table's most negative value,
    // then try 2 * kNTry + 1 scales putting it on nearby levels.
    float d = -max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < block; ++j) {
      const int l = best_index_int8(16, values, id * xb[j]);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = values[l];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -kNTry; itry <= kNTry; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < block; ++j) {
        const int l = best_index_int8(16, values, id * xb[j]);
        const float q = values[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) {
      amax_scale = abs_d;
      max_scale = d;
    }
  }

  if (super_block / block > 1) {
    const int nb = super_block / block;
    std::memset(scales_h, 0, static_cast<size_t>((nb + 7) / 8) * sizeof(uint16_t));
    const float d = -max_scale / 32;
    *dh = to_fp16(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < nb; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * block;
      const float* xb = x + ib * block;
      for (int j = 0; j < block; ++j) Lb[j] = static_cast<uint8_t>(best_index_int8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = static_cast<uint8_t>(l & 0xf);
      const uint8_t l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) {
        scales_l[ib / 2] = l_l;
      } else {
        scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | (l_l << 4));
      }
      scales_h[ib / 8] = static_cast<uint16_t>(scales_h[ib / 8] | (l_h << 2 * (ib % 8)));
    }
  } else {
    *dh = to_fp16(scales[0]);
    const float id = scales[0] != 0.0f ? 1 / scales[0] : 0;
    for (int j = 0; j < super_block; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
  }

  for (int i = 0; i < super_block / 32; ++i) {
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
  }
}

int iq4_xs_block_scale(const BlockIQ4_XS& b, int ib) {
  return ((b.scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b.scales_h >> 2 * ib) & 3) << 4);
}

}  // namespace

void dequantize_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK4_NL) {
    const float d = fp16(x[i].d);
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      y[j] = d * static_cast<float>(kIQ4NLValues[x[i].qs[j] & 0xf]);
      y[j + kQK4_NL / 2] = d * static_cast<float>(kIQ4NLValues[x[i].qs[j] >> 4]);
    }
  }
}

void dequantize_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32, qs += 16) {
      const float dl = d * static_cast<float>(iq4_xs_block_scale(x[i], ib) - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIQ4NLValues[qs[j] & 0xf]);
        y[j + 16] = dl * static_cast<float>(kIQ4NLValues[qs[j] >> 4]);
      }
    }
  }
}

void quantize_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t d, unused_h;
    quantize_iq4_superblock(kQK4_NL, x + kQK4_NL * i, &d, y[i].qs, &unused_h, nullptr);
    y[i].d = d;
  }
}

void quantize_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t d, scales_h;
    quantize_iq4_superblock(kQK_K, x + kQK_K * i, &d, y[i].qs, &scales_h, y[i].scales_l);
    y[i].d = d;
    y[i].scales_h = scales_h;
  }
}

float vec_dot_iq4_nl_q8_0(const BlockIQ4_NL* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16(y[i].d) * fp16(x[i].d);
    int sumi1 = 0, sumi2 = 0;
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      sumi1 += y[i].qs[j] * kIQ4NLValues[x[i].qs[j] & 0xf];
      sumi2 += y[i].qs[j + kQK4_NL / 2] * kIQ4NLValues[x[i].qs[j] >> 4];
    }
    sumf += d * static_cast<float>(sumi1 + sumi2);
  }
  return sumf;
}

float vec_dot_iq4_xs_q8_K(const BlockIQ4_XS* x, const BlockQ8_K* y, int64_t nb) {
  float sumf = 0;
  for (int64_t i = 0; i < nb; ++i) {
    const float d4d8 = fp16(x[i].d) * y[i].d;
    const uint8_t* qs = x[i].qs;
    const int8_t* q8 = y[i].qs;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 16, q8 += 32) {
      const float dl = d4d8 * static_cast<float>(iq4_xs_block_scale(x[i], ib) - 32);
      int sumi1 = 0, sumi2 = 0;
      for (int j = 0; j < 16; ++j) {
        sumi1 += q8[j] * kIQ4NLValues[qs[j] & 0xf];
        sumi2 += q8[j + 16] * kIQ4NLValues[qs[j] >> 4];
      }
      sumf += dl * static_cast<float>(sumi1 + sumi2);
    }
  }
  return sumf;
}

}  // namespace hearth::quants_detail
