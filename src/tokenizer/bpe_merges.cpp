#include "tokenizer/bpe_merges.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <unordered_map>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

namespace hearth {

namespace {

// Heap order for std::push_heap (a max-heap): the lowest rank, then the
// leftmost pair, must come out first.
bool later(const BpeMerges::Scratch::Candidate& a, const BpeMerges::Scratch::Candidate& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

void BpeMerges::PairMap::reserve(size_t n) {
  size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, Merge{});
  shift_ = 64 - std::countr_zero(capacity);
  size_ = 0;
}

void BpeMerges::PairMap::insert(int32_t left, int32_t right, Merge merge) {
  if (2 * (size_ + 1) > keys_.size()) {
    // Grow: rehash everything into a table twice as large.
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Merge> old_values = std::move(values_);
    reserve(old_keys.size());
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != kEmpty) {
        insert(int32_t(old_keys[i] >> 32), int32_t(uint32_t(old_keys[i])), old_values[i]);
      }
    }
  }
  const uint64_t k = key(left, right);
  const size_t mask = keys_.size() - 1;
  for (size_t i = slot(k);; i = (i + 1) & mask) {
    if (keys_[i] == k) return;
    if (keys_[i] == kEmpty) {
      keys_[i] = k;
      values_[i] = merge;
      ++size_;
      return;
    }
  }
}

const BpeMerges::Merge* BpeMerges::PairMap::find(int32_t left, int32_t right) const {
  if (keys_.empty()) return nullptr;
  const uint64_t k = key(left, right);
  const size_t mask = keys_.size() - 1;
  for (size_t i = slot(k);; i = (i + 1) & mask) {
    if (keys_[i] == k) return &values_[i];
    if (keys_[i] == kEmpty) return nullptr;
  }
}

BpeMerges::BpeMerges(const Vocab& vocab, const std::vector<std::string>& merges)
    : n_vocab_(vocab.size()), n_merges_(merges.size()) {
  // The id of a symbol text: its token id, else an id past the vocab (made on
  // first sight, with its byte-wise fallback tokens).
  std::unordered_map<std::string, int32_t> extra_ids;
  const auto symbol_id = [&](const std::string& text) -> int32_t {
    const TokenId token = vocab.find(text);
    if (token >= 0) return token;
    if (extra_fallback_.size() >= static_cast<size_t>(INT32_MAX - n_vocab_)) {
      throw Error("tokenizer.ggml.merges names more distinct symbols than token ids can hold");
    }
    const auto [it, inserted] =
        extra_ids.emplace(text, n_vocab_ + static_cast<int32_t>(extra_fallback_.size()));
    if (inserted) {
      std::vector<TokenId> fallback;
      for (const char c : text) {
        if (const TokenId t = vocab.find(std::string_view(&c, 1)); t >= 0) fallback.push_back(t);
      }
      extra_fallback_.push_back(std::move(fallback));
    }
    return it->second;
  };

  for (int b = 0; b < 256; ++b) {
    byte_ids_[b] = symbol_id(std::string(unicode::byte_to_unicode(static_cast<uint8_t>(b))));
  }
  pairs_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos || space + 1 >= m.size()) continue;
    const std::string left = m.substr(0, space);
    const std::string right = m.substr(space + 1);
    const int32_t left_id = symbol_id(left);
    const int32_t right_id = symbol_id(right);
    pairs_.insert(left_id, right_id, Merge{static_cast<int32_t>(rank), symbol_id(left + right)});
  }
}

void BpeMerges::push_candidate(int32_t left, int32_t right, Scratch& scratch) const {
  if (left < 0 || right < 0) return;
  const int32_t left_id = scratch.symbols[left].id;
  const int32_t right_id = scratch.symbols[right].id;
  const Merge* merge = pairs_.find(left_id, right_id);
  if (!merge) return;
  scratch.heap.push_back({merge->rank, left, right, left_id, right_id, merge->merged_id});
  std::push_heap(scratch.heap.begin(), scratch.heap.end(), later);
}

void BpeMerges::emit(int32_t id, std::vector<TokenId>& out) const {
  if (id < n_vocab_) {
    out.push_back(id);
  } else {
    const auto& fallback = extra_fallback_[static_cast<size_t>(id - n_vocab_)];
    out.insert(out.end(), fallback.begin(), fallback.end());
  }
}

void BpeMerges::encode_word(std::string_view bytes, std::vector<TokenId>& out,
                            Scratch& scratch) const {
  const auto n = static_cast<int32_t>(bytes.size());
  if (n == 0) return;
  if (n == 1) {
    emit(byte_ids_[static_cast<uint8_t>(bytes[0])], out);
    return;
  }

  auto& sym = scratch.symbols;
  sym.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = {byte_ids_[static_cast<uint8_t>(bytes[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  scratch.heap.clear();
  for (int32_t i = 0; i + 1 < n; ++i) push_candidate(i, i + 1, scratch);

  while (!scratch.heap.empty()) {
    std::pop_heap(scratch.heap.begin(), scratch.heap.end(), later);
    const Scratch::Candidate c = scratch.heap.back();
    scratch.heap.pop_back();
    // Stale when either side has merged since (its id changed) or the right
    // symbol is gone; llama.cpp checks the same by comparing texts.
    if (sym[c.left].id != c.left_id || sym[c.right].id != c.right_id ||
        sym[c.left].next != c.right) {
      continue;
    }
    sym[c.left].id = c.merged_id;
    sym[c.right].id = -1;
    sym[c.left].next = sym[c.right].next;
    if (sym[c.right].next >= 0) sym[sym[c.right].next].prev = c.left;
    push_candidate(sym[c.left].prev, c.left, scratch);
    push_candidate(c.left, sym[c.left].next, scratch);
  }

  for (int32_t i = 0; i >= 0; i = sym[i].next) emit(sym[i].id, out);
}

}  // namespace hearth
