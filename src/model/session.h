// One sequence being evaluated: the KV cache and the scratch buffers of the
// forward pass. eval() runs a batch of tokens through the model at the next
// positions — the whole prompt in one pass, then one token per decode step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model.h"

namespace hearth {

class ThreadPool;

class Session {
 public:
  // Context used when none is asked for: the model's training context, capped
  // (a 128K-context model would otherwise take tens of GB of cache).
  static constexpr int32_t kDefaultCtx = 4096;

  // n_ctx: positions the KV cache holds (0: kDefaultCtx or the model's
  // training context if smaller).
  Session(const Model& model, int32_t n_ctx, ThreadPool* pool);

  // Evaluates `tokens` at positions n_past() .. n_past() + size - 1 and
  // returns their logits: all rows ([size][n_vocab]) when all_logits, else
  // only the last row. The span stays valid until the next call.
  // Throws hearth::Error when a token id is out of range or the context is full.
  std::span<const float> eval(std::span<const TokenId> tokens, bool all_logits);

  int32_t n_past() const { return n_past_; }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_vocab() const { return model_.hparams().n_vocab; }
  // Forgets positions >= n (n <= n_past()); n = 0 clears the sequence.
  void truncate(int32_t n);

 private:
  // Up to this many tokens go through the layers together; longer prompts are
  // processed in several such batches (bounded scratch memory).
  static constexpr int32_t kMaxBatch = 512;

  void forward(const TokenId* tokens, int32_t n, bool all_logits, float* logits);
  void attention(int32_t layer, int32_t n, int32_t pos0);
  void fill_rope_tables(int32_t n, int32_t pos0);
  void apply_rope(float* x, int32_t n_heads, int32_t t) const;

  const Model& model_;
  ThreadPool* pool_;
  int32_t n_ctx_;
  int32_t n_past_ = 0;

  // KV cache, per layer [n_ctx][kv_dim], F32.
  std::vector<std::vector<float>> k_cache_, v_cache_;

  // Scratch, sized for kMaxBatch tokens.
  std::vector<float> x_, h_, q_, k_, v_, attn_, tmp_, gate_, up_;
  std::vector<float> rope_cos_, rope_sin_;  // [n][n_rot/2]
  std::vector<float> scores_;               // [threads][n_ctx]
  std::vector<float> logits_;
};

}  // namespace hearth
