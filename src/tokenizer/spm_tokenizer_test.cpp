// SentencePiece tokenizer behaviour on small synthetic vocabs (no shared
// data needed) and on stories260K's real 512-token vocab.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "shared_data.h"
#include "tokenizer/gguf_test_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_tokenizer.h"
#include "util/error.h"

namespace hearth {
namespace {

using testing::GgufTestWriter;
using testing::spm_test_tokens;
using testing::TestToken;
using testing::tokenizer_from;
using testing::write_vocab;

const std::string kSpace = "\xe2\x96\x81";  // "▁"

// The id of `text` in `tok`'s vocab (fails the test when absent).
TokenId id_of(const Tokenizer& tok, const std::string& text) {
  for (TokenId id = 0; id < tok.n_vocab(); ++id) {
    if (tok.token_text(id) == text) return id;
  }
  ADD_FAILURE() << "no token \"" << text << "\"";
  return -1;
}

std::vector<std::string> texts_of(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(tok.token_text(id));
  return out;
}

// A vocab without the space prefix, so merge order can be read off directly.
std::unique_ptr<Tokenizer> merge_vocab(float ab, float bc) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{"a", -5}, {"b", -5}, {"c", -5}, {"ab", ab}, {"bc", bc}}));
  w.boolean("tokenizer.ggml.add_space_prefix", false);
  return tokenizer_from(w);
}

TEST(SpmTokenizer, MergesHighestScoringPairFirst) {
  const auto tok = merge_vocab(-2, -1);
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)),
            (std::vector<std::string>{"a", "bc"}));
  const auto flipped = merge_vocab(-1, -2);
  EXPECT_EQ(texts_of(*flipped, flipped->encode("abc", false, false)),
            (std::vector<std::string>{"ab", "c"}));
}

TEST(SpmTokenizer, EqualScoresMergeLeftmostFirst) {
  const auto tok = merge_vocab(-1, -1);
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)),
            (std::vector<std::string>{"ab", "c"}));
}

TEST(SpmTokenizer, SpacePrefixAndEscaping) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{kSpace + "a", -1}, {"a", -2}, {kSpace, -3}}));
  const auto tok = tokenizer_from(w);
  // "a a" -> "▁a▁a": the prefix space and the inner space both become "▁".
  EXPECT_EQ(texts_of(*tok, tok->encode("a a", false, false)),
            (std::vector<std::string>{kSpace + "a", kSpace + "a"}));
  EXPECT_EQ(tok->decode(tok->encode("a a", false, false)), "a a");
  EXPECT_TRUE(tok->encode("", false, false).empty());
}

TEST(SpmTokenizer, ByteFallbackForPiecesNotInVocab) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{kSpace, -1}}));
  const auto tok = tokenizer_from(w);
  // "é" is C3 A9; neither it nor "▁é" is a token.
  EXPECT_EQ(texts_of(*tok, tok->encode("\xc3\xa9", false, false)),
            (std::vector<std::string>{kSpace, "<0xC3>", "<0xA9>"}));
  EXPECT_EQ(tok->token_to_piece(id_of(*tok, "<0xC3>")), "\xc3");
  EXPECT_EQ(tok->decode(tok->encode("\xc3\xa9", false, false)), "\xc3\xa9");
}

TEST(SpmTokenizer, UnknownTokenWhenVocabHasNoByteTokens) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(false, {{kSpace, -1}}));
  const auto tok = tokenizer_from(w);
  // One <unk> per byte that has no token.
  EXPECT_EQ(tok->encode("\xc3\xa9", false, false), (std::vector<TokenId>{3, 0, 0}));
  EXPECT_EQ(tok->token_to_piece(0), "");
  EXPECT_EQ(tok->token_to_piece(0, true), "<unk>");
}

TEST(SpmTokenizer, InvalidUtf8DoesNotCrashAndRoundTrips) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{kSpace, -1}, {"a", -1}}));
  const auto tok = tokenizer_from(w);
  const std::vector<std::string> inputs = {
      "\xff", "\x80\x80", "a\xc3", "\xe2\x96", "\xf0\x9f\x98", "\xc3\x28", "a\xed\xa0\x80 \xfe\xff",
  };
  for (const auto& text : inputs) {
    const auto ids = tok->encode(text, false, false);
    EXPECT_EQ(tok->decode(ids), text) << ::testing::PrintToString(text);
  }
  // As in llama.cpp, a lead byte is read as a whole sequence before its
  // validity is looked at: 0xF8 swallows the three bytes of the "▁" that
  // stands for the next space, and they come back as those raw bytes.
  EXPECT_EQ(tok->decode(tok->encode("\xf8 a", false, false)), "\xf8" + kSpace + "a");
}

