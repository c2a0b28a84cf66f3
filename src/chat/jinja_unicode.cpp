#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja::uni {

char32_t next_cp(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  auto escape = [&]() -> char32_t {
    ++pos;
    return 0xDC00 + b0;  // surrogateescape: one bad byte -> U+DC80..U+DCFF
  };
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  int n;
  char32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 2;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 3;
    cp = b0 & 0x07;
  } else {
    return escape();
  }
  if (pos + n >= s.size()) return escape();  // truncated sequence
  for (int k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[pos + k]);
    if ((b & 0xC0) != 0x80) return escape();
    cp = (cp << 6) | (b & 0x3F);
  }
  // Reject overlong forms, UTF-16 surrogates and values past U+10FFFF.
  if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return escape();
  }
  pos += n + 1;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) {  // an escaped raw byte goes back as is
    out += static_cast<char>(cp - 0xDC00);
  } else if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    if (cp > 0x10FFFF) cp = 0xFFFD;
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) out += next_cp(s, pos);
  return out;
}

std::string encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

size_t length(std::string_view s) {
  size_t n = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    // Fast path for ASCII runs.
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
    } else {
      next_cp(s, pos);
    }
    ++n;
  }
  return n;
}

bool valid_utf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = next_cp(s, pos);
    if (c >= 0xDC80 && c <= 0xDCFF) return false;
  }
  return true;
}

size_t byte_offset(std::string_view s, size_t idx) {
  size_t pos = 0;
  while (idx > 0 && pos < s.size()) {
    next_cp(s, pos);
    --idx;
  }
  return pos;
}

bool is_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_decimal(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  static constexpr char32_t kZeros[] = {0x660,  0x6F0,  0x7C0,  0x966,  0x9E6,  0xA66,  0xAE6,
                                        0xB66,  0xBE6,  0xC66,  0xCE6,  0xD66,  0xDE6,  0xE50,
                                        0xED0,  0xF20,  0x1040, 0x1090, 0x17E0, 0x1810, 0xFF10,
                                        0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6};
  for (char32_t z : kZeros) {
    if (c >= z && c <= z + 9) return true;
  }
  return false;
}

bool is_digit(char32_t c) {
  return is_decimal(c) || c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0x2070 && c <= 0x2079 && c != 0x2071 && c != 0x2072 && c != 0x2073) ||
         (c >= 0x2080 && c <= 0x2089) || (c >= 0x2460 && c <= 0x2468) || (c >= 0x2474 && c <= 0x247C) ||
         (c >= 0x2488 && c <= 0x2490);
}

bool is_alpha(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c < 0x100) return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7);
  struct Range {
    char32_t lo, hi;
  };
  // Letter blocks (approximate: a few non-letters inside these blocks count).
  static constexpr Range kLetters[] = {
      {0x100, 0x2C1},   {0x2C6, 0x2D1},   {0x2E0, 0x2E4},   {0x370, 0x374},   {0x376, 0x37D},
      {0x37F, 0x37F},   {0x386, 0x386},   {0x388, 0x3F5},   {0x3F7, 0x481},   {0x48A, 0x52F},
      {0x531, 0x556},   {0x560, 0x588},   {0x5D0, 0x5EA},   {0x5EF, 0x5F2},   {0x620, 0x64A},
      {0x66E, 0x66F},   {0x671, 0x6D3},   {0x6D5, 0x6D5},   {0x6FA, 0x6FC},   {0x710, 0x72F},
      {0x904, 0x939},   {0x93D, 0x93D},   {0x950, 0x950},   {0x958, 0x961},   {0x971, 0x980},
      {0x985, 0x9B9},   {0xA05, 0xA39},   {0xA85, 0xAB9},   {0xB05, 0xB39},   {0xB85, 0xBB9},
      {0xC05, 0xC39},   {0xC85, 0xCB9},   {0xD05, 0xD3A},   {0xD85, 0xDC6},   {0xE01, 0xE30},
      {0xE32, 0xE33},   {0xE40, 0xE46},   {0xE81, 0xEB0},   {0xF40, 0xF6C},   {0x1000, 0x102A},
      {0x10A0, 0x10FF}, {0x1100, 0x1248}, {0x1250, 0x135A}, {0x13A0, 0x13F5}, {0x1401, 0x166C},
      {0x1780, 0x17B3}, {0x1820, 0x1878}, {0x1E00, 0x1FBC}, {0x1FC2, 0x1FCC}, {0x1FD0, 0x1FDB},
      {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FFC}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C},
      {0x2102, 0x2102}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
      {0x212A, 0x212D}, {0x212F, 0x2139}, {0x2C00, 0x2CE4}, {0x2D00, 0x2D25}, {0x3005, 0x3006},
      {0x3031, 0x3035}, {0x3041, 0x3096}, {0x309D, 0x309F}, {0x30A1, 0x30FA}, {0x30FC, 0x30FF},
      {0x3105, 0x312F}, {0x3131, 0x318E}, {0x31A0, 0x31BF}, {0x31F0, 0x31FF}, {0x3400, 0x4DBF},
      {0x4E00, 0x9FFF}, {0xA000, 0xA48C}, {0xA640, 0xA66E}, {0xA680, 0xA69D}, {0xA722, 0xA788},
      {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFB00, 0xFB06}, {0xFB1D, 0xFDFB}, {0xFE70, 0xFEFC},
      {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0xFF66, 0xFFDC}, {0x10000, 0x104FF},
      {0x20000, 0x323AF}};
  for (const Range& r : kLetters) {
    if (c >= r.lo && c <= r.hi) return true;
  }
  return false;
}

