// One compiled pre-tokenizer regex (PCRE2, JIT-compiled when the platform
// allows), applied the way llama.cpp applies its std::regex: to each chunk of
// text separately, emitting every match and every unmatched gap as a chunk.
//
// Subjects are sequences of code units matched without PCRE2's UTF mode:
// llama.cpp runs std::regex on a "collapsed" text with one byte per code
// point (kBytes here) and std::wregex on raw code point values (kCodePoints),
// so \s, \d and \w are the ASCII classes of the C locale and a surrogate or
// out-of-range code point is just a number, never an error. PCRE2's
// backtracking semantics (leftmost match, ordered alternation, greedy
// quantifiers) are ECMAScript's for the patterns tokenizers use; `$` matches
// only at the very end, as in ECMAScript.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

class Regex {
 public:
  enum Units { kBytes, kCodePoints };

  // `pattern` is in the same units as the subjects (for kBytes every unit
  // must be below 256). Throws hearth::Error (naming `name`) when the
  // pattern does not compile.
  Regex(std::u32string_view pattern, Units units, std::string name);
  ~Regex();
  Regex(Regex&& other) noexcept;
  Regex& operator=(Regex&&) = delete;
  Regex(const Regex&) = delete;

  // Splits every chunk of the subject (chunk i is `chunks[i]` units long,
  // the chunks covering the subject in order) at the matches of this regex,
  // as llama.cpp's unicode_regex_split_stl does, and writes the new chunk
  // lengths to `out` (empty chunks are left out: they tokenize to nothing).
  // Use the overload of this regex's units. Thread-safe: all match state is
  // local to the call.
  void split(std::string_view bytes, const std::vector<uint32_t>& chunks,
             std::vector<uint32_t>& out) const;
  void split(std::u32string_view code_points, const std::vector<uint32_t>& chunks,
             std::vector<uint32_t>& out) const;

  Units units() const { return units_; }
  const std::string& name() const { return name_; }

 private:
  void* code_ = nullptr;  // pcre2_code_8* or pcre2_code_32*
  Units units_;
  std::string name_;
};

}  // namespace hearth
