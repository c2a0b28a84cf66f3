// Bench statistics, roofline arithmetic, report formatting and the bandwidth
// probe's bookkeeping. No timing assertions: only that numbers are sane.
#include "tools/bench.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "kernels/thread_pool.h"
#include "model/model.h"
#include "tools/membw.h"
#include "tools/synthetic_model.h"

namespace hearth::tools {
namespace {

TEST(BenchStats, MeanAndSampleStandardDeviation) {
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  const Stats s = mean_stddev(v);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7.0), 1e-12) << "n - 1 in the denominator, as llama-bench";
  EXPECT_DOUBLE_EQ(mean_stddev(std::vector<double>{3.5}).stddev, 0.0);
  EXPECT_DOUBLE_EQ(mean_stddev(std::vector<double>{}).mean, 0.0);
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(median({4, 1, 2, 3}), 2.5);
}

// Tokens/s are averaged per sample (not tokens / mean time), as llama-bench.
TEST(BenchStats, SamplesBecomeTokensPerSecond) {
  BenchResult r;
  r.n_prompt = 512;
  set_samples(r, {1'000'000'000, 2'000'000'000});
  ASSERT_EQ(r.samples_ts.size(), 2u);
  EXPECT_DOUBLE_EQ(r.samples_ts[0], 512.0);
  EXPECT_DOUBLE_EQ(r.samples_ts[1], 256.0);
  EXPECT_DOUBLE_EQ(r.ts.mean, 384.0);
  EXPECT_NEAR(r.ts.stddev, 256.0 / std::sqrt(2.0), 1e-9);
  EXPECT_DOUBLE_EQ(r.ns.mean, 1.5e9);
}

