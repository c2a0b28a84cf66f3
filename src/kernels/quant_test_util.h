// Test helpers shared by the quantized-matmul tests: random quantized
// matrices, the ISAs this CPU runs, and a guard restoring the kernel mode.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "tensor/quants.h"
#include "util/fp16.h"

namespace hearth::kernels::quant_test {

class ModeGuard {
 public:
  ModeGuard() : isa_(active_isa()), exact_(exact_weights()) {}
  ~ModeGuard() {
    force_isa(isa_);
    set_exact_weights(exact_);
  }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Isa isa_;
  bool exact_;
};

inline std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (cpu_supports(isa)) isas.push_back(isa);
  }
  return isas;
}

inline std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

// rows x cols weights quantized to `type`, rows padded by `pad` bytes of
// garbage to check that row_bytes is honoured.
struct QuantMatrix {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

inline QuantMatrix make_quant_matrix(GgmlType type, int64_t rows, int64_t cols, size_t pad, uint32_t seed) {
  QuantMatrix m;
  const size_t row_bytes = quant_row_bytes(type, cols) + pad;
  m.bytes.assign(row_bytes * static_cast<size_t>(rows), 0xA5);
  const auto values = gaussian(static_cast<size_t>(rows * cols), seed);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, values.data() + r * cols, m.bytes.data() + r * row_bytes, cols);
  m.w = WeightMatrix{type, m.bytes.data(), rows, cols, row_bytes};
  return m;
}

// Where each type keeps its F16 scale fields (byte offsets in a block):
// random bytes elsewhere are valid quants, but a random F16 could be inf/NaN.
struct HalfFields {
  GgmlType type;
  std::vector<int> offsets;
};
inline const std::vector<HalfFields>& half_fields() {
  static const std::vector<HalfFields> f = {
      {GgmlType::Q4_0, {0}},     {GgmlType::Q4_1, {0, 2}}, {GgmlType::Q5_0, {0}},      {GgmlType::Q5_1, {0, 2}},
      {GgmlType::Q8_0, {0}},     {GgmlType::Q2_K, {80, 82}}, {GgmlType::Q3_K, {108}}, {GgmlType::Q4_K, {0, 2}},
      {GgmlType::Q5_K, {0, 2}},  {GgmlType::Q6_K, {208}},  {GgmlType::IQ4_NL, {0}},   {GgmlType::IQ4_XS, {0}},
  };
  return f;
}

// rows x cols of uniformly random blocks (every quant and scale pattern the
// format can hold, Q8_0's -128 included) with F16 scales of either sign.
inline QuantMatrix make_random_block_matrix(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  QuantMatrix m;
  const auto tr = traits(type);
  const size_t row_bytes = quant_row_bytes(type, cols);
  std::mt19937 rng(seed);
  m.bytes.resize(row_bytes * static_cast<size_t>(rows));
  for (auto& b : m.bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> mag(0.001f, 0.02f);
  const std::vector<int>* offs = nullptr;
  for (const auto& f : half_fields()) {
    if (f.type == type) offs = &f.offsets;
  }
  const size_t blocks = m.bytes.size() / tr.block_bytes;
  for (size_t b = 0; b < blocks; ++b) {
    for (int off : *offs) {
      const uint16_t h = f32_to_f16(rng() % 2 ? mag(rng) : -mag(rng));
      std::memcpy(m.bytes.data() + b * tr.block_bytes + off, &h, 2);
    }
  }
  m.w = WeightMatrix{type, m.bytes.data(), rows, cols, row_bytes};
  return m;
}

// Memory whose end borders an inaccessible page: a copy of some bytes placed
// there makes any read past them fault.
class GuardedEnd {
 public:
  GuardedEnd() : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    void* mem = mmap(nullptr, 8 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    base_ = static_cast<uint8_t*>(mem);
    if (mprotect(base_ + 7 * page_, page_, PROT_NONE) != 0) {
      munmap(base_, 8 * page_);
      base_ = nullptr;
    }
  }
  ~GuardedEnd() {
    if (base_ != nullptr) munmap(base_, 8 * page_);
  }
  GuardedEnd(const GuardedEnd&) = delete;
  GuardedEnd& operator=(const GuardedEnd&) = delete;

  bool ok() const { return base_ != nullptr; }
  size_t capacity() const { return 7 * page_; }
  // A copy of bytes ending at the guard page (bytes.size() <= capacity()).
  const uint8_t* place(const std::vector<uint8_t>& bytes) {
    uint8_t* at = base_ + capacity() - bytes.size();
    std::memcpy(at, bytes.data(), bytes.size());
    return at;
  }

 private:
  size_t page_;
  uint8_t* base_ = nullptr;
};

}  // namespace hearth::kernels::quant_test
