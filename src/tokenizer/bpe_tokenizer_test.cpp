// Byte-level BPE behaviour on small synthetic vocabs (no shared data needed):
// merge order, llama.cpp's fallbacks and quirks, load-time errors, decoding.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace hearth {
namespace {

struct TokenSpec {
  std::string text;
  TokenType type = TokenType::Normal;
};

struct VocabSpec {
  std::string pre = "gpt-2";
  std::vector<TokenSpec> tokens;
  std::vector<std::string> merges;
  bool write_merges = true;
  int bos = -1;  // tokenizer.ggml.bos_token_id, when >= 0
};

std::vector<uint8_t> gguf_bytes(const VocabSpec& spec) {
  gguf::Writer w;
  w.set_string("general.architecture", "gpt2");
  w.set_string("tokenizer.ggml.model", "gpt2");
  if (!spec.pre.empty()) w.set_string("tokenizer.ggml.pre", spec.pre);
  std::vector<std::string> texts;
  std::vector<int32_t> types;
  for (const auto& t : spec.tokens) {
    texts.push_back(t.text);
    types.push_back(static_cast<int32_t>(t.type));
  }
  w.set_array("tokenizer.ggml.tokens", gguf::make_string_array(texts));
  w.set_array("tokenizer.ggml.token_type", gguf::make_array(types));
  if (spec.write_merges) w.set_array("tokenizer.ggml.merges", gguf::make_string_array(spec.merges));
  if (spec.bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(spec.bos));
  return w.to_bytes();
}

std::unique_ptr<Tokenizer> make(const VocabSpec& spec) {
  const std::vector<uint8_t> bytes = gguf_bytes(spec);
  // The tokenizer copies what it needs; the bytes may go away afterwards.
  return Tokenizer::from_gguf(gguf::File::parse(bytes, "test.gguf"));
}

std::vector<std::string> texts_of(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(tok.token_text(id));
  return out;
}

using Texts = std::vector<std::string>;

// "Ġ" (U+0120) is GPT-2's character for the byte 0x20, a space.
const std::string kG = "\xC4\xA0";

VocabSpec abc_vocab(std::vector<std::string> merges) {
  VocabSpec s;
  s.tokens = {{"a"}, {"b"}, {"c"}, {"ab"}, {"bc"}, {"abc"}, {kG}, {kG + "a"}};
  s.merges = std::move(merges);
  return s;
}

TEST(BpeTokenizer, MergesLowestRankFirst) {
  auto tok = make(abc_vocab({"b c", "a b"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)), (Texts{"a", "bc"}));
  tok = make(abc_vocab({"a b", "b c"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)), (Texts{"ab", "c"}));
  tok = make(abc_vocab({"a b", "ab c"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)), (Texts{"abc"}));
}

TEST(BpeTokenizer, EqualRanksMergeLeftmostFirst) {
  VocabSpec s;
  s.tokens = {{"a"}, {"aa"}};
  s.merges = {"a a"};
  const auto tok = make(s);
  EXPECT_EQ(texts_of(*tok, tok->encode("aaa", false, false)), (Texts{"aa", "a"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("aaaaa", false, false)), (Texts{"aa", "aa", "a"}));
}

TEST(BpeTokenizer, FirstRankOfADuplicatedMergeWins) {
  // "a b" is listed at rank 0 and again at rank 2; "b c" (rank 1) must lose.
  auto tok = make(abc_vocab({"a b", "b c", "a b"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)), (Texts{"ab", "c"}));
}

TEST(BpeTokenizer, SpacesAreByteEncoded) {
  const auto tok = make(abc_vocab({kG + " a"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("a a", false, false)), (Texts{"a", kG + "a"}));
}

TEST(BpeTokenizer, MergeResultThatIsNoTokenFallsBackToAsciiBytes) {
  // llama.cpp looks each byte of the merged text up as a one-byte token:
  // "ab" gives "a" "b"; "Ġb" gives only "b" (the two bytes of "Ġ" are no
  // tokens and vanish).
  VocabSpec s;
  s.tokens = {{"a"}, {"b"}, {kG}};
  s.merges = {"a b", kG + " b"};
  const auto tok = make(s);
  EXPECT_EQ(texts_of(*tok, tok->encode("ab", false, false)), (Texts{"a", "b"}));
  EXPECT_EQ(texts_of(*tok, tok->encode(" b", false, false)), (Texts{"b"}));
}

TEST(BpeTokenizer, ByteWithoutTokenIsDropped) {
  VocabSpec s;
  s.tokens = {{"a"}};
  const auto tok = make(s);
  EXPECT_EQ(texts_of(*tok, tok->encode("axa", false, false)), (Texts{"a", "a"}));
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeWordTokens) {
  // Llama 3 ("llama-bpe") skips BPE for a word that is a token as a whole.
  auto spec = abc_vocab({"a b"});
  auto tok = make(spec);
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)), (Texts{"ab", "c"}));
  spec.pre = "llama-bpe";
  spec.bos = 0;  // llama-bpe adds BOS by default, so it needs one (as in llama.cpp)
  tok = make(spec);
  EXPECT_EQ(texts_of(*tok, tok->encode("abc", false, false)), (Texts{"abc"}));
}

