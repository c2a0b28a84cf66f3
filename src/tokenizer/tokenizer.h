// Text <-> token ids, exactly as the reference runtime does it, built from a
// GGUF file's tokenizer.ggml.* metadata. One class fronts every tokenizer
// model: SentencePiece ("llama"), byte-level BPE ("gpt2") and WordPiece
// ("bert").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::gguf {
class File;
}

namespace hearth {

using TokenId = int32_t;

// Bytes [begin, end) of a text.
struct TextRange {
  size_t begin = 0;
  size_t end = 0;
};

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

class Tokenizer {
 public:
  // Throws hearth::Error naming the file and key for missing or inconsistent
  // tokenizer metadata, or an unsupported tokenizer.ggml.model.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  virtual ~Tokenizer() = default;

  // add_special: add BOS (and EOS) as the vocab's add_bos_token /
  // add_eos_token say. parse_special: match control/special token text in
  // `text` (chat templates need it; user text never gets it). literal:
  // byte ranges of `text` where no special token is matched (the messages
  // inside a rendered chat template), sorted, not overlapping.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special,
                                      std::span<const TextRange> literal = {}) const = 0;

  // The bytes one token stands for, as printed while streaming. Control
  // (and unknown) tokens give "" unless `special` is set (then their text).
  // An id outside [0, n_vocab) throws hearth::Error.
  virtual std::string token_to_piece(TokenId id, bool special = false) const = 0;

  // Whole-sequence decode: concatenated pieces, with the leading space the
  // tokenizer added (SentencePiece's space prefix) removed. As in
  // llama_detokenize, only the first piece is stripped: after a leading BOS
  // (which renders "") the space stays, [BOS, "▁Once"] -> " Once".
  virtual std::string decode(const std::vector<TokenId>& ids, bool special = false) const = 0;

  virtual int32_t n_vocab() const = 0;
  virtual std::string_view model_name() const = 0;  // "llama", "gpt2", ...
  // For summaries (`hearth inspect`): the pre-tokenizer in use (the
  // tokenizer.ggml.pre value; "default" for a BPE file without one, "" for
  // tokenizers that have none) and the number of BPE merges (0 if none).
  virtual std::string_view pre_tokenizer_name() const { return {}; }
  virtual size_t n_merges() const { return 0; }
  // Both throw hearth::Error for an id outside [0, n_vocab). token_type is
  // the type the token behaves as: llama.cpp's load-time fix-ups can make a
  // token CONTROL whatever the file says (e.g. "<|im_end|>", "<|eot_id|>").
  virtual const std::string& token_text(TokenId id) const = 0;
  virtual TokenType token_type(TokenId id) const = 0;

  virtual TokenId bos() const = 0;  // -1 when absent
  virtual TokenId eos() const = 0;  // -1 when absent
  virtual bool add_bos() const = 0;
  // End of generation: EOS, EOT and the like.
  virtual bool is_eog(TokenId id) const = 0;
};

}  // namespace hearth
