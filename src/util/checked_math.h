// Overflow-safe unsigned arithmetic for sizes read from untrusted files.
// Each returns false (and leaves *out unspecified) when the result would wrap.
#pragma once

#include <cstdint>

namespace hearth {

inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Rounds x up to a multiple of `align` (a power of two).
inline bool checked_align_up(uint64_t x, uint64_t align, uint64_t* out) {
  uint64_t sum;
  if (!checked_add(x, align - 1, &sum)) return false;
  *out = sum & ~(align - 1);
  return true;
}

}  // namespace hearth
