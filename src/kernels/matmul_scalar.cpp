// Portable dense kernels (F32 / F16 / BF16 weights, F32 activations): the
// fallback for CPUs without AVX2 and the baseline the SIMD paths are compared
// against. Same structure as the SIMD files: each (row, token) dot product
// keeps kLanes partial sums (lane l takes columns c = l mod kLanes), which
// gives the compiler independent chains and SSE2 vectors to work with while
// the order of operations stays fixed by the source.
#include <cstring>

#include "kernels/matmul_table.h"
#include "util/fp16.h"

namespace hearth::kernels::detail {
namespace {

constexpr int kLanes = 4;  // the reduction in tile() is written for 4

struct F32Weights {
  static float get(const uint8_t* row, int64_t c) {
    float v;
    std::memcpy(&v, row + 4 * c, sizeof v);
    return v;
  }
};

struct F16Weights {
  static float get(const uint8_t* row, int64_t c) {
    uint16_t h;
    std::memcpy(&h, row + 2 * c, sizeof h);
    return f16_to_f32(h);
  }
};

struct BF16Weights {
  static float get(const uint8_t* row, int64_t c) {
    uint16_t h;
    std::memcpy(&h, row + 2 * c, sizeof h);
    return bf16_to_f32(h);
  }
};

template <class W>
struct DenseKernels {
  static constexpr int kTileRows = 2;
  static constexpr int kTileTokens = 2;

  template <int NR, int NT>
  static void tile(const uint8_t* w, size_t row_bytes, const float* x, int64_t cols, float* y,
                   int64_t y_stride) {
    float acc[NR][NT][kLanes] = {};
    int64_t c = 0;
    for (; c + kLanes <= cols; c += kLanes) {
      for (int i = 0; i < NR; ++i) {
        float wv[kLanes];
        for (int l = 0; l < kLanes; ++l) wv[l] = W::get(w + i * row_bytes, c + l);
        for (int j = 0; j < NT; ++j) {
          for (int l = 0; l < kLanes; ++l) acc[i][j][l] += wv[l] * x[j * cols + c + l];
        }
      }
    }
    for (int l = 0; c + l < cols; ++l) {  // tail: the first lanes only
      for (int i = 0; i < NR; ++i) {
        const float wv = W::get(w + i * row_bytes, c + l);
        for (int j = 0; j < NT; ++j) acc[i][j][l] += wv * x[j * cols + c + l];
      }
    }
    for (int i = 0; i < NR; ++i) {
      for (int j = 0; j < NT; ++j) {
        const float* a = acc[i][j];
        y[j * y_stride + i] = (a[0] + a[2]) + (a[1] + a[3]);  // same tree as the SIMD hsum
      }
    }
  }

  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    for (int64_t c = 0; c < cols; ++c) out[c] = W::get(row, c);
  }
};

constexpr KernelEntry kTable[] = {
    {GgmlType::F32, make_type_kernels<DenseKernels<F32Weights>>()},
    {GgmlType::F16, make_type_kernels<DenseKernels<F16Weights>>()},
    {GgmlType::BF16, make_type_kernels<DenseKernels<BF16Weights>>()},
};

}  // namespace

const TypeKernels* find_scalar_kernels(GgmlType type) {
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return find_scalar_quant_kernels(type);
}

}  // namespace hearth::kernels::detail
