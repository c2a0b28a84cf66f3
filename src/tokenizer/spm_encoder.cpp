#include "tokenizer/spm_encoder.h"

#include <queue>
#include <string>

#include "tokenizer/vocab.h"
#include "util/error.h"

namespace hearth {

namespace {

// Length of the UTF-8 sequence a lead byte announces, from its top four bits
// (llama.cpp's unicode_len_utf8): continuation bytes and other invalid leads
// count as one-byte characters.
size_t utf8_sequence_length(unsigned char lead) {
  static constexpr unsigned char kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

// A piece of the text being merged, kept in a doubly linked list. A piece
// absorbed by its left neighbour keeps length 0.
struct Symbol {
  int prev;
  int next;
  size_t begin;
  size_t length;
};

// A candidate merge of two adjacent pieces. `length` is the merged length
// when it was queued: if either side has changed since, the entry is stale.
struct Bigram {
  int left;
  int right;
  float score;
  size_t length;
};

// Highest score first; among equal scores the leftmost pair, as in llama.cpp.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

SpmEncoder::SpmEncoder(const Vocab& vocab) : vocab_(vocab) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    TokenId id = vocab.find(std::string_view(name, sizeof(name)));
    if (id < 0) id = vocab.find(std::string(1, static_cast<char>(b)));
    if (id < 0) id = vocab.unk();
    byte_tokens_[static_cast<size_t>(b)] = id;
  }
}

void SpmEncoder::encode(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;

  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t len = std::min(utf8_sequence_length(static_cast<unsigned char>(text[offset])),
                                text.size() - offset);
    const int index = static_cast<int>(symbols.size());
    offset += len;
    symbols.push_back({index - 1, offset == text.size() ? -1 : index + 1, offset - len, len});
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto try_add_bigram = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const TokenId id = vocab_.find(text.substr(symbols[left].begin, length));
    if (id < 0) return;
    queue.push({left, right, vocab_.token(id).score, length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add_bigram(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) {
      continue;  // stale: one side was merged into something else meanwhile
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }

  // Every merge produced a vocab token, so a final piece is either a token
  // or a single character that is not one. llama.cpp's resegmentation
  // (splitting a piece back along its merge history) therefore never finds
  // anything to split, and the character goes straight to byte fallback.
  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].begin, symbols[i].length);
    const TokenId id = vocab_.find(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_bytes(piece, out);
    }
  }
}

void SpmEncoder::append_bytes(std::string_view piece, std::vector<TokenId>& out) const {
  for (const char c : piece) {
    const TokenId id = byte_tokens_[static_cast<unsigned char>(c)];
    if (id < 0) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto b = static_cast<unsigned char>(c);
      throw Error(std::string("cannot tokenize byte 0x") + kHex[b >> 4] + kHex[b & 15] +
                  ": the vocab has no byte token <0x..> for it and no unknown token");
    }
    out.push_back(id);
  }
}

}  // namespace hearth
