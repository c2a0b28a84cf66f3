// Hearth's tokenizers against llama.cpp's own outputs: the ggml-vocab-*
// reference vectors in ../shared/vocab and the stories260K text golden.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "shared_data.h"
#include "tokenizer/tokenizer.h"

namespace hearth {
namespace {

struct VocabCase {
  std::string text;
  std::vector<TokenId> ids;
};

std::string read_text(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = testing::read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// vocab/README.md: every case in .inp ends with this exact separator; line
// i of .out holds case i's ids, each preceded by a space.
std::vector<VocabCase> read_cases(const std::filesystem::path& gguf_path) {
  static const std::string kSeparator = "\n__ggml_vocab_test__\n";
  const std::string inp = read_text(gguf_path.string() + ".inp");
  const std::string out = read_text(gguf_path.string() + ".out");
  std::vector<VocabCase> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(kSeparator, pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << gguf_path << ".inp: trailing bytes without a separator";
      break;
    }
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + kSeparator.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    if (i >= cases.size()) break;
    std::istringstream ids(line);
    for (long id; ids >> id;) cases[i].ids.push_back(static_cast<TokenId>(id));
  }
  EXPECT_EQ(i, cases.size()) << gguf_path << ": .out lines and .inp cases disagree";
  return cases;
}

// The text with bytes outside printable ASCII escaped, for failure messages.
std::string printable(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string join(const std::vector<TokenId>& ids) {
  std::string out;
  for (TokenId id : ids) {
    out += ' ';
    out += std::to_string(id);
  }
  return out;
}

class ReferenceVocab : public ::testing::TestWithParam<std::string> {};

// How many cases llama.cpp itself fails to round-trip (decode(encode(text)) with
// special tokens rendered), per vocab/README.md: the "clean up tokenization
// spaces" rule changes " ?"-like text in some BPE vocabs, WordPiece lowercases
// and re-spaces.
int expected_decode_differences(const std::string& vocab) {
  if (vocab == "bert-bge") return 42;
  for (const char* v : {"gpt-2", "falcon", "mpt", "refact", "starcoder", "llama-bpe"}) {
    if (vocab == v) return 2;
  }
  return 0;
}

// Every case tokenizes exactly as llama.cpp does (no BOS, parse_special off),
// and decoding the reference ids gives back the input wherever llama.cpp's
// own decode does.
TEST_P(ReferenceVocab, MatchesLlamaCpp) {
  HEARTH_REQUIRE_SHARED(shared);
  const auto path = shared / "vocab" / ("ggml-vocab-" + GetParam() + ".gguf");
  const auto file = gguf::File::open(path.string());
  const auto tok = Tokenizer::from_gguf(file);
  const auto cases = read_cases(path);
  ASSERT_FALSE(cases.empty());

  int encode_failures = 0, decode_differences = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const auto ids = tok->encode(c.text, false, false);
    if (ids != c.ids) {
      ++encode_failures;
      ADD_FAILURE() << GetParam() << " case " << i << " \"" << printable(c.text)
                    << "\"\n  expected:" << join(c.ids) << "\n  got:     " << join(ids);
    }
    const std::string decoded = tok->decode(c.ids, true);
    if (decoded != c.text) {
      ++decode_differences;
      if (expected_decode_differences(GetParam()) == 0) {
        ADD_FAILURE() << GetParam() << " case " << i << " decodes to \"" << printable(decoded)
                      << "\", not \"" << printable(c.text) << "\"";
      }
    }
  }
  EXPECT_EQ(encode_failures, 0) << "of " << cases.size() << " cases";
  EXPECT_EQ(decode_differences, expected_decode_differences(GetParam()))
      << "of " << cases.size() << " cases do not round-trip";
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, ReferenceVocab,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2",
                                           "deepseek-coder", "deepseek-llm", "falcon", "mpt",
                                           "refact", "starcoder", "bert-bge"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// The synthetic BPE models (vocab: GPT-2's 256 byte tokens + its first 256
// merges) carry pre-tokenizers "smollm" and "qwen2", neither of which cleans
// up spaces on decode. With every byte a token, byte-level BPE then decodes
// any valid UTF-8 back to itself: check that on all reference inputs.
TEST(SyntheticBpeModels, LoadAndRoundTripEveryInput) {
  HEARTH_REQUIRE_SHARED(shared);
  const auto inputs = read_cases(shared / "vocab" / "ggml-vocab-gpt-2.gguf");
  for (const char* name : {"llama-bpe-tied-F32", "llama-bpe-tied-Q8_0", "qwen2-F32", "qwen3-F32"}) {
    SCOPED_TRACE(name);
    const auto file = gguf::File::open((shared / "models" / (std::string(name) + ".gguf")).string());
    const auto tok = Tokenizer::from_gguf(file);
    EXPECT_EQ(tok->model_name(), "gpt2");
    EXPECT_EQ(tok->pre_tokenizer_name(), file.get_string("tokenizer.ggml.pre"));
    EXPECT_EQ(tok->n_vocab(), 513);
    EXPECT_EQ(tok->n_merges(), 256u);
    for (const auto& c : inputs) {
      const auto ids = tok->encode(c.text, false, false);
      EXPECT_EQ(tok->decode(ids), c.text) << printable(c.text);
      for (const TokenId id : ids) EXPECT_LT(id, 512) << "<|endoftext|> is never produced from text";
    }
  }
}

// stories260K-text.json: prompts tokenized by llama.cpp (add_special on,
// parse_special off), then generated tokens and their detokenized text.
TEST(Stories260KGolden, PromptTokensAndDetokenizedText) {
  HEARTH_REQUIRE_SHARED(shared);
  const auto file = gguf::File::open((shared / "models" / "stories260K.gguf").string());
  const auto tok = Tokenizer::from_gguf(file);
  const auto golden = nlohmann::json::parse(read_text(shared / "golden" / "stories260K-text.json"));
  ASSERT_FALSE(golden["runs"].empty());
  for (const auto& run : golden["runs"]) {
    const std::string prompt = run["prompt"];
    SCOPED_TRACE("prompt \"" + prompt + "\"");
    const auto expected_prompt = run["prompt_tokens"].get<std::vector<TokenId>>();
    EXPECT_EQ(tok->encode(prompt, true, false), expected_prompt);

    const auto pieces = run["prompt_pieces"].get<std::vector<std::string>>();
    ASSERT_EQ(pieces.size(), expected_prompt.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      EXPECT_EQ(tok->token_text(expected_prompt[i]), pieces[i]);
    }

    const auto generated = run["greedy_tokens"].get<std::vector<TokenId>>();
    std::string streamed;
    for (TokenId id : generated) streamed += tok->token_to_piece(id);
    EXPECT_EQ(streamed, run["greedy_text_pieces_concat"].get<std::string>());

    std::vector<TokenId> all = expected_prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    EXPECT_EQ(tok->decode(all), run["detokenized_prompt_plus_greedy"].get<std::string>());
  }
}

}  // namespace
}  // namespace hearth
