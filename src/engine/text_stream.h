// Generated token pieces -> the text a client may see, piece by piece:
// only complete, valid UTF-8 (a character split across tokens waits for its
// last byte; invalid bytes become U+FFFD, so the text is always valid JSON
// string content), and never the start of a stop string until it is known
// not to be one. When a stop string appears, the text ends just before it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::engine {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop = {});

  // Adds a token's bytes; returns the text now released (may be empty).
  std::string push(std::string_view piece);
  // Releases whatever is held back (an incomplete character becomes U+FFFD).
  std::string finish();

  bool stopped() const { return stopped_; }  // a stop string was found
  const std::string& text() const { return text_; }  // released so far

 private:
  std::string release(size_t end);

  std::vector<std::string> stop_;
  std::string pending_;  // valid UTF-8 not yet released
  std::string partial_;  // bytes of an incomplete character at the end
  std::string text_;
  bool stopped_ = false;
};

// `bytes` as valid UTF-8: each invalid or truncated sequence becomes U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

}  // namespace hearth::engine
