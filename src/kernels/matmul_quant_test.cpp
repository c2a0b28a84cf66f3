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

#include "kernels/act_format.h"
#include "kernels/matmul.h"
#include "kernels/matmul_table.h"
#include "kernels/quant_test_util.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"
#include "util/fp16.h"

namespace hearth::kernels {
namespace {

using namespace quant_test;

constexpr GgmlType kQuantTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                    GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                    GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS};

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
  ThreadPool pool(3);
  struct Shape {
    int64_t rows, n_tokens;
  };
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (bool exact : {false, true}) {
      set_exact_weights(exact);
      for (GgmlType type : kQuantTypes) {
        // Many rows (split over rows), few rows (split over tokens).
        for (Shape shape : {Shape{67, 11}, Shape{3, 40}}) {
          const int64_t rows = shape.rows, n_tokens = shape.n_tokens;
          const int64_t cols = traits(type).block_elems == 256 ? 768 : 800;  // partial last group
          SCOPED_TRACE(std::string(type_name(type)) + (exact ? " exact" : " fast") + " on " +
                       std::string(isa_name(isa)) + " rows " + std::to_string(rows));
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
}

// Checks every ISA's fast path against the scalar one (exact integer block
// sums in both; only float rounding may differ): within 2e-6 of the sum of
// |products| of the dequantized operands.
void expect_simd_matches_scalar(const QuantMatrix& m, const std::vector<float>& x, int64_t n_tokens) {
  const int64_t rows = m.w.rows, cols = m.w.cols;
  const GgmlType type = m.w.type;
  std::vector<float> scalar(static_cast<size_t>(rows * n_tokens)), simd(scalar.size());
  ASSERT_TRUE(force_isa(Isa::Scalar));
  matmul(m.w, x.data(), n_tokens, scalar.data(), nullptr);
  // |w| * |a| per output, from the dequantized operands.
  const GgmlType at = vec_dot_type(type);
  std::vector<float> wd(static_cast<size_t>(rows * cols)), ad(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(type, m.bytes.data() + r * m.w.row_bytes, wd.data() + r * cols, cols);
  std::vector<double> mag(scalar.size());
  std::vector<uint8_t> xq(quant_row_bytes(at, cols));
  for (int64_t t = 0; t < n_tokens; ++t) {
    quantize_activations(at, x.data() + t * cols, xq.data(), cols);
    dequantize_row(at, xq.data(), ad.data(), cols);
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += std::fabs(static_cast<double>(wd[r * cols + c]) * ad[c]);
      mag[t * rows + r] = sum;
    }
  }
  for (Isa isa : runnable_isas()) {
    if (isa == Isa::Scalar) continue;
    ASSERT_TRUE(force_isa(isa));
    if (kernel_isa(type) != isa) continue;  // this ISA has no kernels of its own for the type
    SCOPED_TRACE(std::string(type_name(type)) + " on " + std::string(isa_name(isa)) + ", rows " +
                 std::to_string(rows) + " cols " + std::to_string(cols) + " tokens " + std::to_string(n_tokens));
    std::fill(simd.begin(), simd.end(), NAN);
    matmul(m.w, x.data(), n_tokens, simd.data(), nullptr);
    int failures = 0;
    for (size_t i = 0; i < scalar.size(); ++i) {
      const double tol = 2e-6 * mag[i] + 1e-30;
      if (!(std::fabs(simd[i] - scalar[i]) <= tol) && ++failures <= 5) {
        ADD_FAILURE() << "output " << i << ": simd " << simd[i] << ", scalar " << scalar[i] << " +- " << tol;
      }
    }
  }
}

// Column counts that leave partial vectors / groups: 1, 3, 5, 25, 33 blocks
// of 32, or 1 and 3 super-blocks of 256.
std::vector<int64_t> awkward_cols(GgmlType type) {
  if (traits(type).block_elems == 256) return {256, 768};
  return {32, 96, 160, 800, 1056};
}

TEST(MatmulQuant, ManyProductsOfOneInputEqualSeparateOnes) {
  ModeGuard guard;
  ThreadPool pool(2);
  const int64_t cols = 768;
  // Mixed types (a Q4_K_M layer mixes Q4_K and Q6_K) and sizes, some sharing
  // an activation format; decode (one token) and a small batch.
  const auto q = make_quant_matrix(GgmlType::Q4_K, 300, cols, 0, 1);
  const auto k = make_quant_matrix(GgmlType::Q4_K, 64, cols, 0, 2);
  const auto v = make_quant_matrix(GgmlType::Q6_K, 64, cols, 0, 3);
  const auto o = make_quant_matrix(GgmlType::Q8_0, 200, cols, 0, 4);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (bool exact : {false, true}) {
      set_exact_weights(exact);
      for (int64_t n_tokens : {1, 3}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + (exact ? " exact" : " fast") + " tokens " + std::to_string(n_tokens));
        const auto x = gaussian(static_cast<size_t>(cols * n_tokens), 9);
        std::vector<std::vector<float>> want, got;
        for (const QuantMatrix* m : {&q, &k, &v, &o}) {
          want.emplace_back(static_cast<size_t>(m->w.rows * n_tokens));
          got.emplace_back(want.back().size(), NAN);
          matmul(m->w, x.data(), n_tokens, want.back().data(), &pool);
        }
        const MatmulOutput products[] = {
            {&q.w, got[0].data()}, {&k.w, got[1].data()}, {&v.w, got[2].data()}, {&o.w, got[3].data()}};
        matmul_many(products, x.data(), n_tokens, &pool);
        EXPECT_EQ(got, want);
        std::vector<float> alone(got[1].size(), NAN);
        const MatmulOutput one[] = {{&k.w, alone.data()}};
        matmul_many(one, x.data(), n_tokens, nullptr);
        EXPECT_EQ(alone, want[1]);
      }
    }
  }
}

TEST(MatmulQuant, SimdKernelsAgreeWithScalar) {
  ModeGuard guard;
  set_exact_weights(false);
  uint32_t seed = 100;
  for (GgmlType type : kQuantTypes) {
    for (int64_t cols : awkward_cols(type)) {
      for (int64_t rows : {1, 6}) {
        for (int64_t n_tokens : {1, 3, 9}) {
          const auto m = make_quant_matrix(type, rows, cols, rows == 6 ? 3 : 0, ++seed);
          const auto x = gaussian(static_cast<size_t>(cols * n_tokens), ++seed);
          expect_simd_matches_scalar(m, x, n_tokens);
        }
      }
    }
  }
}

TEST(MatmulQuant, SimdKernelsAgreeWithScalarOnRandomBlocks) {
  ModeGuard guard;
  set_exact_weights(false);
  uint32_t seed = 200;
  for (GgmlType type : kQuantTypes) {
    for (int64_t cols : awkward_cols(type)) {
      const auto m = make_random_block_matrix(type, 7, cols, ++seed);
      auto x = gaussian(static_cast<size_t>(cols * 5), ++seed);
      // One token with every activation at +-max: quants of +-127.
      for (int64_t c = 0; c < cols; ++c) x[c] = (c % 3 == 0) ? -1.0f : 1.0f;
      expect_simd_matches_scalar(m, x, 5);
    }
  }
}

// The SIMD activation layouts hold exactly quantize_activations' values.
TEST(MatmulQuant, ActivationLayoutsMatchReference) {
  if (!cpu_supports(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
  using namespace detail;
  // Gaussian blocks, plus blocks that probe the edge cases: all zero; the
  // largest magnitude twice with opposite signs (Q8_K keeps the first); and
  // halves that round to even (amax 127 makes the scale exactly 1).
  auto make_input = [](int64_t cols, uint32_t seed) {
    auto x = gaussian(static_cast<size_t>(cols), seed);
    for (int64_t c = 0; c < 32 && c < cols; ++c) x[c] = 0.0f;
    if (cols >= 512) {
      for (int64_t c = 256; c < 512; ++c) x[c] = static_cast<float>(c % 7) - 3.0f;
      x[300] = -5.0f;
      x[301] = 5.0f;
    }
    if (cols >= 96) {
      for (int64_t c = 64; c < 96; ++c) x[c] = static_cast<float>(c - 80) + 0.5f;
      x[70] = 127.0f;
    }
    return x;
  };
  for (int64_t cols : {32, 96, 160, 512, 800}) {
    SCOPED_TRACE("A32, cols " + std::to_string(cols));
    const auto x = make_input(cols, static_cast<uint32_t>(cols));
    alignas(64) static uint8_t buf[1 << 16];
    ASSERT_LE(A32::row_bytes(cols), sizeof buf);
    quantize_a32_avx2(x.data(), cols, buf, 8);
    std::vector<BlockQ8_1> ref(static_cast<size_t>(cols / 32));
    quantize_activations(GgmlType::Q8_1, x.data(), ref.data(), cols);
    std::vector<BlockQ8_0> ref0(ref.size());
    quantize_activations(GgmlType::Q8_0, x.data(), ref0.data(), cols);
    const float* d = reinterpret_cast<const float*>(buf + A32::d_off(cols));
    const int32_t* corr = reinterpret_cast<const int32_t*>(buf + A32::corr_off(cols));
    const float* s = reinterpret_cast<const float*>(buf + A32::s_off(cols));
    for (size_t b = 0; b < ref.size(); ++b) {
      EXPECT_EQ(ref0[b].d, ref[b].d);
      EXPECT_EQ(0, std::memcmp(ref0[b].qs, ref[b].qs, 32));
      int sum = 0;
      for (int i = 0; i < 32; ++i) {
        const int8_t q = static_cast<int8_t>(buf[128 * (b / 4) + 16 * (b % 4) + (i < 16 ? i : 64 + i - 16)]);
        EXPECT_EQ(q, ref[b].qs[i]) << "block " << b << " element " << i;
        sum += q;
      }
      EXPECT_EQ(f32_to_bits(d[b]), f32_to_bits(half_to_float(ref[b].d))) << b;
      EXPECT_EQ(corr[b], -8 * sum) << b;
      EXPECT_EQ(f32_to_bits(s[b]), f32_to_bits(half_to_float(ref[b].s))) << b;
    }
    for (size_t b = ref.size(); b < static_cast<size_t>(4 * A32::groups(cols)); ++b) {
      EXPECT_EQ(d[b], 0.0f);
      EXPECT_EQ(corr[b], 0);
    }
  }
  for (int64_t cols : {256, 768}) {
    for (AkOrder order : {AkOrder::Natural, AkOrder::K4, AkOrder::K2, AkOrder::XS}) {
      SCOPED_TRACE("AK, cols " + std::to_string(cols) + " order " + std::to_string(static_cast<int>(order)));
      const auto x = make_input(cols, static_cast<uint32_t>(cols) + 1);
      alignas(64) static uint8_t buf[1 << 16];
      quantize_ak_avx2(x.data(), cols, buf, order);
      std::vector<BlockQ8_K> ref(static_cast<size_t>(cols / 256));
      quantize_activations(GgmlType::Q8_K, x.data(), ref.data(), cols);
      const float* d = reinterpret_cast<const float*>(buf + AK::d_off(cols));
      const int16_t* b16 = reinterpret_cast<const int16_t*>(buf + AK::bsum16_off(cols));
      const int16_t* b32 = reinterpret_cast<const int16_t*>(buf + AK::bsum32_off(cols));
      const float* ds32 = reinterpret_cast<const float*>(buf + AK::dsum32_off(cols));
      for (size_t i = 0; i < ref.size(); ++i) {
        EXPECT_EQ(f32_to_bits(d[i]), f32_to_bits(ref[i].d)) << i;
        for (int k = 0; k < 16; ++k) {
          const int chunk = ak_chunk(order, k);
          EXPECT_EQ(0, std::memcmp(buf + 256 * i + 16 * k, ref[i].qs + 16 * chunk, 16)) << i << " chunk " << k;
          EXPECT_EQ(b16[16 * i + k], ref[i].bsums[k]);
        }
        for (int k = 0; k < 8; ++k) {
          const int sum32 = ref[i].bsums[2 * k] + ref[i].bsums[2 * k + 1];
          EXPECT_EQ(b32[8 * i + k], sum32);
          EXPECT_EQ(f32_to_bits(ds32[8 * i + k]), f32_to_bits(ref[i].d * static_cast<float>(sum32)));
        }
      }
    }
  }
}

// Kernels must not read past the last weight row, even in a partial group:
// the matrix ends right before an inaccessible page.
TEST(MatmulQuant, ReadsNothingPastTheEnd) {
  ModeGuard guard;
  set_exact_weights(false);
  GuardedEnd guarded;
  ASSERT_TRUE(guarded.ok());
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kQuantTypes) {
      for (int64_t cols : awkward_cols(type)) {
        SCOPED_TRACE(std::string(type_name(type)) + " on " + std::string(isa_name(isa)) + " cols " +
                     std::to_string(cols));
        const int64_t rows = 5, n_tokens = 3;
        const auto m = make_quant_matrix(type, rows, cols, 0, 9);
        ASSERT_LE(m.bytes.size(), guarded.capacity());
        WeightMatrix w = m.w;
        w.data = guarded.place(m.bytes);
        const auto x = gaussian(static_cast<size_t>(cols * n_tokens), 10);
        std::vector<float> got(static_cast<size_t>(rows * n_tokens)), want(got.size());
        matmul(w, x.data(), n_tokens, got.data(), nullptr);
        matmul(m.w, x.data(), n_tokens, want.data(), nullptr);
        EXPECT_EQ(got, want);
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
