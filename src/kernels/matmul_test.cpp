#include "kernels/matmul.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"
#include "util/error.h"
#include "util/fp16.h"

namespace hearth::kernels {
namespace {

// Restores the active ISA when a test switches paths.
class IsaGuard {
 public:
  IsaGuard() : saved_(active_isa()) {}
  ~IsaGuard() { force_isa(saved_); }
  IsaGuard(const IsaGuard&) = delete;
  IsaGuard& operator=(const IsaGuard&) = delete;

 private:
  Isa saved_;
};

std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (cpu_supports(isa)) isas.push_back(isa);
  }
  return isas;
}

constexpr GgmlType kTypes[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16};

size_t elem_bytes(GgmlType type) { return type == GgmlType::F32 ? 4 : 2; }

// A weight matrix in `type` plus the exact F32 values it holds.
struct TestMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // rows x cols, decoded
  WeightMatrix w;
};

// Rows may be padded (row_bytes > cols * size) to check the stride is used.
TestMatrix make_matrix(GgmlType type, int64_t rows, int64_t cols, std::mt19937& rng, size_t pad_bytes = 0) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  TestMatrix m;
  const size_t row_bytes = static_cast<size_t>(cols) * elem_bytes(type) + pad_bytes;
  m.bytes.assign(row_bytes * static_cast<size_t>(rows), 0xAB);  // padding is garbage
  m.values.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = dist(rng);
      uint8_t* p = m.bytes.data() + r * row_bytes + c * elem_bytes(type);
      float decoded = v;
      if (type == GgmlType::F32) {
        std::memcpy(p, &v, 4);
      } else {
        const uint16_t h = type == GgmlType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        std::memcpy(p, &h, 2);
        decoded = type == GgmlType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      m.values[static_cast<size_t>(r * cols + c)] = decoded;
    }
  }
  m.w = WeightMatrix{type, m.bytes.data(), rows, cols, row_bytes};
  return m;
}

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// Checks y against a double-precision reference. Each output is a sum of
// cols products accumulated in F32 in a few lanes and then a short tree, so
// the rounding error is below (cols / 4 + 8) * FLT_EPSILON * sum |w x|.
void expect_close_to_reference(const TestMatrix& m, const std::vector<float>& x, int64_t n_tokens,
                               const std::vector<float>& y) {
  const int64_t rows = m.w.rows, cols = m.w.cols;
  int failures = 0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0, abs_sum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double p = static_cast<double>(m.values[r * cols + c]) * x[t * cols + c];
        sum += p;
        abs_sum += std::fabs(p);
      }
      const double tol = (static_cast<double>(cols) / 4 + 8) * FLT_EPSILON * abs_sum;
      const double got = y[t * rows + r];
      if (std::fabs(got - sum) > tol && ++failures <= 5) {
        ADD_FAILURE() << "token " << t << " row " << r << ": got " << got << ", want " << sum << " +- " << tol;
      }
    }
  }
}

TEST(MatmulIsa, NamesAndSupport) {
  EXPECT_EQ(isa_name(Isa::Scalar), "scalar");
  EXPECT_EQ(isa_name(Isa::Avx2), "avx2");
  EXPECT_EQ(isa_name(Isa::Avx512), "avx512");
  EXPECT_TRUE(cpu_supports(Isa::Scalar));
  EXPECT_TRUE(cpu_supports(active_isa()));
  if (cpu_supports(Isa::Avx512)) {
    EXPECT_TRUE(cpu_supports(Isa::Avx2));
  }
  const std::string features = cpu_features_string();
  EXPECT_EQ(features.rfind(std::string(isa_name(active_isa())) + " (cpu: ", 0), 0u) << features;
  IsaGuard guard;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    const Isa before = active_isa();
    EXPECT_EQ(force_isa(isa), cpu_supports(isa));
    EXPECT_EQ(active_isa(), cpu_supports(isa) ? isa : before);
  }
}

TEST(Matmul, SupportsTheDenseAndQuantizedWeightTypes) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                     GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                     GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS}) {
    EXPECT_TRUE(supports(t)) << type_name(t);
  }
  // Activation-only formats and the types without kernels yet.
  for (GgmlType t : {GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::IQ2_XXS, GgmlType::IQ1_S, GgmlType::TQ1_0,
                     GgmlType::MXFP4, GgmlType::I32}) {
    EXPECT_FALSE(supports(t)) << type_name(t);
  }
}

TEST(Matmul, UnsupportedTypeThrowsNamingIt) {
  std::vector<uint8_t> data(66 * 2);
  const WeightMatrix w{GgmlType::IQ2_XXS, data.data(), 2, 256, 66};
  std::vector<float> x(256), y(2), row(256);
  try {
    matmul(w, x.data(), 1, y.data(), nullptr);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos) << e.what();
  }
  EXPECT_THROW(get_row(w, 0, row.data()), Error);
}

