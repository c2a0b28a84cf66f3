#include "tokenizer/bpe_tokenizer.h"

#include <unordered_map>

#include "gguf/gguf.h"
#include "tokenizer/special_token_partition.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace hearth {

namespace {

constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";

// Token ids of words already seen in this encode call: natural text repeats
// its words, and BPE on a word costs far more than a hash lookup. Long words
// (rarely repeated) are not kept, and the cache starts over when it is full,
// so memory stays bounded on any input.
class WordCache {
 public:
  // True (and the ids appended) when `word` is cached.
  bool append(const std::string& word, std::vector<TokenId>& out) const {
    const auto it = map_.find(word);
    if (it == map_.end()) return false;
    out.insert(out.end(), pool_.begin() + it->second.first,
               pool_.begin() + it->second.first + it->second.second);
    return true;
  }
  void store(const std::string& word, const TokenId* ids, size_t n) {
    if (word.size() > kMaxWordBytes) return;
    if (map_.size() >= kMaxWords) {
      map_.clear();
      pool_.clear();
    }
    map_.emplace(word, std::make_pair(pool_.size(), n));
    pool_.insert(pool_.end(), ids, ids + n);
  }

 private:
  static constexpr size_t kMaxWordBytes = 64;
  static constexpr size_t kMaxWords = 1 << 16;
  std::unordered_map<std::string, std::pair<size_t, size_t>> map_;
  std::vector<TokenId> pool_;
};

}  // namespace

VocabDefaults BpeTokenizer::defaults(const BpePreConfig& config) {
  VocabDefaults d;
  d.bos = config.no_default_bos ? -1 : 11;
  d.eos = 11;
  d.add_space_prefix = false;
  d.add_bos = config.add_bos;
  d.add_eos = false;
  d.add_sep = config.add_sep;
  d.clean_spaces = config.clean_spaces;
  return d;
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_gguf(const gguf::File& file) {
  const std::string pre = file.get_string_or("tokenizer.ggml.pre", "");
  const BpePreConfig* config = find_bpe_pre_config(pre);
  if (!config) {
    std::string supported;
    for (std::string_view name : supported_bpe_pre_names()) {
      if (!supported.empty()) supported += ", ";
      supported += name;
    }
    throw Error(file.path() + ": tokenizer.ggml.pre is \"" + pre +
                "\", a byte-level BPE pre-tokenizer Hearth does not support (supported: " +
                supported + ")");
  }
  const gguf::Array* merges = file.get_array(kMergesKey, gguf::ValueType::STRING);
  if (!merges) {
    throw Error(file.path() + ": " + std::string(kMergesKey) +
                " is missing: a byte-level BPE (\"gpt2\") tokenizer needs its merge list");
  }
  return std::make_unique<BpeTokenizer>(Vocab::load(file, defaults(*config)), *config,
                                        merges->strings);
}

BpeTokenizer::BpeTokenizer(Vocab vocab, const BpePreConfig& config,
                           const std::vector<std::string>& merges)
    : VocabTokenizer(std::move(vocab)), pre_(config), merges_(this->vocab(), merges) {
  build_piece_cache();
}

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_special,
                                          bool parse_special, std::span<const TextRange> literal) const {
  const Vocab& v = vocab();
  std::vector<TokenId> out;
  out.reserve(text.size() / 2 + 2);  // about 4 bytes a token; untouched pages are free
  if (add_special && v.add_bos()) out.push_back(v.bos());

  std::vector<uint32_t> words;
  std::string word, encoded;
  WordCache cache;
  BpeMerges::Scratch scratch;
  const bool ignore_merges = pre_.config().ignore_merges;

  for (const Fragment& f : partition_special_tokens(text, v, parse_special, literal)) {
    if (!f.is_text()) {
      out.push_back(f.token);
      continue;
    }
    const std::string_view fragment = text.substr(f.offset, f.length);
    pre_.split(fragment, words);
    size_t pos = 0;  // in bytes of `fragment`
    for (const uint32_t len : words) {
      // The word's bytes re-encoded from its code points, as llama.cpp does
      // (so invalid UTF-8 arrives as U+FFFD's bytes).
      word.clear();
      for (uint32_t i = 0; i < len; ++i) {
        unicode::append_utf8(unicode::decode_next(fragment, pos), word);
      }
      if (cache.append(word, out)) continue;

      const size_t first = out.size();
      TokenId whole = -1;
      if (ignore_merges) {
        encoded.clear();
        for (const char c : word) encoded += unicode::byte_to_unicode(static_cast<uint8_t>(c));
        whole = v.find(encoded);
      }
      if (whole >= 0) {
        out.push_back(whole);
      } else {
        merges_.encode_word(word, out, scratch);
      }
      cache.store(word, out.data() + first, out.size() - first);
    }
  }

  if (add_special && v.add_eos()) out.push_back(v.eos());
  return out;
}

std::string BpeTokenizer::normal_token_bytes(const std::string& text) const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::vector<uint32_t> cpts;
  unicode::decode_utf8(text, cpts);
  std::string out;
  std::string utf8;
  for (const uint32_t cpt : cpts) {
    const int byte = unicode::unicode_to_byte(cpt);
    if (byte >= 0) {
      out += static_cast<char>(byte);
      continue;
    }
    utf8.clear();
    unicode::append_utf8(cpt, utf8);
    out += "[UNK_BYTE_0x";
    for (const unsigned char c : utf8) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    out += text + "]";
  }
  return out;
}

}  // namespace hearth
