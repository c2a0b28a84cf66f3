// Random-weight GGUF models in the exact tensor shapes and metadata of
// popular models, for measuring speed at real sizes without real weights.
//
// Everything is deterministic from the seed: each tensor's values depend only
// on (seed, tensor name), generated in fixed row chunks, so the bytes do not
// depend on the thread count, and a model with fewer layers or another weight
// format holds the same underlying values.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/ggml_type.h"
#include "tools/weight_format.h"

namespace hearth::tools {

// Hyper-parameters of a model family member (its Hugging Face config.json).
struct ModelShape {
  std::string name;         // preset id: "tinyllama-1.1b"
  std::string description;  // "TinyLlama-1.1B-Chat-v1.0"
  std::string arch;         // general.architecture: "llama", "qwen2", "qwen3"
  int32_t n_layer = 0;
  int32_t n_embd = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;  // 0: n_embd / n_head
  int32_t n_ff = 0;
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 2048;
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied = false;  // the output matrix is token_embd (no output.weight)
  // Llama 3.1+ "llama3" RoPE scaling, stored as the rope_freqs tensor.
  struct Llama3Rope {
    float factor = 32.0f;
    float low_freq_factor = 1.0f;
    float high_freq_factor = 4.0f;
    int32_t original_ctx = 8192;
  };
  std::optional<Llama3Rope> llama3_rope;

  int32_t head_size() const { return head_dim > 0 ? head_dim : n_embd / n_head; }
};

std::span<const ModelShape> shape_presets();
// Throws hearth::Error listing the presets when `name` is unknown.
ModelShape find_shape(std::string_view name);

// A smaller variant for tests and quick runs: fewer layers and/or a smaller
// vocabulary; every per-layer shape stays exact. 0 keeps the preset's value.
ModelShape shrink_shape(ModelShape shape, int32_t n_layer, int32_t n_vocab);

// How a tensor's values are drawn.
enum class Init {
  Matrix,     // normal / sqrt(cols): activations keep their scale layer to layer
  Norm,       // 1 + small noise, like trained RMSNorm weights
  Bias,       // small noise
  RopeFreqs,  // the exact llama3 frequency factors
};

struct TensorPlan {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the row length
  Init init = Init::Matrix;
  int64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

struct ModelPlan {
  ModelShape shape;
  WeightFormat format;
  std::vector<TensorPlan> tensors;  // in file order
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;  // tensor data, unpadded
};

// The tensors of `shape` stored as `format` (names and order as llama.cpp's
// converter writes them). Throws hearth::Error for an inconsistent shape.
ModelPlan plan_model(const ModelShape& shape, const WeightFormat& format);

struct SynthOptions {
  uint64_t seed = 1;
  int threads = 1;
  // Called after each tensor: (tensors done, total, bytes done, total bytes, name).
  std::function<void(size_t, size_t, uint64_t, uint64_t, const std::string&)> progress;
};

// Writes the model to `path` (atomically: a temporary file, then a rename).
// Throws hearth::Error.
void write_synthetic_model(const ModelPlan& plan, const std::string& path,
                           const SynthOptions& options);

// The llama3 RoPE frequency divisors [head_size / 2] (convert_hf_to_gguf's formula).
std::vector<float> llama3_rope_factors(const ModelShape& shape);

}  // namespace hearth::tools