TEST(SpmTokenizer, UserDefinedTokensMatchWithoutParseSpecial) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{kSpace + "x", -1},
                                        {"x", -2},
                                        {kSpace, -3},
                                        {"<tag>", 0, TokenType::UserDefined},
                                        {"<ctl>", 0, TokenType::Control}}));
  const auto tok = tokenizer_from(w);
  const TokenId tag = id_of(*tok, "<tag>");
  const TokenId ctl = id_of(*tok, "<ctl>");
  // The text after a special token gets the space prefix too.
  EXPECT_EQ(texts_of(*tok, tok->encode("x<tag>x", false, false)),
            (std::vector<std::string>{kSpace + "x", "<tag>", kSpace + "x"}));
  // Control text is plain text unless parse_special.
  const auto plain = tok->encode("<ctl>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), ctl), 0);
  EXPECT_EQ(tok->encode("<ctl>", false, true), (std::vector<TokenId>{ctl}));
  EXPECT_EQ(tok->encode("<tag>", false, true), (std::vector<TokenId>{tag}));
  // Pieces: user-defined text always, control text only when special.
  EXPECT_EQ(tok->token_to_piece(tag), "<tag>");
  EXPECT_EQ(tok->token_to_piece(ctl), "");
  EXPECT_EQ(tok->token_to_piece(ctl, true), "<ctl>");
  EXPECT_EQ(tok->token_type(tag), TokenType::UserDefined);
}

TEST(SpmTokenizer, LongerSpecialTokensWin) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{"<a>", 0, TokenType::UserDefined},
                                        {"<a><b>", 0, TokenType::UserDefined},
                                        {"<b>", 0, TokenType::UserDefined}}));
  w.boolean("tokenizer.ggml.add_space_prefix", false);
  const auto tok = tokenizer_from(w);
  EXPECT_EQ(texts_of(*tok, tok->encode("<a><b><b><a>", false, false)),
            (std::vector<std::string>{"<a><b>", "<b>", "<a>"}));
}

TEST(SpmTokenizer, AddSpecialFollowsVocabFlags) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{kSpace, -1}}));
  w.boolean("tokenizer.ggml.add_eos_token", true);
  const auto tok = tokenizer_from(w);
  EXPECT_TRUE(tok->add_bos());  // llama.cpp's SPM default when the key is absent
  EXPECT_EQ(tok->encode("", true, false), (std::vector<TokenId>{1, 2}));

  GgufTestWriter no_bos;
  write_vocab(no_bos, spm_test_tokens(true, {{kSpace, -1}}));
  no_bos.boolean("tokenizer.ggml.add_bos_token", false);
  const auto tok2 = tokenizer_from(no_bos);
  EXPECT_FALSE(tok2->add_bos());
  EXPECT_TRUE(tok2->encode("", true, false).empty());
}

TEST(SpmTokenizer, DecodeStripsOnlyTheFirstPiecesSpace) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {{kSpace + "a", -1}, {kSpace, -2}}));
  const auto tok = tokenizer_from(w);
  const TokenId a = id_of(*tok, kSpace + "a");
  EXPECT_EQ(tok->decode({a, a}), "a a");
  // A leading BOS renders empty but still uses up the strip, as in llama.cpp.
  EXPECT_EQ(tok->decode({1, a, a}), " a a");
  EXPECT_EQ(tok->decode({1, a, 2}, true), "<s> a</s>");
  EXPECT_EQ(tok->decode({}), "");
}

TEST(SpmTokenizer, OutOfRangeIdsThrow) {
  GgufTestWriter w;
  write_vocab(w, spm_test_tokens(true, {}));
  const auto tok = tokenizer_from(w);
  EXPECT_THROW(tok->token_to_piece(tok->n_vocab()), Error);
  EXPECT_THROW(tok->token_to_piece(-1), Error);
  EXPECT_THROW(tok->decode({0, 100000}), Error);
  EXPECT_THROW(tok->token_text(-5), Error);
  EXPECT_FALSE(tok->is_eog(-1));
  EXPECT_FALSE(tok->is_eog(tok->n_vocab()));
}

