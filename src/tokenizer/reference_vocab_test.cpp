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

// Every case tokenizes exactly as llama.cpp does (no BOS, parse_special off)
// and, as llama.cpp's own test shows for these vocabs, decodes back to the
// input with special tokens rendered.
TEST_P(ReferenceVocab, MatchesLlamaCpp) {
  HEARTH_REQUIRE_SHARED(shared);
  const auto path = shared / "vocab" / ("ggml-vocab-" + GetParam() + ".gguf");
  const auto file = gguf::File::open(path.string());
  const auto tok = Tokenizer::from_gguf(file);
  const auto cases = read_cases(path);
  ASSERT_FALSE(cases.empty());

  int encode_failures = 0, decode_failures = 0;
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
      ++decode_failures;
      ADD_FAILURE() << GetParam() << " case " << i << " decodes to \"" << printable(decoded)
                    << "\", not \"" << printable(c.text) << "\"";
    }
  }
  EXPECT_EQ(encode_failures, 0) << "of " << cases.size() << " cases";
  EXPECT_EQ(decode_failures, 0) << "of " << cases.size() << " cases";
}

INSTANTIATE_TEST_SUITE_P(Spm, ReferenceVocab, ::testing::Values("llama-spm", "phi-3"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

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
