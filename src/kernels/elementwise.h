// Element-wise vector operations of the forward pass that are worth SIMD
// (they run on one thread between matmuls while the others wait).
#pragma once

#include <cstdint>

namespace hearth::kernels {

// SwiGLU: gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g).
// Within a few float ulp of the exact value (below g = -87.3, where it is
// under 1e-35, 0); the AVX2 and AVX-512 paths give the same bits. Runs on the
// active ISA (see matmul.h).
void swiglu(float* gate, const float* up, int64_t n);

namespace detail {
using SwigluFn = void (*)(float*, const float*, int64_t);
SwigluFn swiglu_scalar();
SwigluFn swiglu_avx2();
SwigluFn swiglu_avx512();
}  // namespace detail

}  // namespace hearth::kernels
