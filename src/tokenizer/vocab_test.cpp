// Loading tokenizer metadata: defaults, llama.cpp's load-time fix-ups, and
// clean errors (never crashes) for broken vocabs.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "shared_data.h"
#include "tokenizer/gguf_test_writer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hearth {
namespace {

using testing::GgufTestWriter;
using testing::spm_test_tokens;
using testing::TestToken;
using testing::tokenizer_from;
using testing::write_vocab;

// Expects loading to throw hearth::Error whose message contains every one
// of `parts` (the file name is always one of them).
void expect_load_error(const GgufTestWriter& w, const std::vector<std::string>& parts) {
  try {
    tokenizer_from(w, "broken.gguf");
    ADD_FAILURE() << "loading did not throw";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("broken.gguf"), std::string::npos) << message;
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "\"" << part << "\" not in: " << message;
    }
  }
}

std::vector<std::string> texts(const std::vector<TestToken>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(t.text);
  return out;
}

TEST(VocabErrors, MissingTokens) {
  GgufTestWriter w;
  w.string("tokenizer.ggml.model", "llama");
  expect_load_error(w, {"tokenizer.ggml.tokens"});
}

TEST(VocabErrors, MissingOrUnsupportedModel) {
  GgufTestWriter none;
  none.strings("tokenizer.ggml.tokens", {"a"});
  expect_load_error(none, {"tokenizer.ggml.model"});

  GgufTestWriter odd;
  write_vocab(odd, spm_test_tokens(true, {}), "klingon");
  expect_load_error(odd, {"tokenizer.ggml.model", "klingon"});
}

TEST(VocabErrors, ScoreCountMismatch) {
  const auto tokens = spm_test_tokens(true, {});
  GgufTestWriter w;
  w.string("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", texts(tokens))
      .f32s("tokenizer.ggml.scores", std::vector<float>(tokens.size() - 1, 0.0f));
  expect_load_error(w, {"tokenizer.ggml.scores has " + std::to_string(tokens.size() - 1) +
                        " entries, expected " + std::to_string(tokens.size())});
}

TEST(VocabErrors, ScoresOfWrongType) {
  const auto tokens = spm_test_tokens(true, {});
  GgufTestWriter w;
  w.string("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", texts(tokens))
      .strings("tokenizer.ggml.scores", texts(tokens));
  expect_load_error(w, {"tokenizer.ggml.scores"});
}

TEST(VocabErrors, TokenTypeCountAndRange) {
  const auto tokens = spm_test_tokens(true, {});
  GgufTestWriter short_types;
  short_types.string("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", texts(tokens))
      .i32s("tokenizer.ggml.token_type", {2, 3, 3});
  expect_load_error(short_types, {"tokenizer.ggml.token_type has 3 entries"});

  std::vector<int32_t> types(tokens.size(), 1);
  types[7] = 9;
  GgufTestWriter bad_type;
  bad_type.string("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", texts(tokens))
      .i32s("tokenizer.ggml.token_type", types);
  expect_load_error(bad_type, {"tokenizer.ggml.token_type[7] is 9"});
}

TEST(VocabErrors, SpecialIdOutOfRange) {
  const auto tokens = spm_test_tokens(true, {});
  GgufTestWriter w;
  write_vocab(w, tokens).u32("tokenizer.ggml.bos_token_id", 600);
  expect_load_error(w, {"tokenizer.ggml.bos_token_id is 600", std::to_string(tokens.size())});

  GgufTestWriter negative;
  write_vocab(negative, tokens).i32("tokenizer.ggml.eos_token_id", -7);
  expect_load_error(negative, {"tokenizer.ggml.eos_token_id"});
}

TEST(VocabErrors, SpecialIdOfWrongType) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {})).string("tokenizer.ggml.bos_token_id", "1");
  expect_load_error(w, {"tokenizer.ggml.bos_token_id"});
}

TEST(VocabErrors, DuplicateTokenText) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{"x"}, {"x"}}));
  expect_load_error(w, {"\"x\" twice"});
}

TEST(VocabErrors, AddEosWithoutEos) {
  // Two tokens: the SPM default EOS id 2 does not exist.
  GgufTestWriter w;
  write_vocab(w, {{"<unk>", 0, TokenType::Unknown}, {"<s>", 0, TokenType::Control}});
  w.boolean("tokenizer.ggml.add_eos_token", true);
  expect_load_error(w, {"tokenizer.ggml.add_eos_token is true"});
}

