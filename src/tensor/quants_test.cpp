// Quantize -> dequantize error bounds that follow from each format, the
// activation quantizers, and the integer dot products (exact where the
// arithmetic allows, within float rounding otherwise).
#include "tensor/quants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace hearth {
namespace {

constexpr GgmlType kWeightTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                     GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                     GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS};

enum class Dist { Gaussian, Uniform, Outliers, PositiveOnly, Tiny, Large, Zeros, SparseZeros };
constexpr Dist kDists[] = {Dist::Gaussian, Dist::Uniform,  Dist::Outliers, Dist::PositiveOnly,
                           Dist::Tiny,     Dist::Large,    Dist::Zeros,    Dist::SparseZeros};
const char* dist_name(Dist d) {
  static const char* names[] = {"gaussian", "uniform", "outliers", "positive", "tiny", "large", "zeros", "sparse"};
  return names[static_cast<int>(d)];
}

std::vector<float> make_data(Dist dist, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    switch (dist) {
      case Dist::Gaussian: x[i] = g(rng); break;
      case Dist::Uniform: x[i] = u(rng); break;
      case Dist::Outliers: x[i] = (i % 97 == 13) ? 40.0f * g(rng) : g(rng); break;
      case Dist::PositiveOnly: x[i] = 0.75f + 0.25f * u(rng); break;
      case Dist::Tiny: x[i] = 1e-3f * g(rng); break;
      case Dist::Large: x[i] = 1000.0f * g(rng); break;
      case Dist::Zeros: x[i] = 0.0f; break;
      case Dist::SparseZeros: x[i] = (i % 5 == 0) ? g(rng) : 0.0f; break;
    }
  }
  return x;
}

// Width of one quantization step of an ideal quantizer of the format on
// each group of elements that shares a scale: the symmetric formats spread
// [-amax, amax] (or [-amax, amax * (n-1)/n]) over their levels, the ones with
// a min spread [min(x, 0), max(x)] (K-quants) or [min, max] (Q4_1 / Q5_1);
// IQ4's widest gap between table levels is 24 of 127 * scale.
struct StepRule {
  int group;
  bool asymmetric;
  bool min_clamped_to_zero;
  float steps;  // range divided by this is one step
};

StepRule step_rule(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: return {32, false, false, 8.0f};    // amax -> 8 steps
    case GgmlType::Q5_0: return {32, false, false, 16.0f};
    case GgmlType::Q8_0: return {32, false, false, 127.0f};
    case GgmlType::Q4_1: return {32, true, false, 15.0f};
    case GgmlType::Q5_1: return {32, true, false, 31.0f};
    case GgmlType::Q2_K: return {16, true, true, 3.0f};
    case GgmlType::Q3_K: return {16, false, false, 4.0f};
    case GgmlType::Q4_K: return {32, true, true, 15.0f};
    case GgmlType::Q5_K: return {32, true, true, 31.0f};
    case GgmlType::Q6_K: return {16, false, false, 32.0f};
    case GgmlType::IQ4_NL: case GgmlType::IQ4_XS: return {32, false, false, 127.0f / 24.0f};
    default: return {32, false, false, 1.0f};
  }
}

// RMS over the row of the per-group step.
double rms_step(GgmlType type, const std::vector<float>& x) {
  const StepRule r = step_rule(type);
  double s2 = 0;
  for (size_t g = 0; g < x.size(); g += r.group) {
    float lo = x[g], hi = x[g], amax = 0;
    for (int i = 0; i < r.group; ++i) {
      lo = std::min(lo, x[g + i]);
      hi = std::max(hi, x[g + i]);
      amax = std::max(amax, std::fabs(x[g + i]));
    }
    if (r.min_clamped_to_zero) lo = std::min(lo, 0.0f);
    const double range = r.asymmetric ? hi - lo : amax;
    s2 += (range / r.steps) * (range / r.steps) * r.group;
  }
  return std::sqrt(s2 / static_cast<double>(x.size()));
}

std::vector<float> round_trip(GgmlType type, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(quant_row_bytes(type, n));
  quantize_row(type, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  dequantize_row(type, q.data(), y.data(), n);
  return y;
}

TEST(QuantRoundTrip, ErrorIsWithinHalfAStepOfTheFormat) {
  const size_t n = 3 * 256;
  for (GgmlType type : kWeightTypes) {
    for (Dist dist : kDists) {
      SCOPED_TRACE(std::string(type_name(type)) + " " + dist_name(dist));
      const auto x = make_data(dist, n, 7 + static_cast<uint32_t>(dist));
      const auto y = round_trip(type, x);
      double e2 = 0;
      for (size_t i = 0; i < n; ++i) e2 += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
      const double rms = std::sqrt(e2 / n);
      // Rounding to the nearest of evenly spaced levels leaves an RMS error
      // of step / sqrt(12) = 0.29 step. The scale searches trade a little
      // error between elements and the scales are rounded themselves (to
      // F16, and to 4-6 bits in the K-quants): up to ~0.33 seen. Under
      // 0.45; one element decoded to a wrong level costs whole steps.
      EXPECT_LE(rms, 0.45 * rms_step(type, x) + 1e-30) << "rms step " << rms_step(type, x);
      if (dist == Dist::Zeros) {
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], 0.0f) << i;
      }
    }
  }
}

