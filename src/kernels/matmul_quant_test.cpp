// matmul / get_row with quantized weights, in both modes: fast (activations
// quantized per token, integer dot products) against tensor/quants.h's
// scalar vec_dot, and exact weights against the F32 kernels run on the
// decoded matrix. Plus the determinism contract: bit-identical for any
// thread count and batch split.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/matmul_table.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"

namespace hearth::kernels {
namespace {

constexpr GgmlType kQuantTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                    GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                    GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS};

class ModeGuard {
 public:
  ModeGuard() : isa_(active_isa()), exact_(exact_weights()) {}
  ~ModeGuard() {
    force_isa(isa_);
    set_exact_weights(exact_);
  }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Isa isa_;
  bool exact_;
};

std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (cpu_supports(isa)) isas.push_back(isa);
  }
  return isas;
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

// rows x cols weights quantized to `type`, rows padded by `pad` bytes of
// garbage to check that row_bytes is honoured.
struct QuantMatrix {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

QuantMatrix make_quant_matrix(GgmlType type, int64_t rows, int64_t cols, size_t pad, uint32_t seed) {
  QuantMatrix m;
  const size_t row_bytes = quant_row_bytes(type, cols) + pad;
  m.bytes.assign(row_bytes * static_cast<size_t>(rows), 0xA5);
  const auto values = gaussian(static_cast<size_t>(rows * cols), seed);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, values.data() + r * cols, m.bytes.data() + r * row_bytes, cols);
  m.w = WeightMatrix{type, m.bytes.data(), rows, cols, row_bytes};
  return m;
}

TEST(MatmulQuant, KernelActivationFormatIsGgmlsVecDotType) {
  for (GgmlType type : kQuantTypes) {
    const detail::TypeKernels* k = detail::find_scalar_quant_kernels(type);
    ASSERT_NE(k, nullptr) << type_name(type);
    EXPECT_EQ(k->act_type, vec_dot_type(type)) << type_name(type);
  }
}

TEST(MatmulQuant, GetRowDecodesExactly) {
  for (GgmlType type : kQuantTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const auto m = make_quant_matrix(type, 3, 512, 6, 1);
    std::vector<float> got(512), want(512);
    get_row(m.w, 2, got.data());
    dequantize_row(type, m.bytes.data() + 2 * m.w.row_bytes, want.data(), 512);
    EXPECT_EQ(got, want);
  }
}

// Fast path on the scalar ISA: every output is exactly quants.h's vec_dot of
// the weight row with the token's quantized activations.
TEST(MatmulQuant, ScalarFastPathIsTheReferenceVecDot) {
  ModeGuard guard;
  ASSERT_TRUE(force_isa(Isa::Scalar));
  set_exact_weights(false);
  const int64_t rows = 7, cols = 512, n_tokens = 5;
  for (GgmlType type : kQuantTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const auto m = make_quant_matrix(type, rows, cols, 4, 2);
    const auto x = gaussian(static_cast<size_t>(cols * n_tokens), 3);
    std::vector<float> y(static_cast<size_t>(rows * n_tokens));
    matmul(m.w, x.data(), n_tokens, y.data(), nullptr);
    const GgmlType at = vec_dot_type(type);
    std::vector<uint8_t> xq(quant_row_bytes(at, cols));
    for (int64_t t = 0; t < n_tokens; ++t) {
      quantize_activations(at, x.data() + t * cols, xq.data(), cols);
      for (int64_t r = 0; r < rows; ++r) {
        const float want = vec_dot(type, cols, m.bytes.data() + r * m.w.row_bytes, xq.data());
        EXPECT_EQ(y[t * rows + r], want) << "row " << r << " token " << t;
      }
    }
  }
}

// On every ISA: the fast path stays within float rounding of the dequantized
// product with the same quantized activations, and the exact path equals the
// F32 matmul of the decoded matrix bit for bit.
TEST(MatmulQuant, BothModesOnEveryIsa) {
  ModeGuard guard;
  const int64_t rows = 9, cols = 768, n_tokens = 6;
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kQuantTypes) {
      if (cols % traits(type).block_elems != 0) continue;
      SCOPED_TRACE(std::string(type_name(type)) + " on " + std::string(isa_name(isa)));
      const auto m = make_quant_matrix(type, rows, cols, 0, 4);
      const auto x = gaussian(static_cast<size_t>(cols * n_tokens), 5);
      std::vector<float> decoded(static_cast<size_t>(rows * cols));
      for (int64_t r = 0; r < rows; ++r) get_row(m.w, r, decoded.data() + r * cols);

      set_exact_weights(true);
      std::vector<float> exact(static_cast<size_t>(rows * n_tokens)), f32(exact.size());
      matmul(m.w, x.data(), n_tokens, exact.data(), nullptr);
      matmul(WeightMatrix{GgmlType::F32, decoded.data(), rows, cols, static_cast<size_t>(cols) * 4}, x.data(),
             n_tokens, f32.data(), nullptr);
      EXPECT_EQ(exact, f32);

      set_exact_weights(false);
      std::vector<float> fast(exact.size());
      matmul(m.w, x.data(), n_tokens, fast.data(), nullptr);
      const GgmlType at = vec_dot_type(type);
      std::vector<uint8_t> xq(quant_row_bytes(at, cols));
      std::vector<float> xd(static_cast<size_t>(cols));
      for (int64_t t = 0; t < n_tokens; ++t) {
        quantize_activations(at, x.data() + t * cols, xq.data(), cols);
        dequantize_row(at, xq.data(), xd.data(), cols);
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0, mag = 0;
          for (int64_t c = 0; c < cols; ++c) {
            want += static_cast<double>(decoded[r * cols + c]) * xd[c];
            mag += std::fabs(static_cast<double>(decoded[r * cols + c]) * xd[c]);
          }
          // Q8_1's s = d * sum(qs) is stored in F16: 2^-11 of the min term.
          const double tol = (at == GgmlType::Q8_1 ? 2e-3 : 2e-5) * mag;
          EXPECT_NEAR(fast[t * rows + r], want, tol) << "row " << r << " token " << t;
        }
      }
    }
  }
}

