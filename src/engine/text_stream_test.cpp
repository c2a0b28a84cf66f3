#include "engine/text_stream.h"

#include <gtest/gtest.h>

namespace hearth::engine {
namespace {

TEST(TextStream, PassesPlainTextThrough) {
  TextStream s;
  EXPECT_EQ(s.push("Hello"), "Hello");
  EXPECT_EQ(s.push(" world"), " world");
  EXPECT_EQ(s.finish(), "");
  EXPECT_EQ(s.text(), "Hello world");
  EXPECT_FALSE(s.stopped());
}

TEST(TextStream, HoldsACharacterSplitAcrossTokensUntilComplete) {
  TextStream s;
  // "é" = C3 A9; "€" = E2 82 AC split over three pieces.
  EXPECT_EQ(s.push("caf\xC3"), "caf");
  EXPECT_EQ(s.push("\xA9 "), "\xC3\xA9 ");
  EXPECT_EQ(s.push("\xE2"), "");
  EXPECT_EQ(s.push("\x82"), "");
  EXPECT_EQ(s.push("\xAC!"), "\xE2\x82\xAC!");
}

TEST(TextStream, ReplacesInvalidBytesAndATruncatedEnd) {
  TextStream s;
  EXPECT_EQ(s.push("a\xFF" "b\x80"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  EXPECT_EQ(s.push("\xE2\x82"), "");
  EXPECT_EQ(s.finish(), "\xEF\xBF\xBD");
  // An overlong encoding and a surrogate are invalid too.
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(TextStream, StopsBeforeAStopStringSpanningTokens) {
  TextStream s({"</s>", "\n\nUser:"});
  EXPECT_EQ(s.push("Sure"), "Sure");
  EXPECT_EQ(s.push(".\n"), ".");  // "\n" may start "\n\nUser:"
  EXPECT_EQ(s.push("\nUs"), "");
  EXPECT_EQ(s.push("er: hi"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.text(), "Sure.");
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.finish(), "");
}

TEST(TextStream, ReleasesHeldTextOnceItCannotBeAStopString) {
  TextStream s({"STOP"});
  EXPECT_EQ(s.push("a ST"), "a ");
  EXPECT_EQ(s.push("ART"), "START");
  EXPECT_EQ(s.push(" ST"), " ");
  EXPECT_EQ(s.finish(), "ST");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.text(), "a START ST");
}

TEST(TextStream, StopStringInsideOneTokenCutsThere) {
  TextStream s({"###"});
  EXPECT_EQ(s.push("x### y"), "x");
  EXPECT_TRUE(s.stopped());
}

TEST(TextStream, EmptyStopStringsAreIgnored) {
  TextStream s({""});
  EXPECT_EQ(s.push("abc"), "abc");
  EXPECT_FALSE(s.stopped());
}

}  // namespace
}  // namespace hearth::engine
