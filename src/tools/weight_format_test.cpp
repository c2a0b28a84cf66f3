// The per-tensor type rule against llama.cpp: hand-checked cases at real
// model sizes, and every tensor of the llama-quantize outputs in ../shared.
#include "tools/weight_format.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "gguf/gguf.h"
#include "shared_data.h"
#include "tools/synthetic_model.h"
#include "util/error.h"

namespace hearth::tools {
namespace {

std::map<std::string, GgmlType> types_of(const ModelPlan& plan) {
  std::map<std::string, GgmlType> m;
  for (const auto& t : plan.tensors) m[t.name] = t.type;
  return m;
}

std::string layer_name(int il, const char* what) { return "blk." + std::to_string(il) + "." + what; }

TEST(WeightFormat, ParsesFileTypesAndPlainTypes) {
  const WeightFormat m = parse_weight_format("q4_k_m");
  EXPECT_EQ(m.name, "Q4_K_M");
  EXPECT_EQ(m.base, GgmlType::Q4_K);
  EXPECT_EQ(m.ftype_id, 15u);
  EXPECT_FALSE(m.pure);
  EXPECT_TRUE(parse_weight_format("Q4_K_M", /*pure=*/true).pure);
  EXPECT_TRUE(parse_weight_format("F16").pure) << "float formats have no mix";

  const WeightFormat k = parse_weight_format("Q4_K");
  EXPECT_EQ(k.base, GgmlType::Q4_K);
  EXPECT_TRUE(k.pure);
  EXPECT_FALSE(k.ftype_id.has_value());

  EXPECT_THROW(parse_weight_format("Q8_K"), Error) << "an activation format, never stored";
  EXPECT_THROW(parse_weight_format("Q4_K_X"), Error);
  EXPECT_EQ(llama_ftype_name(7), "Q8_0");
  EXPECT_FALSE(llama_ftype_name(4).has_value());
}

// llama.cpp's use_more_bits for 22 layers: the first and last eighth (0, 1
// and 19..21) and every third layer from 2 on, counting from 2 (4, 7, ...).
TEST(WeightFormat, Q4KMOfTinyLlamaPromotesTheLlamaCppLayers) {
  const auto types = types_of(plan_model(find_shape("tinyllama-1.1b"), parse_weight_format("Q4_K_M")));
  const std::set<int> more_bits = {0, 1, 4, 7, 10, 13, 16, 19, 20, 21};
  for (int il = 0; il < 22; ++il) {
    const GgmlType promoted = more_bits.count(il) ? GgmlType::Q6_K : GgmlType::Q4_K;
    EXPECT_EQ(types.at(layer_name(il, "attn_v.weight")), promoted) << il;
    EXPECT_EQ(types.at(layer_name(il, "ffn_down.weight")), promoted) << il;
    EXPECT_EQ(types.at(layer_name(il, "attn_q.weight")), GgmlType::Q4_K);
    EXPECT_EQ(types.at(layer_name(il, "ffn_up.weight")), GgmlType::Q4_K);
    EXPECT_EQ(types.at(layer_name(il, "attn_norm.weight")), GgmlType::F32);
  }
  EXPECT_EQ(types.at("output.weight"), GgmlType::Q6_K);
  EXPECT_EQ(types.at("token_embd.weight"), GgmlType::Q4_K) << "untied: the embedding keeps the base type";
}

// 896 columns are not a whole number of 256-element K-quant blocks: llama.cpp
// falls back (Q4_K -> Q5_0, Q6_K -> Q8_0), as Qwen2.5-0.5B Q4_K_M files show.
TEST(WeightFormat, Q4KMOfQwen25FallsBackForNarrowRows) {
  const auto types = types_of(plan_model(find_shape("qwen2.5-0.5b"), parse_weight_format("Q4_K_M")));
  EXPECT_EQ(types.at("token_embd.weight"), GgmlType::Q8_0) << "tied output, 896 % 256 != 0";
  EXPECT_EQ(types.count("output.weight"), 0u);
  EXPECT_EQ(types.at("blk.0.attn_q.weight"), GgmlType::Q5_0);
  // 24 layers: 0..2, 21..23 and 5, 8, ... get more bits.
  EXPECT_EQ(types.at("blk.0.attn_v.weight"), GgmlType::Q8_0);
  EXPECT_EQ(types.at("blk.5.attn_v.weight"), GgmlType::Q8_0);
  EXPECT_EQ(types.at("blk.4.attn_v.weight"), GgmlType::Q5_0);
  EXPECT_EQ(types.at("blk.0.ffn_down.weight"), GgmlType::Q6_K) << "4864 = 19 * 256";
  EXPECT_EQ(types.at("blk.4.ffn_down.weight"), GgmlType::Q4_K);
  EXPECT_EQ(types.at("blk.0.attn_q.bias"), GgmlType::F32);
}

TEST(WeightFormat, LegacyTypesGetAQ6KOutputUnlessPure) {
  const ModelShape s = find_shape("tinyllama-1.1b");
  auto types = types_of(plan_model(s, parse_weight_format("Q4_0")));
  EXPECT_EQ(types.at("output.weight"), GgmlType::Q6_K);
  EXPECT_EQ(types.at("token_embd.weight"), GgmlType::Q4_0);
  EXPECT_EQ(types.at("blk.3.ffn_down.weight"), GgmlType::Q4_0);
  types = types_of(plan_model(s, parse_weight_format("Q8_0")));
  EXPECT_EQ(types.at("output.weight"), GgmlType::Q8_0);
  types = types_of(plan_model(s, parse_weight_format("Q4_0", /*pure=*/true)));
  EXPECT_EQ(types.at("output.weight"), GgmlType::Q4_0);
}

// Rebuilds the shape of a llama-quantize output from its metadata.
ModelShape shape_of(const gguf::File& f) {
  ModelShape s;
  s.name = f.path();
  s.arch = f.get_string("general.architecture");
  const std::string p = s.arch + ".";
  s.n_layer = static_cast<int32_t>(f.get_int(p + "block_count"));
  s.n_embd = static_cast<int32_t>(f.get_int(p + "embedding_length"));
  s.n_head = static_cast<int32_t>(f.get_int(p + "attention.head_count"));
  s.n_head_kv = static_cast<int32_t>(f.get_int(p + "attention.head_count_kv"));
  s.head_dim = static_cast<int32_t>(f.get_int_or(p + "attention.key_length", 0));
  s.n_ff = static_cast<int32_t>(f.get_int(p + "feed_forward_length"));
  s.n_vocab = static_cast<int32_t>(f.find_tensor("token_embd.weight")->dim(1));
  s.tied = f.find_tensor("output.weight") == nullptr;
  return s;
}

// Every tensor llama-quantize wrote, by name, type and shape.
void expect_same_tensors(const std::filesystem::path& path, const WeightFormat& format) {
  SCOPED_TRACE(path.filename().string() + " as " + format.name + (format.pure ? " (pure)" : ""));
  const gguf::File f = gguf::File::open(path.string());
  const ModelPlan plan = plan_model(shape_of(f), format);
  ASSERT_EQ(plan.tensors.size(), f.tensors().size());
  for (const auto& t : plan.tensors) {
    const gguf::TensorInfo* real = f.find_tensor(t.name);
    ASSERT_NE(real, nullptr) << t.name;
    EXPECT_EQ(type_name(t.type), type_name(real->type)) << t.name;
    EXPECT_EQ(t.dims, real->dims) << t.name;
    EXPECT_EQ(t.n_bytes, real->n_bytes) << t.name;
  }
}

TEST(WeightFormat, MatchesLlamaQuantizeOutputs) {
  HEARTH_REQUIRE_SHARED(shared);
  const auto models = shared / "models";
  for (const char* name : {"llama-spm-Q4_K_M", "llama-bpe-tied-Q4_K_M", "qwen2-Q4_K_M", "qwen3-Q4_K_M"}) {
    expect_same_tensors(models / (std::string(name) + ".gguf"), parse_weight_format("Q4_K_M"));
  }
  for (const char* name : {"llama-bpe-tied-Q8_0", "qwen2-Q8_0", "qwen3-Q8_0"}) {
    expect_same_tensors(models / (std::string(name) + ".gguf"), parse_weight_format("Q8_0"));
  }
  // The llama-spm-<type> files were written with --pure.
  for (const char* type : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K",
                           "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"}) {
    expect_same_tensors(models / ("llama-spm-" + std::string(type) + ".gguf"),
                        parse_weight_format(type, /*pure=*/true));
  }
}

}  // namespace
}  // namespace hearth::tools
