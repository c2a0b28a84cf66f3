// Packed rows (packed_layout.h): the layout round-trips, and matmul / get_row
// on packed rows agree with the GGUF layout on every ISA — within float
// rounding where the ISA has packed kernels, bit for bit where it unpacks —
// while keeping the determinism contract and reading nothing past the rows.
#include "kernels/packed_layout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "kernels/act_format.h"
#include "kernels/matmul.h"
#include "kernels/quant_test_util.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"
#include "util/fp16.h"

namespace hearth::kernels {
namespace {

using namespace quant_test;

constexpr GgmlType kPackedTypes[] = {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K};

// Q4_0 / Q8_0: 1, 3, 5 blocks (one partial super-group), 16 (one full), 25
// and 33 (full ones and a partial one), 48, 50 and 64 (three or four full
// ones, a partial one).
constexpr int64_t kBlockCols[] = {32, 96, 160, 512, 800, 1056, 1536, 1600, 2048};
// Q4_K / Q5_K: 1, 2, 3 super-blocks (a partial group), 4 (one full), 5, 6, 7 (one
// full, one partial), 8 and 22 (TinyLlama's two widths).
constexpr int64_t kSuperBlockCols[] = {256, 512, 768, 1024, 1280, 1536, 1792, 2048, 5632};

std::span<const int64_t> test_cols(GgmlType type) {
  if (traits(type).block_elems == 256) return kSuperBlockCols;
  return kBlockCols;
}
// A width with partial groups of every type.
int64_t mixed_cols(GgmlType type) { return traits(type).block_elems == 256 ? 1792 : 800; }

struct Packed {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

Packed packed_copy(const WeightMatrix& w) {
  Packed p;
  p.bytes.resize(static_cast<size_t>(w.rows) * w.row_bytes);
  p.w = w;
  pack_rows(p.w, p.bytes.data());
  return p;
}

TEST(PackedRows, UnpackRestoresEveryByte) {
  for (GgmlType type : kPackedTypes) {
    for (int64_t cols : test_cols(type)) {
      SCOPED_TRACE(std::string(type_name(type)) + " cols " + std::to_string(cols));
      const auto m = make_random_block_matrix(type, 3, cols, static_cast<uint32_t>(cols));
      const Packed p = packed_copy(m.w);
      EXPECT_TRUE(p.w.packed);
      if (cols > traits(type).block_elems || type == GgmlType::Q8_0) {
        EXPECT_NE(p.bytes, m.bytes);  // one Q4_0 block or Q4_K super-block packs to itself
      }
      std::vector<uint8_t> back(m.bytes.size());
      for (int64_t r = 0; r < 3; ++r) {
        detail::unpack_row(type, p.bytes.data() + r * m.w.row_bytes, back.data() + r * m.w.row_bytes, cols);
      }
      EXPECT_EQ(back, m.bytes);
      // In place gives the same bytes.
      QuantMatrix in_place = m;
      in_place.w.data = in_place.bytes.data();
      pack_rows(in_place.w, in_place.bytes.data());
      EXPECT_EQ(in_place.bytes, p.bytes);
    }
  }
}

TEST(PackedRows, GetRowDecodesExactly) {
  ModeGuard guard;
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kPackedTypes) {
      const int64_t cols = mixed_cols(type);
      const auto m = make_random_block_matrix(type, 4, cols, 3);
      const Packed p = packed_copy(m.w);
      std::vector<float> got(static_cast<size_t>(cols)), want(got.size());
      for (int64_t r = 0; r < 4; ++r) {
        get_row(p.w, r, got.data());
        get_row(m.w, r, want.data());
        EXPECT_EQ(got, want) << type_name(type) << " row " << r << " on " << isa_name(isa);
      }
    }
  }
}

// Fast path: with packed kernels, within 2e-6 of the sum of |products| of
// the GGUF layout's result (the same exact integer block sums, summed in
// another order); without them, the same bits. Exact-weights mode: the same
// bits everywhere.
TEST(PackedRows, MatmulAgreesWithTheGgmlLayout) {
  ModeGuard guard;
  ThreadPool pool(2);
  uint32_t seed = 300;
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kPackedTypes) {
      for (int64_t cols : test_cols(type)) {
        for (int64_t n_tokens : {1, 2, 5, 9}) {
          SCOPED_TRACE(std::string(type_name(type)) + " on " + std::string(isa_name(isa)) + " cols " +
                       std::to_string(cols) + " tokens " + std::to_string(n_tokens));
          const int64_t rows = 7;
          const auto m = make_random_block_matrix(type, rows, cols, ++seed);
          const Packed p = packed_copy(m.w);
          const auto x = gaussian(static_cast<size_t>(cols * n_tokens), ++seed);
          std::vector<float> want(static_cast<size_t>(rows * n_tokens)), got(want.size());

          set_exact_weights(true);
          matmul(m.w, x.data(), n_tokens, want.data(), &pool);
          matmul(p.w, x.data(), n_tokens, got.data(), &pool);
          EXPECT_EQ(got, want) << "exact weights";

          set_exact_weights(false);
          matmul(m.w, x.data(), n_tokens, want.data(), &pool);
          matmul(p.w, x.data(), n_tokens, got.data(), &pool);
          if (!prefers_packed(type)) {
            EXPECT_EQ(got, want) << "unpacked on the fly";
            continue;
          }
          // |w| * |a| per output, from the dequantized operands.
          const GgmlType act = vec_dot_type(type);
          std::vector<float> wd(static_cast<size_t>(cols)), ad(static_cast<size_t>(cols));
          std::vector<uint8_t> xq(quant_row_bytes(act, cols));
          int failures = 0;
          for (int64_t t = 0; t < n_tokens; ++t) {
            quantize_activations(act, x.data() + t * cols, xq.data(), cols);
            dequantize_row(act, xq.data(), ad.data(), cols);
            for (int64_t r = 0; r < rows; ++r) {
              dequantize_row(type, m.bytes.data() + r * m.w.row_bytes, wd.data(), cols);
              double mag = 0;
              for (int64_t c = 0; c < cols; ++c) mag += std::fabs(static_cast<double>(wd[c]) * ad[c]);
              const size_t i = static_cast<size_t>(t * rows + r);
              const double tol = 2e-6 * mag + 1e-30;
              if (!(std::fabs(got[i] - want[i]) <= tol) && ++failures <= 5) {
                ADD_FAILURE() << "row " << r << " token " << t << ": packed " << got[i] << ", GGUF layout "
                              << want[i] << " +- " << tol;
              }
            }
          }
        }
      }
    }
  }
}

