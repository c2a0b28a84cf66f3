// `hearth tokenize` driven as a user would, against llama.cpp's reference
// tokenizations in ../shared/vocab.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "shared_data.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using hearth::testing::hearth_binary;
using hearth::testing::run_command;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const fs::path& path) {
  const auto bytes = testing::read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// Case `index` of a reference vocab: its input bytes and the ids line.
struct Case {
  std::string text;
  std::string ids;  // space-separated, as --ids prints them
};

Case reference_case(const fs::path& gguf, size_t index) {
  static const std::string kSeparator = "\n__ggml_vocab_test__\n";
  const std::string inp = read_text(gguf.string() + ".inp");
  const std::string out = read_text(gguf.string() + ".out");
  Case c;
  size_t pos = 0;
  for (size_t i = 0; i <= index; ++i) {
    const size_t end = inp.find(kSeparator, pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << gguf << " has no case " << index;
      return c;
    }
    c.text = inp.substr(pos, end - pos);
    pos = end + kSeparator.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (size_t i = 0; i <= index; ++i) std::getline(lines, line);
  std::istringstream ids(line);
  for (long id; ids >> id;) {
    if (!c.ids.empty()) c.ids += ' ';
    c.ids += std::to_string(id);
  }
  return c;
}

class TokenizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth_tokenize_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `text` to a file and runs `hearth tokenize ARGS --file FILE`.
  testing::CommandResult tokenize_file(const std::string& args, const std::string& text,
                                       std::string* err = nullptr) {
    const fs::path input = dir_ / "input.txt";
    std::ofstream(input, std::ios::binary) << text;
    return tokenize(args + " --file " + shell_quote(input.string()), err);
  }

  testing::CommandResult tokenize(const std::string& args, std::string* err = nullptr) {
    const fs::path err_path = dir_ / "stderr.txt";
    auto r = run_command(shell_quote(hearth_binary().string()) + " tokenize " + args + " 2>" +
                         shell_quote(err_path.string()));
    if (err) *err = read_text(err_path);
    return r;
  }

  fs::path dir_;
};

TEST_F(TokenizeTest, IdsMatchReferenceVectors) {
  HEARTH_REQUIRE_SHARED(shared);
  // Per vocab: the long mixed case (45) and a short one with a newline (28).
  for (const char* vocab :
       {"gpt-2", "qwen2", "llama-bpe", "deepseek-llm", "bert-bge", "llama-spm"}) {
    const fs::path gguf = shared / "vocab" / ("ggml-vocab-" + std::string(vocab) + ".gguf");
    for (const size_t index : {45u, 28u}) {
      SCOPED_TRACE(std::string(vocab) + " case " + std::to_string(index));
      const Case c = reference_case(gguf, index);
      // The reference ids have no BOS/EOS: --no-bos.
      const auto r = tokenize_file("--ids --no-bos -m " + shell_quote(gguf.string()), c.text);
      ASSERT_EQ(r.exit_code, 0) << r.out;
      EXPECT_EQ(r.out, c.ids + "\n");
    }
  }
}

TEST_F(TokenizeTest, TextArgumentAndBos) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path gguf = shared / "vocab" / "ggml-vocab-llama-bpe.gguf";
  const Case c = reference_case(gguf, 11);  // "Hello world"
  ASSERT_EQ(c.text.find('\''), std::string::npos);
  // llama-bpe adds BOS (128000, tokenizer.ggml.bos_token_id) unless --no-bos.
  auto r = tokenize("--ids -m " + shell_quote(gguf.string()) + " " + shell_quote(c.text));
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "128000 " + c.ids + "\n");
  r = tokenize("--ids --no-bos -m " + shell_quote(gguf.string()) + " " + shell_quote(c.text));
  EXPECT_EQ(r.out, c.ids + "\n");
}

TEST_F(TokenizeTest, JsonIsValidAndCarriesExactBytes) {
  HEARTH_REQUIRE_SHARED(shared);
  // qwen2 round-trips every reference case (vocab/README.md), so the pieces
  // put together must give back the input, including emoji split across
  // byte-level tokens (partial UTF-8 pieces).
  const fs::path gguf = shared / "vocab" / "ggml-vocab-qwen2.gguf";
  const Case c = reference_case(gguf, 45);
  const auto r = tokenize_file("--json --no-bos -m " + shell_quote(gguf.string()), c.text);
  ASSERT_EQ(r.exit_code, 0);
  const auto json = nlohmann::json::parse(r.out);  // throws (fails the test) if invalid
  ASSERT_TRUE(json.is_array());
  std::string ids, joined;
  bool saw_partial = false;
  for (const auto& t : json) {
    if (!ids.empty()) ids += ' ';
    ids += std::to_string(t.at("id").get<int>());
    EXPECT_TRUE(t.at("text").is_string());
    if (t.contains("bytes")) {
      saw_partial = true;
      for (const int b : t["bytes"]) joined += static_cast<char>(b);
    } else {
      joined += t.at("piece").get<std::string>();
    }
  }
  EXPECT_EQ(ids, c.ids);
  EXPECT_EQ(joined, c.text);
  EXPECT_TRUE(saw_partial) << "case 45 has emoji split into partial UTF-8 tokens";
}

TEST_F(TokenizeTest, DefaultOutputIsOneLinePerToken) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path gguf = shared / "vocab" / "ggml-vocab-gpt-2.gguf";
  const Case c = reference_case(gguf, 28);  // "    Hello\n    Hello"
  const auto r = tokenize_file("--no-bos -m " + shell_quote(gguf.string()), c.text);
  ASSERT_EQ(r.exit_code, 0);
  std::istringstream lines(r.out), ids(c.ids);
  std::string line;
  for (std::string id; ids >> id;) {
    ASSERT_TRUE(std::getline(lines, line));
    // id TAB 'piece' TAB text; the piece is escaped, so the line holds no
    // raw newline even for the newline token.
    EXPECT_EQ(line.substr(0, id.size() + 2), id + "\t'") << line;
    EXPECT_NE(line.find("'\t"), std::string::npos) << line;
  }
  EXPECT_FALSE(std::getline(lines, line)) << "extra line: " << line;
  EXPECT_NE(r.out.find("'\\n"), std::string::npos) << "the newline is shown escaped";
}

TEST_F(TokenizeTest, ParseSpecialMatchesControlTokens) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path gguf = shared / "vocab" / "ggml-vocab-qwen2.gguf";
  const std::string m = "-m " + shell_quote(gguf.string());
  auto r = tokenize("--ids --no-bos --parse-special " + m + " '<|im_end|>'");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "151645\n");  // tokenizer.ggml.eos_token_id of this file
  r = tokenize("--ids --no-bos " + m + " '<|im_end|>'");
  EXPECT_NE(r.out, "151645\n");
}

TEST_F(TokenizeTest, ErrorsAreOneLineAndNonZero) {
  HEARTH_REQUIRE_SHARED(shared);
  std::string err;
  auto r = tokenize("-m " + shell_quote((dir_ / "missing.gguf").string()) + " hi", &err);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(err.find("missing.gguf"), std::string::npos) << err;
  const fs::path gguf = shared / "vocab" / "ggml-vocab-gpt-2.gguf";
  r = tokenize("-m " + shell_quote(gguf.string()), &err);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(err.find("--file"), std::string::npos) << err;
  r = tokenize(
      "-m " + shell_quote(gguf.string()) + " --file " + shell_quote((dir_ / "nope.txt").string()),
      &err);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(err.find("nope.txt"), std::string::npos) << err;
}

}  // namespace
}  // namespace hearth
