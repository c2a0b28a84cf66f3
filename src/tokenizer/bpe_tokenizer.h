// The byte-level BPE ("gpt2") tokenizer: GPT-2, Llama 3, Qwen 2/2.5/3,
// SmolLM, DeepSeek, StarCoder, Falcon, MPT and friends.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_pre_tokenizer.h"
#include "tokenizer/vocab_tokenizer.h"

namespace hearth::gguf {
class File;
}

namespace hearth {

class BpeTokenizer final : public VocabTokenizer {
 public:
  // Throws hearth::Error naming the file and key for an unknown
  // tokenizer.ggml.pre, a missing or malformed tokenizer.ggml.merges, or
  // anything Vocab::load rejects.
  static std::unique_ptr<BpeTokenizer> from_gguf(const gguf::File& file);

  // What llama.cpp assumes for tokenizer.ggml.model = "gpt2" with this
  // pre-tokenizer when keys are absent (BOS = EOS = 11, ...).
  static VocabDefaults defaults(const BpePreConfig& config);

  BpeTokenizer(Vocab vocab, const BpePreConfig& config, const std::vector<std::string>& merges);
  BpeTokenizer(const BpeTokenizer&) = delete;
  BpeTokenizer& operator=(const BpeTokenizer&) = delete;

  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              bool parse_special, std::span<const TextRange> literal = {}) const override;

  // llama.cpp applies "default" to a file without tokenizer.ggml.pre.
  std::string_view pre_tokenizer_name() const override {
    return vocab().pre().empty() ? std::string_view("default") : std::string_view(vocab().pre());
  }
  size_t n_merges() const override { return merges_.size(); }

 protected:
  // llama.cpp's llama_decode_text: each character of the token text back to
  // its byte; a character outside the GPT-2 byte map renders as
  // "[UNK_BYTE_0x<hex>" + the whole token text + "]".
  std::string normal_token_bytes(const std::string& text) const override;

 private:
  BpePreTokenizer pre_;
  BpeMerges merges_;
};

}  // namespace hearth
