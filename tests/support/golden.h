// Reading the reference runtime's goldens in ../shared/golden (format in its
// README) and comparing logits matrices the way that README defines.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hearth::testing {

struct Golden {
  std::string name;        // "llama-spm-F32"
  std::string model_file;  // "llama-spm-F32.gguf"
  int32_t n_vocab = 0;
  std::vector<int32_t> tokens;
  std::vector<int32_t> greedy_tokens;
  std::vector<float> greedy_margin;
  std::vector<float> logits;          // .logits.f32, [n_tokens][n_vocab]
  std::vector<float> dequant_logits;  // .dequant-f32.logits.f32 (non-F32 files), else empty
  double peer_vs_dequant_rel_rms = 0;  // vs_dequantized_weights_f32.rel_rms
  // Greedy continuation of the dequantized-weights reference (non-F32 files).
  std::vector<int32_t> dequant_greedy_tokens;
  std::vector<float> dequant_greedy_margin;
};

// Loads golden/<name>.json and its logits files.
Golden load_golden(const std::filesystem::path& shared, const std::string& name);

struct LogitsDiff {
  double rel_rms = 0;  // ||ours - ref||_F / ||ref||_F
  double max_abs = 0;
  int argmax_agree = 0;
  int rows = 0;
};

LogitsDiff compare_logits(const std::vector<float>& ours, const std::vector<float>& ref,
                          int32_t n_vocab);

}  // namespace hearth::testing
