// The BPE pre-tokenizer (PCRE2 over llama.cpp's collapsed text) against an
// independent emulation of what llama.cpp's unicode_regex_split runs: its
// std::regex / std::wregex calls, made the same way, and its two hand-coded
// splitters (GPT-2 and Llama-3 regexes), on many random strings built from
// the characters the regexes tell apart. No shared data needed.
#include "tokenizer/bpe_pre_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace hearth {
namespace {

using Cpts = std::vector<uint32_t>;
using Offsets = std::vector<size_t>;

// --- Oracle 1: std::regex as llama.cpp's unicode_regex_split_stl uses it. ---

template <typename CharT>
Offsets stl_split(const std::basic_string<CharT>& text, const std::basic_string<CharT>& pattern,
                  const Offsets& offsets) {
  const std::basic_regex<CharT> re(pattern,
                                   std::regex_constants::optimize | std::regex_constants::nosubs);
  Offsets out;
  size_t start = 0;
  for (const size_t offset : offsets) {
    std::regex_iterator<const CharT*> it(text.data() + start, text.data() + start + offset, re);
    const std::regex_iterator<const CharT*> end;
    int64_t start_idx = 0;
    for (; it != end; ++it) {
      const int64_t pos = it->position(), len = it->length();
      if (pos > start_idx) out.push_back(static_cast<size_t>(pos - start_idx));
      out.push_back(static_cast<size_t>(len));
      start_idx = pos + len;
    }
    if (start_idx < static_cast<int64_t>(offset)) out.push_back(offset - start_idx);
    start += offset;
  }
  return out;
}

// --- Oracle 2: llama.cpp's hand-coded splitters, restated. ---

struct Flags {
  bool valid = false, letter = false, number = false, whitespace = false;
};

class Cursor {
 public:
  Cursor(const Cpts& cpts, size_t begin, size_t end) : cpts_(cpts), begin_(begin), end_(end) {}
  static constexpr uint32_t kOut = 0xFFFFFFFF;
  uint32_t cpt(size_t pos) const { return pos >= begin_ && pos < end_ ? cpts_[pos] : kOut; }
  Flags flags(size_t pos) const {
    if (pos < begin_ || pos >= end_) return {};
    const auto cat = unicode::category(cpts_[pos]);
    return {true, cat == unicode::Category::Letter, cat == unicode::Category::Number,
            unicode::is_whitespace(cpts_[pos])};
  }