TEST(Matmul, RejectsBadArguments) {
  std::vector<float> data(12), x(4), y(3);
  WeightMatrix w{GgmlType::F32, data.data(), 3, 4, 16};
  EXPECT_THROW(matmul(w, x.data(), -1, y.data(), nullptr), Error);
  EXPECT_THROW(get_row(w, 3, y.data()), Error);
  EXPECT_THROW(get_row(w, -1, y.data()), Error);
  w.row_bytes = 12;  // shorter than a row
  EXPECT_THROW(matmul(w, x.data(), 1, y.data(), nullptr), Error);
}

TEST(Matmul, EmptyShapes) {
  std::vector<float> data(8, 1.0f), x(8, 1.0f), y(4, 7.0f);
  matmul(WeightMatrix{GgmlType::F32, data.data(), 2, 4, 16}, x.data(), 0, y.data(), nullptr);
  EXPECT_EQ(y[0], 7.0f);  // nothing written
  matmul(WeightMatrix{GgmlType::F32, nullptr, 2, 0, 0}, x.data(), 2, y.data(), nullptr);
  for (float v : y) EXPECT_EQ(v, 0.0f);  // empty dot products
}

// Every path against the double reference over awkward shapes: cols around
// and between vector widths, rows and tokens that leave partial tiles.
TEST(Matmul, MatchesReferenceOnEveryIsa) {
  IsaGuard guard;
  ThreadPool pool(2);
  std::mt19937 rng(1234);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kTypes) {
      for (int64_t cols : {1, 3, 17, 64, 257, 1000}) {
        for (int64_t rows : {1, 5, 33}) {
          const TestMatrix m = make_matrix(type, rows, cols, rng, rows == 5 ? 6 : 0);
          for (int64_t n_tokens : {1, 2, 7, 64}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(type_name(type)) + " rows " +
                         std::to_string(rows) + " cols " + std::to_string(cols) + " tokens " +
                         std::to_string(n_tokens));
            const std::vector<float> x = random_vector(static_cast<size_t>(cols * n_tokens), rng);
            std::vector<float> y(static_cast<size_t>(rows * n_tokens), NAN);
            matmul(m.w, x.data(), n_tokens, y.data(), &pool);
            expect_close_to_reference(m, x, n_tokens, y);
          }
        }
      }
    }
  }
}

// Large enough that the work really is split (over rows, and over tokens when
// there are few rows); the bits must not depend on the thread count.
TEST(Matmul, BitIdenticalForAnyThreadCount) {
  IsaGuard guard;
  ThreadPool pool2(2), pool3(3);
  std::mt19937 rng(99);
  struct Shape {
    int64_t rows, cols, n_tokens;
  };
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kTypes) {
      for (Shape s : {Shape{203, 1000, 1}, Shape{37, 257, 13}, Shape{3, 1000, 64}, Shape{1, 4099, 37}}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(type_name(type)) + " rows " +
                     std::to_string(s.rows) + " cols " + std::to_string(s.cols) + " tokens " +
                     std::to_string(s.n_tokens));
        const TestMatrix m = make_matrix(type, s.rows, s.cols, rng);
        const std::vector<float> x = random_vector(static_cast<size_t>(s.cols * s.n_tokens), rng);
        const size_t n_out = static_cast<size_t>(s.rows * s.n_tokens);
        std::vector<float> y0(n_out), y1(n_out), y2(n_out), y3(n_out);
        ThreadPool pool1(1);
        matmul(m.w, x.data(), s.n_tokens, y0.data(), nullptr);
        matmul(m.w, x.data(), s.n_tokens, y1.data(), &pool1);
        matmul(m.w, x.data(), s.n_tokens, y2.data(), &pool2);
        matmul(m.w, x.data(), s.n_tokens, y3.data(), &pool3);
        EXPECT_EQ(std::memcmp(y0.data(), y1.data(), n_out * 4), 0);
        EXPECT_EQ(std::memcmp(y0.data(), y2.data(), n_out * 4), 0);
        EXPECT_EQ(std::memcmp(y0.data(), y3.data(), n_out * 4), 0);
        expect_close_to_reference(m, x, s.n_tokens, y0);
      }
    }
  }
}

