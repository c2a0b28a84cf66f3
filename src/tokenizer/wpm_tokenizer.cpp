#include "tokenizer/wpm_tokenizer.h"

#include <algorithm>

#include "gguf/gguf.h"
#include "tokenizer/special_token_partition.h"
#include "tokenizer/unicode.h"

namespace hearth {

namespace {

constexpr std::string_view kPhantomSpace = "\xe2\x96\x81";  // U+2581 "▁"

// CJK ideographs, which BERT makes words of their own. The ranges are
// llama.cpp's (after Hugging Face's): Extension E starts at U+2B920 there,
// not U+2B820.
bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string_view::npos;
       pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out.append(to);
  }
  out.append(text, pos);
  return out;
}

}  // namespace

VocabDefaults WpmTokenizer::defaults() {
  VocabDefaults d;
  d.bos = 101;
  d.eos = -1;
  d.unk = 100;
  d.sep = 102;
  d.pad = 0;
  d.mask = 103;
  d.add_space_prefix = false;
  d.add_bos = true;
  d.add_eos = false;
  d.add_sep = true;
  d.clean_spaces = true;
  return d;
}

std::unique_ptr<WpmTokenizer> WpmTokenizer::from_gguf(const gguf::File& file) {
  const bool lowercase = file.get_bool_or("tokenizer.ggml.normalizer.lowercase", true);
  const bool strip_accents = file.get_bool_or("tokenizer.ggml.normalizer.strip_accents", lowercase);
  return std::make_unique<WpmTokenizer>(Vocab::load(file, defaults()), lowercase, strip_accents);
}

WpmTokenizer::WpmTokenizer(Vocab vocab, bool lowercase, bool strip_accents)
    : VocabTokenizer(std::move(vocab)), lowercase_(lowercase), strip_accents_(strip_accents) {
  for (TokenId id = 0; id < this->vocab().size(); ++id) {
    max_token_len_ = std::max(max_token_len_, this->vocab().token(id).text.size());
  }
  build_piece_cache();
}

// Streams the words to `emit` rather than collecting them: a large text has
// millions of words.
template <typename Emit>
void WpmTokenizer::for_each_word(std::string_view text, Emit&& emit) const {
  std::string word;
  const auto finish = [&] {
    if (!word.empty()) emit(word);
    word.clear();
  };
  for (size_t pos = 0; pos < text.size();) {
    uint32_t cpt = unicode::decode_next(text, pos);
    if (strip_accents_) cpt = unicode::nfd_first(cpt);
    if (unicode::is_whitespace(cpt)) {
      finish();
      continue;
    }
    const unicode::Category cat = unicode::category(cpt);
    if (cpt == 0 || cpt == unicode::kReplacement || cat == unicode::Category::Control) continue;
    if (strip_accents_ && cat == unicode::Category::AccentMark) continue;

    const uint32_t out = lowercase_ ? unicode::to_lower(cpt) : cpt;
    if (cat == unicode::Category::Punctuation || (cpt < 0x7F && cat == unicode::Category::Symbol) ||
        is_chinese_char(cpt)) {
      // A word of its own.
      finish();
      unicode::append_utf8(out, word);
      finish();
    } else {
      unicode::append_utf8(out, word);
    }
  }
  finish();
}

std::vector<std::string> WpmTokenizer::split_words(std::string_view text) const {
  std::vector<std::string> words;
  for_each_word(text, [&](const std::string& w) { words.push_back(w); });
  return words;
}

void WpmTokenizer::encode_word(const std::string& word, std::vector<TokenId>& out) const {
  thread_local std::string w;  // "▁" + word, without an allocation per word
  w.assign(kPhantomSpace);
  w += word;
  const std::string_view view = w;
  const size_t n = w.size();
  const size_t start = out.size();
  // Greedy longest match at each position, over byte offsets as llama.cpp
  // does; one position without any match discards the whole word.
  for (size_t i = 0; i < n; ++i) {
    bool matched = false;
    for (size_t j = std::min(n, i + max_token_len_ + 1); j > i; --j) {
      const TokenId id = vocab().find(view.substr(i, j - i));
      if (id >= 0) {
        out.push_back(id);
        matched = true;
        i = j - 1;
        break;
      }
    }
    if (!matched) {
      out.resize(start);
      break;
    }
  }
  // llama.cpp would emit -1 when the vocab has no unknown token; emit nothing.
  if (out.size() == start && vocab().unk() >= 0) out.push_back(vocab().unk());
}

std::vector<TokenId> WpmTokenizer::encode(std::string_view text, bool add_special,
                                          bool parse_special, std::span<const TextRange> literal) const {
  const Vocab& v = vocab();
  std::vector<TokenId> out;
  if (add_special && v.bos() >= 0) out.push_back(v.bos());
  for (const Fragment& f : partition_special_tokens(text, v, parse_special, literal)) {
    if (!f.is_text()) {
      out.push_back(f.token);
      continue;
    }
    for_each_word(text.substr(f.offset, f.length),
                  [&](const std::string& word) { encode_word(word, out); });
  }
  if (add_special && v.sep() >= 0) out.push_back(v.sep());
  return out;
}

std::string WpmTokenizer::normal_token_bytes(const std::string& text) const {
  return replace_all(text, kPhantomSpace, " ");
}

}  // namespace hearth
