// `hearth synth` and `hearth bench` driven as a user would: a tiny synthetic
// model, benchmarked in JSON and Markdown. No timing assertions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "shared_data.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using testing::hearth_binary;
using testing::run_command;

class BenchCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("hearth_bench_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    model_ = (dir_ / "smol.gguf").string();
    // One layer of SmolLM2-360M with a 300-token vocabulary: ~10M weights.
    const auto r = run_command(hearth_binary().string() +
                               " synth --shape smollm2-360m --layers 1 --vocab 300 --type F16 -q -o '" +
                               model_ + "'");
    ASSERT_EQ(r.exit_code, 0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static fs::path dir_;
  static std::string model_;
};
fs::path BenchCommand::dir_;
std::string BenchCommand::model_;

TEST_F(BenchCommand, JsonHasOneObjectPerTestWithRawSamples) {
  const auto r = run_command(hearth_binary().string() + " bench -m '" + model_ +
                             "' -p 8 -n 4 -r 2 -t 1,2 --json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u) << "pp8 and tg4 at 1 and 2 threads";
  std::set<std::string> seen;
  for (const auto& o : j) {
    for (const char* key : {"model_filename", "model_type", "model_size", "model_n_params", "file_type",
                            "n_threads", "n_prompt", "n_gen", "test", "test_time", "avg_ns", "stddev_ns",
                            "avg_ts", "stddev_ts", "samples_ns", "samples_ts", "isa", "cpu_info"}) {
      EXPECT_TRUE(o.contains(key)) << key;
    }
    seen.insert(o["test"].get<std::string>() + "/" + std::to_string(o["n_threads"].get<int>()));
    EXPECT_EQ(o["samples_ns"].size(), 2u);
    EXPECT_EQ(o["samples_ts"].size(), 2u);
    EXPECT_GT(o["avg_ts"].get<double>(), 0);
    EXPECT_EQ(o["file_type"], "F16");
    EXPECT_EQ(o["model_filename"], model_);
    EXPECT_EQ(o["model_type"], "llama 10M F16");
  }
  EXPECT_EQ(seen, (std::set<std::string>{"pp8/1", "pp8/2", "tg4/1", "tg4/2"}));
}

TEST_F(BenchCommand, MarkdownTableWithRoofline) {
  const auto r = run_command(hearth_binary().string() + " bench -m '" + model_ +
                             "' -p 8 -n 4 -r 1 -t 1 --membw --membw-size 16 --membw-passes 2 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("cpu: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory read bandwidth: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("roofline t/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("smol.gguf (llama 10M)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|     pp8 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|     tg4 |"), std::string::npos) << r.out;
}

TEST_F(BenchCommand, MembwAloneInJson) {
  const auto r = run_command(hearth_binary().string() +
                             " bench --membw --membw-size 16 --membw-passes 2 -t 1 --json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["test"], "membw");
  EXPECT_GT(j[0]["membw_gbps"].get<double>(), 0);
  EXPECT_EQ(j[0]["samples_gbps"].size(), 2u);
}

TEST_F(BenchCommand, BadInputIsOneErrorLine) {
  auto r = run_command(hearth_binary().string() + " bench 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("hearth: error: bench needs a model"), std::string::npos) << r.out;
  r = run_command(hearth_binary().string() + " bench -m '" + (dir_ / "missing.gguf").string() + "' 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("missing.gguf"), std::string::npos) << r.out;
  r = run_command(hearth_binary().string() + " synth --shape gpt-9 -o '" + (dir_ / "x.gguf").string() + "' 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("unknown model shape \"gpt-9\""), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "x.gguf"));
}

}  // namespace
}  // namespace hearth
