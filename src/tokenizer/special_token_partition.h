// Cutting special-token text out of the input before the tokenizer model
// runs, as llama.cpp's tokenizer_st_partition does. Shared by every model.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth {

class Vocab;

// One piece of the input: a special token already resolved to its id, or a
// stretch of raw text [offset, offset + length) still to be tokenized.
struct Fragment {
  TokenId token = -1;  // -1 for raw text
  size_t offset = 0;
  size_t length = 0;

  bool is_text() const { return token < 0; }
};

// Splits `text` at every occurrence of a special token's text. Tokens are
// tried longest first, each one over the raw fragments the longer ones left,
// leftmost match first. With parse_special, CONTROL, USER_DEFINED and UNKNOWN
// tokens are matched; without it only USER_DEFINED ones (as Hugging Face
// tokenizers treat added tokens). A token with the LSTRIP / RSTRIP attribute
// also swallows the whitespace before / after it. Empty text gives no
// fragments. No match may overlap a `literal` range (sorted, disjoint).
std::vector<Fragment> partition_special_tokens(std::string_view text, const Vocab& vocab,
                                               bool parse_special,
                                               std::span<const TextRange> literal = {});

}  // namespace hearth
