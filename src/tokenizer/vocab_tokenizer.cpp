#include "tokenizer/vocab_tokenizer.h"

#include "util/error.h"

namespace hearth {

namespace {

// The byte a byte token such as "<0x0A>" stands for. Read as llama.cpp
// does (strtol of the two characters after "<0x"), so an odd text still
// gives some byte rather than an error.
char byte_token_value(const std::string& text) {
  unsigned value = 0;
  for (size_t i = 3; i < text.size() && i < 5; ++i) {
    const char c = text[i];
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      break;
    }
    value = value * 16 + digit;
  }
  return static_cast<char>(value);
}

}  // namespace

void VocabTokenizer::build_piece_cache() {
  pieces_.assign(static_cast<size_t>(vocab_.size()), std::string());
  for (TokenId id = 0; id < vocab_.size(); ++id) {
    const TokenData& t = vocab_.token(id);
    // Checked in llama.cpp's order: a NORMAL token that a fix-up made
    // CONTROL renders as its text.
    if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      pieces_[id] = t.text;
    } else if (t.attr & kAttrNormal) {
      pieces_[id] = normal_token_bytes(t.text);
    } else if (t.attr & kAttrByte) {
      pieces_[id] = std::string(1, byte_token_value(t.text));
    }
    // UNUSED and UNDEFINED tokens render as nothing.
  }
}

void VocabTokenizer::check_id(TokenId id) const {
  if (!vocab_.contains(id)) {
    throw Error("token id " + std::to_string(id) + " is out of range (the vocab has " +
                std::to_string(vocab_.size()) + " tokens)");
  }
}

std::string VocabTokenizer::token_to_piece(TokenId id, bool special) const {
  check_id(id);
  if (!special && vocab_.has_attr(id, kAttrUnknown | kAttrControl)) return {};
  return pieces_[static_cast<size_t>(id)];
}

std::string VocabTokenizer::decode(const std::vector<TokenId>& ids, bool special) const {
  std::string text;
  bool strip_space = vocab_.add_space_prefix();
  for (const TokenId id : ids) {
    const std::string piece = token_to_piece(id, special);
    const size_t skip = strip_space && !piece.empty() && piece[0] == ' ' ? 1 : 0;
    text.append(piece, skip);
    strip_space = false;
  }
  return vocab_.clean_spaces() ? clean_up_tokenization_spaces(std::move(text)) : text;
}

const std::string& VocabTokenizer::token_text(TokenId id) const {
  check_id(id);
  return vocab_.token(id).text;
}

TokenType VocabTokenizer::token_type(TokenId id) const {
  check_id(id);
  return token_type_from_attr(vocab_.token(id).attr);
}

// Three in-place compaction passes over the bytes, mirroring llama.cpp's
// loops (including reading the original neighbour bytes as they do), so
// that edge cases such as " ' ' " come out the same.
std::string clean_up_tokenization_spaces(std::string t) {
  // 1: " ?", " !", " .", " ," lose the space.
  size_t n = t.size();
  size_t total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  // 2: " ' " becomes "'".
  n = total;
  total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';  // the next space is skipped; later checks see a NUL there
    }
    t[total++] = x;
  }
  // 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
  n = total;
  total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (i + 2 < n) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  t.resize(total);
  return t;
}

}  // namespace hearth
