// Portable kernels for quantized weights (Q4_0 .. Q8_0, Q2_K .. Q6_K, IQ4_NL,
// IQ4_XS): each (row, token) is one call of tensor/quants.h's integer dot
// product against the token's pre-quantized activations, which reproduces
// ggml's generic C code. This is the reference the SIMD versions are checked
// against, and the fallback for every type and CPU they do not cover.
#include "kernels/matmul_table.h"
#include "tensor/quants.h"

namespace hearth::kernels::detail {
namespace {

// tensor/quants.h's vec_dot_type is not constexpr; the same pairs (a test
// checks that they agree).
constexpr GgmlType act_type_of(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL:
      return GgmlType::Q8_0;
    case GgmlType::Q4_1: case GgmlType::Q5_1:
      return GgmlType::Q8_1;
    default:
      return GgmlType::Q8_K;
  }
}

template <GgmlType T>
struct ScalarQuant {
  static constexpr GgmlType kActType = act_type_of(T);
  // The dot products are independent calls, so the tile shape only sets how
  // often a weight row is reused from L1: 2 rows x 4 tokens.
  static constexpr int kTileRows = 2;
  static constexpr int kTileTokens = 4;

  template <int NR, int NT>
  static void qtile(const uint8_t* w, size_t row_bytes, const uint8_t* xq, size_t xq_row_bytes, int64_t cols,
                    float* y, int64_t y_stride) {
    static const VecDotFn dot = vec_dot_fn(T);
    for (int i = 0; i < NR; ++i) {
      for (int j = 0; j < NT; ++j) y[j * y_stride + i] = dot(w + i * row_bytes, xq + j * xq_row_bytes, cols);
    }
  }

  static void to_f32(const uint8_t* row, int64_t cols, float* out) {
    static const DequantizeRowFn decode = dequantize_row_fn(T);
    decode(row, out, cols);
  }
};

constexpr KernelEntry kTable[] = {
    {GgmlType::Q4_0, make_quant_type_kernels<ScalarQuant<GgmlType::Q4_0>>()},
    {GgmlType::Q4_1, make_quant_type_kernels<ScalarQuant<GgmlType::Q4_1>>()},
    {GgmlType::Q5_0, make_quant_type_kernels<ScalarQuant<GgmlType::Q5_0>>()},
    {GgmlType::Q5_1, make_quant_type_kernels<ScalarQuant<GgmlType::Q5_1>>()},
    {GgmlType::Q8_0, make_quant_type_kernels<ScalarQuant<GgmlType::Q8_0>>()},
    {GgmlType::Q2_K, make_quant_type_kernels<ScalarQuant<GgmlType::Q2_K>>()},
    {GgmlType::Q3_K, make_quant_type_kernels<ScalarQuant<GgmlType::Q3_K>>()},
    {GgmlType::Q4_K, make_quant_type_kernels<ScalarQuant<GgmlType::Q4_K>>()},
    {GgmlType::Q5_K, make_quant_type_kernels<ScalarQuant<GgmlType::Q5_K>>()},
    {GgmlType::Q6_K, make_quant_type_kernels<ScalarQuant<GgmlType::Q6_K>>()},
    {GgmlType::IQ4_NL, make_quant_type_kernels<ScalarQuant<GgmlType::IQ4_NL>>()},
    {GgmlType::IQ4_XS, make_quant_type_kernels<ScalarQuant<GgmlType::IQ4_XS>>()},
};

}  // namespace

const TypeKernels* find_scalar_quant_kernels(GgmlType type) {
  for (const KernelEntry& e : kTable) {
    if (e.type == type) return &e.kernels;
  }
  return nullptr;
}

}  // namespace hearth::kernels::detail
