// The Unicode layer's llama.cpp-compatible behaviour: lenient decoding, the
// GPT-2 byte map, and character data matching llama.cpp's Unicode 15.1 tables.
#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace hearth {
namespace {

using unicode::Category;

std::vector<uint32_t> decode(std::string_view s) {
  std::vector<uint32_t> out;
  unicode::decode_utf8(s, out);
  return out;
}

TEST(Unicode, DecodesLikeLlamaCpp) {
  EXPECT_EQ(decode("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\xA6\x99"),
            (std::vector<uint32_t>{'a', 0xE9, 0x20AC, 0x1F999}));
  // A stray continuation byte, an F8..FF byte, a truncated sequence: U+FFFD,
  // one byte at a time, then decoding resumes at the next byte.
  EXPECT_EQ(decode("\x80z"), (std::vector<uint32_t>{0xFFFD, 'z'}));
  EXPECT_EQ(decode("\xFFz"), (std::vector<uint32_t>{0xFFFD, 'z'}));
  EXPECT_EQ(decode("\xE2\x82z"), (std::vector<uint32_t>{0xFFFD, 0xFFFD, 'z'}));
  EXPECT_EQ(decode("\xC3"), (std::vector<uint32_t>{0xFFFD}));
  // Overlong forms, surrogates and F5..F7 leads decode arithmetically.
  EXPECT_EQ(decode("\xC0\xAF"), (std::vector<uint32_t>{'/'}));
  EXPECT_EQ(decode("\xED\xA0\x80"), (std::vector<uint32_t>{0xD800}));
  EXPECT_EQ(decode("\xF4\x90\x80\x80"), (std::vector<uint32_t>{0x110000}));
}

TEST(Unicode, EncodeRestoresDecodedBytes) {
  for (const uint32_t cpt : {0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD800u, 0xFFFFu, 0x10000u,
                             0x10FFFFu, 0x110000u, 0x1FFFFFu}) {
    std::string s;
    unicode::append_utf8(cpt, s);
    EXPECT_EQ(decode(s), std::vector<uint32_t>{cpt}) << std::hex << cpt;
  }
  EXPECT_TRUE(unicode::is_valid_utf8("a\xC3\xA9\xF0\x9F\xA6\x99"));
  for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xE2\x82"}) {
    EXPECT_FALSE(unicode::is_valid_utf8(bad)) << bad;
  }
}

TEST(Unicode, Gpt2ByteMapIsABijection) {
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    const std::string_view s = unicode::byte_to_unicode(static_cast<uint8_t>(b));
    const auto cpts = decode(s);
    ASSERT_EQ(cpts.size(), 1u);
    EXPECT_EQ(unicode::unicode_to_byte(cpts[0]), b);
    seen.emplace(s);
  }
  EXPECT_EQ(seen.size(), 256u);
  // Printable bytes are themselves; the others count up from U+0100.
  EXPECT_EQ(unicode::byte_to_unicode('A'), "A");
  EXPECT_EQ(unicode::byte_to_unicode(0x00), "\xC4\x80");  // Ā
  EXPECT_EQ(unicode::byte_to_unicode(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(unicode::byte_to_unicode('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(unicode::unicode_to_byte(' '), -1);
}

TEST(Unicode, CharacterDataIsLlamaCppsUnicode15_1) {
  EXPECT_EQ(unicode::category('a'), Category::Letter);
  EXPECT_EQ(unicode::category(0xBD), Category::Number);  // ½
  EXPECT_EQ(unicode::category('~'), Category::Symbol);
  EXPECT_EQ(unicode::category(0x301), Category::AccentMark);
  EXPECT_EQ(unicode::category(0x2026), Category::Punctuation);
  EXPECT_EQ(unicode::category(0x200D), Category::Control);   // Cf
  EXPECT_EQ(unicode::category(0xD800), Category::Control);   // Cs
  EXPECT_EQ(unicode::category(0x378), Category::Undefined);  // unassigned
  EXPECT_EQ(unicode::category(0x110000), Category::Undefined);
  EXPECT_EQ(unicode::category(0x0CF3), Category::AccentMark);  // new in 15.0
  EXPECT_EQ(unicode::category(0x2EBF0), Category::Letter);     // new in 15.1
  EXPECT_EQ(unicode::category(0x31EF), Category::Symbol);      // new in 15.1
  // New in Unicode 16.0, so unassigned in llama.cpp's tables. If this fails,
  // utf8proc is newer than the data llama.cpp tokenizes with.
  EXPECT_EQ(unicode::category(0x1C89), Category::Undefined);

  EXPECT_TRUE(unicode::is_whitespace(0x85));
  EXPECT_TRUE(unicode::is_whitespace(0x3000));
  EXPECT_FALSE(unicode::is_whitespace(0x1F));
  EXPECT_FALSE(unicode::is_whitespace(0x200B));  // ZERO WIDTH SPACE is not White_Space
}

TEST(Unicode, AsciiFastPathAgreesWithUtf8proc) {
  for (uint32_t c = 0; c < 128; ++c) {
    EXPECT_EQ(unicode::category(c), unicode::detail::category_from_utf8proc(c)) << c;
    EXPECT_EQ(unicode::to_lower(c), unicode::detail::to_lower_from_utf8proc(c)) << c;
  }
}

TEST(Unicode, LowercaseAndNfdFirst) {
  EXPECT_EQ(unicode::to_lower('A'), uint32_t('a'));
  EXPECT_EQ(unicode::to_lower(0x130), uint32_t('i'));    // İ: simple mapping
  EXPECT_EQ(unicode::to_lower(0x1C5), 0x1C6u);           // titlecase Dž
  EXPECT_EQ(unicode::nfd_first(0xE9), uint32_t('e'));    // é
  EXPECT_EQ(unicode::nfd_first(0x1E09), uint32_t('c'));  // ḉ: two marks
  EXPECT_EQ(unicode::nfd_first(0xAC00), 0x1100u);        // 가: Hangul L jamo
  EXPECT_EQ(unicode::nfd_first(0x2000), 0x2002u);        // EN QUAD -> EN SPACE
  EXPECT_EQ(unicode::nfd_first(0xFB01), 0xFB01u);        // ligature: compatibility only
}

}  // namespace
}  // namespace hearth