// Per element, where the format allows a hard bound: legacy symmetric types
// lose at most one step (the positive extreme is clipped at levels-1), the
// rest half a step, plus the F16 rounding of the scale (2^-11 relative,
// times the largest level) and of the min.
TEST(QuantRoundTrip, LegacyTypesBoundEveryElement) {
  const size_t n = 4 * 256;
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0}) {
    for (Dist dist : kDists) {
      SCOPED_TRACE(std::string(type_name(type)) + " " + dist_name(dist));
      const auto x = make_data(dist, n, 99 + static_cast<uint32_t>(dist));
      const auto y = round_trip(type, x);
      const StepRule r = step_rule(type);
      for (size_t g = 0; g < n; g += 32) {
        float lo = x[g], hi = x[g], amax = 0;
        for (int i = 0; i < 32; ++i) {
          lo = std::min(lo, x[g + i]);
          hi = std::max(hi, x[g + i]);
          amax = std::max(amax, std::fabs(x[g + i]));
        }
        const float step = (r.asymmetric ? hi - lo : amax) / r.steps;
        // F16 keeps 11 significant bits, or steps of 2^-24 below 2^-14.
        auto f16_err = [](float v) { return std::max(std::fabs(v) / 2048.0f, 0x1p-25f); };
        const float bound = (r.asymmetric || type == GgmlType::Q8_0 ? 0.5f : 1.0f) * step +
                            (r.steps + 1) * f16_err(step) + (r.asymmetric ? f16_err(lo) : 0.0f);
        for (int i = 0; i < 32; ++i) {
          ASSERT_LE(std::fabs(y[g + i] - x[g + i]), bound * 1.0001f + 1e-35f) << "element " << g + i;
        }
      }
    }
  }
}

TEST(QuantRoundTrip, QuantizingDecodedValuesIsStableForLegacyTypes) {
  // A row that already lies on the grid comes back unchanged.
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::Q4_1, GgmlType::Q5_1}) {
    SCOPED_TRACE(std::string(type_name(type)));
    const auto x = make_data(Dist::Gaussian, 256, 5);
    const auto y = round_trip(type, x);
    const auto z = round_trip(type, y);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(z[i], y[i], 1e-6f * (1 + std::fabs(y[i]))) << i;
  }
}

TEST(QuantActivations, Q8_0RoundsTiesToEvenLikeGgmlsAvxCodeNotLikeTheReference) {
  // amax = 127, so both scales are 1 and x * id is exact: 2.5 and -3.5 are ties.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -3.5f;
  x[3] = 1.49f;
  BlockQ8_0 act{}, ref{};
  quantize_activations(GgmlType::Q8_0, x.data(), &act, 32);
  quantize_row(GgmlType::Q8_0, x.data(), &ref, 32);
  EXPECT_EQ(act.d, 0x3C00);  // 1.0
  EXPECT_EQ(act.qs[0], 127);
  EXPECT_EQ(act.qs[1], 2);    // half to even
  EXPECT_EQ(act.qs[2], -4);
  EXPECT_EQ(act.qs[3], 1);
  EXPECT_EQ(ref.qs[1], 3);    // roundf: half away from zero
  EXPECT_EQ(ref.qs[2], -4);

  BlockQ8_1 a1{};
  quantize_activations(GgmlType::Q8_1, x.data(), &a1, 32);
  EXPECT_EQ(a1.qs[1], 2);
  EXPECT_EQ(half_to_float(a1.s), 127.0f + 2 - 4 + 1);  // d * sum(qs), d = 1
}

TEST(QuantActivations, Q8_KKeepsF32ScaleAndGroupSums) {
  auto x = make_data(Dist::Gaussian, 512, 11);
  x[300] = -9.0f;  // the largest magnitude of block 1 maps to -127, the scale to +9/127
  std::vector<BlockQ8_K> b(2);
  quantize_activations(GgmlType::Q8_K, x.data(), b.data(), 512);
  EXPECT_EQ(b[1].qs[300 - 256], -127);
  EXPECT_FLOAT_EQ(b[1].d, 9.0f / 127.0f);
  for (const auto& blk : b) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += blk.qs[16 * g + i];
      EXPECT_EQ(blk.bsums[g], sum);
    }
  }
  std::vector<float> y(512);
  dequantize_row(GgmlType::Q8_K, b.data(), y.data(), 512);
  for (size_t i = 0; i < 512; ++i) EXPECT_LE(std::fabs(y[i] - x[i]), 0.5001f * std::fabs(b[i / 256].d)) << i;
}

