// Code-point level string helpers for the Jinja engine. Python strings are
// sequences of code points, so len(), indexing, slicing, strip(), upper() and
// friends must work on code points, not bytes. Strings stay UTF-8 inside the
// engine; these helpers decode on demand.
//
// Bytes that are not valid UTF-8 decode to U+DC80..U+DCFF (Python's
// "surrogateescape") and encode back to the same byte, so malformed input
// survives a round trip unchanged instead of being lost or crashing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat::jinja::uni {

// Decodes the code point at s[pos] and advances pos (always by >= 1).
char32_t next_cp(std::string_view s, size_t& pos);
void append_utf8(std::string& out, char32_t cp);
std::u32string decode(std::string_view s);
std::string encode(std::u32string_view s);
size_t length(std::string_view s);  // number of code points
bool valid_utf8(std::string_view s);

// Python str.isspace() for one code point (also what re's \s matches).
bool is_space(char32_t c);
// Python str.isalpha / isdigit / isdecimal / isalnum / isprintable for one
// code point; exact for ASCII and Latin-1, a close approximation elsewhere.
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
bool is_decimal(char32_t c);
bool is_alnum(char32_t c);
bool is_printable(char32_t c);
// re's \w: alphanumerics and underscore.
bool is_word(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);
// Simple one-to-one case mappings (ASCII, Latin-1/Extended, Greek, Cyrillic,
// Armenian, fullwidth); other code points map to themselves.
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

// Whole-string Python equivalents.
std::string upper(std::string_view s);  // "ß" -> "SS" as Python does
std::string lower(std::string_view s);
std::string swapcase(std::string_view s);
std::string capitalize(std::string_view s);  // first upper, rest lower
std::string py_title(std::string_view s);     // str.title()

// Python's str.splitlines(keepends): \n \r \r\n \v \f \x1c-\x1e \x85 \u2028 \u2029.
std::vector<std::string> splitlines(std::string_view s, bool keepends = false);

// strip/lstrip/rstrip: chars == nullptr strips whitespace (is_space);
// otherwise strips any code point contained in *chars.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);

// Byte offset of code point index `idx` (clamped to s.size()).
size_t byte_offset(std::string_view s, size_t idx);

}  // namespace hearth::chat::jinja::uni
