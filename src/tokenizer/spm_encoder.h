// SentencePiece-style BPE over one stretch of raw text, as llama.cpp's
// llm_tokenizer_spm_session does it: start from UTF-8 characters, keep
// merging the adjacent pair whose concatenation is the highest-scoring vocab
// token, then emit each remaining piece, falling back to byte tokens.
#pragma once

#include <array>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth {

class Vocab;

class SpmEncoder {
 public:
  explicit SpmEncoder(const Vocab& vocab);

  // Appends the ids of `text` to `out`. `text` must already have its spaces
  // escaped to U+2581 (and the space prefix added). Invalid UTF-8 is fine:
  // a byte that cannot start a character is a character of its own.
  // Throws hearth::Error only when a byte must fall back and the vocab has
  // neither a byte token for it nor an unknown token.
  void encode(std::string_view text, std::vector<TokenId>& out) const;

 private:
  void append_bytes(std::string_view piece, std::vector<TokenId>& out) const;

  const Vocab& vocab_;
  // Token for each byte value: "<0xXX>", else the one-byte text itself,
  // else the unknown token, else -1 (llama.cpp's byte_to_token, with UNK as
  // the last resort instead of an exception).
  std::array<TokenId, 256> byte_tokens_{};
};

}  // namespace hearth
