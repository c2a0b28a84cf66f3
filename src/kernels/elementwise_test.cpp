#include "kernels/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/quant_test_util.h"

namespace hearth::kernels {
namespace {

using quant_test::ModeGuard;
using quant_test::runnable_isas;

double exact_swiglu(double g, double u) { return g / (1.0 + std::exp(-g)) * u; }

// Gates across silu's whole range (deep negative: ~0; large: ~g), exact
// zeros of both signs, and lengths that leave every kind of vector tail.
std::vector<float> test_gates(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> wide(-100.0f, 100.0f), narrow(-6.0f, 6.0f);
  std::vector<float> g(n);
  for (size_t i = 0; i < n; ++i) g[i] = i % 3 == 0 ? wide(rng) : narrow(rng);
  const float specials[] = {0.0f, -0.0f, 88.0f, -88.0f, 87.5f, -87.5f, 1e-30f, -1e-30f, 200.0f, -200.0f};
  for (size_t i = 0; i < n && i < std::size(specials); ++i) g[i] = specials[i];
  return g;
}

TEST(Swiglu, MatchesTheExactFunctionOnEveryPath) {
  ModeGuard guard;
  std::mt19937 rng(3);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (size_t n : {1u, 7u, 8u, 15u, 16u, 17u, 33u, 1000u, 5632u}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n " + std::to_string(n));
      std::vector<float> gate = test_gates(n, rng), up(n);
      std::normal_distribution<float> nd;
      for (float& u : up) u = nd(rng);
      std::vector<float> out = gate;
      // Guard values past the end must stay as they are.
      out.push_back(12345.0f);
      swiglu(out.data(), up.data(), static_cast<int64_t>(n));
      EXPECT_EQ(out[n], 12345.0f);
      for (size_t i = 0; i < n; ++i) {
        const double want = exact_swiglu(gate[i], up[i]);
        // A few float ulp; below g = -87.3 silu(g) (< 1e-35) comes out 0
        // (exp_nonpositive flushes e^x there).
        EXPECT_NEAR(out[i], want, 4e-7 * std::fabs(want) + 1e-35) << "gate " << gate[i] << " up " << up[i];
        EXPECT_FALSE(std::isnan(out[i]));
      }
    }
  }
}

TEST(Swiglu, Avx2AndAvx512GiveTheSameBits) {
  ModeGuard guard;
  if (!cpu_supports(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(4);
  const size_t n = 4099;
  const std::vector<float> gate = test_gates(n, rng);
  std::vector<float> up(n, 1.5f);
  std::vector<float> a = gate, b = gate;
  ASSERT_TRUE(force_isa(Isa::Avx2));
  swiglu(a.data(), up.data(), static_cast<int64_t>(n));
  ASSERT_TRUE(force_isa(Isa::Avx512));
  swiglu(b.data(), up.data(), static_cast<int64_t>(n));
  EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(float)), 0);
}

}  // namespace
}  // namespace hearth::kernels
