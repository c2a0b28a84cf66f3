// Hyper-parameters of a transformer model, read from a GGUF file's
// "<arch>.*" metadata, validated before any tensor is touched.
#pragma once

#include <cstdint>
#include <string>

#include "model/arch.h"

namespace hearth::gguf {
class File;
}

namespace hearth {

struct HParams {
  std::string arch;     // general.architecture
  ArchTraits traits;    // what this architecture changes in the shared block
  int32_t n_vocab = 0;  // rows of token_embd
  int32_t n_ctx_train = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;    // key_length (defaults to n_embd / n_head)
  int32_t head_dim_v = 0;  // value_length (defaults to head_dim)
  int32_t n_ff = 0;
  int32_t n_rot = 0;  // rope.dimension_count (defaults to head_dim)
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / rope.scaling.factor for linear scaling
  float rms_eps = 1e-5f;

  int32_t q_dim() const { return n_head * head_dim; }
  int32_t kv_dim() const { return n_head_kv * head_dim; }
  int32_t v_dim() const { return n_head_kv * head_dim_v; }
};

// Throws hearth::Error naming the file and key for a missing, mistyped or
// out-of-range value, or an architecture Hearth does not run.
HParams read_hparams(const gguf::File& file);

}  // namespace hearth
