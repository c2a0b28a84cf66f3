// The scheduler against the reference runtime's greedy continuation of the
// real stories260K model, alone and with several requests batched together.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "model/model.h"
#include "shared_data.h"
#include "util/error.h"

namespace hearth::engine {
namespace {

struct Golden {
  std::vector<TokenId> prompt, greedy;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto dir = testing::shared_dir();
    if (!dir) GTEST_SKIP() << "shared test data not found (../shared or $HEARTH_SHARED_DIR); skipping";
    model_ = Model::load((*dir / "models" / "stories260K.gguf").string());
    std::ifstream in(*dir / "golden" / "stories260K-text.json");
    const auto j = nlohmann::json::parse(in);
    for (const auto& r : j.at("runs")) {
      goldens_.push_back({r.at("prompt_tokens").get<std::vector<TokenId>>(),
                          r.at("greedy_tokens").get<std::vector<TokenId>>()});
    }
    ASSERT_GE(goldens_.size(), 2u);
  }

  static GenerationRequest greedy(const std::vector<TokenId>& prompt, int32_t n) {
    GenerationRequest req;
    req.prompt = prompt;
    req.sampling.temperature = 0;
    req.max_tokens = n;
    return req;
  }

  std::unique_ptr<Model> model_;
  std::vector<Golden> goldens_;
};

std::vector<TokenId> first(const std::vector<TokenId>& v, size_t n) { return {v.begin(), v.begin() + std::min(n, v.size())}; }

TEST_F(SchedulerTest, GreedyTokensMatchTheReference) {
  Scheduler sched(*model_, {.n_slots = 1, .n_ctx = 256, .threads = 2});
  for (const Golden& g : goldens_) {
    std::vector<TokenId> ids;
    std::string streamed;
    const auto r = sched.generate(greedy(g.prompt, 64), [&](const TokenEvent& ev) {
      if (ev.id >= 0) ids.push_back(ev.id);
      streamed += ev.text;
    });
    EXPECT_EQ(ids, first(g.greedy, 64));
    EXPECT_EQ(r.finish, FinishReason::Length);
    EXPECT_EQ(r.completion_tokens, 64);
    EXPECT_EQ(r.prompt_tokens, static_cast<int32_t>(g.prompt.size()));
    EXPECT_EQ(streamed, r.text);
    std::string expected;
    for (const TokenId t : first(g.greedy, 64)) expected += model_->tokenizer().token_to_piece(t);
    EXPECT_EQ(r.text, expected);
  }
}

TEST_F(SchedulerTest, BatchedRequestsEachMatchTheReference) {
  // Eight requests over three slots: they join and leave at different steps
  // (different lengths), and each must still equal its single-request result.
  Scheduler sched(*model_, {.n_slots = 3, .n_ctx = 256, .threads = 2});
  struct Run {
    std::promise<GenerationResult> done;
    std::vector<TokenId> ids;
  };
  std::vector<Run> runs(8);
  for (size_t i = 0; i < runs.size(); ++i) {
    const Golden& g = goldens_[i % goldens_.size()];
    const int32_t n = 20 + 7 * static_cast<int32_t>(i);
    ASSERT_TRUE(sched.submit(
        greedy(g.prompt, n), [&run = runs[i]](const TokenEvent& ev) { if (ev.id >= 0) run.ids.push_back(ev.id); },
        [&run = runs[i]](const GenerationResult& r) { run.done.set_value(r); }));
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const GenerationResult r = runs[i].done.get_future().get();
    const Golden& g = goldens_[i % goldens_.size()];
    EXPECT_EQ(runs[i].ids, first(g.greedy, 20 + 7 * i)) << "request " << i;
    EXPECT_EQ(r.finish, FinishReason::Length);
  }
  EXPECT_EQ(sched.stats().slots_busy, 0);
  EXPECT_EQ(sched.stats().queue_depth, 0);
}

TEST_F(SchedulerTest, AFollowUpReusesTheCachedPrefix) {
  Scheduler sched(*model_, {.n_slots = 2, .n_ctx = 256, .threads = 2});
  const Golden& g = goldens_[0];
  const auto r1 = sched.generate(greedy(g.prompt, 10));
  // The next "turn": prompt + the reply + more tokens.
  std::vector<TokenId> next = g.prompt;
  next.insert(next.end(), g.greedy.begin(), g.greedy.begin() + 10);
  const auto r2 = sched.generate(greedy(next, 10));
  // All but the last reply token was evaluated in the first request.
  EXPECT_EQ(r2.cached_tokens, static_cast<int32_t>(g.prompt.size()) + 9);
  std::vector<TokenId> ids;
  const auto r3 = sched.generate(greedy(next, 10), [&](const TokenEvent& ev) { if (ev.id >= 0) ids.push_back(ev.id); });
  // The same prompt again: everything but its last token comes from the cache,
  // and the continuation is still the reference's.
  EXPECT_EQ(r3.cached_tokens, static_cast<int32_t>(next.size()) - 1);
  EXPECT_EQ(ids, std::vector<TokenId>(g.greedy.begin() + 10, g.greedy.begin() + 20));
  EXPECT_EQ(r1.cached_tokens, 0);
}

TEST_F(SchedulerTest, StopStringsEndTheTextBeforeThem) {
  Scheduler sched(*model_, {.n_slots = 1, .n_ctx = 256, .threads = 2});
  auto req = greedy(goldens_[0].prompt, 100);
  req.stop = {"Lily"};
  const auto r = sched.generate(req);
  EXPECT_EQ(r.finish, FinishReason::Stop);
  EXPECT_EQ(r.text, ", there was a little girl named ");
}

TEST_F(SchedulerTest, CancelAndErrorsFinishTheRequest) {
  Scheduler sched(*model_, {.n_slots = 1, .n_ctx = 64, .threads = 2});
  auto req = greedy(goldens_[0].prompt, -1);
  req.cancel = std::make_shared<std::atomic<bool>>(false);
  int seen = 0;
  const auto r = sched.generate(req, [&](const TokenEvent&) {
    if (++seen == 5) req.cancel->store(true);
  });
  EXPECT_EQ(r.finish, FinishReason::Cancelled);
  EXPECT_EQ(r.completion_tokens, 5);
  // Generation stops when the slot's context is full: 64 positions
  // evaluated, and the token sampled from the last one's logits.
  const auto full = sched.generate(greedy(goldens_[0].prompt, -1));
  EXPECT_EQ(full.finish, FinishReason::Length);
  EXPECT_EQ(full.prompt_tokens + full.completion_tokens, 65);
  // A prompt that cannot fit, and a bad token id.
  const auto too_long = sched.generate(greedy(std::vector<TokenId>(64, 1), 1));
  EXPECT_EQ(too_long.finish, FinishReason::Error);
  EXPECT_NE(too_long.error.find("context"), std::string::npos) << too_long.error;
  const auto bad = sched.generate(greedy({1, 999999}, 1));
  EXPECT_EQ(bad.finish, FinishReason::Error);
  // The scheduler still works afterwards.
  EXPECT_EQ(sched.generate(greedy(goldens_[0].prompt, 3)).completion_tokens, 3);
}

TEST_F(SchedulerTest, AQueuedRequestCancelledWhileWaitingNeverTakesASlot) {
  Scheduler sched(*model_, {.n_slots = 1, .n_ctx = 256, .threads = 1});
  std::promise<GenerationResult> first_done, second_done;
  auto first = greedy(goldens_[0].prompt, 200);
  first.cancel = std::make_shared<std::atomic<bool>>(false);
  auto second = greedy(goldens_[1].prompt, 5);
  second.cancel = std::make_shared<std::atomic<bool>>(false);
  int second_tokens = 0;
  // The first request holds the only slot until the second is cancelled.
  ASSERT_TRUE(sched.submit(first, [&](const TokenEvent&) {
    if (second.cancel->load()) first.cancel->store(true);
  }, [&](const GenerationResult& r) { first_done.set_value(r); }));
  ASSERT_TRUE(sched.submit(second, [&](const TokenEvent&) { ++second_tokens; },
                           [&](const GenerationResult& r) { second_done.set_value(r); }));
  second.cancel->store(true);
  const GenerationResult r2 = second_done.get_future().get();
  EXPECT_EQ(r2.finish, FinishReason::Cancelled);
  EXPECT_EQ(second_tokens, 0);
  EXPECT_EQ(first_done.get_future().get().finish, FinishReason::Cancelled);
}

TEST_F(SchedulerTest, ShutdownWithCancelEndsRunningAndQueuedRequests) {
  Scheduler sched(*model_, {.n_slots = 1, .n_ctx = 256, .threads = 1});
  std::atomic<int> done{0}, cancelled{0};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(sched.submit(greedy(goldens_[0].prompt, 200), {}, [&](const GenerationResult& r) {
      ++done;
      cancelled += r.finish == FinishReason::Cancelled;
    }));
  }
  sched.shutdown(/*cancel=*/true);
  EXPECT_EQ(done.load(), 5);
  EXPECT_GE(cancelled.load(), 4);  // the first may have finished before the cancel
}

