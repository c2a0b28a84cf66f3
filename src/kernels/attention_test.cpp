// The attention kernel on every ISA this CPU runs, against a double-precision
// reference, over head sizes and key counts that are and are not multiples
// of the vector width.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/matmul.h"

namespace hearth::kernels {
namespace {

struct Case {
  int n_q, head_dim, n_keys;
};

struct Data {
  std::vector<float> q, kt, v;
  size_t kt_stride, v_stride;
};

Data make_data(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Data d;
  d.kt_stride = c.n_keys + 7;            // a cache row longer than the keys in use
  d.v_stride = c.head_dim * 3 + 5;       // values of other heads interleaved
  d.q.resize(static_cast<size_t>(c.n_q) * c.head_dim);
  d.kt.resize(c.head_dim * d.kt_stride);
  d.v.resize(c.n_keys * d.v_stride);
  for (auto* vec : {&d.q, &d.kt, &d.v}) {
    for (float& x : *vec) x = dist(rng);
  }
  for (float& x : d.q) x *= 2.0f;  // peaked softmax too
  return d;
}

std::vector<double> reference(const Case& c, const Data& d, float scale) {
  std::vector<double> out(static_cast<size_t>(c.n_q) * c.head_dim);
  std::vector<double> s(c.n_keys);
  for (int g = 0; g < c.n_q; ++g) {
    double max = -1e300;
    for (int j = 0; j < c.n_keys; ++j) {
      double acc = 0;
      for (int k = 0; k < c.head_dim; ++k) acc += double(d.q[g * c.head_dim + k]) * d.kt[k * d.kt_stride + j];
      s[j] = acc * scale;
      max = std::max(max, s[j]);
    }
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - max));
    for (int k = 0; k < c.head_dim; ++k) {
      double acc = 0;
      for (int j = 0; j < c.n_keys; ++j) acc += s[j] / sum * d.v[j * d.v_stride + k];
      out[g * c.head_dim + k] = acc;
    }
  }
  return out;
}

std::vector<float> run(const Case& c, const Data& d, float scale, int first_q, int n_q) {
  std::vector<float> out(static_cast<size_t>(n_q) * c.head_dim, NAN);
  std::vector<float> scratch(attention_scratch_floats(n_q, c.n_keys));
  AttentionArgs a;
  a.q = d.q.data() + static_cast<size_t>(first_q) * c.head_dim;
  a.n_q = n_q;
  a.head_dim = c.head_dim;
  a.n_keys = c.n_keys;
  a.kt = d.kt.data();
  a.kt_stride = d.kt_stride;
  a.v = d.v.data();
  a.v_stride = d.v_stride;
  a.scale = scale;
  a.out = out.data();
  a.scratch = scratch.data();
  attention(a);
  return out;
}

class AttentionTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!cpu_supports(GetParam())) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
    previous_ = active_isa();
    ASSERT_TRUE(force_isa(GetParam()));
  }
  void TearDown() override { force_isa(previous_); }
  Isa previous_ = Isa::Scalar;
};

TEST_P(AttentionTest, MatchesDoublePrecisionReference) {
  const Case cases[] = {{1, 8, 1},   {2, 8, 33},   {8, 64, 1},  {8, 64, 17}, {4, 64, 200},
                        {5, 48, 65}, {1, 128, 300}, {3, 80, 129}, {7, 64, 1000}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "n_q " << c.n_q << " head_dim " << c.head_dim << " keys " << c.n_keys);
    const Data d = make_data(c, seed++);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    const auto want = reference(c, d, scale);
    const auto got = run(c, d, scale, 0, c.n_q);
    double err = 0, norm = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      err += (got[i] - want[i]) * (got[i] - want[i]);
      norm += want[i] * want[i];
    }
    EXPECT_LT(std::sqrt(err / norm), 2e-6);
  }
}

TEST(Attention, Avx2AndAvx512GiveTheSameBits) {
  if (!cpu_supports(Isa::Avx512)) GTEST_SKIP() << "CPU lacks avx512";
  const Isa previous = active_isa();
  const Case c{4, 40, 333};
  const Data d = make_data(c, 9);
  force_isa(Isa::Avx2);
  const auto avx2 = run(c, d, 0.3f, 0, 4);
  force_isa(Isa::Avx512);
  const auto avx512 = run(c, d, 0.3f, 0, 4);
  force_isa(previous);
  EXPECT_EQ(avx2, avx512);
}

TEST_P(AttentionTest, AQueryHeadsResultDoesNotDependOnItsGroup) {
  const Case c{8, 64, 77};
  const Data d = make_data(c, 42);
  const auto all = run(c, d, 0.125f, 0, 8);
  for (int g = 0; g < 8; ++g) {
    const auto one = run(c, d, 0.125f, g, 1);
    for (int k = 0; k < c.head_dim; ++k) ASSERT_EQ(one[k], all[g * c.head_dim + k]) << "head " << g;
  }
}

TEST_P(AttentionTest, ExtremeScoresStayFinite) {
  const Case c{2, 16, 40};
  Data d = make_data(c, 7);
  for (float& x : d.q) x *= 1000.0f;  // scores far beyond exp's range
  const auto out = run(c, d, 1.0f, 0, 2);
  for (const float x : out) EXPECT_TRUE(std::isfinite(x));
}

INSTANTIATE_TEST_SUITE_P(Isas, AttentionTest, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace hearth::kernels
