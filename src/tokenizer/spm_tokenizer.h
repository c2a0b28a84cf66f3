// The SentencePiece ("llama") tokenizer: LLaMA 1/2, Mistral v1, Phi-3,
// TinyLlama, stories260K and friends.
#pragma once

#include <memory>

#include "tokenizer/spm_encoder.h"
#include "tokenizer/vocab_tokenizer.h"

namespace hearth::gguf {
class File;
}

namespace hearth {

class SpmTokenizer final : public VocabTokenizer {
 public:
  // What llama.cpp assumes for tokenizer.ggml.model = "llama" when keys are
  // absent: BOS 1, EOS 2, UNK 0, add BOS, no EOS, a space prefix.
  static VocabDefaults defaults();
  static std::unique_ptr<SpmTokenizer> from_gguf(const gguf::File& file);

  explicit SpmTokenizer(Vocab vocab);
  // encoder_ refers into this object: no copies.
  SpmTokenizer(const SpmTokenizer&) = delete;
  SpmTokenizer& operator=(const SpmTokenizer&) = delete;

  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              bool parse_special, std::span<const TextRange> literal = {}) const override;

 protected:
  std::string normal_token_bytes(const std::string& text) const override;

 private:
  SpmEncoder encoder_;  // refers to vocab(), which lives in the base class
};

}  // namespace hearth