// A matmul called from inside a pool job gets the caller's thread only
// (ThreadPool::run does not nest): that thread must still compute the rows
// meant for the others (it takes over their shares).
TEST(Matmul, NestedInAPoolJobComputesEveryRow) {
  IsaGuard guard;
  ThreadPool pool(3);
  std::mt19937 rng(5);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kTypes) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(type_name(type)));
      const TestMatrix m = make_matrix(type, 301, 512, rng);
      const std::vector<float> x = random_vector(512, rng);
      std::vector<float> alone(301), nested(301, -1.0f);
      matmul(m.w, x.data(), 1, alone.data(), nullptr);
      pool.run([&](int i, int) {
        if (i == 0) matmul(m.w, x.data(), 1, nested.data(), &pool);
      });
      EXPECT_EQ(std::memcmp(alone.data(), nested.data(), alone.size() * 4), 0);
    }
  }
}

// prefetch_next is a hint: any arguments are accepted and the next matmul's
// bits do not change.
TEST(Matmul, PrefetchNextIsOnlyAHint) {
  IsaGuard guard;
  ThreadPool pool(2), pool1(1);
  std::mt19937 rng(6);
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const TestMatrix a = make_matrix(type, 300, 512, rng), b = make_matrix(type, 3, 512, rng);
    const std::vector<float> x = random_vector(512 * 2, rng);
    std::vector<float> alone(600), hinted(600);
    matmul(a.w, x.data(), 2, alone.data(), nullptr);
    const WeightMatrix* both[] = {&a.w, &b.w};
    const WeightMatrix* five[] = {&a.w, &b.w, &a.w, &b.w, &a.w};
    for (int64_t n_tokens : {1, 2, 100}) {
      prefetch_next(both, n_tokens, &pool);
      prefetch_next(five, n_tokens, &pool);
      prefetch_next({}, n_tokens, &pool);
      prefetch_next(both, n_tokens, &pool1);
      prefetch_next(both, n_tokens, nullptr);
    }
    prefetch_next(both, 2, &pool);
    matmul(a.w, x.data(), 2, hinted.data(), &pool);
    EXPECT_EQ(std::memcmp(alone.data(), hinted.data(), alone.size() * 4), 0);
  }
}

// Prefill (many tokens per call) and decode (one per call) give the same bits.
TEST(Matmul, TokenResultIndependentOfBatch) {
  IsaGuard guard;
  ThreadPool pool(2);
  std::mt19937 rng(7);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kTypes) {
      for (int64_t cols : {3, 17, 257, 1000}) {
        for (int64_t rows : {5, 33}) {
          for (int64_t n_tokens : {2, 7, 64}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(type_name(type)) + " rows " +
                         std::to_string(rows) + " cols " + std::to_string(cols) + " tokens " +
                         std::to_string(n_tokens));
            const TestMatrix m = make_matrix(type, rows, cols, rng);
            const std::vector<float> x = random_vector(static_cast<size_t>(cols * n_tokens), rng);
            std::vector<float> batch(static_cast<size_t>(rows * n_tokens));
            matmul(m.w, x.data(), n_tokens, batch.data(), &pool);
            std::vector<float> single(static_cast<size_t>(rows));
            for (int64_t t = 0; t < n_tokens; ++t) {
              matmul(m.w, x.data() + t * cols, 1, single.data(), t % 2 ? &pool : nullptr);
              ASSERT_EQ(std::memcmp(single.data(), batch.data() + t * rows, single.size() * 4), 0) << "token " << t;
            }
            // And an odd sub-batch starting mid-way.
            if (n_tokens >= 7) {
              std::vector<float> part(static_cast<size_t>(rows * 5));
              matmul(m.w, x.data() + 2 * cols, 5, part.data(), nullptr);
              EXPECT_EQ(std::memcmp(part.data(), batch.data() + 2 * rows, part.size() * 4), 0);
            }
          }
        }
      }
    }
  }
}

// Long prefill batches go through the column-blocked path (several token
// blocks, row panels and column blocks, the last one partial): still the
// same bits as one token at a time, on one thread or two.
TEST(Matmul, ColumnBlockedPrefillEqualsDecode) {
  IsaGuard guard;
  ThreadPool pool(2);
  std::mt19937 rng(11);
  const int64_t rows = 80, cols = 1500, n_tokens = 200;
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kTypes) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(type_name(type)));
      const TestMatrix m = make_matrix(type, rows, cols, rng, 8);
      const std::vector<float> x = random_vector(static_cast<size_t>(cols * n_tokens), rng);
      std::vector<float> batch(static_cast<size_t>(rows * n_tokens)), threaded(batch.size());
      matmul(m.w, x.data(), n_tokens, batch.data(), nullptr);
      matmul(m.w, x.data(), n_tokens, threaded.data(), &pool);
      EXPECT_EQ(std::memcmp(batch.data(), threaded.data(), batch.size() * 4), 0);
      std::vector<float> single(static_cast<size_t>(rows));
      for (int64_t t = 0; t < n_tokens; t += 37) {
        matmul(m.w, x.data() + t * cols, 1, single.data(), nullptr);
        ASSERT_EQ(std::memcmp(single.data(), batch.data() + t * rows, single.size() * 4), 0) << "token " << t;
      }
      expect_close_to_reference(m, x, n_tokens, batch);
    }
  }
}

