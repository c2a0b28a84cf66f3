#include "cli/sampling_options.h"

#include <CLI/CLI.hpp>

#include <random>

namespace hearth::cli {

void add_sampling_options(CLI::App* cmd, SamplingParams& p, std::optional<uint64_t>& seed) {
  cmd->add_option("--temp", p.temperature, "Temperature (0: greedy)")
      ->capture_default_str()->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", p.top_k, "Top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", p.top_p, "Top-p (1: off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", p.min_p, "Min-p (0: off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", p.repeat_penalty, "Repetition penalty (1: off)")
      ->capture_default_str()->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--repeat-last-n", p.repeat_last_n, "Tokens the repetition penalty looks back over (-1: all)")
      ->capture_default_str();
  cmd->add_option("-s,--seed", seed, "Random seed (default: random)");
}

SamplingParams with_seed(SamplingParams params, const std::optional<uint64_t>& seed) {
  params.seed = seed ? *seed : std::random_device{}();
  return params;
}

}  // namespace hearth::cli
