#include "tokenizer/special_token_partition.h"

#include <algorithm>

#include "tokenizer/vocab.h"

namespace hearth {

namespace {

// std::isspace in the "C" locale, which is what llama.cpp's strip uses.
bool is_c_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Whether [begin, end) overlaps one of the sorted, disjoint `ranges`.
bool overlaps(std::span<const TextRange> ranges, size_t begin, size_t end) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), begin,
                             [](size_t pos, const TextRange& r) { return pos < r.end; });
  return it != ranges.end() && it->begin < end;
}

// Splits one raw fragment at every occurrence of `special` outside the
// literal ranges, appending the pieces to `out`.
void split_fragment(std::string_view text, const Fragment& raw, TokenId special,
                    std::string_view special_text, uint32_t attr, std::span<const TextRange> literal,
                    std::vector<Fragment>& out) {
  size_t begin = raw.offset;
  const size_t end = raw.offset + raw.length;
  size_t from = begin;
  while (from < end) {
    const size_t match = text.substr(0, end).find(special_text, from);
    if (match == std::string_view::npos) break;
    if (overlaps(literal, match, match + special_text.size())) {
      from = match + 1;
      continue;
    }

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
    from = begin;
  }
  if (begin < end) out.push_back({-1, begin, end - begin});
}

}  // namespace

std::vector<Fragment> partition_special_tokens(std::string_view text, const Vocab& vocab,
                                               bool parse_special, std::span<const TextRange> literal) {
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
        split_fragment(text, f, id, data.text, data.attr, literal, next);
      } else {
        next.push_back(f);
      }
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace hearth
