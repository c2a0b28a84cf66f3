#include "tools/synthetic_model.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <numbers>

#include "gguf/gguf_writer.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hearth::tools {
namespace {

// Values from each model's config.json on Hugging Face.
const std::vector<ModelShape>& presets() {
  static const std::vector<ModelShape> kPresets = {
      {.name = "tinyllama-1.1b", .description = "TinyLlama-1.1B-Chat-v1.0", .arch = "llama",
       .n_layer = 22, .n_embd = 2048, .n_head = 32, .n_head_kv = 4, .n_ff = 5632,
       .n_vocab = 32000, .n_ctx_train = 2048, .rope_theta = 10000.0f, .rms_eps = 1e-5f,
       .tied = false, .llama3_rope = std::nullopt},
      {.name = "llama-3.2-1b", .description = "Llama-3.2-1B", .arch = "llama", .n_layer = 16,
       .n_embd = 2048, .n_head = 32, .n_head_kv = 8, .n_ff = 8192, .n_vocab = 128256,
       .n_ctx_train = 131072, .rope_theta = 500000.0f, .rms_eps = 1e-5f, .tied = true,
       .llama3_rope = ModelShape::Llama3Rope{}},
      {.name = "qwen2.5-0.5b", .description = "Qwen2.5-0.5B", .arch = "qwen2", .n_layer = 24,
       .n_embd = 896, .n_head = 14, .n_head_kv = 2, .n_ff = 4864, .n_vocab = 151936,
       .n_ctx_train = 32768, .rope_theta = 1000000.0f, .rms_eps = 1e-6f, .tied = true,
       .llama3_rope = std::nullopt},
      {.name = "qwen3-0.6b", .description = "Qwen3-0.6B", .arch = "qwen3", .n_layer = 28,
       .n_embd = 1024, .n_head = 16, .n_head_kv = 8, .head_dim = 128, .n_ff = 3072,
       .n_vocab = 151936, .n_ctx_train = 40960, .rope_theta = 1000000.0f, .rms_eps = 1e-6f,
       .tied = true, .llama3_rope = std::nullopt},
      {.name = "smollm2-360m", .description = "SmolLM2-360M", .arch = "llama", .n_layer = 32,
       .n_embd = 960, .n_head = 15, .n_head_kv = 5, .n_ff = 2560, .n_vocab = 49152,
       .n_ctx_train = 8192, .rope_theta = 100000.0f, .rms_eps = 1e-5f, .tied = true,
       .llama3_rope = std::nullopt},
  };
  return kPresets;
}

// SentencePiece "llama" vocab: <unk>, <s>, </s>, the 256 byte tokens, then
// filler pieces "▁", "▁a", "a", "▁b", ... (every lowercase string, shortest
// first), so that any text tokenizes and decodes.
constexpr int32_t kFixedTokens = 3 + 256;

void add_vocab(gguf::Writer& w, int32_t n_vocab) {
  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<int32_t> types;
  texts.reserve(n_vocab);
  const auto add = [&](std::string text, TokenType type) {
    scores.push_back(-static_cast<float>(texts.size()));
    texts.push_back(std::move(text));
    types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", TokenType::Unknown);
  add("<s>", TokenType::Control);
  add("</s>", TokenType::Control);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", TokenType::Byte);
  }
  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's space
  if (static_cast<int32_t>(texts.size()) < n_vocab) add(space, TokenType::Normal);
  // Strings over a-z in order of length, then lexicographically (base-26 counting).
  std::vector<int> digits;
  while (static_cast<int32_t>(texts.size()) < n_vocab) {
    size_t i = 0;
    while (i < digits.size() && digits[i] == 25) digits[i++] = 0;
    if (i == digits.size()) {
      digits.push_back(0);
    } else {
      ++digits[i];
    }
    std::string s;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) s += static_cast<char>('a' + *it);
    add(space + s, TokenType::Normal);
    if (static_cast<int32_t>(texts.size()) < n_vocab) add(s, TokenType::Normal);
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array("tokenizer.ggml.tokens", gguf::make_string_array(std::move(texts)));
  w.set_array("tokenizer.ggml.scores", gguf::make_array(scores));
  w.set_array("tokenizer.ggml.token_type", gguf::make_array(types));
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
}

void add_hparams(gguf::Writer& w, const ModelPlan& plan, uint64_t seed) {
  const ModelShape& s = plan.shape;
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", "synthetic " + s.name);
  w.set_string("general.description", "random weights in the shape of " + s.description +
                                          " (hearth synth, seed " + std::to_string(seed) +
                                          "), not a trained model");
  if (plan.format.ftype_id) w.set_u32("general.file_type", *plan.format.ftype_id);
  w.set_u32("general.quantization_version", 2);
  const std::string p = s.arch + ".";
  w.set_u32(p + "context_length", static_cast<uint32_t>(s.n_ctx_train));
  w.set_u32(p + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(p + "block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(p + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(p + "attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(p + "attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  if (s.head_dim > 0) {
    w.set_u32(p + "attention.key_length", static_cast<uint32_t>(s.head_dim));
    w.set_u32(p + "attention.value_length", static_cast<uint32_t>(s.head_dim));
  }
  w.set_f32(p + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_f32(p + "rope.freq_base", s.rope_theta);
  w.set_u32(p + "rope.dimension_count", static_cast<uint32_t>(s.head_size()));
  w.set_u32(p + "vocab_size", static_cast<uint32_t>(s.n_vocab));
}

// ---- Random numbers: xoshiro256** seeded through splitmix64. ----

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }
  // Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall),
  // one generator call per value. Several times faster than Box-Muller, which
  // matters at a billion values; tails stop at +-3.46, which changes nothing a
  // benchmark measures (quantizers still see realistic block maxima).
  float normal() {
    const uint64_t x = next();
    const uint32_t sum = static_cast<uint32_t>((x & 0xFFFF) + ((x >> 16) & 0xFFFF) +
                                               ((x >> 32) & 0xFFFF) + (x >> 48));
    constexpr float kMean = 2.0f * 65535.0f;
    constexpr float kInvSd = 1.7320508f / 65536.0f;  // sd of the sum is 65536 / sqrt(3)
    return (static_cast<float>(sum) - kMean) * kInvSd;
  }

 private:
  std::array<uint64_t, 4> s_;
};

// Rows are generated in chunks of about this many values; the chunk, not the
// thread, owns a generator, so the output does not depend on the thread count.
constexpr int64_t kChunkElems = 1 << 16;

void fill_tensor(const TensorPlan& t, uint64_t seed, ThreadPool& pool, std::span<uint8_t> out) {
  const int64_t cols = t.dims[0];
  const int64_t rows = t.n_elements / cols;
  if (t.init == Init::RopeFreqs) {
    throw Error("internal: rope_freqs is filled by its owner");
  }
  const size_t row_bytes = quant_row_bytes(t.type, cols);
  const int64_t chunk_rows = std::max<int64_t>(1, kChunkElems / cols);
  const int64_t n_chunks = (rows + chunk_rows - 1) / chunk_rows;
  uint64_t base = seed;
  base = splitmix64(base) ^ fnv1a(t.name);
  const float scale = t.init == Init::Matrix ? 1.0f / std::sqrt(static_cast<float>(cols)) : 0.02f;
  const float offset = t.init == Init::Norm ? 1.0f : 0.0f;
  pool.parallel_for(n_chunks, [&](int64_t begin, int64_t end) {
    std::vector<float> buf(static_cast<size_t>(chunk_rows * cols));
    for (int64_t c = begin; c < end; ++c) {
      uint64_t chunk_seed = base + static_cast<uint64_t>(c) * 0xD1B54A32D192ED03ull;
      Rng rng(splitmix64(chunk_seed));
      const int64_t r0 = c * chunk_rows;
      const int64_t nr = std::min(chunk_rows, rows - r0);
      for (int64_t i = 0; i < nr * cols; ++i) buf[i] = offset + scale * rng.normal();
      for (int64_t r = 0; r < nr; ++r) {
        quantize_row(t.type, buf.data() + r * cols, out.data() + (r0 + r) * row_bytes, cols);
      }
    }
  });
}

}  // namespace

std::span<const ModelShape> shape_presets() { return presets(); }

ModelShape find_shape(std::string_view name) {
  std::string names;
  for (const auto& s : presets()) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  throw Error("unknown model shape \"" + std::string(name) + "\" (known: " + names + ")");
}

ModelShape shrink_shape(ModelShape shape, int32_t n_layer, int32_t n_vocab) {
  if (n_layer < 0 || n_vocab < 0) throw Error("layer and vocabulary counts must not be negative");
  if (n_layer > 0) shape.n_layer = n_layer;
  if (n_vocab > 0) shape.n_vocab = n_vocab;
  return shape;
}

std::vector<float> llama3_rope_factors(const ModelShape& s) {
  const auto& r = *s.llama3_rope;
  const int32_t dim = s.head_size();
  const double low_wavelen = r.original_ctx / r.low_freq_factor;
  const double high_wavelen = r.original_ctx / r.high_freq_factor;
  std::vector<float> factors;
  for (int32_t i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(static_cast<double>(s.rope_theta), static_cast<double>(i) / dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    double f;
    if (wavelen < high_wavelen) {
      f = 1.0;
    } else if (wavelen > low_wavelen) {
      f = r.factor;
    } else {
      const double smooth = (r.original_ctx / wavelen - r.low_freq_factor) /
                            (r.high_freq_factor - r.low_freq_factor);
      f = 1.0 / ((1 - smooth) / r.factor + smooth);
    }
    factors.push_back(static_cast<float>(f));
  }
  return factors;
}

ModelPlan plan_model(const ModelShape& s, const WeightFormat& format) {
  if (s.n_layer < 1 || s.n_embd < 1 || s.n_head < 1 || s.n_head_kv < 1 || s.n_ff < 1 ||
      s.n_head % s.n_head_kv != 0 || (s.head_dim == 0 && s.n_embd % s.n_head != 0)) {
    throw Error("model shape \"" + s.name + "\" is inconsistent");
  }
  if (s.n_vocab < kFixedTokens + 1) {
    throw Error("the vocabulary needs at least " + std::to_string(kFixedTokens + 1) +
                " tokens (3 special, 256 byte tokens and one piece)");
  }
  ModelPlan plan;
  plan.shape = s;
  plan.format = format;
  const MixContext ctx{s.n_layer, s.n_head / s.n_head_kv, !s.tied};
  const int64_t embd = s.n_embd;
  const int64_t hd = s.head_size();
  const int64_t q_dim = s.n_head * hd;
  const int64_t kv_dim = s.n_head_kv * hd;
  const auto add = [&](std::string name, std::vector<int64_t> dims, Init init, int32_t layer) {
    TensorPlan t;
    t.type = dims.size() == 2 ? matrix_type(format, ctx, name, layer, dims[0]) : GgmlType::F32;
    t.name = std::move(name);
    t.dims = std::move(dims);
    t.init = init;
    t.n_elements = 1;
    for (const int64_t d : t.dims) t.n_elements *= d;
    t.n_bytes = quant_row_bytes(t.type, t.dims[0]) * static_cast<uint64_t>(t.n_elements / t.dims[0]);
    plan.n_params += static_cast<uint64_t>(t.n_elements);
    plan.n_bytes += t.n_bytes;
    plan.tensors.push_back(std::move(t));
  };
  const bool qkv_bias = s.arch == "qwen2";
  const bool qk_norm = s.arch == "qwen3";

  add("token_embd.weight", {embd, s.n_vocab}, Init::Matrix, -1);
  if (s.llama3_rope) add("rope_freqs.weight", {hd / 2}, Init::RopeFreqs, -1);
  for (int32_t il = 0; il < s.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add(b + "attn_norm.weight", {embd}, Init::Norm, il);
    add(b + "attn_q.weight", {embd, q_dim}, Init::Matrix, il);
    add(b + "attn_k.weight", {embd, kv_dim}, Init::Matrix, il);
    add(b + "attn_v.weight", {embd, kv_dim}, Init::Matrix, il);
    if (qkv_bias) {
      add(b + "attn_q.bias", {q_dim}, Init::Bias, il);
      add(b + "attn_k.bias", {kv_dim}, Init::Bias, il);
      add(b + "attn_v.bias", {kv_dim}, Init::Bias, il);
    }
    if (qk_norm) {
      add(b + "attn_q_norm.weight", {hd}, Init::Norm, il);
      add(b + "attn_k_norm.weight", {hd}, Init::Norm, il);
    }
    add(b + "attn_output.weight", {q_dim, embd}, Init::Matrix, il);
    add(b + "ffn_norm.weight", {embd}, Init::Norm, il);
    add(b + "ffn_gate.weight", {embd, s.n_ff}, Init::Matrix, il);
    add(b + "ffn_up.weight", {embd, s.n_ff}, Init::Matrix, il);
    add(b + "ffn_down.weight", {static_cast<int64_t>(s.n_ff), embd}, Init::Matrix, il);
  }
  add("output_norm.weight", {embd}, Init::Norm, -1);
  if (!s.tied) add("output.weight", {embd, s.n_vocab}, Init::Matrix, -1);
  return plan;
}

void write_synthetic_model(const ModelPlan& plan, const std::string& path,
                           const SynthOptions& options) {
  gguf::Writer w;
  add_hparams(w, plan, options.seed);
  add_vocab(w, plan.shape.n_vocab);

  ThreadPool pool(std::max(1, options.threads));
  size_t done = 0;
  uint64_t bytes_done = 0;
  for (const TensorPlan& t : plan.tensors) {
    const auto report = [&] {
      ++done;
      bytes_done += t.n_bytes;
      if (options.progress) {
        options.progress(done, plan.tensors.size(), bytes_done, plan.n_bytes, t.name);
      }
    };
    if (t.init == Init::RopeFreqs) {
      const std::vector<float> f = llama3_rope_factors(plan.shape);
      w.add_tensor(t.name, t.type, t.dims, [f, report](std::span<uint8_t> out) {
        std::memcpy(out.data(), f.data(), out.size());
        report();
      });
      continue;
    }
    w.add_tensor(t.name, t.type, t.dims, [&t, &pool, seed = options.seed, report](std::span<uint8_t> out) {
      fill_tensor(t, seed, pool, out);
      report();
    });
  }
  w.write(path);
}

}  // namespace hearth::tools
