// The WordPiece ("bert") tokenizer of BERT-style embedding models, as
// llama.cpp's llm_tokenizer_wpm_session does it. The GGUF vocab is in
// llama.cpp's "phantom space" form: word-initial pieces carry a leading
// U+2581 ("▁hello") and continuation pieces are bare (BERT's "##llo" ->
// "llo"), so a word is matched as "▁" + word, greedily longest piece first.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/vocab_tokenizer.h"

namespace hearth::gguf {
class File;
}

namespace hearth {

class WpmTokenizer final : public VocabTokenizer {
 public:
  // What llama.cpp assumes for tokenizer.ggml.model = "bert" when keys are
  // absent: BOS ([CLS]) 101, UNK 100, SEP 102, PAD 0, add SEP.
  static VocabDefaults defaults();
  static std::unique_ptr<WpmTokenizer> from_gguf(const gguf::File& file);

  // BertNormalizer options: tokenizer.ggml.normalizer.lowercase (default
  // true) and .strip_accents (default: the lowercase setting).
  WpmTokenizer(Vocab vocab, bool lowercase, bool strip_accents);

  // add_special puts [CLS] (BOS) in front and [SEP] at the end, whatever
  // add_bos_token says, as llama.cpp does for WPM.
  std::vector<TokenId> encode(std::string_view text, bool add_special,
                              bool parse_special, std::span<const TextRange> literal = {}) const override;

  // BERT's basic tokenizer: NFD-first and accent stripping, lowercasing,
  // splitting at whitespace, punctuation, ASCII symbols and CJK ideographs,
  // dropping NUL, U+FFFD and control characters. Public for tests.
  std::vector<std::string> split_words(std::string_view text) const;

 protected:
  std::string normal_token_bytes(const std::string& text) const override;

 private:
  template <typename Emit>
  void for_each_word(std::string_view text, Emit&& emit) const;
  void encode_word(const std::string& word, std::vector<TokenId>& out) const;

  bool lowercase_;
  bool strip_accents_;
  size_t max_token_len_ = 0;  // longest token text, in bytes
};

}  // namespace hearth
