#include "tools/weight_format.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "tensor/quants.h"
#include "util/error.h"

namespace hearth::tools {
namespace {

// llama_ftype values (llama.h); the numbering is part of the file format.
constexpr std::array<LlamaFtype, 19> kFtypes = {{
    {"F32", 0, GgmlType::F32},       {"F16", 1, GgmlType::F16},
    {"Q4_0", 2, GgmlType::Q4_0},     {"Q4_1", 3, GgmlType::Q4_1},
    {"Q8_0", 7, GgmlType::Q8_0},     {"Q5_0", 8, GgmlType::Q5_0},
    {"Q5_1", 9, GgmlType::Q5_1},     {"Q2_K", 10, GgmlType::Q2_K},
    {"Q3_K_S", 11, GgmlType::Q3_K},  {"Q3_K_M", 12, GgmlType::Q3_K},
    {"Q3_K_L", 13, GgmlType::Q3_K},  {"Q4_K_S", 14, GgmlType::Q4_K},
    {"Q4_K_M", 15, GgmlType::Q4_K},  {"Q5_K_S", 16, GgmlType::Q5_K},
    {"Q5_K_M", 17, GgmlType::Q5_K},  {"Q6_K", 18, GgmlType::Q6_K},
    {"IQ4_NL", 25, GgmlType::IQ4_NL}, {"IQ4_XS", 30, GgmlType::IQ4_XS},
    {"BF16", 32, GgmlType::BF16},
}};

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool is_float_type(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
}

// Types a model file can hold that the reference quantizers write. Q8_1 and
// Q8_K are activation formats: they never appear in model files.
bool storable(GgmlType t) {
  return quant_supported(t) && t != GgmlType::Q8_1 && t != GgmlType::Q8_K;
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and
// every third layer in between, get the bigger type.
bool use_more_bits(int32_t i, int32_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

bool is_ftype(const WeightFormat& f, std::string_view name) { return !f.pure && f.name == name; }

// llama_tensor_get_type's choice before the block-size fallback, for the
// tensors a dense llama / qwen2 / qwen3 model has (no MoE, no Falcon, no 70B).
GgmlType mixed_type(const WeightFormat& f, const MixContext& ctx, std::string_view name,
                    int32_t layer, int64_t cols) {
  const GgmlType base = f.base;
  const bool is_output = name == "output.weight" || (!ctx.has_output && name == "token_embd.weight");
  if (is_output) {
    if (cols % traits(base).block_elems != 0) return GgmlType::Q8_0;
    return base == GgmlType::Q8_0 ? base : GgmlType::Q6_K;
  }
  if (name == "token_embd.weight") return base;
  const auto has = [&](std::string_view part) { return name.find(part) != std::string_view::npos; };
  const int32_t n = ctx.n_layer;
  if (has("attn_v.weight")) {
    if (is_ftype(f, "Q2_K")) return ctx.n_gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
    if (is_ftype(f, "Q3_K_M")) return layer < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    if (is_ftype(f, "Q3_K_L")) return GgmlType::Q5_K;
    if ((is_ftype(f, "IQ4_NL") || is_ftype(f, "IQ4_XS")) && ctx.n_gqa >= 4) return GgmlType::Q5_K;
    if ((is_ftype(f, "Q4_K_M") || is_ftype(f, "Q5_K_M")) && use_more_bits(layer, n)) {
      return GgmlType::Q6_K;
    }
    if (is_ftype(f, "Q4_K_S") && layer < 4) return GgmlType::Q5_K;
    return base;
  }
  if (has("ffn_down")) {
    if (is_ftype(f, "Q2_K")) return GgmlType::Q3_K;
    if (is_ftype(f, "Q3_K_M")) return layer < n / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
    if (is_ftype(f, "Q3_K_L")) return GgmlType::Q5_K;
    if (is_ftype(f, "Q4_K_M")) return use_more_bits(layer, n) ? GgmlType::Q6_K : base;
    if (layer < n / 8 && (is_ftype(f, "IQ4_NL") || is_ftype(f, "IQ4_XS"))) return GgmlType::Q5_K;
    if (is_ftype(f, "Q5_K_M") && use_more_bits(layer, n)) return GgmlType::Q6_K;
    if (is_ftype(f, "Q4_K_S") && layer < n / 8) return GgmlType::Q5_K;
    return base;
  }
  if (has("attn_output.weight")) {
    if (is_ftype(f, "Q2_K")) return GgmlType::Q3_K;
    if (is_ftype(f, "Q3_K_M")) return GgmlType::Q4_K;
    if (is_ftype(f, "Q3_K_L")) return GgmlType::Q5_K;
    return base;
  }
  return base;
}

// llama.cpp's substitute when a row is not a whole number of blocks.
GgmlType compatible_type(GgmlType t, int64_t cols) {
  if (cols % traits(t).block_elems == 0) return t;
  switch (t) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::IQ4_XS: t = GgmlType::IQ4_NL; break;
    case GgmlType::Q4_K: t = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: t = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: t = GgmlType::Q8_0; break;
    default: break;
  }
  return cols % traits(t).block_elems == 0 ? t : GgmlType::F16;
}

}  // namespace

std::span<const LlamaFtype> llama_ftypes() { return kFtypes; }

std::optional<LlamaFtype> find_llama_ftype(std::string_view name) {
  const std::string u = upper(name);
  for (const auto& f : kFtypes) {
    if (f.name == u) return f;
  }
  return std::nullopt;
}

std::optional<std::string_view> llama_ftype_name(uint32_t id) {
  for (const auto& f : kFtypes) {
    if (f.id == id) return f.name;
  }
  return std::nullopt;
}

WeightFormat parse_weight_format(std::string_view name, bool pure) {
  WeightFormat f;
  if (const auto ft = find_llama_ftype(name)) {
    f.name = std::string(ft->name);
    f.base = ft->base;
    f.ftype_id = ft->id;
    // The float formats have no mix: llama.cpp applies its rule only when quantizing.
    f.pure = pure || is_float_type(ft->base);
    return f;
  }
  const auto type = type_from_name(name);
  if (!type || !storable(*type)) {
    std::string known;
    for (const auto& ft : kFtypes) known += (known.empty() ? "" : ", ") + std::string(ft.name);
    throw Error("unknown weight type \"" + std::string(name) + "\" (file types: " + known +
                "; or any type the quantizer writes, such as Q4_K, Q5_K, Q3_K)");
  }
  f.name = std::string(type_name(*type));
  f.base = *type;
  f.pure = true;
  return f;
}

GgmlType matrix_type(const WeightFormat& format, const MixContext& ctx, std::string_view name,
                     int32_t layer, int64_t cols) {
  const GgmlType t = format.pure ? format.base : mixed_type(format, ctx, name, layer, cols);
  return compatible_type(t, cols);
}

}  // namespace hearth::tools
