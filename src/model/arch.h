// The architectures Hearth runs, each stated as its differences from the
// shared pre-norm transformer block (RMSNorm -> GQA attention with RoPE ->
// RMSNorm -> SwiGLU feed-forward) that session.cpp implements once.
#pragma once

#include <string>
#include <string_view>

namespace hearth {

// How RoPE pairs up the dimensions of a head: adjacent pairs (x[2i], x[2i+1])
// as llama does ("NORM"), or halves (x[i], x[i + n_rot/2]) as GPT-NeoX, Qwen do.
enum class RopeStyle { Adjacent, Halves };

struct ArchTraits {
  std::string_view name;  // general.architecture
  RopeStyle rope_style = RopeStyle::Adjacent;
  bool qkv_bias = false;  // q, k and v projections add a bias (qwen2)
  bool qk_norm = false;   // q and k are RMS-normed per head before RoPE (qwen3)
};

// Traits of a supported architecture, or nullptr.
const ArchTraits* find_arch(std::string_view name);
// "llama, qwen2, qwen3" (for error messages).
std::string supported_arch_names();

}  // namespace hearth