bool is_alnum(char32_t c) { return is_alpha(c) || is_digit(c); }

bool is_word(char32_t c) { return c == '_' || is_alnum(c); }

bool is_printable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c < 0x100) return true;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
      (c >= 0x205F && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0x3000 ||
      (c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x180E ||
      c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFFFE || c == 0xFFFF ||
      (c >= 0xD800 && c <= 0xF8FF) ||  // surrogates and private use
      (c >= 0xE0000 && c <= 0xE007F) || c >= 0xF0000) {
    return false;
  }
  return true;
}

namespace {

// Pairs where upper and lower case alternate on even/odd code points.
bool alternating_block(char32_t c) {
  return (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177) || (c >= 0x182 && c <= 0x185) ||
         (c >= 0x1A0 && c <= 0x1A5) || (c >= 0x1DE && c <= 0x1EF) || (c >= 0x1F8 && c <= 0x21F) ||
         (c >= 0x222 && c <= 0x233) || (c >= 0x246 && c <= 0x24F) || (c >= 0x3D8 && c <= 0x3EF) ||
         (c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F) ||
         (c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF) || (c >= 0x2C80 && c <= 0x2CE3) ||
         (c >= 0xA640 && c <= 0xA66D) || (c >= 0xA680 && c <= 0xA69B) || (c >= 0xA722 && c <= 0xA72F) ||
         (c >= 0xA732 && c <= 0xA76F) || (c >= 0xA77E && c <= 0xA787);
}

// Same, but the upper case letter sits on the odd code point.
bool alternating_odd_block(char32_t c) {
  return (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E) || (c >= 0x4C1 && c <= 0x4CE);
}

}  // namespace

char32_t to_upper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if (c < 0x100) {
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c == 0xFF) return 0x178;
    if (c == 0xB5) return 0x39C;
    return c;
  }
  if (alternating_block(c)) return (c & 1) ? c - 1 : c;
  if (alternating_odd_block(c)) return (c & 1) ? c : c - 1;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  if (c >= 0x561 && c <= 0x586) return c - 48;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 32;
  if (c >= 0x24D0 && c <= 0x24E9) return c - 26;
  return c;
}

char32_t to_lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c < 0x100) {
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    return c;
  }
  if (alternating_block(c)) return (c & 1) ? c : c + 1;
  if (alternating_odd_block(c)) return (c & 1) ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c == 0x130) return 'i';
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x531 && c <= 0x556) return c + 48;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  if (c >= 0x24B6 && c <= 0x24CF) return c + 26;
  return c;
}

bool is_upper(char32_t c) { return to_lower(c) != c || (c >= 0x2160 && c <= 0x216F); }
bool is_lower(char32_t c) {
  return to_upper(c) != c || c == 0xDF || c == 0xAA || c == 0xBA || (c >= 0x2170 && c <= 0x217F);
}

namespace {
bool is_cased(char32_t c) { return is_upper(c) || is_lower(c); }
}  // namespace

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = next_cp(s, pos);
    if (c == 0xDF) {
      out += "SS";
    } else {
      append_utf8(out, to_upper(c));
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) append_utf8(out, to_lower(next_cp(s, pos)));
  return out;
}

std::string swapcase(std::string_view s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = next_cp(s, pos);
    if (is_upper(c)) {
      append_utf8(out, to_lower(c));
    } else if (c == 0xDF) {
      out += "SS";
    } else {
      append_utf8(out, to_upper(c));
    }
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out;
  size_t pos = 0;
  bool first = true;
  while (pos < s.size()) {
    const char32_t c = next_cp(s, pos);
    if (first) {
      if (c == 0xDF) {
        out += "Ss";
      } else {
        append_utf8(out, to_upper(c));
      }
      first = false;
    } else {
      append_utf8(out, to_lower(c));
    }
  }
  return out;
}

std::string py_title(std::string_view s) {
  std::string out;
  size_t pos = 0;
  bool prev_cased = false;
  while (pos < s.size()) {
    const char32_t c = next_cp(s, pos);
    if (prev_cased) {
      append_utf8(out, to_lower(c));
    } else if (c == 0xDF) {
      out += "Ss";
    } else {
      append_utf8(out, to_upper(c));
    }
    prev_cased = is_cased(c);
  }
  return out;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t here = pos;
    const char32_t c = next_cp(s, pos);
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                     c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    size_t end_of_break = pos;
    if (c == '\r' && pos < s.size() && s[pos] == '\n') end_of_break = ++pos;
    lines.emplace_back(s.substr(start, (keepends ? end_of_break : here) - start));
    start = end_of_break;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::u32string set;
  if (chars) set = decode(*chars);
  auto strippable = [&](char32_t c) {
    return chars ? set.find(c) != std::u32string::npos : is_space(c);
  };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    size_t pos = 0;
    while (pos < s.size()) {
      size_t next = pos;
      if (!strippable(next_cp(s, next))) break;
      pos = next;
    }
    begin = pos;
  }
  if (right) {
    // Walk forward remembering the end of the last non-strippable code point:
    // UTF-8 cannot be decoded backwards safely when it may be malformed.
    size_t pos = begin;
    size_t last_keep = begin;
    while (pos < s.size()) {
      const char32_t c = next_cp(s, pos);
      if (!strippable(c)) last_keep = pos;
    }
    end = last_keep;
  }
  if (end < begin) end = begin;
  return std::string(s.substr(begin, end - begin));
}

}  // namespace hearth::chat::jinja::uni
