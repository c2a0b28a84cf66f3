// Which element type each tensor of a model gets, as llama.cpp's
// llama-quantize decides it: a file type ("Q4_K_M") names a base type plus
// the rule that promotes some tensors (output, attn_v, ffn_down) to more bits.
// The synthetic model writer uses this so that a "Q4_K_M" benchmark model has
// the same bytes per token as a real one.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/ggml_type.h"

namespace hearth::tools {

// One of llama.cpp's file types (llama_ftype, stored as general.file_type).
struct LlamaFtype {
  std::string_view name;  // "Q4_K_M"
  uint32_t id;            // LLAMA_FTYPE_MOSTLY_Q4_K_M = 15
  GgmlType base;          // the type most matrices get
};

// The file types the synthetic writer can produce (those whose tensor types
// the reference quantizers in tensor/quants.h can write).
std::span<const LlamaFtype> llama_ftypes();
std::optional<LlamaFtype> find_llama_ftype(std::string_view name);  // case-insensitive
std::optional<std::string_view> llama_ftype_name(uint32_t id);

// What a model's matrices are stored as.
struct WeightFormat {
  std::string name;  // "Q4_K_M", or a plain type name for pure formats
  GgmlType base = GgmlType::F16;
  // general.file_type; absent for a pure format of a type with no ftype of
  // its own (e.g. "Q4_K": llama.cpp has only the Q4_K_S / Q4_K_M mixes).
  std::optional<uint32_t> ftype_id;
  // Every matrix in `base` (llama-quantize --pure) instead of the mix rule.
  bool pure = false;
};

// "Q4_K_M", "F16", "q8_0" ... (a llama file type: its mix, unless pure) or a
// plain storable type name ("Q4_K": always pure). Throws hearth::Error for an
// unknown name or a type the quantizers cannot write.
WeightFormat parse_weight_format(std::string_view name, bool pure = false);

// The model facts the mix rule looks at.
struct MixContext {
  int32_t n_layer = 0;
  int32_t n_gqa = 1;        // n_head / n_head_kv
  bool has_output = true;   // false: token_embd doubles as the output matrix
};

// The type of the 2-D tensor `name` (ggml dims {cols, rows}); `layer` is its
// block index (-1 for token_embd / output). Mirrors llama_tensor_get_type for
// dense llama-like models, then falls back like llama.cpp when cols is not a
// multiple of the chosen type's block (Q4_K -> Q5_0, Q6_K -> Q8_0, ...).
GgmlType matrix_type(const WeightFormat& format, const MixContext& ctx, std::string_view name,
                     int32_t layer, int64_t cols);

}  // namespace hearth::tools
