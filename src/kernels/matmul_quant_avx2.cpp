// The AVX2 quantized-weight kernels, one file per family of types:
// quant_legacy_avx2.cpp (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL),
// quant_kq_avx2.cpp (Q4_K, Q5_K, Q6_K) and quant_kq_low_avx2.cpp (Q2_K,
// Q3_K, IQ4_XS).
#include "kernels/matmul_table.h"

namespace hearth::kernels::detail {

const TypeKernels* find_avx2_quant_kernels(GgmlType type) {
  if (const TypeKernels* k = find_avx2_legacy_kernels(type)) return k;
  if (const TypeKernels* k = find_avx2_kq_kernels(type)) return k;
  return find_avx2_kq_low_kernels(type);
}

}  // namespace hearth::kernels::detail
