// Logits of whole models against the reference runtime's goldens
// (../shared/golden, tolerances at the top of its README): batched and
// token-by-token evaluation, teacher-forced and free-running greedy decoding,
// thread-count independence, on every kernel path this CPU can run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "golden.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/session.h"
#include "sampling/sampler.h"
#include "shared_data.h"

namespace hearth {
namespace {

using testing::compare_logits;
using testing::Golden;

// Which of the README's tolerance rules a case is held to.
enum class Path {
  F32,           // rule 1: F32 files, against .logits.f32 at 1e-5
  ExactWeights,  // rule 2: weights decoded exactly, F32 activations: .dequant-f32 at 1e-5
  Fast,          // rule 3: activations quantized as the peer does: .logits.f32 at 1e-3
};

struct Case {
  std::string golden;  // golden name
  Path path;
  // Quantized weight types in the file: the fast path runs on an ISA only
  // where one of them has kernels of that ISA (elsewhere it would repeat a
  // lower ISA's run exactly).
  std::vector<GgmlType> quant_types = {};
};

struct Param {
  Case c;
  kernels::Isa isa;
};

const char* path_name(Path p) {
  switch (p) {
    case Path::F32: return "";
    case Path::ExactWeights: return "_exact";
    case Path::Fast: return "_fast";
  }
  return "";
}

// Readable test names in ctest listings instead of the parameter's bytes.
void PrintTo(const Param& p, std::ostream* os) {
  *os << p.c.golden << path_name(p.c.path) << " on " << kernels::isa_name(p.isa);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name = info.param.c.golden + path_name(info.param.c.path) + "_" +
                     std::string(kernels::isa_name(info.param.isa));
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

std::vector<Param> all_params() {
  std::vector<Case> cases = {
      {"llama-spm-F32", Path::F32},
      {"llama-spm-F16", Path::ExactWeights},
      {"llama-spm-BF16", Path::ExactWeights},
      {"llama-bpe-tied-F32", Path::F32},
      {"stories260K-F32", Path::F32},
      {"qwen2-F32", Path::F32},
      {"qwen3-F32", Path::F32},
  };
  using T = GgmlType;
  const std::vector<std::pair<std::string, std::vector<GgmlType>>> quantized = {
      {"llama-spm-Q8_0", {T::Q8_0}},   {"llama-spm-Q4_0", {T::Q4_0}},     {"llama-spm-Q4_1", {T::Q4_1}},
      {"llama-spm-Q5_0", {T::Q5_0}},   {"llama-spm-Q5_1", {T::Q5_1}},     {"llama-spm-Q2_K", {T::Q2_K}},
      {"llama-spm-Q3_K", {T::Q3_K}},   {"llama-spm-Q4_K", {T::Q4_K}},     {"llama-spm-Q5_K", {T::Q5_K}},
      {"llama-spm-Q6_K", {T::Q6_K}},   {"llama-spm-IQ4_NL", {T::IQ4_NL}}, {"llama-spm-IQ4_XS", {T::IQ4_XS}},
      {"llama-spm-Q4_K_M", {T::Q4_K, T::Q6_K}},
      {"llama-bpe-tied-Q8_0", {T::Q8_0}}, {"llama-bpe-tied-Q4_K_M", {T::Q4_K, T::Q6_K}},
      {"qwen2-Q8_0", {T::Q8_0}},       {"qwen2-Q4_K_M", {T::Q4_K, T::Q6_K}},
      {"qwen3-Q8_0", {T::Q8_0}},       {"qwen3-Q4_K_M", {T::Q4_K, T::Q6_K}},
  };
  for (const auto& [name, types] : quantized) {
    cases.push_back({name, Path::ExactWeights, types});
    cases.push_back({name, Path::Fast, types});
  }
  std::vector<Param> out;
  for (const auto isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    for (const auto& c : cases) out.push_back({c, isa});
  }
  return out;
}

kernels::Isa best_isa() {
  kernels::Isa best = kernels::Isa::Scalar;
  for (const auto isa : {kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (kernels::cpu_supports(isa)) best = isa;
  }
  return best;
}

class LogitsGolden : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const Param& p = GetParam();
    if (!kernels::cpu_supports(p.isa)) GTEST_SKIP() << "CPU lacks this kernel path";
    previous_isa_ = kernels::active_isa();
    previous_exact_ = kernels::exact_weights();
    restore_ = true;
    ASSERT_TRUE(kernels::force_isa(p.isa));
    kernels::set_exact_weights(p.c.path == Path::ExactWeights);
    if (!p.c.quant_types.empty()) {
      // Keep the suite fast: the exact path decodes on every ISA alike and
      // runs the F32 kernels (covered by the F32 files on every ISA), so once,
      // on the best ISA; the fast path where its kernels differ.
      if (p.c.path == Path::ExactWeights && p.isa != best_isa()) GTEST_SKIP() << "exact path: best ISA only";
      if (p.c.path == Path::Fast && p.isa != kernels::Isa::Scalar) {
        bool own_kernels = false;
        for (GgmlType t : p.c.quant_types) own_kernels = own_kernels || kernels::kernel_isa(t) == p.isa;
        if (!own_kernels) GTEST_SKIP() << "no kernels of this ISA for the file's types";
      }
    }
  }
  void TearDown() override {
    if (!restore_) return;
    kernels::force_isa(previous_isa_);
    kernels::set_exact_weights(previous_exact_);
  }

  bool restore_ = false;
  kernels::Isa previous_isa_ = kernels::Isa::Scalar;
  bool previous_exact_ = false;
};

// Runs `tokens` through a fresh session, batched or one at a time; returns
// every position's logits.
std::vector<float> evaluate(const Model& model, const std::vector<TokenId>& tokens,
                            bool sequential, int threads) {
  ThreadPool pool(threads);
  Session session(model, static_cast<int32_t>(tokens.size()) + 1, &pool);
  std::vector<float> out;
  if (sequential) {
    for (const TokenId t : tokens) {
      const auto row = session.eval(std::span<const TokenId>(&t, 1), false);
      out.insert(out.end(), row.begin(), row.end());
    }
  } else {
    const auto rows = session.eval(tokens, true);
    out.assign(rows.begin(), rows.end());
  }
  return out;
}

// Rows whose argmax differs although the reference's top-1 / top-2 margin
// exceeds `min_margin`.
int clear_argmax_flips(const std::vector<float>& ours, const std::vector<float>& ref, int32_t n_vocab,
                       double min_margin) {
  int flips = 0;
  for (size_t off = 0; off + n_vocab <= ref.size(); off += static_cast<size_t>(n_vocab)) {
    int32_t top = 0, mine = 0;
    for (int32_t i = 1; i < n_vocab; ++i) {
      if (ref[off + i] > ref[off + top]) top = i;
      if (ours[off + i] > ours[off + mine]) mine = i;
    }
    float second = -INFINITY;
    for (int32_t i = 0; i < n_vocab; ++i) {
      if (i != top) second = std::max(second, ref[off + i]);
    }
    if (mine != top && ref[off + top] - second > min_margin) ++flips;
  }
  return flips;
}

// Rows whose relative RMS difference from the reference is at most `tol`.
int rows_within(const std::vector<float>& ours, const std::vector<float>& ref, int32_t n_vocab, double tol) {
  int n = 0;
  for (size_t off = 0; off + n_vocab <= ref.size(); off += static_cast<size_t>(n_vocab)) {
    double num = 0, den = 0;
    for (int32_t i = 0; i < n_vocab; ++i) {
      const double e = static_cast<double>(ours[off + i]) - ref[off + i];
      num += e * e;
      den += static_cast<double>(ref[off + i]) * ref[off + i];
    }
    n += num <= tol * tol * den;
  }
  return n;
}

TEST_P(LogitsGolden, MatchesReference) {
  HEARTH_REQUIRE_SHARED(shared);
  const Case& c = GetParam().c;
  const Golden g = testing::load_golden(shared, c.golden);
  ASSERT_FALSE(g.tokens.empty());
  const auto model = Model::load((shared / "models" / g.model_file).string(),
                                 LoadOptions{.load_tokenizer = false});
  ASSERT_EQ(model->hparams().n_vocab, g.n_vocab);
  const bool vs_dequant = c.path == Path::ExactWeights;
  const std::vector<float>& ref = vs_dequant ? g.dequant_logits : g.logits;
  ASSERT_FALSE(ref.empty());

  for (const bool sequential : {false, true}) {
    SCOPED_TRACE(sequential ? "token by token" : "batched");
    const auto ours = evaluate(*model, g.tokens, sequential, 2);
    const auto d = compare_logits(ours, ref, g.n_vocab);
    if (c.path == Path::Fast) {
      // Activations are quantized exactly as the peer's CPU backend does and
      // the integer sums are exact, so only float rounding differs (summation
      // order in matmuls, norms, softmax). But these random-weight models are
      // chaotic: a last-bit difference that moves one activation across a
      // rounding boundary changes its quantized value, and through the KV
      // cache every later position (the peer's own result moves 1.6-3% when
      // it merely repacks weights, batch_vs_stock_settings). So rule 3 in
      // either form: within 1e-3 of the peer, or at least as close to the
      // exact-weights result as the peer is (1.5x + 1e-4).
      const auto vs_exact = compare_logits(ours, g.dequant_logits, g.n_vocab);
      EXPECT_TRUE(d.rel_rms <= 1e-3 || vs_exact.rel_rms <= 1.5 * g.peer_vs_dequant_rel_rms + 1e-4)
          << "vs peer " << d.rel_rms << ", vs exact weights " << vs_exact.rel_rms << ", peer vs exact weights "
          << g.peer_vs_dequant_rel_rms;
      // An argmax may only flip where the reference's top two are within
      // twice our largest error.
      EXPECT_EQ(clear_argmax_flips(ours, ref, g.n_vocab, 2 * d.max_abs), 0) << "max_abs " << d.max_abs;
      if (std::getenv("HEARTH_GOLDEN_REPORT") != nullptr) {
        std::printf("[report] %s%s vs exact weights %.3g (peer %.3g), rows within 1e-5 of the peer: %d/%d\n",
                    c.golden.c_str(), path_name(c.path), vs_exact.rel_rms, g.peer_vs_dequant_rel_rms,
                    rows_within(ours, ref, g.n_vocab, 1e-5), d.rows);
      }
    } else {
      EXPECT_LE(d.rel_rms, 1e-5) << "max_abs " << d.max_abs;
      EXPECT_EQ(d.argmax_agree, d.rows);
    }
    if (vs_dequant && c.quant_types.empty()) {
      // F16/BF16: against what the peer itself produced (it rounds
      // activations to F16/BF16): at least as close to exact as the peer is,
      // give or take.
      const auto fast = compare_logits(ours, g.logits, g.n_vocab);
      EXPECT_LE(fast.rel_rms, 1.5 * g.peer_vs_dequant_rel_rms + 1e-4);
    }
    if (std::getenv("HEARTH_GOLDEN_REPORT") != nullptr) {
      std::printf("[report] %s%s %s %s rel_rms %.3g max_abs %.3g argmax %d/%d\n", c.golden.c_str(),
                  path_name(c.path), std::string(kernels::isa_name(GetParam().isa)).c_str(),
                  sequential ? "seq" : "batch", d.rel_rms, d.max_abs, d.argmax_agree, d.rows);
    }
  }
}

TEST_P(LogitsGolden, BatchedEqualsTokenByTokenAndThreadCountIsIrrelevant) {
  HEARTH_REQUIRE_SHARED(shared);
  if (!GetParam().c.quant_types.empty() && GetParam().c.path == Path::ExactWeights) {
    // Decoded rows on the F32 kernels, whose determinism the F32 files check
    // (and kernels' MatmulQuant tests this mode directly): save the time.
    GTEST_SKIP() << "exact-weights path: covered by the F32 files";
  }
  const Golden g = testing::load_golden(shared, GetParam().c.golden);
  const auto model = Model::load((shared / "models" / g.model_file).string(),
                                 LoadOptions{.load_tokenizer = false});
  const auto batched_2 = evaluate(*model, g.tokens, false, 2);
  const auto batched_1 = evaluate(*model, g.tokens, false, 1);
  const auto sequential_1 = evaluate(*model, g.tokens, true, 1);
  // Bit-identical: work is split by rows and tokens, never inside a sum.
  EXPECT_EQ(batched_1, batched_2);
  EXPECT_EQ(batched_1, sequential_1);
}

TEST_P(LogitsGolden, GreedyContinuation) {
  HEARTH_REQUIRE_SHARED(shared);
  const Case& c = GetParam().c;
  const Golden g = testing::load_golden(shared, c.golden);
  const auto model = Model::load((shared / "models" / g.model_file).string(),
                                 LoadOptions{.load_tokenizer = false});
  const int32_t V = g.n_vocab;
  const size_t n = g.tokens.size();
  const bool vs_dequant = c.path == Path::ExactWeights;
  const auto& ref_logits = vs_dequant ? g.dequant_logits : g.logits;
  const auto& greedy = vs_dequant ? g.dequant_greedy_tokens : g.greedy_tokens;
  const auto& margin = vs_dequant ? g.dequant_greedy_margin : g.greedy_margin;
  ASSERT_FALSE(greedy.empty());
  ASSERT_EQ(greedy.size(), margin.size());
  const size_t K = greedy.size();

  // Teacher-forced: feed tokens + greedy tokens and compare the argmax at
  // every step whose golden margin clears our measured logit error (closer
  // calls may legitimately flip).
  std::vector<TokenId> forced = g.tokens;
  forced.insert(forced.end(), greedy.begin(), greedy.end() - 1);
  const auto logits = evaluate(*model, forced, false, 2);
  const auto d = compare_logits(std::vector<float>(logits.begin(), logits.begin() + n * V),
                                ref_logits, V);
  const double margin_floor = std::max(0.05, 4 * d.max_abs);
  size_t checked = 0;
  for (size_t k = 0; k < K; ++k) {
    if (margin[k] < margin_floor) continue;
    ++checked;
    EXPECT_EQ(argmax(&logits[(n - 1 + k) * V], V), greedy[k]) << "step " << k;
  }
  // The fast path's error is dominated by rare activation rounding flips
  // (see MatchesReference), which make the floor high: fewer steps clear it.
  // Which files get a flip changes with any change of arithmetic order
  // upstream (e.g. in attention); at least K/8 steps must still be judged.
  EXPECT_GE(checked, c.path == Path::Fast ? K / 8 : K / 2 + 1) << "too few steps with a clear margin to judge";

  // Free-running greedy decode from the prompt's cache, one token at a time:
  // equal to the golden until (at most) a near-tie in the reference.
  ThreadPool pool(2);
  Session session(*model, static_cast<int32_t>(n + K), &pool);
  auto row = session.eval(g.tokens, false);
  for (size_t k = 0; k < K; ++k) {
    const TokenId next = argmax(row.data(), V);
    if (next != greedy[k]) {
      EXPECT_LT(margin[k], margin_floor) << "greedy step " << k << " diverged";
      break;
    }
    row = session.eval(std::span<const TokenId>(&next, 1), false);
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, LogitsGolden, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace hearth
