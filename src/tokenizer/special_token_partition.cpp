#include "tokenizer/special_token_partition.h"

#include "tokenizer/vocab.h"

namespace hearth {

namespace {

// std::isspace in the "C" locale, which is what llama.cpp's strip uses.
bool is_c_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Splits one raw fragment at every occurrence of `special`, appending the
// pieces to `out`.
void split_fragment(std::string_view text, const Fragment& raw, TokenId special,
                    std::string_view special_text, uint32_t attr, std::vector<Fragment>& out) {
  size_t begin = raw.offset;
  const size_t end = raw.offset + raw.length;
  while (begin < end) {
    const size_t match = text.substr(0, end).find(special_text, begin);
    if (match == std::string_view::npos) break;

    size_t left_end = match;
    if (attr & kAttrLstrip) {
      while (left_end > begin && is_c_space(text[left_end - 1])) --left_end;
    }
    if (left_end > begin) out.push_back({-1, begin, left_end - begin});
    out.push_back({special, 0, 0});

    begin = match + special_text.size();
    if (attr & kAttrRstrip) {
      while (begin < end && is_c_space(text[begin])) ++begin;
    }
  }
  if (begin < end) out.push_back({-1, begin, end - begin});
}

}  // namespace

std::vector<Fragment> partition_special_tokens(std::string_view text, const Vocab& vocab,
                                               bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});

  std::vector<Fragment> next;
  for (const TokenId id : vocab.special_tokens()) {
    const TokenData& data = vocab.token(id);
    if (!parse_special && (data.attr & (kAttrControl | kAttrUnknown))) continue;

    // Most special tokens never occur in a given text; skip the rebuild.
    bool occurs = false;
    for (const Fragment& f : fragments) {
      if (f.is_text() &&
          text.substr(f.offset, f.length).find(data.text) != std::string_view::npos) {
        occurs = true;
        break;
      }
    }
    if (!occurs) continue;

    next.clear();
    next.reserve(fragments.size() + 2);
    for (const Fragment& f : fragments) {
      if (f.is_text()) {
        split_fragment(text, f, id, data.text, data.attr, next);
      } else {
        next.push_back(f);
      }
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace hearth