 private:
  const Cpts& cpts_;
  size_t begin_, end_;
};

bool other(const Flags& f) { return f.valid && !f.whitespace && !f.letter && !f.number; }

// Shared tail of both splitters: whitespace runs. Returns the new position.
size_t split_whitespace(const Cursor& c, size_t pos, bool newline_rule) {
  size_t n = 0, last_newline_end = 0;
  while (c.flags(pos + n).whitespace) {
    const uint32_t w = c.cpt(pos + n);
    if (w == '\r' || w == '\n') last_newline_end = pos + n + 1;
    ++n;
  }
  if (newline_rule && last_newline_end > 0) return last_newline_end;  // \s*[\r\n]+
  if (n > 1 && c.cpt(pos + n) != Cursor::kOut) return pos + n - 1;    // \s+(?!\S)
  if (n > 0) return pos + n;                                          // \s+
  return pos + 1;                                                     // no match
}

// Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, or 0.
size_t contraction(const Cursor& c, size_t pos, size_t end, bool any_case) {
  if (c.cpt(pos) != '\'' || pos + 1 >= end) return 0;
  const auto low = [&](uint32_t x) { return any_case ? unicode::to_lower(x) : x; };
  const uint32_t a = low(c.cpt(pos + 1));
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= end) return 0;
  const uint32_t b = low(c.cpt(pos + 2));
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

Offsets custom_split(const Cpts& cpts, const Offsets& offsets, bool llama3) {
  Offsets out;
  size_t start = 0;
  for (const size_t offset : offsets) {
    const size_t begin = start, end = start + offset;
    start = end;
    const Cursor c(cpts, begin, end);
    size_t prev = begin;
    const auto token = [&](size_t to) {
      if (to > prev) out.push_back(to - prev);
      prev = to;
    };
    for (size_t pos = begin; pos < end;) {
      const uint32_t cpt = c.cpt(pos);
      const Flags f = c.flags(pos);
      if (const size_t n = contraction(c, pos, end, llama3)) {
        token(pos += n);
        continue;
      }
      if (llama3) {
        if (!(cpt == '\r' || cpt == '\n' || f.number) && (f.letter || c.flags(pos + 1).letter)) {
          ++pos;  // [^\r\n\p{L}\p{N}]?\p{L}+
          while (c.flags(pos).letter) ++pos;
          token(pos);
          continue;
        }
        if (f.number) {  // \p{N}{1,3}
          size_t ini = pos;
          while (c.flags(pos).number) {
            if (++pos - ini >= 3) {
              token(pos);
              ini = pos;
            }
          }
          token(pos);
          continue;
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*' (the llama.cpp code tests the first
        // character's flags for validity, not the second's).
        Flags f2 = cpt == ' ' ? c.flags(pos + 1) : f;
        if (!(f2.whitespace || f2.letter || f2.number) && f.valid) {
          pos += cpt == ' ';
          while (other(f2)) f2 = c.flags(++pos);
          while (c.cpt(pos) == '\r' || c.cpt(pos) == '\n') ++pos;
          token(pos);
          continue;
        }
        token(pos = split_whitespace(c, pos, true));
      } else {
        Flags f2 = cpt == ' ' ? c.flags(pos + 1) : f;
        if (f2.letter || f2.number) {  // ' ?\p{L}+' and ' ?\p{N}+'
          const bool letter = f2.letter;
          pos += cpt == ' ';
          while (letter ? f2.letter : f2.number) f2 = c.flags(++pos);
          token(pos);
          continue;
        }
        if (other(f2)) {  // ' ?[^\s\p{L}\p{N}]+'
          pos += cpt == ' ';
          while (other(f2)) f2 = c.flags(++pos);
          token(pos);
          continue;
        }
        token(pos = split_whitespace(c, pos, false));
      }
    }
  }
  return out;
}

// --- llama.cpp's dispatch over a regex set. ---

constexpr std::string_view kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr std::string_view kLlama3Regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

Offsets llama_cpp_split(const Cpts& cpts, const std::vector<std::string_view>& regexes) {
  std::string collapsed;
  std::wstring wide;
  for (const uint32_t c : cpts) {
    collapsed += static_cast<char>(bpe_detail::collapse_codepoint(c));
    wide += static_cast<wchar_t>(c >= 0x80 && unicode::is_whitespace(c) ? 0x0B : c);
  }
  Offsets offsets = {cpts.size()};
  for (const std::string_view regex : regexes) {
    if (regex == kGpt2Regex || regex == kLlama3Regex) {
      offsets = custom_split(cpts, offsets, regex == kLlama3Regex);
    } else if (bpe_detail::uses_categories(regex)) {
      std::string pattern;
      for (const char32_t u : bpe_detail::collapse_pattern(regex)) pattern += static_cast<char>(u);
      offsets = stl_split(collapsed, pattern, offsets);
    } else {
      Cpts p;
      unicode::decode_utf8(regex, p);
      offsets = stl_split(wide, std::wstring(p.begin(), p.end()), offsets);
    }
  }
  std::erase(offsets, 0);  // zero-length pieces tokenize to nothing
  return offsets;
}

// Characters that exercise every branch: ASCII classes, contraction letters,
// every kind of whitespace, non-ASCII letters/numbers/marks/punctuation/
// symbols, CJK, emoji, a surrogate and a code point past U+10FFFF (both reach
// the tokenizer from malformed UTF-8).
const std::vector<uint32_t> kAlphabet = {
    ' ',      ' ',     ' ',     '\t',    '\n',   '\n',   '\r',   '\v',   '\f',   'a',    'Z',
    's',      'S',     't',     'T',     'r',    'e',    'E',    'v',    'm',    'l',    'L',
    'd',      'D',     'x',     '\'',    '\'',   '0',    '7',    '3',    '.',    ',',    '!',
    '?',      '$',     '+',     '<',     '=',    '~',    '`',    '|',    '^',    '_',    '-',
    '(',      ')',     '/',     '[',     '\\',   ']',    '{',    '}',    '"',    '#',    '%',
    '&',      '*',     ':',     ';',     '@',    0x1F,   0x7F,   0x00,   0xA0,   0x85,   0x2003,
    0x3000,   0x2028,  0xE9,    0xDF,    0xC4,   0x3A3,  0x416,  0x5D0,  0x627,  0xBD,   0xB2,
    0x216B,   0x663,   0xFF11,  0x301,   0x94D,  0x200D, 0xAD,   0x6211, 0x60F3, 0xAC00, 0x3042,
    0x30A2,   0x1780,  0x1F999, 0x1F601, 0x2026, 0x3002, 0xFF0C, 0x20AC, 0xA9,   0xFFFD, 0xD800,
    0x110000, 0x1D400, 0xE000};

class PreTokenizerOracle : public ::testing::TestWithParam<std::string_view> {};

TEST_P(PreTokenizerOracle, SplitsLikeLlamaCpp) {
  const BpePreConfig* config = nullptr;
  for (const std::string_view name : supported_bpe_pre_names()) {
    const BpePreConfig* c = find_bpe_pre_config(name);
    if (c->regex_set == GetParam()) {
      config = c;
      break;
    }
  }
  ASSERT_NE(config, nullptr) << "no tokenizer.ggml.pre uses regex set " << GetParam();
  const BpePreTokenizer pre(*config);
  const auto* regexes = bpe_detail::regex_set(GetParam());
  ASSERT_NE(regexes, nullptr);

  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::uniform_int_distribution<size_t> length(0, 24);
  // std::regex is slow; the sets llama.cpp runs through its hand-coded
  // splitters alone get many more trials.
  const bool only_custom = std::all_of(regexes->begin(), regexes->end(), [](std::string_view r) {
    return r == kGpt2Regex || r == kLlama3Regex;
  });
  const int trials = only_custom ? 30000 : 800;
  int failures = 0;
  for (int trial = 0; trial < trials && failures < 5; ++trial) {
    Cpts cpts(length(rng));
    for (auto& c : cpts) c = kAlphabet[pick(rng)];
    std::string text;
    for (const uint32_t c : cpts) unicode::append_utf8(c, text);

    Cpts decoded;
    unicode::decode_utf8(text, decoded);
    ASSERT_EQ(decoded, cpts) << "the test alphabet must survive decoding";
    std::vector<uint32_t> split;
    pre.split(text, split);
    const Offsets words(split.begin(), split.end());
    const Offsets expected = llama_cpp_split(cpts, *regexes);
    if (words != expected) {
      ++failures;
      std::string shown;
      for (const uint32_t c : cpts) shown += " U+" + std::to_string(c);
      std::string want, got;
      for (size_t n : expected) want += " " + std::to_string(n);
      for (size_t n : words) got += " " + std::to_string(n);
      ADD_FAILURE() << GetParam() << ": code points" << shown << "\n  llama.cpp:" << want
                    << "\n  hearth:   " << got;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllRegexSets, PreTokenizerOracle,
                         ::testing::Values("default", "gpt2", "llama3", "qwen2", "qwen35",
                                           "starcoder", "falcon", "deepseek-llm", "deepseek-coder",
                                           "deepseek-v3", "poro", "viking", "tekken", "chameleon",
                                           "gpt4o", "bailingmoe", "seed-coder"),
                         [](const auto& info) {
                           std::string name(info.param);
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST(BpePreTokenizer, EverySupportedNameHasCompilingRegexes) {
  for (const std::string_view name : supported_bpe_pre_names()) {
    const BpePreConfig* config = find_bpe_pre_config(name);
    ASSERT_NE(config, nullptr) << name;
    EXPECT_NO_THROW(BpePreTokenizer{*config}) << name;
  }
  // A file without tokenizer.ggml.pre gets llama.cpp's "default".
  ASSERT_NE(find_bpe_pre_config(""), nullptr);
  EXPECT_EQ(find_bpe_pre_config("")->regex_set, "default");
  EXPECT_EQ(find_bpe_pre_config("no-such-pre"), nullptr);
}

TEST(BpePreTokenizer, CollapsedTextUsesLlamaCppCategoryBytes) {
  using bpe_detail::collapse_codepoint;
  EXPECT_EQ(collapse_codepoint('a'), U'a');        // ASCII stays itself
  EXPECT_EQ(collapse_codepoint(0x3000), U'\v');    // other White_Space -> \v
  EXPECT_EQ(collapse_codepoint(0xBD), 0xD1u);      // ½: number
  EXPECT_EQ(collapse_codepoint(0xE9), 0xD2u);      // é: letter
  EXPECT_EQ(collapse_codepoint(0x2026), 0xD3u);    // …: punctuation
  EXPECT_EQ(collapse_codepoint(0x301), 0xD4u);     // combining acute: mark
  EXPECT_EQ(collapse_codepoint(0x20AC), 0xD5u);    // €: symbol
  EXPECT_EQ(collapse_codepoint(0x200D), 0xD0u);    // ZWJ (Cf): other
  EXPECT_EQ(collapse_codepoint(0x110000), 0xD0u);  // past Unicode: other
}

TEST(BpePreTokenizer, LongRunsSplitInLinearTime) {
  // One regex match spanning a megabyte must not blow the regex stack or
  // take quadratic time (tekken's per-letter group repeat is the hardest).
  const std::string letters(1 << 20, 'a');
  for (const std::string_view set : {"gpt2", "llama3", "tekken", "gpt4o", "deepseek-llm"}) {
    const BpePreConfig* config = nullptr;
    for (const std::string_view name : supported_bpe_pre_names()) {
      if (find_bpe_pre_config(name)->regex_set == set) config = find_bpe_pre_config(name);
    }
    ASSERT_NE(config, nullptr);
    std::vector<uint32_t> words;
    BpePreTokenizer(*config).split(letters, words);
    EXPECT_EQ(words, std::vector<uint32_t>{static_cast<uint32_t>(letters.size())}) << set;
  }
}

}  // namespace
}  // namespace hearth
