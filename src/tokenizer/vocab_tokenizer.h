// The part of a Tokenizer every vocab-based model shares: accessors,
// token_to_piece and decode with llama.cpp's rules. A model subclass
// (SentencePiece, byte-level BPE, WordPiece) adds encode() and says how a
// NORMAL token's text turns into bytes.
#pragma once

#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace hearth {

class VocabTokenizer : public Tokenizer {
 public:
  // Out-of-range ids: token_to_piece, decode, token_text and token_type
  // throw hearth::Error (a bad id is a caller bug worth seeing, not text to
  // print); is_eog returns false.
  std::string token_to_piece(TokenId id, bool special = false) const override;
  // llama_detokenize(remove_special = false, unparse_special = special):
  // pieces concatenated, the first piece losing one leading space when the
  // vocab adds a space prefix. Only the first piece is stripped, even when it
  // renders empty: [BOS, "▁Once"] decodes to " Once", as in llama.cpp.
  std::string decode(const std::vector<TokenId>& ids, bool special = false) const override;

  int32_t n_vocab() const override { return vocab_.size(); }
  std::string_view model_name() const override { return vocab_.model(); }
  std::string_view pre_tokenizer_name() const override { return vocab_.pre(); }
  const std::string& token_text(TokenId id) const override;
  TokenType token_type(TokenId id) const override;

  TokenId bos() const override { return vocab_.bos(); }
  TokenId eos() const override { return vocab_.eos(); }
  bool add_bos() const override { return vocab_.add_bos(); }
  bool is_eog(TokenId id) const override { return vocab_.is_eog(id); }

  const Vocab& vocab() const { return vocab_; }

 protected:
  explicit VocabTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}

  // Bytes of a NORMAL token (SPM: "▁" -> " "; byte-level BPE: its byte map).
  virtual std::string normal_token_bytes(const std::string& text) const = 0;

  // Fills the piece cache; call at the end of the subclass constructor
  // (normal_token_bytes is virtual).
  void build_piece_cache();

 private:
  void check_id(TokenId id) const;

  Vocab vocab_;
  // Each token's piece as rendered with special = true (llama.cpp caches the
  // same); token_to_piece only decides whether to hide it.
  std::vector<std::string> pieces_;
};

// llama.cpp's "clean up tokenization spaces" pass on decoded text (used by
// vocabs with clean_spaces, BPE and WordPiece ones): " ?" -> "?", " ' " ->
// "'", " 's" -> "'s" and the like, exactly as its detokenize does it.
std::string clean_up_tokenization_spaces(std::string text);

}  // namespace hearth
