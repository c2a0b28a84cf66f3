#include "model/hparams.h"

#include <cmath>
#include <optional>
#include <string>

#include "gguf/gguf.h"
#include "util/error.h"

namespace hearth {
namespace {

// An integer hyper-parameter that must lie in [lo, hi].
int32_t get_count(const gguf::File& f, const std::string& key, int64_t lo, int64_t hi,
                  std::optional<int64_t> fallback = std::nullopt) {
  if (!f.find(key) && fallback) return static_cast<int32_t>(*fallback);
  const int64_t v = f.get_int(key);
  if (v < lo || v > hi) {
    throw Error(f.path() + ": metadata \"" + key + "\" = " + std::to_string(v) +
                " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int32_t>(v);
}

float get_positive(const gguf::File& f, const std::string& key, double fallback) {
  const double v = f.get_number_or(key, fallback);
  if (!(v > 0) || !std::isfinite(v)) {
    throw Error(f.path() + ": metadata \"" + key + "\" = " + std::to_string(v) +
                " must be a positive number");
  }
  return static_cast<float>(v);
}

}  // namespace

HParams read_hparams(const gguf::File& f) {
  HParams hp;
  hp.arch = f.get_string("general.architecture");
  const ArchTraits* traits = find_arch(hp.arch);
  if (!traits) {
    throw Error(f.path() + ": architecture \"" + hp.arch + "\" is not supported (supported: " +
                supported_arch_names() + ")");
  }
  hp.traits = *traits;
  const std::string p = hp.arch + ".";
  constexpr int64_t kMaxDim = 1 << 20;  // far above any real model, small enough to be safe
  hp.n_embd = get_count(f, p + "embedding_length", 1, kMaxDim);
  hp.n_layer = get_count(f, p + "block_count", 1, 4096);
  hp.n_head = get_count(f, p + "attention.head_count", 1, 4096);
  hp.n_head_kv = get_count(f, p + "attention.head_count_kv", 1, hp.n_head, hp.n_head);
  hp.n_ff = get_count(f, p + "feed_forward_length", 1, kMaxDim);
  hp.n_ctx_train = get_count(f, p + "context_length", 1, 1 << 24, 2048);
  if (hp.n_head % hp.n_head_kv != 0) {
    throw Error(f.path() + ": attention.head_count (" + std::to_string(hp.n_head) +
                ") is not a multiple of attention.head_count_kv (" +
                std::to_string(hp.n_head_kv) + ")");
  }
  const bool even_split = hp.n_embd % hp.n_head == 0;
  if (!even_split && !f.find(p + "attention.key_length")) {
    throw Error(f.path() + ": embedding_length " + std::to_string(hp.n_embd) +
                " is not divisible by head_count " + std::to_string(hp.n_head) +
                " and attention.key_length is not given");
  }
  hp.head_dim = get_count(f, p + "attention.key_length", 1, 65536, hp.n_embd / hp.n_head);
  hp.head_dim_v = get_count(f, p + "attention.value_length", 1, 65536, hp.head_dim);
  if (hp.head_dim_v != hp.head_dim) {
    throw Error(f.path() + ": attention.value_length != key_length is not supported");
  }
  hp.n_rot = get_count(f, p + "rope.dimension_count", 2, hp.head_dim, hp.head_dim);
  if (hp.n_rot % 2 != 0) {
    throw Error(f.path() + ": rope.dimension_count must be even, not " + std::to_string(hp.n_rot));
  }
  hp.rope_freq_base = get_positive(f, p + "rope.freq_base", 10000.0);
  hp.rms_eps = get_positive(f, p + "attention.layer_norm_rms_epsilon", 1e-5);

  const std::string scaling = f.get_string_or(p + "rope.scaling.type", "none");
  if (scaling == "linear") {
    hp.rope_freq_scale = 1.0f / get_positive(f, p + "rope.scaling.factor", 1.0);
  } else if (scaling != "none") {
    throw Error(f.path() + ": rope.scaling.type \"" + scaling + "\" is not supported");
  }
  return hp;
}

}  // namespace hearth
