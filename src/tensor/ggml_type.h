// Tensor element types as numbered in the GGUF/ggml ecosystem, with their block
// layout (elements per block, bytes per block). The numbering is part of the
// file format and must never change.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  // 4 and 5 (Q4_2, Q4_3) were removed from the format.
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  // 31-33 (Q4_0_4_4 ...) and 36-38 (IQ4_NL_4_4 ...) were removed.
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct GgmlTypeTraits {
  std::string_view name;
  uint32_t block_elems;  // elements per block (1 for plain types)
  uint32_t block_bytes;  // bytes per block
};

// Traits for a known type id, nullopt for an id the format does not define.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);
// Traits of a valid enum value (every enumerator is known).
GgmlTypeTraits traits(GgmlType type);
std::string_view type_name(GgmlType type);
// Type by its name ("Q4_K", case-insensitive); nullopt when unknown.
std::optional<GgmlType> type_from_name(std::string_view name);

}  // namespace hearth