// GPT-2's character for a byte.
std::string g(unsigned char byte) { return std::string(unicode::byte_to_unicode(byte)); }

TEST(BpeTokenizer, InvalidUtf8BecomesReplacementCharacter) {
  // As in llama.cpp, a byte that starts no valid sequence is read as U+FFFD
  // (EF BF BD) before byte encoding.
  const std::string fffd = g(0xEF) + g(0xBF) + g(0xBD);
  VocabSpec s;
  s.tokens = {{"a"}, {g(0xEF) + g(0xBF)}, {fffd}};
  s.merges = {g(0xEF) + " " + g(0xBF), g(0xEF) + g(0xBF) + " " + g(0xBD)};
  const auto tok = make(s);
  EXPECT_EQ(texts_of(*tok, tok->encode("a\xFF", false, false)), (Texts{"a", fffd}));
  EXPECT_EQ(tok->decode(tok->encode("\x80", false, false)), "\xEF\xBF\xBD");
}

TEST(BpeTokenizer, UserDefinedTokensAlwaysMatchControlOnlyWhenParsed) {
  VocabSpec s;
  s.tokens = {
      {"a"}, {"<"}, {">"}, {"x"}, {"<x>", TokenType::UserDefined}, {"<c>", TokenType::Control},
      {"c"}};
  const auto tok = make(s);
  EXPECT_EQ(texts_of(*tok, tok->encode("a<x>a", false, false)), (Texts{"a", "<x>", "a"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("<c>", false, false)), (Texts{"<", "c", ">"}));
  EXPECT_EQ(texts_of(*tok, tok->encode("<c>", false, true)), (Texts{"<c>"}));
}

TEST(BpeTokenizer, DefaultsFollowThePreTokenizer) {
  // Without bos_token_id, BOS defaults to id 11 (if the vocab has it); only
  // Llama-3-style pre-tokenizers add it by default.
  VocabSpec s;
  for (char c = 'a'; c <= 'p'; ++c) s.tokens.push_back({std::string(1, c)});
  auto tok = make(s);
  EXPECT_EQ(tok->bos(), 11);
  EXPECT_EQ(tok->eos(), 11);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->encode("a", true, false), (std::vector<TokenId>{0}));
  s.pre = "llama-bpe";
  tok = make(s);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->encode("a", true, false), (std::vector<TokenId>{11, 0}));
  s.pre = "chatglm-bpe";  // no default BOS
  tok = make(s);
  EXPECT_EQ(tok->bos(), -1);
}

TEST(BpeTokenizer, UnknownPreTokenizerIsAnError) {
  auto spec = abc_vocab({});
  spec.pre = "no-such-pre";
  try {
    make(spec);
    FAIL() << "expected hearth::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("test.gguf"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.ggml.pre"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no-such-pre"), std::string::npos) << msg;
  }
}

TEST(BpeTokenizer, MissingPreMeansDefault) {
  auto spec = abc_vocab({"a b"});
  spec.pre = "";
  const auto tok = make(spec);
  EXPECT_EQ(tok->pre_tokenizer_name(), "default");
  EXPECT_EQ(tok->n_merges(), 1u);
}

TEST(BpeTokenizer, MissingMergesIsAnError) {
  auto spec = abc_vocab({});
  spec.write_merges = false;
  try {
    make(spec);
    FAIL() << "expected hearth::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.merges"), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizer, DecodeMapsCharactersBackToBytes) {
  VocabSpec s;
  s.tokens = {{kG + "world"}, {"\xC3\xA9"}, {"a b"}, {"?"}, {kG}};
  const auto tok = make(s);
  EXPECT_EQ(tok->token_to_piece(0), " world");
  EXPECT_EQ(tok->token_to_piece(1), "\xE9");  // "é" is GPT-2's character for byte 0xE9
  // A character outside the byte map (here the space) renders as llama.cpp's
  // marker, which repeats the whole token text.
  EXPECT_EQ(tok->token_to_piece(2), "a[UNK_BYTE_0x20a b]b");
  // gpt-2 cleans up tokenization spaces on decode: " ?" -> "?".
  EXPECT_EQ(tok->decode({0, 4, 3}), " world?");
}

TEST(BpeTokenizer, CleanUpSpacesFollowsThePreTokenizer) {
  VocabSpec s;
  s.tokens = {{"a"}, {kG}, {"?"}};
  auto tok = make(s);
  EXPECT_EQ(tok->decode({0, 1, 2}), "a?");
  s.pre = "qwen2";
  tok = make(s);
  EXPECT_EQ(tok->decode({0, 1, 2}), "a ?");
}

TEST(BpeTokenizer, LongWordsMergeInNLogN) {
  // One 256 KiB word: quadratic merging would take minutes.
  VocabSpec s;
  s.tokens = {{"a"}, {"aa"}, {"aaaa"}, {"aaaaaaaa"}};
  s.merges = {"a a", "aa aa", "aaaa aaaa"};
  const auto tok = make(s);
  const auto ids = tok->encode(std::string(1 << 18, 'a'), false, false);
  EXPECT_EQ(ids.size(), (1u << 18) / 8);
  EXPECT_EQ(tok->decode(ids), std::string(1 << 18, 'a'));
}

}  // namespace
}  // namespace hearth
