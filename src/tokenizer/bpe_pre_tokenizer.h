// Byte-level BPE pre-tokenization: cutting text into "words" with the regex
// set that tokenizer.ggml.pre names, exactly as llama.cpp's
// unicode_regex_split does it:
//   * the text is decoded leniently into code points;
//   * the regexes run one after another, each inside every chunk the
//     previous ones left (matches and the gaps between them become chunks);
//   * a regex that uses \p{L}, \p{N}, \p{P}, \p{M} or \p{S} runs on a
//     "collapsed" text with one unit per code point: ASCII stays itself, any
//     other White_Space character becomes \v, and every other code point
//     becomes a byte naming its category (letter 0xD2, number 0xD1, ...),
//     with each \p{..} rewritten to a class of that byte plus the ASCII
//     members llama.cpp lists (which leave '~' out of \p{S});
//   * any other regex runs on the code points themselves, with non-ASCII
//     White_Space replaced by \v (std::wregex's \s is ASCII-only).
// llama.cpp hand-codes the GPT-2 and Llama-3 regexes; those functions were
// written to equal the regexes on the same category data, so one regex engine
// serves every set here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace hearth {

// What a tokenizer.ggml.pre value selects, besides its regexes: the vocab
// defaults llama.cpp sets for it while loading.
struct BpePreConfig {
  std::string_view name;        // the tokenizer.ggml.pre value
  std::string_view regex_set;   // which regexes (several names share one)
  bool clean_spaces = true;     // "clean up tokenization spaces" on decode
  bool ignore_merges = false;   // a word that is a whole token skips BPE
  bool add_bos = false;         // default for tokenizer.ggml.add_bos_token
  bool add_sep = false;         // default for tokenizer.ggml.add_sep_token
  bool no_default_bos = false;  // BOS defaults to none instead of id 11
};

// The config for a tokenizer.ggml.pre value ("" means absent, which
// llama.cpp treats as "default"), or nullptr when Hearth does not know it.
const BpePreConfig* find_bpe_pre_config(std::string_view pre);

// Every supported tokenizer.ggml.pre value, for error messages and tests.
std::vector<std::string_view> supported_bpe_pre_names();

// The pieces of the pre-tokenizer, exposed for tests that check them against
// an independent emulation of llama.cpp.
namespace bpe_detail {
// The regexes of a set named by BpePreConfig::regex_set (nullptr if none).
const std::vector<std::string_view>* regex_set(std::string_view name);
// Whether a regex uses a category class (and so runs on the collapsed text).
bool uses_categories(std::string_view regex);
// The regex rewritten for the collapsed text (one code unit per byte).
std::u32string collapse_pattern(std::string_view regex);
// What a code point becomes in the collapsed text.
char32_t collapse_codepoint(uint32_t cpt);
}  // namespace bpe_detail

class BpePreTokenizer {
 public:
  // Compiles the regexes of `config.regex_set`.
  explicit BpePreTokenizer(const BpePreConfig& config);

  // Writes to `words` the length in code points of each consecutive word of
  // `text` (code points as unicode::decode_next reads them); the lengths sum
  // to the number of code points. Throws hearth::Error for a text of 4 GiB
  // or more. Thread-safe.
  void split(std::string_view text, std::vector<uint32_t>& words) const;

  const BpePreConfig& config() const { return config_; }

 private:
  const BpePreConfig& config_;
  std::vector<Regex> regexes_;
  bool any_bytes_ = false;        // some regex runs on the collapsed text
  bool any_code_points_ = false;  // some regex runs on the code points
};

}  // namespace hearth