TEST(SpmTokenizer, LongInputWithoutSpaces) {
  GgufTestWriter w;
  // Pieces "a", "aa", "aaaa", ... so that merging runs deep.
  std::vector<TestToken> extra = {{kSpace, -1}};
  for (std::string piece = "a"; piece.size() <= 16; piece += piece) {
    extra.push_back({piece, -static_cast<float>(piece.size())});
  }
  write_vocab(w, spm_test_tokens(true, extra));
  const auto tok = tokenizer_from(w);
  const std::string text(200 * 1024, 'a');
  const auto ids = tok->encode(text, false, false);
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(CleanUpTokenizationSpaces, MatchesLlamaCppRules) {
  EXPECT_EQ(clean_up_tokenization_spaces("Hello , world !"), "Hello, world!");
  EXPECT_EQ(clean_up_tokenization_spaces("it 's he 'll they 're I 'm"), "it's he 'll they're I'm");
  EXPECT_EQ(clean_up_tokenization_spaces("a ' b"), "a'b");
  EXPECT_EQ(clean_up_tokenization_spaces(""), "");
  EXPECT_EQ(clean_up_tokenization_spaces(" ."), ".");
}

// stories260K: the real 512-token SPM vocab (byte tokens 3..258).
class Stories260K : public ::testing::Test {
 protected:
  void SetUp() override {
    HEARTH_REQUIRE_SHARED(shared);
    const auto file = gguf::File::open((shared / "models" / "stories260K.gguf").string());
    tok_ = Tokenizer::from_gguf(file);
  }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(Stories260K, ParseSpecialControlsBosText) {
  EXPECT_EQ(tok_->encode("<s>", false, true), (std::vector<TokenId>{tok_->bos()}));
  EXPECT_EQ(tok_->encode("<s>", true, true), (std::vector<TokenId>{tok_->bos(), tok_->bos()}));
  const auto as_text = tok_->encode("<s>", false, false);
  EXPECT_EQ(std::count(as_text.begin(), as_text.end(), tok_->bos()), 0);
  EXPECT_EQ(tok_->decode(as_text), "<s>");
  // Text after a parsed special token is encoded as if it began the input.
  std::vector<TokenId> expected = {tok_->bos()};
  const auto once = tok_->encode("Once", false, false);
  expected.insert(expected.end(), once.begin(), once.end());
  EXPECT_EQ(tok_->encode("<s>Once", false, true), expected);
}

TEST_F(Stories260K, ByteFallbackAndInvalidUtf8) {
  // "語" (E8 AA 9E) is not in this 512-token vocab: three byte tokens.
  const std::string word = "\xe8\xaa\x9e";
  for (TokenId id = 0; id < tok_->n_vocab(); ++id) ASSERT_NE(tok_->token_text(id), word);
  const auto ids = tok_->encode(word, false, false);
  ASSERT_GE(ids.size(), 3u);
  const std::vector<TokenId> tail(ids.end() - 3, ids.end());
  EXPECT_EQ(texts_of(*tok_, tail), (std::vector<std::string>{"<0xE8>", "<0xAA>", "<0x9E>"}));
  EXPECT_EQ(tok_->decode(ids), word);

  std::string garbage;
  for (int b = 255; b >= 0; --b) garbage.push_back(static_cast<char>(b));
  EXPECT_EQ(tok_->decode(tok_->encode(garbage, false, false)), garbage);
}

TEST_F(Stories260K, LongRepeatedCharacter) {
  const std::string text(200 * 1024, 'a');
  EXPECT_EQ(tok_->decode(tok_->encode(text, false, false)), text);
}

TEST_F(Stories260K, RandomBytesAndSpecialTextNeverFail) {
  // Deterministic pseudo-random inputs mixing raw bytes, spaces and special
  // token text; every one must encode, and decode without throwing.
  uint32_t state = 12345;
  const auto next = [&state] { return state = state * 1664525u + 1013904223u; };
  const std::vector<std::string> snippets = {"<s>", "</s>", "<unk>", " ", "  ", "\n", "Once"};
  for (int round = 0; round < 200; ++round) {
    std::string text;
    const int parts = static_cast<int>(next() % 20);
    for (int i = 0; i < parts; ++i) {
      if (next() % 3 == 0) {
        text += snippets[next() % snippets.size()];
      } else {
        text += static_cast<char>(next() >> 24);
      }
    }
    for (const bool special : {false, true}) {
      const auto ids = tok_->encode(text, special, special);
      for (TokenId id : ids) ASSERT_TRUE(id >= 0 && id < tok_->n_vocab());
      (void)tok_->decode(ids, special);
    }
  }
}

TEST_F(Stories260K, EndOfGeneration) {
  EXPECT_EQ(tok_->eos(), 2);
  EXPECT_TRUE(tok_->is_eog(tok_->eos()));
  EXPECT_FALSE(tok_->is_eog(tok_->bos()));
  EXPECT_FALSE(tok_->is_eog(0));
  EXPECT_FALSE(tok_->is_eog(id_of(*tok_, kSpace + "Once")));
  EXPECT_EQ(tok_->token_type(tok_->eos()), TokenType::Control);
  EXPECT_EQ(tok_->token_type(3), TokenType::Byte);
}

}  // namespace
}  // namespace hearth