TEST(PackedRows, BitIdenticalForAnyThreadCountAndBatchSplit) {
  ModeGuard guard;
  set_exact_weights(false);
  ThreadPool pool(3);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kPackedTypes) {
      SCOPED_TRACE(std::string(type_name(type)) + " on " + std::string(isa_name(isa)));
      const int64_t rows = 67, cols = mixed_cols(type), n_tokens = 11;
      const auto m = make_quant_matrix(type, rows, cols, 0, 6);
      const Packed p = packed_copy(m.w);
      const auto x = gaussian(static_cast<size_t>(cols * n_tokens), 7);
      std::vector<float> one_thread(static_cast<size_t>(rows * n_tokens)), threads(one_thread.size()),
          per_token(one_thread.size());
      matmul(p.w, x.data(), n_tokens, one_thread.data(), nullptr);
      matmul(p.w, x.data(), n_tokens, threads.data(), &pool);
      for (int64_t t = 0; t < n_tokens; ++t) matmul(p.w, x.data() + t * cols, 1, per_token.data() + t * rows, &pool);
      EXPECT_EQ(one_thread, threads);
      EXPECT_EQ(one_thread, per_token);
    }
  }
}

// The last row ends right before an inaccessible page.
TEST(PackedRows, ReadsNothingPastTheEnd) {
  ModeGuard guard;
  set_exact_weights(false);
  GuardedEnd guarded;
  ASSERT_TRUE(guarded.ok());
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kPackedTypes) {
      for (int64_t cols : test_cols(type)) {
        SCOPED_TRACE(std::string(type_name(type)) + " on " + std::string(isa_name(isa)) + " cols " +
                     std::to_string(cols));
        const auto m = make_quant_matrix(type, 5, cols, 0, 9);
        const Packed p = packed_copy(m.w);
        ASSERT_LE(p.bytes.size(), guarded.capacity());
        WeightMatrix w = p.w;
        w.data = guarded.place(p.bytes);
        const auto x = gaussian(static_cast<size_t>(cols * 3), 10);
        for (int64_t n_tokens : {1, 3}) {
          std::vector<float> got(static_cast<size_t>(5 * n_tokens)), want(got.size());
          matmul(w, x.data(), n_tokens, got.data(), nullptr);
          matmul(p.w, x.data(), n_tokens, want.data(), nullptr);
          EXPECT_EQ(got, want);
        }
      }
    }
  }
}