TEST(Vocab, SpmDefaultsAndUnsetMarker) {
  GgufTestWriter w;
  // uint32 -1 is how converters write "no such token" (stories260K's pad).
  write_vocab(w, spm_test_tokens(true, {})).u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
  const auto tok = tokenizer_from(w);
  EXPECT_EQ(tok->model_name(), "llama");
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_TRUE(tok->add_bos());
}

TEST(Vocab, EmptyTokenTextIsRenamed) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{""}}));
  const auto tok = tokenizer_from(w);
  EXPECT_EQ(tok->token_text(tok->n_vocab() - 1),
            "[EMPTY_" + std::to_string(tok->n_vocab() - 1) + "]");
}

TEST(Vocab, EndOfGenerationByTokenText) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{"<|im_end|>"},
                                        {"<|eot_id|>", 0, TokenType::UserDefined},
                                        {"<|user|>", 0, TokenType::Control}}));
  const auto tok = tokenizer_from(w);
  const TokenId im_end = 259, eot = 260, user = 261;
  EXPECT_TRUE(tok->is_eog(2));  // eos
  EXPECT_TRUE(tok->is_eog(im_end));
  EXPECT_TRUE(tok->is_eog(eot));
  EXPECT_FALSE(tok->is_eog(user));
  EXPECT_FALSE(tok->is_eog(1));
  // llama.cpp turns EOG-looking tokens into control tokens whatever the file says.
  EXPECT_EQ(tok->token_type(im_end), TokenType::Control);
  EXPECT_EQ(tok->token_type(eot), TokenType::Control);
  EXPECT_EQ(tok->token_to_piece(im_end), "");
  EXPECT_EQ(tok->token_to_piece(im_end, true), "<|im_end|>");
  // ... so their text is no longer matched without parse_special.
  const auto ids = tok->encode("<|eot_id|>", false, false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), eot), 0);
}

TEST(Vocab, EndOfGenerationKeysAndHarmonyEnd) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{"<|return|>", 0, TokenType::Control},
                                        {"<|call|>", 0, TokenType::Control},
                                        {"<|end|>", 0, TokenType::Control},
                                        {"stop"}}));
  w.u32("tokenizer.ggml.eom_token_id", 262);
  const auto tok = tokenizer_from(w);
  EXPECT_TRUE(tok->is_eog(259));
  EXPECT_TRUE(tok->is_eog(260));
  // With <|return|> and <|call|> present, <|end|> only ends a message.
  EXPECT_FALSE(tok->is_eog(261));
  EXPECT_EQ(tok->token_type(261), TokenType::UserDefined);
  EXPECT_TRUE(tok->is_eog(262));  // from eom_token_id
}

TEST(Vocab, Phi3SpecialTokensSwallowFollowingWhitespace) {
  // llama.cpp gives phi-3's special tokens RSTRIP by model name.
  const auto tokens = spm_test_tokens(
      true, {{"\xe2\x96\x81", -1}, {"x", -2}, {"<|user|>", 0, TokenType::UserDefined}});
  GgufTestWriter phi;
  write_vocab(phi, tokens).string("general.name", "Phi3");
  GgufTestWriter other;
  write_vocab(other, tokens).string("general.name", "other");
  const auto phi_tok = tokenizer_from(phi);
  const auto other_tok = tokenizer_from(other);
  const TokenId user = 261;
  EXPECT_EQ(phi_tok->encode("<|user|>  \nx", false, false),
            phi_tok->encode("<|user|>x", false, false));
  EXPECT_NE(other_tok->encode("<|user|>  \nx", false, false),
            other_tok->encode("<|user|>x", false, false));
  EXPECT_EQ(phi_tok->encode("<|user|>x", false, false)[0], user);
}

TEST(Vocab, Phi3RealVocab) {
  HEARTH_REQUIRE_SHARED(shared);
  const auto file = gguf::File::open((shared / "vocab" / "ggml-vocab-phi-3.gguf").string());
  const auto tok = Tokenizer::from_gguf(file);
  EXPECT_EQ(tok->eos(), 32000);
  EXPECT_TRUE(tok->is_eog(32000));  // <|endoftext|>
  EXPECT_EQ(tok->token_text(32007), "<|end|>");
  EXPECT_TRUE(tok->is_eog(32007));
  EXPECT_FALSE(tok->is_eog(32010));  // <|user|>
  EXPECT_EQ(tok->encode("<|user|>", false, true), (std::vector<TokenId>{32010}));
  EXPECT_EQ(tok->token_to_piece(32010), "");
  EXPECT_EQ(tok->token_to_piece(32010, true), "<|user|>");
}

}  // namespace
}  // namespace hearth
