// Logits of whole models against the reference runtime's goldens
// (../shared/golden, tolerances at the top of its README): batched and
// token-by-token evaluation, teacher-forced and free-running greedy decoding,
// thread-count independence, on every kernel path this CPU can run.
#include <gtest/gtest.h>

#include <cstdio>
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

struct Case {
  std::string golden;  // golden name
  // Low-precision weights are decoded exactly and activations stay F32, so
  // Hearth's result is the README's "reference path": compare with the
  // dequantized-weights reference at F32 tolerance.
  bool exact_weights_reference;
};

struct Param {
  Case c;
  kernels::Isa isa;
};

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name = info.param.c.golden + "_" + std::string(kernels::isa_name(info.param.isa));
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

std::vector<Param> all_params() {
  const std::vector<Case> cases = {
      {"llama-spm-F32", false},
      {"llama-spm-F16", true},
      {"llama-spm-BF16", true},
      {"llama-bpe-tied-F32", false},
      {"stories260K-F32", false},
      {"qwen2-F32", false},
      {"qwen3-F32", false},
  };
  std::vector<Param> out;
  for (const auto isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    for (const auto& c : cases) out.push_back({c, isa});
  }
  return out;
}

class LogitsGolden : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (!kernels::cpu_supports(GetParam().isa)) GTEST_SKIP() << "CPU lacks this kernel path";
    previous_isa_ = kernels::active_isa();
    ASSERT_TRUE(kernels::force_isa(GetParam().isa));
  }
  void TearDown() override { kernels::force_isa(previous_isa_); }

  kernels::Isa previous_isa_ = kernels::Isa::Scalar;
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

TEST_P(LogitsGolden, MatchesReference) {
  HEARTH_REQUIRE_SHARED(shared);
  const Case& c = GetParam().c;
  const Golden g = testing::load_golden(shared, c.golden);
  ASSERT_FALSE(g.tokens.empty());
  const auto model = Model::load((shared / "models" / g.model_file).string(),
                                 LoadOptions{.load_tokenizer = false});
  ASSERT_EQ(model->hparams().n_vocab, g.n_vocab);
  const std::vector<float>& ref = c.exact_weights_reference ? g.dequant_logits : g.logits;
  ASSERT_FALSE(ref.empty());

  for (const bool sequential : {false, true}) {
    SCOPED_TRACE(sequential ? "token by token" : "batched");
    const auto ours = evaluate(*model, g.tokens, sequential, 2);
    const auto d = compare_logits(ours, ref, g.n_vocab);
    std::printf("[ metrics  ] %s %s: rel_rms %.2e max_abs %.2e argmax %d/%d\n", c.golden.c_str(),
                sequential ? "sequential" : "batched", d.rel_rms, d.max_abs, d.argmax_agree,
                d.rows);
    EXPECT_LE(d.rel_rms, 1e-5) << "max_abs " << d.max_abs;
    EXPECT_EQ(d.argmax_agree, d.rows);
    if (c.exact_weights_reference) {
      // Against what the peer itself produced (it rounds activations to
      // F16/BF16): at least as close to exact as the peer is, give or take.
      const auto fast = compare_logits(ours, g.logits, g.n_vocab);
      EXPECT_LE(fast.rel_rms, 1.5 * g.peer_vs_dequant_rel_rms + 1e-4);
    }
  }
}

TEST_P(LogitsGolden, BatchedEqualsTokenByTokenAndThreadCountIsIrrelevant) {
  HEARTH_REQUIRE_SHARED(shared);
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
  const auto& ref_logits = c.exact_weights_reference ? g.dequant_logits : g.logits;
  const auto& greedy = c.exact_weights_reference ? g.dequant_greedy_tokens : g.greedy_tokens;
  const auto& margin = c.exact_weights_reference ? g.dequant_greedy_margin : g.greedy_margin;
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
  EXPECT_GT(checked, K / 2) << "too few steps with a clear margin to judge";

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