TEST(BenchStats, RooflineOfTokenGeneration) {
  BenchResult r;
  r.n_gen = 129;  // mean cached positions: 64
  r.model.weight_bytes_per_token = 1'000'000'000;
  r.model.kv_bytes_per_position = 1'000'000;
  set_samples(r, {129'000'000'000ull / 15});  // 15 t/s
  add_roofline(r, 32.0);
  ASSERT_TRUE(r.roofline_ts.has_value());
  EXPECT_DOUBLE_EQ(*r.bytes_per_token, 1.064e9);
  EXPECT_NEAR(*r.roofline_ts, 32e9 / 1.064e9, 1e-9);
  EXPECT_NEAR(*r.roofline_pct, 100 * 15 / (32e9 / 1.064e9), 1e-6);

  BenchResult small = r;
  small.roofline_ts.reset();
  small.model.weight_bytes_per_token = 1'000'000;
  add_roofline(small, 32.0);
  EXPECT_FALSE(small.roofline_ts.has_value()) << "cache-resident models have no DRAM roofline";

  BenchResult pp;
  pp.n_prompt = 512;
  add_roofline(pp, 32.0);
  EXPECT_FALSE(pp.roofline_ts.has_value()) << "prompt processing is not bandwidth-bound";

  // A probe per repetition: each repetition against its own bandwidth (15 t/s
  // at 32 GB/s, 30 t/s at 64 GB/s: the same share of the roofline), the
  // roofline from their median; the single figure passed is then unused.
  BenchResult drift = r;
  set_samples(drift, {129'000'000'000ull / 15, 129'000'000'000ull / 30, 129'000'000'000ull / 30});
  drift.samples_membw_gbps = {32.0, 64.0, 64.0};
  add_roofline(drift, 1.0);
  EXPECT_DOUBLE_EQ(*drift.membw_gbps, 64.0);
  EXPECT_NEAR(*drift.roofline_ts, 64e9 / 1.064e9, 1e-9);
  EXPECT_NEAR(*drift.roofline_pct, 100 * 15 / (32e9 / 1.064e9), 1e-6);
}

TEST(BenchReport, SizeLabels) {
  EXPECT_EQ(size_label(1'100'048'384), "1.1B");
  EXPECT_EQ(size_label(494'032'768), "494M");
  EXPECT_EQ(size_label(292'000), "292K");
  EXPECT_EQ(size_label(12), "12");
}

TEST(BenchReport, MarkdownAndJsonCarryEveryField) {
  BenchResult r;
  r.model.filename = "m.gguf";
  r.model.arch = "llama";
  r.model.size_label = "1.1B";
  r.model.type = "Q4_K_M";
  r.model.size_bytes = 700ull << 20;
  r.model.n_params = 1'100'048'384;
  r.threads = 2;
  r.isa = "avx512";
  r.n_gen = 128;
  r.test = "tg128";
  set_samples(r, {1'000'000'000, 1'000'000'000});
  const std::string header = markdown_header(false);
  const std::string row = markdown_row(r, false);
  EXPECT_NE(header.find("| model"), std::string::npos);
  EXPECT_NE(row.find("m.gguf (llama 1.1B)"), std::string::npos) << row;
  EXPECT_NE(row.find("700.00 MiB"), std::string::npos) << row;
  EXPECT_NE(row.find("1.10 B"), std::string::npos) << row;
  EXPECT_NE(row.find("128.00 ± 0.00"), std::string::npos) << row;
  // Same number of columns in the header, its rule and the rows.
  const auto bars = [](const std::string& s) { return std::count(s.begin(), s.end(), '|'); };
  EXPECT_EQ(bars(header), 2 * bars(row));
  EXPECT_EQ(bars(markdown_header(true)), 2 * bars(markdown_row(r, true)));

  const auto j = to_json(r);
  for (const char* key : {"model_filename", "model_type", "model_size", "model_n_params", "n_threads",
                          "n_prompt", "n_gen", "test", "avg_ts", "stddev_ts", "samples_ns", "samples_ts",
                          "isa", "cpu_info", "file_type", "roofline_ts"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["samples_ns"].size(), 2u);
  EXPECT_TRUE(j["roofline_ts"].is_null());
}

TEST(BenchModel, BytesPerTokenCountTheOutputMatrixOnce) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("hearth_bench_unit_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const bool tied : {false, true}) {
    ModelShape s = shrink_shape(find_shape("smollm2-360m"), 1, 400);
    s.tied = tied;
    const std::string path = (dir / (tied ? "t.gguf" : "u.gguf")).string();
    const ModelPlan plan = plan_model(s, parse_weight_format("F16"));
    write_synthetic_model(plan, path, {});
    const ModelInfo info = describe_model(*Model::load(path), path);
    EXPECT_EQ(info.n_params, plan.n_params);
    EXPECT_EQ(info.size_bytes, plan.n_bytes);
    EXPECT_EQ(info.type, "F16");
    EXPECT_EQ(info.arch, "llama");
    const uint64_t embd_bytes = 960ull * 400 * 2;
    // Untied: all but the embedding, plus one embedding row; tied: everything.
    EXPECT_EQ(info.weight_bytes_per_token, tied ? plan.n_bytes : plan.n_bytes - embd_bytes + 960 * 2);
    EXPECT_EQ(info.kv_bytes_per_position, 2ull * 1 * 320 * 4);
  }
  fs::remove_all(dir);
}

TEST(Membw, MeasuresEveryPass) {
  ThreadPool pool(2);
  const MembwResult m = measure_read_bandwidth(pool, (8u << 20) + 100, 3);
  EXPECT_EQ(m.threads, 2);
  EXPECT_EQ(m.bytes % 4096, 0u);
  EXPECT_GE(m.bytes, 8u << 19);
  ASSERT_EQ(m.gbps.size(), 3u);
  for (const double g : m.gbps) EXPECT_TRUE(std::isfinite(g) && g > 0) << g;
  EXPECT_GT(m.median_gbps, 0);
}

}  // namespace
}  // namespace hearth::tools