// Exact when every value is a small integer: weights with unit scales and
// random quants, activations in [-7, 7] with unit scale. Then the integer
// dot product and the float dot of decoded values are the same integer.
TEST(QuantVecDot, ExactOnIntegerData) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255), small(-7, 7);
  for (GgmlType type : kWeightTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const GgmlType at = vec_dot_type(type);
    const int64_t n = 512;
    const GgmlTypeTraits wt = traits(type), act_t = traits(at);
    std::vector<uint8_t> w(quant_row_bytes(type, n));
    for (auto& v : w) v = static_cast<uint8_t>(byte(rng));
    // Scale fields (offsets as in ggml-common.h) set to 1.0.
    for (int64_t b = 0; b < n / wt.block_elems; ++b) {
      uint8_t* blk = w.data() + b * wt.block_bytes;
      const uint16_t one = 0x3C00;
      auto set = [&](int off) { std::memcpy(blk + off, &one, 2); };
      switch (type) {
        case GgmlType::Q2_K: set(80); set(82); break;
        case GgmlType::Q3_K: set(108); break;
        case GgmlType::Q6_K: set(208); break;
        case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: set(0); set(2); break;
        default: set(0); break;
      }
    }
    // Activation blocks built directly: unit scale, quants in [-7, 7], and
    // the derived fields (Q8_1's s, Q8_K's group sums) computed here.
    std::vector<uint8_t> a(quant_row_bytes(at, n));
    for (int64_t b = 0; b < n / act_t.block_elems; ++b) {
      uint8_t* blk = a.data() + b * act_t.block_bytes;
      const int qs_off = at == GgmlType::Q8_0 ? 2 : 4;
      int sum = 0;
      int16_t bsums[16] = {};
      for (uint32_t i = 0; i < act_t.block_elems; ++i) {
        const int q = small(rng);
        blk[qs_off + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        sum += q;
        bsums[i / 16] = static_cast<int16_t>(bsums[i / 16] + q);
      }
      const uint16_t one = 0x3C00;
      const float onef = 1.0f;
      if (at == GgmlType::Q8_K) {
        std::memcpy(blk, &onef, 4);
        std::memcpy(blk + 4 + 256, bsums, sizeof bsums);
      } else {
        std::memcpy(blk, &one, 2);
      }
      if (at == GgmlType::Q8_1) {
        const uint16_t s16 = float_to_half(static_cast<float>(sum));
        std::memcpy(blk + 2, &s16, 2);
      }
    }
    std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
    dequantize_row(type, w.data(), wf.data(), n);
    dequantize_row(at, a.data(), af.data(), n);
    double exact = 0;
    for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(wf[i]) * af[i];
    ASSERT_LT(std::fabs(exact), 1 << 24);  // every partial sum is an exact float
    EXPECT_EQ(vec_dot(type, n, w.data(), a.data()), static_cast<float>(exact));
  }
}

// General data: the integer sums are exact, so the only differences from
// the float dot of decoded values are float rounding (a few ulps per block)
// and, for Q8_1, the F16 rounding of s = d * sum(qs) in the min term.
TEST(QuantVecDot, MatchesDequantizedDotWithinRounding) {
  for (GgmlType type : kWeightTypes) {
    for (Dist dist : {Dist::Gaussian, Dist::Outliers, Dist::PositiveOnly, Dist::Large}) {
      SCOPED_TRACE(std::string(type_name(type)) + " " + dist_name(dist));
      const GgmlType at = vec_dot_type(type);
      const int64_t n = 1024;
      const auto xw = make_data(dist, static_cast<size_t>(n), 21);
      const auto xa = make_data(Dist::Gaussian, static_cast<size_t>(n), 22);
      std::vector<uint8_t> w(quant_row_bytes(type, n)), a(quant_row_bytes(at, n));
      quantize_row(type, xw.data(), w.data(), n);
      quantize_activations(at, xa.data(), a.data(), n);
      std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
      dequantize_row(type, w.data(), wf.data(), n);
      dequantize_row(at, a.data(), af.data(), n);
      double exact = 0, magnitude = 0;
      for (int64_t i = 0; i < n; ++i) {
        exact += static_cast<double>(wf[i]) * af[i];
        magnitude += std::fabs(static_cast<double>(wf[i]) * af[i]);
      }
      double tol = 1e-5 * magnitude;
      if (at == GgmlType::Q8_1) {
        const auto* blocks = reinterpret_cast<const BlockQ8_1*>(a.data());
        for (int64_t b = 0; b < n / 32; ++b) {
          // |m| <= max |w| of the block; s is off by at most 2^-11 of itself.
          float m = 0;
          for (int i = 0; i < 32; ++i) m = std::max(m, std::fabs(wf[b * 32 + i]));
          tol += m * std::fabs(half_to_float(blocks[b].s)) / 2048.0;
        }
      }
      EXPECT_NEAR(vec_dot(type, n, w.data(), a.data()), exact, tol);
    }
  }
}

}  // namespace
}  // namespace hearth