TEST_F(SchedulerTest, AFullQueueRefusesRequests) {
  Scheduler sched(*model_, {.n_slots = 1, .n_ctx = 256, .threads = 1, .max_queue = 2});
  std::atomic<int> done{0};
  int accepted = 0;
  for (int i = 0; i < 50; ++i) {
    accepted += sched.submit(greedy(goldens_[0].prompt, 50), {}, [&](const GenerationResult&) { ++done; });
  }
  EXPECT_LT(accepted, 50);
  sched.shutdown(/*cancel=*/false);
  EXPECT_EQ(done.load(), accepted);
  EXPECT_FALSE(sched.submit(greedy(goldens_[0].prompt, 1), {}, {}));
}

TEST_F(SchedulerTest, EmbeddingsAreNormalisedAndDeterministic) {
  Scheduler sched(*model_, {.n_slots = 1, .n_ctx = 256, .threads = 2});
  const auto a = sched.embed(goldens_[0].prompt);
  const auto b = sched.embed(goldens_[0].prompt);
  const auto c = sched.embed(goldens_[1].prompt);
  ASSERT_EQ(a.size(), static_cast<size_t>(model_->hparams().n_embd));
  double norm = 0;
  for (const float x : a) norm += static_cast<double>(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_THROW(sched.embed({}), Error);
}

}  // namespace
}  // namespace hearth::engine
