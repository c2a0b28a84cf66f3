#include "model/arch.h"

#include <array>

namespace hearth {
namespace {

constexpr std::array<ArchTraits, 3> kArchs = {{
    // Llama 1/2/3, TinyLlama, SmolLM, Mistral (dense): the baseline block.
    {"llama", RopeStyle::Adjacent, false, false},
    // Qwen2 / Qwen2.5: biases on q, k, v; NeoX-style RoPE.
    {"qwen2", RopeStyle::Halves, true, false},
    // Qwen3: no biases; per-head RMSNorm on q and k; head size set by key_length.
    {"qwen3", RopeStyle::Halves, false, true},
}};

}  // namespace

const ArchTraits* find_arch(std::string_view name) {
  for (const auto& a : kArchs) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string supported_arch_names() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

}  // namespace hearth
