#include "model/session.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/thread_pool.h"
#include "model/ops.h"
#include "util/error.h"

namespace hearth {

Session::Session(const Model& model, int32_t n_ctx, ThreadPool* pool, int32_t n_seq)
    : model_(model),
      pool_(pool),
      n_ctx_(n_ctx > 0 ? n_ctx : std::min(model.hparams().n_ctx_train, kDefaultCtx)),
      k_row_(static_cast<size_t>(n_ctx_) + 16) {
  if (n_seq < 1) throw Error("a session needs at least one sequence");
  const HParams& hp = model.hparams();
  n_past_.assign(n_seq, 0);
  const size_t k_cache_floats = static_cast<size_t>(n_seq) * hp.n_head_kv * hp.head_dim * k_row_;
  const size_t v_cache_floats = static_cast<size_t>(n_seq) * n_ctx_ * hp.kv_dim();
  // Left uninitialised: only written positions are ever read, and the
  // pages of a large context are not touched until it fills.
  for (int32_t il = 0; il < hp.n_layer; ++il) {
    k_cache_.emplace_back(new float[k_cache_floats]);
    v_cache_.emplace_back(new float[v_cache_floats]);
  }
  const size_t n_threads = pool ? static_cast<size_t>(pool->size()) : 1;
  scratch_floats_ = kernels::attention_scratch_floats(hp.n_head / hp.n_head_kv, n_ctx_);
  scores_.resize(n_threads * scratch_floats_);
}

float* Session::k_cache(int32_t layer, int32_t seq, int32_t kv_head) {
  const HParams& hp = model_.hparams();
  return k_cache_[layer].get() +
         (static_cast<size_t>(seq) * hp.n_head_kv + kv_head) * hp.head_dim * k_row_;
}

float* Session::v_cache(int32_t layer, int32_t seq, int32_t pos) {
  const size_t kv_dim = model_.hparams().kv_dim();
  return v_cache_[layer].get() + (static_cast<size_t>(seq) * n_ctx_ + pos) * kv_dim;
}

void Session::truncate(int32_t n, int32_t seq) {
  if (seq < 0 || seq >= n_seq()) throw Error("no sequence " + std::to_string(seq) + " in the session");
  if (n < 0 || n > n_past_[seq]) throw Error("cannot truncate the sequence to " + std::to_string(n));
  n_past_[seq] = n;
}

void Session::check_batch(std::span<const SeqTokens> batch) const {
  const int32_t n_vocab = model_.hparams().n_vocab;
  std::vector<bool> seen(n_past_.size());
  for (const SeqTokens& e : batch) {
    if (e.seq < 0 || e.seq >= n_seq()) throw Error("no sequence " + std::to_string(e.seq) + " in the session");
    if (seen[e.seq]) throw Error("sequence " + std::to_string(e.seq) + " appears twice in one batch");
    seen[e.seq] = true;
    const int64_t n = static_cast<int64_t>(e.tokens.size());
    if (n == 0) throw Error("eval: no tokens to evaluate");
    if (n_past_[e.seq] + n > n_ctx_) {
      throw Error("the context is full: " + std::to_string(n_past_[e.seq]) + " + " + std::to_string(n) +
                  " tokens exceed the context size of " + std::to_string(n_ctx_));
    }
    for (const TokenId t : e.tokens) {
      if (t < 0 || t >= n_vocab) {
        throw Error("token id " + std::to_string(t) + " is out of range (vocabulary size " +
                    std::to_string(n_vocab) + ")");
      }
    }
  }
}

void Session::stage(std::span<const SeqTokens> batch) {
  check_batch(batch);
  tok_.clear();
  tok_seq_.clear();
  tok_pos_.clear();
  for (const SeqTokens& e : batch) {
    for (size_t i = 0; i < e.tokens.size(); ++i) {
      tok_.push_back(e.tokens[i]);
      tok_seq_.push_back(e.seq);
      tok_pos_.push_back(n_past_[e.seq] + static_cast<int32_t>(i));
    }
  }
}

std::span<const float> Session::eval(std::span<const TokenId> tokens, bool all_logits) {
  const SeqTokens entry{0, tokens};
  stage({&entry, 1});
  const int32_t n = static_cast<int32_t>(tokens.size());
  const size_t n_vocab = model_.hparams().n_vocab;
  logits_.resize((all_logits ? n : 1) * n_vocab);
  for (int32_t b = 0; b < n; b += kMaxBatch) {
    const int32_t nb = std::min(kMaxBatch, n - b);
    out_rows_.clear();
    if (all_logits) {
      for (int32_t t = 0; t < nb; ++t) out_rows_.push_back(t);
    } else if (b + nb == n) {
      out_rows_.push_back(nb - 1);
    }
    forward(b, nb, out_rows_, Output::Logits, all_logits ? logits_.data() + b * n_vocab : logits_.data());
  }
  return logits_;
}

std::span<const float> Session::eval_batch(std::span<const SeqTokens> batch) {
  stage(batch);
  const size_t n_vocab = model_.hparams().n_vocab;
  std::vector<int32_t> last;  // index of each entry's last token
  int32_t end = 0;
  for (const SeqTokens& e : batch) last.push_back((end += static_cast<int32_t>(e.tokens.size())) - 1);
  const int32_t n = static_cast<int32_t>(tok_.size());
  logits_.resize(batch.size() * n_vocab);
  size_t next_out = 0;
  for (int32_t b = 0; b < n; b += kMaxBatch) {
    const int32_t nb = std::min(kMaxBatch, n - b);
    out_rows_.clear();
    const size_t first_out = next_out;
    while (next_out < last.size() && last[next_out] < b + nb) out_rows_.push_back(last[next_out++] - b);
    forward(b, nb, out_rows_, Output::Logits, logits_.data() + first_out * n_vocab);
  }
  return logits_;
}

std::vector<float> Session::embed(std::span<const TokenId> tokens, int32_t seq) {
  truncate(0, seq);
  const SeqTokens entry{seq, tokens};
  stage({&entry, 1});
  const int32_t n = static_cast<int32_t>(tokens.size());
  const int32_t E = model_.hparams().n_embd;
  std::vector<double> sum(E);
  std::vector<float> hidden;
  for (int32_t b = 0; b < n; b += kMaxBatch) {
    const int32_t nb = std::min(kMaxBatch, n - b);
    out_rows_.resize(nb);
    for (int32_t t = 0; t < nb; ++t) out_rows_[t] = t;
    hidden.resize(static_cast<size_t>(nb) * E);
    forward(b, nb, out_rows_, Output::Hidden, hidden.data());
    for (int32_t t = 0; t < nb; ++t) {
      for (int32_t i = 0; i < E; ++i) sum[i] += hidden[static_cast<size_t>(t) * E + i];
    }
  }
  truncate(0, seq);
  double norm = 0;
  for (double& v : sum) {
    v /= n;
    norm += v * v;
  }
  norm = std::sqrt(norm);
  std::vector<float> out(E);
  for (int32_t i = 0; i < E; ++i) out[i] = static_cast<float>(norm > 0 ? sum[i] / norm : 0.0);
  return out;
}

// cos/sin of each rotated pair's angle for tokens tok_[b .. b+n).
void Session::fill_rope_tables(int32_t b, int32_t n) {
  const HParams& hp = model_.hparams();
  const int32_t half = hp.n_rot / 2;
  rope_cos_.resize(static_cast<size_t>(n) * half);
  rope_sin_.resize(static_cast<size_t>(n) * half);
  for (int32_t t = 0; t < n; ++t) {
    const double pos = static_cast<double>(tok_pos_[b + t]) * hp.rope_freq_scale;
    const auto& freq_factors = model_.rope_freqs();
    for (int32_t i = 0; i < half; ++i) {
      double theta = pos * std::pow(static_cast<double>(hp.rope_freq_base),
                                    -2.0 * i / static_cast<double>(hp.n_rot));
      if (!freq_factors.empty()) theta /= freq_factors[i];
      rope_cos_[static_cast<size_t>(t) * half + i] = static_cast<float>(std::cos(theta));
      rope_sin_[static_cast<size_t>(t) * half + i] = static_cast<float>(std::sin(theta));
    }
  }
}

// Rotates the first n_rot dimensions of each head of token t's vector x.
void Session::apply_rope(float* x, int32_t n_heads, int32_t t) const {
  const HParams& hp = model_.hparams();
  const int32_t half = hp.n_rot / 2;
  const float* cos = rope_cos_.data() + static_cast<size_t>(t) * half;
  const float* sin = rope_sin_.data() + static_cast<size_t>(t) * half;
  // Adjacent pairs (x[2i], x[2i+1]) or halves (x[i], x[i + n_rot/2]).
  const bool adjacent = hp.traits.rope_style == RopeStyle::Adjacent;
  const int32_t stride = adjacent ? 2 : 1;
  const int32_t partner = adjacent ? 1 : half;
  for (int32_t h = 0; h < n_heads; ++h) {
    float* head = x + static_cast<size_t>(h) * hp.head_dim;
    for (int32_t i = 0; i < half; ++i) {
      float* a = head + i * stride;
      float* b = a + partner;
      const float x0 = *a, x1 = *b;
      *a = x0 * cos[i] - x1 * sin[i];
      *b = x0 * sin[i] + x1 * cos[i];
    }
  }
}

// Causal grouped-query attention of tokens tok_[b .. b+n) over their
// sequences' caches; one (token, KV head) pair per task, each computing the
// query heads of its group, so results do not depend on threads or on the
// other tokens in the batch.
void Session::attention(int32_t layer, int32_t b, int32_t n) {
  const HParams& hp = model_.hparams();
  const int32_t hd = hp.head_dim;
  const int32_t group = hp.n_head / hp.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  auto work = [&](int64_t begin, int64_t end, float* scratch) {
    for (int64_t task = begin; task < end; ++task) {
      const int32_t t = static_cast<int32_t>(task / hp.n_head_kv);
      const int32_t kvh = static_cast<int32_t>(task % hp.n_head_kv);
      const size_t head0 = static_cast<size_t>(t) * hp.q_dim() + static_cast<size_t>(kvh) * group * hd;
      kernels::AttentionArgs args;
      args.q = q_.data() + head0;
      args.n_q = group;
      args.head_dim = hd;
      args.n_keys = tok_pos_[b + t] + 1;
      args.kt = k_cache(layer, tok_seq_[b + t], kvh);
      args.kt_stride = k_row_;
      args.v = v_cache(layer, tok_seq_[b + t], 0) + static_cast<size_t>(kvh) * hd;
      args.v_stride = hp.kv_dim();
      args.scale = scale;
      args.out = attn_.data() + head0;
      args.scratch = scratch;
      kernels::attention(args);
    }
  };
  const int64_t n_tasks = static_cast<int64_t>(n) * hp.n_head_kv;
  // Waking the other threads costs about a microsecond (far more when the
  // machine is busy); below this much work one thread finishes sooner. The
  // split never changes results: each (token, KV head) is one task.
  constexpr int64_t kMinParallelWork = 64 * 1024;
  int64_t total_work = 0;
  for (int32_t t = 0; t < n; ++t) total_work += static_cast<int64_t>(tok_pos_[b + t] + 1) * hp.n_head * hd;
  if (!pool_ || pool_->size() == 1 || total_work < kMinParallelWork || n_tasks == 1) {
    work(0, n_tasks, scores_.data());
    return;
  }
  pool_->run([&](int ith, int nth) {
    const int64_t chunk = (n_tasks + nth - 1) / nth;
    const int64_t begin = std::min(n_tasks, chunk * ith);
    const int64_t end = std::min(n_tasks, begin + chunk);
    work(begin, end, scores_.data() + static_cast<size_t>(ith) * scratch_floats_);
  });
}

// The workers read the start of the next matmul's weights while this thread
// does the single-threaded work before it.
void Session::prefetch_next(std::initializer_list<const WeightMatrix*> next, int32_t n_tokens) {
  kernels::prefetch_next(std::span<const WeightMatrix* const>(next.begin(), next.size()), n_tokens, pool_);
}

void Session::forward(int32_t b, int32_t n, std::span<const int32_t> out_rows, Output what, float* out) {
  const Model& m = model_;
  const HParams& hp = m.hparams();
  const int32_t E = hp.n_embd;
  const size_t un = static_cast<size_t>(n);
  x_.resize(un * E);
  h_.resize(un * std::max(E, hp.q_dim()));
  q_.resize(un * hp.q_dim());
  k_.resize(un * hp.kv_dim());
  v_.resize(un * hp.v_dim());
  attn_.resize(un * hp.q_dim());
  tmp_.resize(un * E);
  gate_.resize(un * hp.n_ff);
  up_.resize(un * hp.n_ff);

  for (int32_t t = 0; t < n; ++t) kernels::get_row(m.token_embd(), tok_[b + t], &x_[static_cast<size_t>(t) * E]);
  fill_rope_tables(b, n);

  for (int32_t il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& L = m.layers()[il];
    // Attention block.
    for (int32_t t = 0; t < n; ++t) {
      ops::rms_norm(&x_[static_cast<size_t>(t) * E], L.attn_norm.data(), E, hp.rms_eps, &h_[static_cast<size_t>(t) * E]);
    }
    const kernels::MatmulOutput qkv[] = {{&L.wq, q_.data()}, {&L.wk, k_.data()}, {&L.wv, v_.data()}};
    kernels::matmul_many(qkv, h_.data(), n, pool_);
    prefetch_next({&L.wo}, n);
    for (int32_t t = 0; t < n; ++t) {
      float* q = &q_[static_cast<size_t>(t) * hp.q_dim()];
      float* k = &k_[static_cast<size_t>(t) * hp.kv_dim()];
      if (!L.bq.empty()) {
        ops::add(q, L.bq.data(), hp.q_dim());
        ops::add(k, L.bk.data(), hp.kv_dim());
        ops::add(&v_[static_cast<size_t>(t) * hp.v_dim()], L.bv.data(), hp.v_dim());
      }
      if (!L.q_norm.empty()) {
        for (int32_t h = 0; h < hp.n_head; ++h) {
          float* head = q + static_cast<size_t>(h) * hp.head_dim;
          ops::rms_norm(head, L.q_norm.data(), hp.head_dim, hp.rms_eps, head);
        }
        for (int32_t h = 0; h < hp.n_head_kv; ++h) {
          float* head = k + static_cast<size_t>(h) * hp.head_dim;
          ops::rms_norm(head, L.k_norm.data(), hp.head_dim, hp.rms_eps, head);
        }
      }
      apply_rope(q, hp.n_head, t);
      apply_rope(k, hp.n_head_kv, t);
    }
    for (int32_t t = 0; t < n; ++t) {
      const float* k = &k_[static_cast<size_t>(t) * hp.kv_dim()];
      const int32_t seq = tok_seq_[b + t], pos = tok_pos_[b + t];
      for (int32_t h = 0; h < hp.n_head_kv; ++h) {
        float* kt = k_cache(il, seq, h) + pos;
        for (int32_t d = 0; d < hp.head_dim; ++d) kt[static_cast<size_t>(d) * k_row_] = k[h * hp.head_dim + d];
      }
      const auto v = v_.begin() + static_cast<size_t>(t) * hp.v_dim();
      std::copy(v, v + hp.v_dim(), v_cache(il, seq, pos));
    }
    attention(il, b, n);
    kernels::matmul(L.wo, attn_.data(), n, tmp_.data(), pool_);
    prefetch_next({&L.w_gate, &L.w_up}, n);
    ops::add(x_.data(), tmp_.data(), static_cast<int64_t>(un) * E);

    // Feed-forward block (SwiGLU).
    for (int32_t t = 0; t < n; ++t) {
      ops::rms_norm(&x_[static_cast<size_t>(t) * E], L.ffn_norm.data(), E, hp.rms_eps, &h_[static_cast<size_t>(t) * E]);
    }
    const kernels::MatmulOutput gate_up[] = {{&L.w_gate, gate_.data()}, {&L.w_up, up_.data()}};
    kernels::matmul_many(gate_up, h_.data(), n, pool_);
    prefetch_next({&L.w_down}, n);
    kernels::swiglu(gate_.data(), up_.data(), static_cast<int64_t>(un) * hp.n_ff);
    kernels::matmul(L.w_down, gate_.data(), n, tmp_.data(), pool_);
    if (il + 1 < hp.n_layer) {
      const LayerWeights& next = m.layers()[il + 1];
      prefetch_next({&next.wq, &next.wk, &next.wv}, n);
    } else if (!out_rows.empty() && what == Output::Logits) {
      prefetch_next({&m.output()}, static_cast<int32_t>(out_rows.size()));
    }
    ops::add(x_.data(), tmp_.data(), static_cast<int64_t>(un) * E);
  }
  for (int32_t t = 0; t < n; ++t) n_past_[tok_seq_[b + t]] = tok_pos_[b + t] + 1;

  // Output norm, then the output head, for the rows asked for.
  if (out_rows.empty()) return;
  const int32_t rows = static_cast<int32_t>(out_rows.size());
  float* normed = what == Output::Hidden ? out : h_.data();
  for (int32_t r = 0; r < rows; ++r) {
    ops::rms_norm(&x_[static_cast<size_t>(out_rows[r]) * E], m.output_norm().data(), E, hp.rms_eps,
                  normed + static_cast<size_t>(r) * E);
  }
  if (what == Output::Logits) kernels::matmul(m.output(), h_.data(), rows, out, pool_);
}

}  // namespace hearth