// A32T holds exactly quantize_activations' Q8_0 values, planes transposed.
TEST(PackedRows, ActivationLayoutMatchesReference) {
  if (!cpu_supports(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
  using detail::A32T;
  for (int64_t cols : kBlockCols) {
    SCOPED_TRACE("cols " + std::to_string(cols));
    auto x = gaussian(static_cast<size_t>(cols), static_cast<uint32_t>(cols));
    for (int64_t c = 0; c < 32; ++c) x[static_cast<size_t>(c)] = 0.0f;  // an all-zero block
    std::vector<uint8_t> buf(A32T::row_bytes(cols) + 64);
    uint8_t* out = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
    std::memset(out, 0x5A, A32T::row_bytes(cols));
    detail::quantize_a32t_avx2(x.data(), cols, out, 8);
    const int64_t nb = cols / 32;
    std::vector<BlockQ8_0> ref(static_cast<size_t>(nb));
    quantize_activations(GgmlType::Q8_0, x.data(), ref.data(), cols);
    for (int64_t b = 0; b < 16 * A32T::groups(cols); ++b) {
      const uint8_t* group = out + A32T::kGroupBytes * static_cast<size_t>(b / 16);
      const int lane = static_cast<int>(b % 16);
      float d;
      int32_t corr;
      std::memcpy(&d, group + A32T::kDOff + 4 * lane, 4);
      std::memcpy(&corr, group + A32T::kCorrOff + 4 * lane, 4);
      int sum = 0;
      for (int i = 0; i < 32; ++i) {
        const auto q = static_cast<int8_t>(group[64 * (i / 4) + 4 * lane + i % 4]);
        const int8_t want = b < nb ? ref[static_cast<size_t>(b)].qs[i] : 0;  // padding blocks are zero
        EXPECT_EQ(q, want) << "block " << b << " element " << i;
        sum += q;
      }
      EXPECT_EQ(d, b < nb ? half_to_float(ref[static_cast<size_t>(b)].d) : 0.0f) << "block " << b;
      EXPECT_EQ(corr, -8 * sum) << "block " << b;
    }
  }
}

TEST(PackedRows, WhichTypesAndPaths) {
  ModeGuard guard;
  EXPECT_TRUE(has_packed_layout(GgmlType::Q4_0));
  EXPECT_TRUE(has_packed_layout(GgmlType::Q8_0));
  EXPECT_TRUE(has_packed_layout(GgmlType::Q4_K));
  EXPECT_TRUE(has_packed_layout(GgmlType::Q5_K));
  EXPECT_FALSE(has_packed_layout(GgmlType::Q6_K));
  EXPECT_FALSE(has_packed_layout(GgmlType::F16));
  ASSERT_TRUE(force_isa(Isa::Scalar));
  EXPECT_FALSE(prefers_packed(GgmlType::Q4_0));
  if (force_isa(Isa::Avx512)) {
    EXPECT_TRUE(prefers_packed(GgmlType::Q4_0));
    EXPECT_TRUE(prefers_packed(GgmlType::Q8_0));
    EXPECT_TRUE(prefers_packed(GgmlType::Q4_K));
    EXPECT_TRUE(prefers_packed(GgmlType::Q5_K));
    EXPECT_FALSE(prefers_packed(GgmlType::Q6_K));
  }
}

TEST(PackedRows, RejectsWhatItCannotPack) {
  std::vector<uint8_t> data(4096);
  WeightMatrix k6{GgmlType::Q6_K, data.data(), 2, 256, 210};
  EXPECT_ANY_THROW(pack_rows(k6, data.data()));
  WeightMatrix k4_partial{GgmlType::Q4_K, data.data(), 2, 128, 144};  // half a super-block
  EXPECT_ANY_THROW(pack_rows(k4_partial, data.data()));
  WeightMatrix q4{GgmlType::Q4_0, data.data(), 2, 64, 36};
  pack_rows(q4, data.data());
  EXPECT_ANY_THROW(pack_rows(q4, data.data()));  // packed already
  WeightMatrix narrow{GgmlType::Q8_0, data.data(), 2, 64, 60};
  EXPECT_ANY_THROW(pack_rows(narrow, data.data()));
  WeightMatrix fake{GgmlType::Q6_K, data.data(), 2, 256, 210};
  fake.packed = true;
  std::vector<float> x(256), y(2);
  EXPECT_ANY_THROW(matmul(fake, x.data(), 1, y.data(), nullptr));
}

}  // namespace
}  // namespace hearth::kernels