// get_row decodes every F16 / BF16 bit pattern (and arbitrary F32 bits)
// exactly; a row length that is not a multiple of any vector width checks the
// tail too.
TEST(Matmul, GetRowIsExact) {
  IsaGuard guard;
  std::mt19937 rng(5);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    SCOPED_TRACE(std::string(isa_name(isa)));
    for (GgmlType type : {GgmlType::F16, GgmlType::BF16}) {
      const int64_t cols = 65536 + 13;  // all patterns, then 13 more
      std::vector<uint16_t> bits(static_cast<size_t>(cols));
      for (int64_t i = 0; i < cols; ++i) bits[static_cast<size_t>(i)] = static_cast<uint16_t>(i * 40503u);
      for (int64_t i = 0; i < 65536; ++i) bits[static_cast<size_t>(i)] = static_cast<uint16_t>(i);
      // Row 1 starts mid-array, so the decoded row is unaligned.
      std::vector<uint16_t> two_rows(static_cast<size_t>(cols) * 2 + 1);
      std::memcpy(two_rows.data() + cols + 1, bits.data(), bits.size() * 2);
      const WeightMatrix w{type, two_rows.data(), 2, cols, static_cast<size_t>(cols + 1) * 2};
      std::vector<float> out(static_cast<size_t>(cols) + 1, 12345.0f);
      get_row(w, 1, out.data());
      EXPECT_EQ(out[static_cast<size_t>(cols)], 12345.0f);  // no write past the row
      int failures = 0;
      for (int64_t i = 0; i < cols; ++i) {
        const uint16_t h = bits[static_cast<size_t>(i)];
        const float want = type == GgmlType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
        const float got = out[static_cast<size_t>(i)];
        // F16 NaNs only need to stay NaN (the hardware may quiet them);
        // everything else, BF16 NaNs included, must match bit for bit.
        const bool ok = (type == GgmlType::F16 && std::isnan(want)) ? std::isnan(got)
                                                                    : f32_to_bits(got) == f32_to_bits(want);
        if (!ok && ++failures <= 5) {
          ADD_FAILURE() << type_name(type) << " bits " << h << ": got " << got << ", want " << want;
        }
      }
    }
    for (int64_t cols : {1, 7, 16, 33}) {
      std::vector<uint32_t> raw(static_cast<size_t>(cols));
      for (uint32_t& b : raw) b = static_cast<uint32_t>(rng());
      const WeightMatrix w{GgmlType::F32, raw.data(), 1, cols, static_cast<size_t>(cols) * 4};
      std::vector<uint32_t> out(static_cast<size_t>(cols));
      get_row(w, 0, reinterpret_cast<float*>(out.data()));
      EXPECT_EQ(out, raw);
    }
  }
}

// Kernels must not read past the last weight row or the last activation even
// in the tail: both end right before an inaccessible page.
TEST(Matmul, ReadsNothingPastTheEnd) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  uint8_t* base = static_cast<uint8_t*>(mem);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  ASSERT_EQ(mprotect(base + 3 * page, page, PROT_NONE), 0);
  uint8_t* w_end = base + page;
  uint8_t* x_end = base + 3 * page;
  IsaGuard guard;
  std::mt19937 rng(3);
  for (Isa isa : runnable_isas()) {
    ASSERT_TRUE(force_isa(isa));
    for (GgmlType type : kTypes) {
      for (int64_t cols : {1, 3, 17, 21}) {
        const int64_t rows = 5, n_tokens = 3;
        const TestMatrix m = make_matrix(type, rows, cols, rng);
        uint8_t* w_data = w_end - m.bytes.size();
        std::memcpy(w_data, m.bytes.data(), m.bytes.size());
        const std::vector<float> x = random_vector(static_cast<size_t>(cols * n_tokens), rng);
        float* x_data = reinterpret_cast<float*>(x_end) - x.size();
        std::memcpy(x_data, x.data(), x.size() * 4);
        WeightMatrix w = m.w;
        w.data = w_data;
        std::vector<float> y(static_cast<size_t>(rows * n_tokens)), row(static_cast<size_t>(cols));
        matmul(w, x_data, n_tokens, y.data(), nullptr);
        expect_close_to_reference(m, x, n_tokens, y);
        get_row(w, rows - 1, row.data());
      }
    }
  }
  munmap(mem, 4 * page);
}

}  // namespace
}  // namespace hearth::kernels
