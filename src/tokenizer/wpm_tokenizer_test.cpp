// WordPiece behaviour on a small synthetic BERT vocab (no shared data
// needed): normalization, word splitting, greedy longest match, [UNK],
// [CLS]/[SEP] and decoding.
#include "tokenizer/wpm_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace hearth {
namespace {

using Texts = std::vector<std::string>;

const std::string kP = "\xe2\x96\x81";  // "▁": llama.cpp's word-start marker

// Converted BERT vocab: "hello" is stored as "▁hello", "##llo" as "llo".
std::unique_ptr<Tokenizer> make(std::vector<std::pair<std::string, std::string>> extra_keys = {}) {
  const std::vector<std::string> tokens = {
      "[PAD]",  "[UNK]",      "[CLS]",  "[SEP]",  kP + "hello", kP + "he",
      "llo",    kP + "world", kP + ",", kP + "!", kP + "cafe",  kP + "\xe6\x88\x91",
      kP + "a", "b",          kP + "$", kP + "x"};
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "bert");
  w.set_array("tokenizer.ggml.tokens", gguf::make_string_array(tokens));
  std::vector<int32_t> types(tokens.size(), 1);
  for (int i = 0; i < 4; ++i) types[i] = 3;  // CONTROL
  w.set_array("tokenizer.ggml.token_type", gguf::make_array(types));
  w.set_u32("tokenizer.ggml.unknown_token_id", 1);
  w.set_u32("tokenizer.ggml.bos_token_id", 2);
  w.set_u32("tokenizer.ggml.seperator_token_id", 3);
  w.set_u32("tokenizer.ggml.padding_token_id", 0);
  for (const auto& [key, value] : extra_keys) w.set_bool(key, value == "true");
  const auto bytes = w.to_bytes();
  return Tokenizer::from_gguf(gguf::File::parse(bytes, "bert.gguf"));
}

Texts texts_of(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  Texts out;
  for (TokenId id : ids) out.push_back(tok.token_text(id));
  return out;
}

Texts encode(const Tokenizer& tok, const std::string& text, bool add_special = false) {
  return texts_of(tok, tok.encode(text, add_special, false));
}

TEST(WpmTokenizer, GreedyLongestMatchWithContinuations) {
  const auto tok = make();
  EXPECT_EQ(encode(*tok, "hello world"), (Texts{kP + "hello", kP + "world"}));
  // Longest first: "▁hello" then the continuation "llo" (not "▁he" "llo" "llo").
  EXPECT_EQ(encode(*tok, "hellollo"), (Texts{kP + "hello", "llo"}));
  EXPECT_EQ(encode(*tok, "abbb"), (Texts{kP + "a", "b", "b", "b"}));
}

TEST(WpmTokenizer, UnmatchableWordIsOneUnknown) {
  const auto tok = make();
  // "▁hez": "▁he" matches, then "z" matches nothing: the whole word is [UNK].
  EXPECT_EQ(encode(*tok, "hez hello"), (Texts{"[UNK]", kP + "hello"}));
}

TEST(WpmTokenizer, LowercasesStripsAccentsAndSplitsPunctuation) {
  const auto tok = make();
  EXPECT_EQ(encode(*tok, "Hello,World!"), (Texts{kP + "hello", kP + ",", kP + "world", kP + "!"}));
  EXPECT_EQ(encode(*tok, "CAF\xC3\x89"), (Texts{kP + "cafe"}));           // CAFÉ
  EXPECT_EQ(encode(*tok, "cafe\xCC\x81"), (Texts{kP + "cafe"}));          // combining acute
  EXPECT_EQ(encode(*tok, "x$x"), (Texts{kP + "x", kP + "$", kP + "x"}));  // ASCII symbol
  // CJK ideographs are words of their own; control characters vanish.
  EXPECT_EQ(encode(*tok, "a\xe6\x88\x91\x01"), (Texts{kP + "a", kP + "\xe6\x88\x91"}));
  EXPECT_EQ(encode(*tok, " \t\n"), Texts{});
}

TEST(WpmTokenizer, NormalizerKeysAreHonoured) {
  const auto keep_case = make({{"tokenizer.ggml.normalizer.lowercase", "false"}});
  EXPECT_EQ(encode(*keep_case, "Hello hello"), (Texts{"[UNK]", kP + "hello"}));
  // strip_accents follows lowercase unless set on its own.
  EXPECT_EQ(encode(*keep_case, "caf\xC3\xA9"), (Texts{"[UNK]"}));
  const auto strip = make({{"tokenizer.ggml.normalizer.lowercase", "false"},
                           {"tokenizer.ggml.normalizer.strip_accents", "true"}});
  EXPECT_EQ(encode(*strip, "caf\xC3\xA9"), (Texts{kP + "cafe"}));
}

TEST(WpmTokenizer, AddSpecialWrapsInClsAndSep) {
  const auto tok = make();
  EXPECT_EQ(encode(*tok, "hello", true), (Texts{"[CLS]", kP + "hello", "[SEP]"}));
  EXPECT_EQ(encode(*tok, "", true), (Texts{"[CLS]", "[SEP]"}));
}

TEST(WpmTokenizer, DecodeRespacesAndCleansUp) {
  const auto tok = make();
  // Like llama.cpp: the first word keeps its leading space, " ," and " !"
  // lose theirs.
  EXPECT_EQ(tok->decode(tok->encode("Hello, world!", false, false)), " hello, world!");
  EXPECT_EQ(tok->decode(tok->encode("hellollo", false, false)), " hellollo");
}

TEST(WpmTokenizer, SplitWordsMatchesBertBasicTokenizer) {
  const auto tok = make();
  const auto& wpm = dynamic_cast<const WpmTokenizer&>(*tok);
  EXPECT_EQ(wpm.split_words("  Don't STOP\xC2\xA0now!! "),
            (Texts{"don", "'", "t", "stop", "now", "!", "!"}));
}

}  // namespace
}  // namespace hearth
