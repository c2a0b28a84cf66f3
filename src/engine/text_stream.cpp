#include "engine/text_stream.h"

#include <algorithm>

namespace hearth::engine {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the UTF-8 sequence starting at s[i] if it is valid and complete,
// 0 if invalid, -1 if valid so far but cut off by the end of s.
int sequence_length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len;
  unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;  // no surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size()) return -1;
    const auto c = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return 0;
  }
  return len;
}

// Appends the valid UTF-8 of s to out (invalid bytes as U+FFFD); returns the
// length of an incomplete sequence at the end, not appended.
size_t append_valid(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    const int len = sequence_length(s, i);
    if (len < 0) return s.size() - i;
    if (len == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  return 0;
}

}  // namespace

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  if (append_valid(bytes, out) > 0) out += kReplacement;
  return out;
}

TextStream::TextStream(std::vector<std::string> stop) : stop_(std::move(stop)) {
  std::erase_if(stop_, [](const std::string& s) { return s.empty(); });
}

std::string TextStream::push(std::string_view piece) {
  if (stopped_) return {};
  partial_.append(piece);
  const size_t tail = append_valid(partial_, pending_);
  partial_.erase(0, partial_.size() - tail);

  // A stop string anywhere in what is held (the held text always contains
  // any stop string's possible start: see the hold-back below).
  size_t cut = std::string::npos;
  for (const std::string& s : stop_) cut = std::min(cut, pending_.find(s));
  if (cut != std::string::npos) {
    stopped_ = true;
    partial_.clear();
    return release(cut);
  }
  // Hold back the longest end of the text that could begin a stop string.
  size_t hold = 0;
  for (const std::string& s : stop_) {
    for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k) {
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  return release(pending_.size() - hold);
}

std::string TextStream::finish() {
  if (stopped_) return {};
  if (!partial_.empty()) pending_ += kReplacement;
  partial_.clear();
  return release(pending_.size());
}

std::string TextStream::release(size_t end) {
  std::string out = pending_.substr(0, end);
  pending_.erase(0, stopped_ ? pending_.size() : end);
  text_ += out;
  return out;
}

}  // namespace hearth::engine
