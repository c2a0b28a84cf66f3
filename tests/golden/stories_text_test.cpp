// The real trained stories260K model against the reference runtime's text
// golden: prompt tokenization, 200 greedy tokens, and the decoded text.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/session.h"
#include "sampling/sampler.h"
#include "shared_data.h"

namespace hearth {
namespace {

TEST(Stories260K, PromptTokensGreedyTokensAndTextMatchReference) {
  HEARTH_REQUIRE_SHARED(shared);
  std::ifstream in(shared / "golden" / "stories260K-text.json");
  ASSERT_TRUE(in);
  const auto golden = nlohmann::json::parse(in);
  const auto model = Model::load((shared / "models" / "stories260K.gguf").string());
  const Tokenizer& tok = model->tokenizer();

  for (const auto& r : golden.at("runs")) {
    const std::string prompt = r.at("prompt").get<std::string>();
    SCOPED_TRACE("prompt \"" + prompt + "\"");
    const auto expected_prompt = r.at("prompt_tokens").get<std::vector<TokenId>>();
    const auto expected_greedy = r.at("greedy_tokens").get<std::vector<TokenId>>();

    const std::vector<TokenId> ids = tok.encode(prompt, true, false);
    EXPECT_EQ(ids, expected_prompt);

    ThreadPool pool(2);
    Session session(*model, 0, &pool);
    auto logits = session.eval(ids, false);
    std::vector<TokenId> generated;
    for (size_t k = 0; k < expected_greedy.size(); ++k) {
      const TokenId next = argmax(logits.data(), session.n_vocab());
      generated.push_back(next);
      logits = session.eval(std::span<const TokenId>(&next, 1), false);
    }
    EXPECT_EQ(generated, expected_greedy);

    std::vector<TokenId> all = ids;
    all.insert(all.end(), generated.begin(), generated.end());
    // The reference's detokenize (special tokens removed) keeps the space
    // SentencePiece prefixed to the first word when a BOS came before it.
    EXPECT_EQ(tok.decode(all), r.at("detokenized_prompt_plus_greedy").get<std::string>());
  }
}

}  // namespace
}  // namespace hearth
