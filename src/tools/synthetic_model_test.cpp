// Synthetic models: the presets have the published sizes, the files load as
// real models with exactly the configured shapes, and the bytes follow from
// the seed alone.
#include "tools/synthetic_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "gguf/gguf.h"
#include "model/model.h"
#include "shared_data.h"
#include "tensor/quants.h"
#include "util/error.h"

namespace hearth::tools {
namespace {

namespace fs = std::filesystem;

class SyntheticModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hearth_synth_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

std::string write(const ModelShape& shape, const std::string& type, const std::string& path,
                  uint64_t seed = 7, int threads = 2) {
  SynthOptions opt;
  opt.seed = seed;
  opt.threads = threads;
  write_synthetic_model(plan_model(shape, parse_weight_format(type)), path, opt);
  return path;
}

// Totals from each model card / config: the plans hold every tensor.
TEST_F(SyntheticModel, PresetsHaveThePublishedParameterCounts) {
  const std::map<std::string, uint64_t> expected = {
      {"tinyllama-1.1b", 1'100'048'384ull},
      {"llama-3.2-1b", 1'235'814'400ull + 32},  // + rope_freqs (head_dim / 2)
      {"qwen2.5-0.5b", 494'032'768ull},
      {"qwen3-0.6b", 596'049'920ull},
      {"smollm2-360m", 361'821'120ull},
  };
  ASSERT_EQ(shape_presets().size(), expected.size());
  for (const auto& [name, n] : expected) {
    const ModelPlan plan = plan_model(find_shape(name), parse_weight_format("F16"));
    EXPECT_EQ(plan.n_params, n) << name;
  }
  // TinyLlama in F16: 2 bytes per matrix weight, 4 per norm weight.
  const ModelPlan tl = plan_model(find_shape("tinyllama-1.1b"), parse_weight_format("F16"));
  EXPECT_EQ(tl.tensors.size(), 2u + 22 * 9 + 1);
  EXPECT_EQ(tl.n_bytes, 2 * 1'100'048'384ull + 2 * (22 * 2 * 2048 + 2048));
}

// Each preset, shrunk to one layer and a small vocabulary, loads with its
// tokenizer and exactly the preset's per-layer shapes.
TEST_F(SyntheticModel, EveryPresetLoadsWithItsShapes) {
  for (const ModelShape& preset : shape_presets()) {
    SCOPED_TRACE(preset.name);
    const ModelShape s = shrink_shape(preset, 1, 300);
    const auto model = Model::load(write(s, "F16", path(preset.name + ".gguf")));
    const HParams& hp = model->hparams();
    EXPECT_EQ(hp.arch, preset.arch);
    EXPECT_EQ(hp.n_layer, 1);
    EXPECT_EQ(hp.n_vocab, 300);
    EXPECT_EQ(hp.n_embd, preset.n_embd);
    EXPECT_EQ(hp.n_head, preset.n_head);
    EXPECT_EQ(hp.n_head_kv, preset.n_head_kv);
    EXPECT_EQ(hp.head_dim, preset.head_size());
    EXPECT_EQ(hp.n_ff, preset.n_ff);
    EXPECT_EQ(hp.n_ctx_train, preset.n_ctx_train);
    EXPECT_FLOAT_EQ(hp.rope_freq_base, preset.rope_theta);
    EXPECT_FLOAT_EQ(hp.rms_eps, preset.rms_eps);
    EXPECT_EQ(model->output().data == model->token_embd().data, preset.tied);
    EXPECT_EQ(model->rope_freqs().size(), preset.llama3_rope ? size_t(preset.head_size() / 2) : 0u);
    const LayerWeights& L = model->layers()[0];
    EXPECT_EQ(L.w_down.cols, preset.n_ff);
    EXPECT_EQ(L.bq.size(), preset.arch == "qwen2" ? size_t(hp.q_dim()) : 0u);
    EXPECT_EQ(L.q_norm.size(), preset.arch == "qwen3" ? size_t(hp.head_dim) : 0u);

    const Tokenizer& tok = model->tokenizer();
    const auto ids = tok.encode("hello, world", /*add_special=*/true, /*parse_special=*/false);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], 1) << "BOS";
    EXPECT_EQ(tok.decode(std::vector<TokenId>(ids.begin() + 1, ids.end())), "hello, world");
  }
}

TEST_F(SyntheticModel, SameSeedSameBytesWhateverTheThreads) {
  const ModelShape s = shrink_shape(find_shape("smollm2-360m"), 1, 300);
  const auto a = testing::read_file_bytes(write(s, "Q8_0", path("a.gguf"), 11, 1));
  const auto b = testing::read_file_bytes(write(s, "Q8_0", path("b.gguf"), 11, 2));
  const auto c = testing::read_file_bytes(write(s, "Q8_0", path("c.gguf"), 12, 2));
  ASSERT_GT(a.size(), 1000000u);
  EXPECT_TRUE(a == b) << "threads must not change the bytes";
  EXPECT_FALSE(a == c) << "another seed, other weights";
}

// Matrices ~ N(0, 1/cols), norms ~ 1, and a Q4_K_M file holds the mix. (A
// narrowed TinyLlama layer: rows stay whole K-quant blocks, the test stays fast.)
TEST_F(SyntheticModel, WeightsHaveRealisticScale) {
  ModelShape s = shrink_shape(find_shape("tinyllama-1.1b"), 1, 300);
  s.n_embd = 512, s.n_head = 8, s.n_head_kv = 2, s.n_ff = 1536;
  const gguf::File f = gguf::File::open(write(s, "Q4_K_M", path("q.gguf")));
  EXPECT_EQ(f.get_int("general.file_type"), 15);
  const auto stats = [&](const std::string& name) {
    const gguf::TensorInfo* t = f.find_tensor(name);
    EXPECT_NE(t, nullptr) << name;
    std::vector<float> v(static_cast<size_t>(t->n_elements));
    dequantize_row(t->type, t->data, v.data(), t->n_elements);
    double sum = 0, sq = 0;
    for (const float x : v) sum += x, sq += static_cast<double>(x) * x;
    const double mean = sum / v.size();
    return std::pair<double, double>(mean, std::sqrt(sq / v.size() - mean * mean));
  };
  const auto [q_mean, q_sd] = stats("blk.0.attn_q.weight");
  EXPECT_NEAR(q_mean, 0.0, 1e-3);
  EXPECT_NEAR(q_sd, 1 / std::sqrt(512.0), 0.05 / std::sqrt(512.0));
  const auto [d_mean, d_sd] = stats("blk.0.ffn_down.weight");
  EXPECT_NEAR(d_sd, 1 / std::sqrt(1536.0), 0.05 / std::sqrt(1536.0));
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->type, GgmlType::Q6_K);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_up.weight")->type, GgmlType::Q4_K);
  EXPECT_EQ(f.find_tensor("output.weight")->type, GgmlType::Q6_K);
  const auto [n_mean, n_sd] = stats("blk.0.attn_norm.weight");
  EXPECT_NEAR(n_mean, 1.0, 0.01);
  EXPECT_LT(n_sd, 0.05);
}

TEST(Llama3Rope, FactorsRunFromOneToTheScaleFactor) {
  const auto f = llama3_rope_factors(find_shape("llama-3.2-1b"));
  ASSERT_EQ(f.size(), 32u);
  EXPECT_FLOAT_EQ(f.front(), 1.0f);
  EXPECT_FLOAT_EQ(f.back(), 32.0f);
  for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]);
}

TEST(SyntheticShapes, RejectsUnknownAndTooSmall) {
  EXPECT_THROW(find_shape("gpt-5"), Error);
  EXPECT_THROW(plan_model(shrink_shape(find_shape("smollm2-360m"), 1, 100), parse_weight_format("F16")),
               Error);
  EXPECT_THROW(shrink_shape(find_shape("smollm2-360m"), -1, 0), Error);
}

}  // namespace
}  // namespace hearth::tools