TEST(MatmulQuant, BitIdenticalForAnyThreadCountAndBatchSplit) {
  ModeGuard guard;
  const int64_t rows = 67, cols = 512, n_tokens = 11;
  ThreadPool pool(3);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (bool exact : {false, true}) {
      set_exact_weights(exact);
      for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_1, GgmlType::Q4_K, GgmlType::Q6_K,
                            GgmlType::IQ4_XS}) {
        SCOPED_TRACE(std::string(type_name(type)) + (exact ? " exact" : " fast") + " on " +
                     std::string(isa_name(isa)));
        const auto m = make_quant_matrix(type, rows, cols, 0, 6);
        const auto x = gaussian(static_cast<size_t>(cols * n_tokens), 7);
        std::vector<float> one_thread(static_cast<size_t>(rows * n_tokens)), threads(one_thread.size()),
            per_token(one_thread.size());
        matmul(m.w, x.data(), n_tokens, one_thread.data(), nullptr);
        matmul(m.w, x.data(), n_tokens, threads.data(), &pool);
        for (int64_t t = 0; t < n_tokens; ++t) {
          matmul(m.w, x.data() + t * cols, 1, per_token.data() + t * rows, &pool);
        }
        EXPECT_EQ(one_thread, threads);
        EXPECT_EQ(one_thread, per_token);
      }
    }
  }
}

// The SIMD kernels (Q8_0, Q4_0) against the scalar reference: the integer
// block sums are exact in both, so only the float accumulation order differs.
TEST(MatmulQuant, SimdKernelsAgreeWithScalar) {
  ModeGuard guard;
  set_exact_weights(false);
  const int64_t rows = 13, cols = 1024, n_tokens = 5;
  for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q4_0}) {
    const auto m = make_quant_matrix(type, rows, cols, 2, 8);
    const auto x = gaussian(static_cast<size_t>(cols * n_tokens), 9);
    std::vector<float> scalar(static_cast<size_t>(rows * n_tokens)), simd(scalar.size());
    ASSERT_TRUE(force_isa(Isa::Scalar));
    matmul(m.w, x.data(), n_tokens, scalar.data(), nullptr);
    for (Isa isa : runnable_isas()) {
      if (isa == Isa::Scalar) continue;
      SCOPED_TRACE(std::string(type_name(type)) + " on " + std::string(isa_name(isa)));
      ASSERT_TRUE(force_isa(isa));
      EXPECT_EQ(kernel_isa(type), isa);
      matmul(m.w, x.data(), n_tokens, simd.data(), nullptr);
      for (size_t i = 0; i < scalar.size(); ++i) {
        EXPECT_NEAR(simd[i], scalar[i], 1e-5f * (1 + std::fabs(scalar[i]))) << i;
      }
    }
  }
}

// Extreme quants: Q8_0 weights of -128 (possible in a file, never written by
// the quantizer) against activations of +-127 must not saturate the 16-bit
// pair sums. With unit scales every sum is an exact integer, so all paths
// agree exactly.
TEST(MatmulQuant, ExtremeQ8_0ValuesDoNotSaturate) {
  ModeGuard guard;
  set_exact_weights(false);
  const int64_t cols = 64;
  std::vector<uint8_t> w(2 * 34);
  for (int b = 0; b < 2; ++b) {
    w[b * 34] = 0x00;
    w[b * 34 + 1] = 0x3C;  // d = 1.0
    for (int i = 0; i < 32; ++i) w[b * 34 + 2 + i] = 0x80;  // -128
  }
  std::vector<float> x(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) x[c] = (c % 3 == 0) ? -127.0f : 127.0f;  // activation scale 1
  double want = 0;
  for (int64_t c = 0; c < cols; ++c) want += -128.0 * x[c];
  const WeightMatrix wm{GgmlType::Q8_0, w.data(), 1, cols, 34 * 2};
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    float y = 0;
    matmul(wm, x.data(), 1, &y, nullptr);
    EXPECT_EQ(y, static_cast<float>(want)) << isa_name(isa);
  }
}

TEST(MatmulQuant, RejectsRowsThatAreNotWholeBlocks) {
  std::vector<uint8_t> data(1024);
  std::vector<float> x(300), y(2);
  EXPECT_ANY_THROW(matmul(WeightMatrix{GgmlType::Q4_K, data.data(), 2, 300, 160}, x.data(), 1, y.data(), nullptr));
  EXPECT_ANY_THROW(matmul(WeightMatrix{GgmlType::Q8_0, data.data(), 2, 64, 60}, x.data(), 1, y.data(), nullptr));
}

}  // namespace
}  // namespace hearth::kernels
