// The sampling flags `run` and `chat` share (--temp, --top-k, ..., --seed),
// with the reference runtime's names and defaults.
#pragma once

#include <cstdint>
#include <optional>

#include "sampling/sampler.h"

namespace CLI {
class App;
}

namespace hearth::cli {

void add_sampling_options(CLI::App* cmd, SamplingParams& params, std::optional<uint64_t>& seed);

// params with the seed filled in: the one given, else a random one.
SamplingParams with_seed(SamplingParams params, const std::optional<uint64_t>& seed);

}  // namespace hearth::cli
