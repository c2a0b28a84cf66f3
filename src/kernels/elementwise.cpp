#include "kernels/elementwise.h"

#include "kernels/matmul.h"

namespace hearth::kernels {

void swiglu(float* gate, const float* up, int64_t n) {
  switch (active_isa()) {
    case Isa::Avx512:
      return detail::swiglu_avx512()(gate, up, n);
    case Isa::Avx2:
      return detail::swiglu_avx2()(gate, up, n);
    case Isa::Scalar:
      break;
  }
  detail::swiglu_scalar()(gate, up, n);
}

}  // namespace hearth::kernels
