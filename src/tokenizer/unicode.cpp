#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>

namespace hearth::unicode {

namespace {

struct ByteMap {
  std::array<std::string, 256> to_unicode;
  std::array<int16_t, 324> to_byte;  // indexed by code point; 256 + 68 entries

  ByteMap() {
    to_byte.fill(-1);
    const auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cpt = printable(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next++);
      append_utf8(cpt, to_unicode[b]);
      to_byte[cpt] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

void decode_utf8(std::string_view text, std::vector<uint32_t>& out) {
  out.reserve(out.size() + text.size());
  for (size_t pos = 0; pos < text.size();) out.push_back(decode_next(text, pos));
}

void append_utf8(uint32_t cpt, std::string& out) {
  if (cpt < 0x80) {
    out += static_cast<char>(cpt);
  } else if (cpt < 0x800) {
    out += static_cast<char>(0xC0 | (cpt >> 6));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else if (cpt < 0x10000) {
    out += static_cast<char>(0xE0 | (cpt >> 12));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | ((cpt >> 18) & 0x07));
    out += static_cast<char>(0x80 | ((cpt >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  }
}

size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

bool is_valid_utf8(std::string_view text) {
  return utf8proc_decompose(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                            static_cast<utf8proc_ssize_t>(text.size()), nullptr, 0,
                            static_cast<utf8proc_option_t>(0)) >= 0;
}

namespace {

// ASCII is most of most text: its categories without a table lookup.
Category ascii_category(uint32_t c) {
  if (c < 0x20 || c == 0x7F) return Category::Control;
  if (c == ' ') return Category::Separator;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return Category::Letter;
  if (c >= '0' && c <= '9') return Category::Number;
  switch (c) {
    case '$':
    case '+':
    case '<':
    case '=':
    case '>':
    case '^':
    case '`':
    case '|':
    case '~':
      return Category::Symbol;
    default:
      return Category::Punctuation;
  }
}

}  // namespace

Category category(uint32_t cpt) {
  return cpt < 0x80 ? ascii_category(cpt) : detail::category_from_utf8proc(cpt);
}

namespace detail {

Category category_from_utf8proc(uint32_t cpt) {
  if (cpt > 0x10FFFF) return Category::Undefined;
  // llama.cpp's tables are Unicode 15.1; utf8proc 2.8 knows 15.0. The 627
  // characters 15.1 added: CJK Extension I (Lo) and five ideographic
  // description / stroke characters (So).
  if (cpt >= 0x2EBF0 && cpt <= 0x2EE5D) return Category::Letter;
  if ((cpt >= 0x2FFC && cpt <= 0x2FFF) || cpt == 0x31EF) return Category::Symbol;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cpt))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return Category::Letter;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return Category::AccentMark;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return Category::Number;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return Category::Punctuation;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      return Category::Symbol;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return Category::Separator;
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
      return Category::Control;
    case UTF8PROC_CATEGORY_CN:
      break;
  }
  return Category::Undefined;
}

}  // namespace detail

bool is_whitespace(uint32_t cpt) {
  if (cpt < 0x80) return (cpt >= 0x09 && cpt <= 0x0D) || cpt == 0x20;
  switch (cpt) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cpt >= 0x2000 && cpt <= 0x200A;
  }
}

namespace detail {

uint32_t to_lower_from_utf8proc(uint32_t cpt) {
  if (cpt > 0x10FFFF) return cpt;
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cpt)));
}

}  // namespace detail

uint32_t to_lower(uint32_t cpt) {
  if (cpt < 0x80) return cpt >= 'A' && cpt <= 'Z' ? cpt + 0x20 : cpt;
  return detail::to_lower_from_utf8proc(cpt);
}

uint32_t nfd_first(uint32_t cpt) {
  if (cpt < 0xC0 || cpt > 0x10FFFF || (cpt >= 0xD800 && cpt <= 0xDFFF)) return cpt;
  utf8proc_int32_t buf[8];
  int boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cpt), buf, 8,
                                                     UTF8PROC_DECOMPOSE, &boundclass);
  return n >= 1 && n <= 8 ? static_cast<uint32_t>(buf[0]) : cpt;
}

std::string_view byte_to_unicode(uint8_t byte) { return byte_map().to_unicode[byte]; }

int unicode_to_byte(uint32_t cpt) {
  const auto& map = byte_map().to_byte;
  return cpt < map.size() ? map[cpt] : -1;
}

}  // namespace hearth::unicode
