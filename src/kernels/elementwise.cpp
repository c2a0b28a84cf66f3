#include "kernels/elementwise.h"

#include "kernels/matmul.h"

namespace hearth::kernels {

void swiglu(float* gate, const float* up, int64_t n) {
  for_active_isa(detail::swiglu_scalar(), detail::swiglu_avx2(), detail::swiglu_avx512())(gate, up, n);
}

}  // namespace hearth::kernels
