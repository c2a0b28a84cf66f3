#include "tokenizer/spm_tokenizer.h"

#include "tokenizer/special_token_partition.h"

namespace hearth {

namespace {

constexpr std::string_view kSpace = " ";
constexpr std::string_view kEscapedSpace = "\xe2\x96\x81";  // U+2581 "▁"

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

VocabDefaults SpmTokenizer::defaults() {
  VocabDefaults d;
  d.bos = 1;
  d.eos = 2;
  d.unk = 0;
  d.add_space_prefix = true;
  d.add_bos = true;
  d.add_eos = false;
  d.clean_spaces = false;
  return d;
}

std::unique_ptr<SpmTokenizer> SpmTokenizer::from_gguf(const gguf::File& file) {
  return std::make_unique<SpmTokenizer>(Vocab::load(file, defaults()));
}

SpmTokenizer::SpmTokenizer(Vocab vocab)
    : VocabTokenizer(std::move(vocab)), encoder_(this->vocab()) {
  build_piece_cache();
}

std::vector<TokenId> SpmTokenizer::encode(std::string_view text, bool add_special,
                                          bool parse_special, std::span<const TextRange> literal) const {
  const Vocab& v = vocab();
  std::vector<TokenId> out;
  if (add_special && v.add_bos()) out.push_back(v.bos());

  // SentencePiece adds a space in front of the text ("Hello" -> "▁Hello");
  // llama.cpp does so for the first text fragment and for every fragment
  // that follows a special token.
  bool after_special = true;
  for (const Fragment& f : partition_special_tokens(text, v, parse_special, literal)) {
    if (!f.is_text()) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    std::string piece;
    if (v.add_space_prefix() && after_special) piece = kSpace;
    piece.append(text.substr(f.offset, f.length));
    encoder_.encode(replace_all(piece, kSpace, kEscapedSpace), out);
    after_special = false;
  }

  if (add_special && v.add_eos()) out.push_back(v.eos());
  return out;
}

std::string SpmTokenizer::normal_token_bytes(const std::string& text) const {
  return replace_all(text, kEscapedSpace, kSpace);
}

}  // namespace hearth
