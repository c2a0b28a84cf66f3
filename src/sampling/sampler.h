// Choosing the next token from logits: greedy, or penalties -> top-k -> top-p
// -> min-p -> temperature -> a draw from a seeded generator (the reference
// runtime's default order), so a given seed reproduces a run exactly.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hearth {

struct SamplingParams {
  float temperature = 0.8f;  // <= 0: greedy (argmax, lowest id on a tie)
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int32_t repeat_last_n = 64;   // window for the penalties (0: off, -1: whole history)
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int32_t n_vocab);

  // Picks a token from logits[0 .. n_vocab). Does not record it: call accept().
  int32_t sample(const float* logits);
  // Records a token of the context (prompt or generated) for the penalties.
  void accept(int32_t token);
  void reset();

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;  // the penalty window, only when it is bounded (repeat_last_n > 0)
  std::unordered_map<int32_t, int32_t> counts_;  // token -> occurrences in the window
  bool track_penalties_ = false;  // false when the penalties can never change a logit
  // Scratch reused between calls.
  std::vector<std::pair<float, int32_t>> candidates_;
};

// argmax with the lowest index winning a tie.
int32_t argmax(const float* logits, int32_t n);

}  // namespace hearth
