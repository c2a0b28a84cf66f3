// A loaded model: hyper-parameters, tokenizer and weights (read from the
// memory-mapped GGUF file, copied once onto huge pages by default: see
// WeightMemory).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "model/hparams.h"
#include "tokenizer/tokenizer.h"
#include "util/huge_page_buffer.h"

namespace hearth {

struct LayerWeights {
  std::vector<float> attn_norm;  // [n_embd]
  WeightMatrix wq, wk, wv, wo;   // [q_dim x n_embd], [kv_dim x n_embd] x2, [n_embd x q_dim]
  std::vector<float> bq, bk, bv;      // projection biases (qkv_bias archs), else empty
  std::vector<float> q_norm, k_norm;  // per-head norms [head_dim] (qk_norm archs), else empty
  std::vector<float> ffn_norm;   // [n_embd]
  WeightMatrix w_gate, w_up;     // [n_ff x n_embd]
  WeightMatrix w_down;           // [n_embd x n_ff]
};

// Where the weights live while the model runs.
enum class WeightMemory {
  // HugePages when the kernel offers transparent huge pages, unless
  // HEARTH_MMAP=1 (environment) asks for Mapped.
  Default,
  // A copy in anonymous memory on 2 MiB pages: generation runs ~1.4x faster
  // (the CPU's prefetchers stop at every 4 KiB page of a file mapping), at
  // the cost of copying the file once at load.
  HugePages,
  // In place in the memory-mapped file (page cache): no copy.
  Mapped,
};

struct LoadOptions {
  // Diagnostics that work on token ids (hearth logits) can skip the tokenizer,
  // so that models whose tokenizer Hearth lacks can still be checked.
  bool load_tokenizer = true;
  WeightMemory weights = WeightMemory::Default;
  // With WeightMemory::HugePages: write the matrices whose type the active
  // kernels read faster packed (kernels::prefers_packed) in the packed row
  // layout. HEARTH_PACK=0 (environment) turns it off.
  bool pack_weights = true;
};

class Model {
 public:
  // Maps and validates `path`: every tensor the architecture needs must be
  // present with the right shape and a supported type. Throws hearth::Error.
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& options = {});

  const HParams& hparams() const { return hp_; }
  // Throws hearth::Error when the model was loaded without its tokenizer.
  const Tokenizer& tokenizer() const;
  const gguf::File& file() const { return file_; }

  const WeightMatrix& token_embd() const { return token_embd_; }
  const WeightMatrix& output() const { return output_; }  // token_embd when tied
  const std::vector<float>& output_norm() const { return output_norm_; }
  // Per-frequency divisors of RoPE angles [n_rot/2] (Llama 3.1+ long-context
  // scaling, stored as the rope_freqs tensor), or empty.
  const std::vector<float>& rope_freqs() const { return rope_freqs_; }
  const std::vector<LayerWeights>& layers() const { return layers_; }

 private:
  explicit Model(gguf::File file) : file_(std::move(file)) {}
  void place_weights(WeightMemory where, bool pack);

  gguf::File file_;
  HParams hp_;
  std::unique_ptr<Tokenizer> tokenizer_;
  WeightMatrix token_embd_;
  WeightMatrix output_;
  std::vector<float> output_norm_;
  std::vector<float> rope_freqs_;
  std::vector<LayerWeights> layers_;
  HugePageBuffer weights_;         // the tensor data, when copied
  HugePageBuffer packed_weights_;  // the packed matrices, when copied and packed
};

}  // namespace hearth
