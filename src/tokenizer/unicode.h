// The Unicode facts the BPE and WordPiece tokenizers need, computed the way
// llama.cpp's unicode.cpp computes them, so that Hearth cuts and normalizes
// text exactly as the reference does: lenient UTF-8 decoding, the general
// category classes its pre-tokenizer regexes use, White_Space, simple
// lowercase, and "the first code point of the NFD form" (llama.cpp's notion
// of NFD). Character data comes from utf8proc (Unicode 15.0 in Debian 12)
// plus the few characters Unicode 15.1 added, which makes it llama.cpp's
// data: its generated tables are Unicode 15.1 (characters assigned later,
// e.g. in 16.0, are undefined there; unicode_test.cpp checks that).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::unicode {

inline constexpr uint32_t kReplacement = 0xFFFD;

// llama.cpp's unicode_cpt_from_utf8 as unicode_cpts_from_utf8 uses it: a
// lead byte and its continuation bytes are combined arithmetically (overlong
// forms, surrogates and leads F5..F7 are accepted); a byte that cannot start
// a complete sequence becomes U+FFFD and only that one byte is skipped.
// Decodes the code point at text[pos] (pos < text.size()) and advances pos.
inline uint32_t decode_next(std::string_view text, size_t& pos) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size(), i = pos;
  const uint8_t b = s[i];
  const auto cont = [&](size_t k) { return i + k < n && (s[i + k] & 0xC0) == 0x80; };
  if (b < 0x80) {
    pos += 1;
    return b;
  }
  if ((b & 0xE0) == 0xC0 && cont(1)) {
    pos += 2;
    return (uint32_t(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
  }
  if ((b & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    pos += 3;
    return (uint32_t(b & 0x0F) << 12) | (uint32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
  }
  if ((b & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    pos += 4;
    return (uint32_t(b & 0x07) << 18) | (uint32_t(s[i + 1] & 0x3F) << 12) |
           (uint32_t(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
  }
  pos += 1;  // a stray continuation byte, an F8..FF byte or a truncated sequence
  return kReplacement;
}

// All code points of `text` (decode_next until the end), appended to `out`.
void decode_utf8(std::string_view text, std::vector<uint32_t>& out);

// Appends the UTF-8 form of `cpt`. Code points above U+10FFFF (from F5..F7
// leads) get the 4-byte pattern of their low 21 bits, which restores the
// input bytes; llama.cpp throws there instead.
void append_utf8(uint32_t cpt, std::string& out);

// Bytes in the UTF-8 sequence that starts with `lead`, as llama.cpp's
// unicode_len_utf8 says (a continuation byte counts as 1).
size_t utf8_len(uint8_t lead);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// llama.cpp's category classes (its unicode_cpt_flags categories).
enum class Category : uint8_t {
  Undefined,    // Cn, and anything above U+10FFFF
  Number,       // \p{N}
  Letter,       // \p{L}
  Separator,    // \p{Z}
  AccentMark,   // \p{M}
  Punctuation,  // \p{P}
  Symbol,       // \p{S}
  Control,      // \p{C} other than Cn
};

Category category(uint32_t cpt);

// The Unicode White_Space property (llama.cpp's unicode_set_whitespace).
bool is_whitespace(uint32_t cpt);

// Simple lowercase mapping (UnicodeData.txt field 13), as unicode_tolower.
uint32_t to_lower(uint32_t cpt);

// The first code point of the canonical decomposition (NFD) of `cpt`: what
// llama.cpp's unicode_cpts_normalize_nfd maps each code point to ("é" ->
// "e", "가" -> U+1100). Not real NFD: one code point in, one out.
uint32_t nfd_first(uint32_t cpt);

namespace detail {
// The same answers without the ASCII fast paths, for tests.
Category category_from_utf8proc(uint32_t cpt);
uint32_t to_lower_from_utf8proc(uint32_t cpt);
}  // namespace detail

// GPT-2's byte <-> printable character map used by byte-level BPE: bytes
// 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF stand for themselves, the other 68
// bytes for U+0100 onwards in order.
std::string_view byte_to_unicode(uint8_t byte);  // UTF-8 of the character
int unicode_to_byte(uint32_t cpt);               // the byte, or -1

}  // namespace hearth::unicode
