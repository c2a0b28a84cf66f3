// `hearth run` driven as a user would: output text, determinism across thread
// counts, and one clear error line for bad model files.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "shared_data.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using testing::hearth_binary;
using testing::run_command;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() /
                       ("hearth_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

TEST(RunCommand, Stories260KGreedyTextMatchesLlama2c) {
  HEARTH_REQUIRE_SHARED(shared);
  const std::string expected =
      slurp(shared / "models" / "testvectors" / "stories260K_greedy_n200_expected.txt");
  ASSERT_GT(expected.size(), 100u);
  const std::string model = (shared / "models" / "stories260K.gguf").string();
  std::string outputs[2];
  for (int threads = 1; threads <= 2; ++threads) {
    const auto r = run_command(hearth_binary().string() + " run --model '" + model +
                               "' --prompt 'Once upon a time' --temp 0 -n 200 --threads " +
                               std::to_string(threads) + " 2>/dev/null");
    ASSERT_EQ(r.exit_code, 0);
    std::string text = r.out;
    if (!text.empty() && text[0] == ' ') text.erase(0, 1);
    EXPECT_EQ(text.substr(0, expected.size()), expected) << "threads " << threads;
    outputs[threads - 1] = r.out;
  }
  EXPECT_EQ(outputs[0], outputs[1]) << "1 and 2 threads must give identical greedy output";
}

TEST(RunCommand, NoEchoPrintsOnlyTheContinuation) {
  HEARTH_REQUIRE_SHARED(shared);
  const std::string model = (shared / "models" / "stories260K.gguf").string();
  const auto r = run_command(hearth_binary().string() + " run --model '" + model +
                             "' --prompt 'Once upon a time' --temp 0 -n 8 --no-echo 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind(", there was a little girl", 0), 0u) << r.out;
}

TEST(RunCommand, SameSeedSameTextAtTemperature) {
  HEARTH_REQUIRE_SHARED(shared);
  const std::string cmd = hearth_binary().string() + " run --model '" +
                          (shared / "models" / "stories260K.gguf").string() +
                          "' --prompt 'Once upon a time' --temp 1.0 -n 40 --seed ";
  const auto a = run_command(cmd + "42 2>/dev/null");
  const auto b = run_command(cmd + "42 2>/dev/null");
  const auto c = run_command(cmd + "43 2>/dev/null");
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

// A bad model gives exactly one error line naming the file, and a non-zero exit.
void expect_one_line_error(const std::string& model_path, const std::string& must_contain) {
  const fs::path err = temp_dir() / "stderr.txt";
  const auto r = run_command(hearth_binary().string() + " run --model '" + model_path +
                             "' --prompt hi 2>'" + err.string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  const std::string msg = slurp(err);
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 1) << msg;
  EXPECT_NE(msg.find(model_path), std::string::npos) << msg;
  EXPECT_NE(msg.find(must_contain), std::string::npos) << msg;
}

TEST(RunCommand, MissingModelIsOneClearError) {
  expect_one_line_error((temp_dir() / "no-such-model.gguf").string(), "cannot open");
}

TEST(RunCommand, CorruptModelIsOneClearError) {
  HEARTH_REQUIRE_SHARED(shared);
  const std::string bytes = slurp(shared / "models" / "stories260K.gguf");
  const fs::path truncated = temp_dir() / "truncated.gguf";
  std::ofstream(truncated, std::ios::binary).write(bytes.data(), 4096);
  expect_one_line_error(truncated.string(), "truncated");

  const fs::path not_gguf = temp_dir() / "not-a-model.gguf";
  std::ofstream(not_gguf, std::ios::binary) << "this is not a model file at all\n";
  expect_one_line_error(not_gguf.string(), "not a GGUF file");
}

TEST(LogitsCommand, WritesEveryPositionAndPrintsGreedyIds) {
  HEARTH_REQUIRE_SHARED(shared);
  const fs::path out = temp_dir() / "logits.f32";
  const auto r = run_command(hearth_binary().string() + " logits --model '" +
                             (shared / "models" / "stories260K.gguf").string() +
                             "' --tokens 1,403,407,261,378 --greedy 5 --out '" + out.string() +
                             "' 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  // Reference: stories260K-text.json's greedy continuation of this prompt.
  EXPECT_EQ(r.out, "432 383 286 261 376\n");
  EXPECT_EQ(fs::file_size(out), 5u * 512u * sizeof(float));
}

TEST(LogitsCommand, RejectsBadTokenList) {
  HEARTH_REQUIRE_SHARED(shared);
  const auto r = run_command(hearth_binary().string() + " logits --model '" +
                             (shared / "models" / "stories260K.gguf").string() +
                             "' --tokens 1,x,3 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"x\" is not a token id"), std::string::npos) << r.out;
  const auto big = run_command(hearth_binary().string() + " logits --model '" +
                               (shared / "models" / "stories260K.gguf").string() +
                               "' --tokens 1,99999 2>&1");
  EXPECT_NE(big.exit_code, 0);
  EXPECT_NE(big.out.find("out of range"), std::string::npos) << big.out;
}

}  // namespace
}  // namespace hearth
