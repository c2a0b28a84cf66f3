// The model-independent half of a tokenizer: token texts, scores and types
// from a GGUF file's tokenizer.ggml.* keys, the text -> id map, the special
// token ids and flags, and the fix-ups llama.cpp applies while loading (so
// that every tokenizer model - SPM now, BPE and WordPiece later - sees the
// same vocab llama.cpp would).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth::gguf {
class File;
}

namespace hearth {

// llama.cpp keeps a bit set per token rather than the file's single type:
// load-time fix-ups add bits (a "<|im_end|>" stored as USER_DEFINED also
// becomes CONTROL; phi-3's special tokens get RSTRIP) and every rule
// downstream tests bits. Values match llama.cpp's llama_token_attr.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // special-token match eats whitespace on its left
  kAttrRstrip = 1u << 8,  // ... and on its right
};

// What llama.cpp assumes for a tokenizer model when the file leaves a key
// out (e.g. SPM: BOS 1, EOS 2, UNK 0, add_bos, space prefix).
struct VocabDefaults {
  TokenId bos = -1;
  TokenId eos = -1;
  TokenId unk = -1;
  TokenId sep = -1;
  TokenId pad = -1;
  TokenId mask = -1;
  bool add_space_prefix = false;
  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;
  bool clean_spaces = false;  // "clean up tokenization spaces" on decode
};

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attr = kAttrNormal;  // TokenAttr bits
};

class Vocab {
 public:
  // Reads and validates the tokenizer.ggml.* keys. Throws hearth::Error
  // naming the file and the key for anything missing, malformed or
  // inconsistent (counts that disagree, unknown token types, special ids
  // outside the vocab, duplicate token texts).
  static Vocab load(const gguf::File& file, const VocabDefaults& defaults);

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  bool contains(TokenId id) const { return id >= 0 && id < size(); }
  // `id` must satisfy contains(id).
  const TokenData& token(TokenId id) const { return tokens_[static_cast<size_t>(id)]; }
  bool has_attr(TokenId id, uint32_t attr) const { return (token(id).attr & attr) != 0; }
  // The id whose text is exactly `text`, or -1.
  TokenId find(std::string_view text) const;

  const std::string& model() const { return model_; }  // tokenizer.ggml.model
  const std::string& pre() const { return pre_; }      // tokenizer.ggml.pre ("" if absent)

  // Special ids; -1 when the vocab has none.
  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId eot() const { return eot_; }
  TokenId eom() const { return eom_; }
  TokenId unk() const { return unk_; }
  TokenId sep() const { return sep_; }
  TokenId pad() const { return pad_; }

  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_sep() const { return add_sep_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  bool clean_spaces() const { return clean_spaces_; }

  bool is_eog(TokenId id) const;
  const std::vector<TokenId>& eog_ids() const { return eog_ids_; }  // ascending

  // CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first: the order
  // in which special-token text is cut out of the input.
  const std::vector<TokenId>& special_tokens() const { return special_tokens_; }

 private:
  // Transparent hashing so that lookups by string_view allocate nothing.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void read_tokens(const gguf::File& file);
  void read_special_ids(const gguf::File& file, const VocabDefaults& defaults);
  void apply_text_fixups();
  void apply_model_attr_fixups(const gguf::File& file);

  std::string model_;
  std::string pre_;
  std::vector<TokenData> tokens_;
  std::unordered_map<std::string, TokenId, TextHash, std::equal_to<>> text_to_id_;

  TokenId bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, sep_ = -1, pad_ = -1, mask_ = -1;
  TokenId fim_pre_ = -1, fim_suf_ = -1, fim_mid_ = -1, fim_pad_ = -1, fim_rep_ = -1, fim_sep_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_sep_ = false;
  bool add_space_prefix_ = false, clean_spaces_ = false;

  std::vector<TokenId> eog_ids_;
  std::vector<TokenId> special_tokens_;
};

// The TokenType a token behaves as after llama.cpp's fix-ups (CONTROL wins
// over the type stored in the file when a fix-up added it).
TokenType token_type_from_attr(uint32_t attr);

}  // namespace hearth
