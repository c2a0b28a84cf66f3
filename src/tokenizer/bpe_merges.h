// The ranked merge table of a byte-level BPE vocab and the merge loop over
// one pre-tokenized word, with llama.cpp's semantics (llm_tokenizer_bpe_session):
//   * a word starts as one symbol per byte (the byte's GPT-2 character);
//   * the adjacent pair with the lowest merge rank is merged, ties going to
//     the leftmost pair, until no pair has a rank;
//   * each final symbol is emitted as the token with its text; a symbol that
//     is no token falls back to the tokens of the single bytes of its text,
//     silently dropping bytes that are no token (so for GPT-2 characters
//     outside ASCII, everything but the ASCII ones).
// Symbols are identified by integer ids (a token id, or an id past the vocab
// for merge results that are no token), so the loop compares integers, not
// strings. With a heap and a linked list it is O(n log n) in the word length.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth {

class Vocab;

class BpeMerges {
 public:
  // `merges` are tokenizer.ggml.merges: "left right", rank = index. As in
  // llama.cpp the split is at the first space after the first byte, and a
  // pair listed twice keeps its first rank. Entries without a space are
  // ignored (they can never match).
  BpeMerges(const Vocab& vocab, const std::vector<std::string>& merges);

  // Reusable buffers for encode_word (one per encode call).
  struct Scratch {
    struct Symbol {
      int32_t id;  // -1 once merged into its left neighbour
      int32_t prev;
      int32_t next;
    };
    struct Candidate {
      int32_t rank;
      int32_t left, right;
      int32_t left_id, right_id, merged_id;
    };
    std::vector<Symbol> symbols;
    std::vector<Candidate> heap;
  };

  // Appends the tokens of one word, given as its raw (not yet GPT-2
  // encoded) bytes.
  void encode_word(std::string_view bytes, std::vector<TokenId>& out, Scratch& scratch) const;

  size_t size() const { return n_merges_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };

  // Open-addressing map (pair of symbol ids) -> Merge: the hot lookup.
  class PairMap {
   public:
    void reserve(size_t n);
    // Inserts unless the key is present (llama.cpp's emplace keeps the first).
    void insert(int32_t left, int32_t right, Merge merge);
    const Merge* find(int32_t left, int32_t right) const;

   private:
    static uint64_t key(int32_t left, int32_t right) {
      return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
    }
    size_t slot(uint64_t k) const { return (k * 0x9E3779B97F4A7C15ull) >> shift_; }
    static constexpr uint64_t kEmpty = ~0ull;
    std::vector<uint64_t> keys_;
    std::vector<Merge> values_;
    int shift_ = 64;
    size_t size_ = 0;
  };

  void push_candidate(int32_t left, int32_t right, Scratch& scratch) const;
  void emit(int32_t id, std::vector<TokenId>& out) const;

  int32_t n_vocab_;
  size_t n_merges_ = 0;
  PairMap pairs_;
  std::array<int32_t, 256> byte_ids_{};
  // For each symbol id past the vocab, the tokens it falls back to.
  std::vector<std::vector<TokenId>> extra_fallback_;
};

}  // namespace hearth
