// The state of evaluating sequences through a model: a KV cache with room for
// n_seq independent sequences and the scratch buffers of the forward pass.
// eval() runs a batch of one sequence's tokens at its next positions — a
// whole prompt in one pass, then one token per decode step; eval_batch() runs
// tokens of several sequences through the layers together (continuous
// batching: the weights are read once for all of them).
//
// A sequence's results never depend on what else is in the batch: each
// token's matrix products and attention are computed the same way alone or
// batched (the kernels' results are independent of the token count).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "model/model.h"

namespace hearth {

class ThreadPool;

// Tokens of one sequence to evaluate at its next positions.
struct SeqTokens {
  int32_t seq = 0;
  std::span<const TokenId> tokens;
};

class Session {
 public:
  // Context used when none is asked for: the model's training context, capped
  // (a 128K-context model would otherwise take tens of GB of cache).
  static constexpr int32_t kDefaultCtx = 4096;

  // n_ctx: positions the KV cache holds per sequence (0: kDefaultCtx or the
  // model's training context if smaller). n_seq: independent sequences.
  Session(const Model& model, int32_t n_ctx, ThreadPool* pool, int32_t n_seq = 1);

  // Evaluates `tokens` of sequence 0 at positions n_past() .. n_past() +
  // size - 1 and returns their logits: all rows ([size][n_vocab]) when
  // all_logits, else only the last row. The span stays valid until the next
  // call. Throws hearth::Error when a token id is out of range or the
  // context is full.
  std::span<const float> eval(std::span<const TokenId> tokens, bool all_logits);

  // Evaluates each entry's tokens at its sequence's next positions, all in
  // one pass through the layers, and returns the logits of each entry's last
  // token: [batch.size()][n_vocab]. A sequence may appear once per batch.
  // Nothing is evaluated when an entry is invalid (hearth::Error).
  std::span<const float> eval_batch(std::span<const SeqTokens> batch);

  // The final hidden states (after the output norm) of `tokens` evaluated
  // from position 0 of sequence `seq`, mean-pooled and L2-normalised: a
  // sentence embedding. Leaves the sequence empty.
  std::vector<float> embed(std::span<const TokenId> tokens, int32_t seq = 0);

  int32_t n_past(int32_t seq = 0) const { return n_past_.at(seq); }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_seq() const { return static_cast<int32_t>(n_past_.size()); }
  int32_t n_vocab() const { return model_.hparams().n_vocab; }
  // Forgets positions >= n of a sequence (n <= n_past(seq)); 0 clears it.
  void truncate(int32_t n, int32_t seq = 0);

 private:
  // Up to this many tokens go through the layers together; longer batches
  // are processed in several passes (bounded scratch memory).
  static constexpr int32_t kMaxBatch = 512;

  // What the last layer's output becomes for the rows in out_rows.
  enum class Output { Logits, Hidden };
  void check_batch(std::span<const SeqTokens> batch) const;
  // Checks `batch` and lays its tokens out in tok_ / tok_seq_ / tok_pos_.
  void stage(std::span<const SeqTokens> batch);
  // Runs tok_[b .. b+n) (with their tok_seq_/tok_pos_) through the model;
  // writes the output of rows `out_rows` (indices into that range, in
  // order) to `out`.
  void forward(int32_t b, int32_t n, std::span<const int32_t> out_rows, Output what, float* out);
  void attention(int32_t layer, int32_t b, int32_t n);
  void fill_rope_tables(int32_t b, int32_t n);
  void prefetch_next(std::initializer_list<const WeightMatrix*> next, int32_t n_tokens);
  void apply_rope(float* x, int32_t n_heads, int32_t t) const;
  // Keys of one KV head, transposed: dimension d of position p at
  // [d * k_row_ + p] (the attention kernel reads keys along positions).
  float* k_cache(int32_t layer, int32_t seq, int32_t kv_head);
  float* v_cache(int32_t layer, int32_t seq, int32_t pos);

  const Model& model_;
  ThreadPool* pool_;
  int32_t n_ctx_;
  // Floats from one key dimension's row to the next: n_ctx plus one cache
  // line, so that a head's rows do not all fall into the same L1 set (n_ctx
  // is often a power of two, and L1 has only 8 ways for the 64 rows).
  size_t k_row_;
  std::vector<int32_t> n_past_;  // per sequence

  // KV cache, F32. Keys per layer [n_seq][n_head_kv][head_dim][k_row_];
  // values per layer [n_seq][n_ctx][kv_dim].
  std::vector<std::unique_ptr<float[]>> k_cache_, v_cache_;

  // The tokens of the current call, flattened: id, sequence, position.
  std::vector<TokenId> tok_;
  std::vector<int32_t> tok_seq_, tok_pos_;
  std::vector<int32_t> out_rows_;

  // Scratch, sized for kMaxBatch tokens.
  std::vector<float> x_, h_, q_, k_, v_, attn_, tmp_, gate_, up_;
  std::vector<float> rope_cos_, rope_sin_;  // [n][n_rot/2]
  std::vector<float> scores_;               // attention scratch: [threads][scratch_floats_]
  size_t scratch_floats_ = 0;
  std::vector<float> logits_;
};

}  // namespace hearth
