// The steps of Sampler::sample() before the random draw, exposed so that tests
// can compare the kept set against a plain full-sort reference. Not part of
// the public sampling API: use Sampler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sampling/sampler.h"

namespace hearth::sampling_detail {

using Candidate = std::pair<float, int32_t>;  // (logit or weight, token id)
using TokenCounts = std::unordered_map<int32_t, int32_t>;

// True when the penalties can change a logit (a window and a non-neutral penalty).
bool penalties_enabled(const SamplingParams& params);

// cands := (logit, id) for every id in [0, n_vocab), in id order, with NaN
// read as -inf and the penalties of `counts` applied (see sampler.cpp).
void load_logits(const SamplingParams& params, const float* logits, int32_t n_vocab,
                 const TokenCounts& counts, std::vector<Candidate>& cands);

// For temperature > 0, on cands as load_logits left them: top-k -> top-p ->
// min-p -> temperature. Returns how many candidates are kept; cands[0, kept)
// then hold (weight, id), weight = exp((logit - max_logit) / T), unnormalised,
// the largest being exactly 1. Returns 0 when every logit is -inf.
std::size_t filter_candidates(const SamplingParams& params, std::vector<Candidate>& cands);

}  // namespace hearth::sampling_detail
