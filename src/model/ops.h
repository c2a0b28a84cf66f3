// The element-wise and per-row operations of the transformer block. Plain
// loops the compiler vectorises; reductions accumulate in double so results do
// not depend on vector width.
#pragma once

#include <cstdint>

namespace hearth::ops {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// In-place softmax over x[0 .. n).
void softmax(float* x, int64_t n);

// x[i] += y[i]
void add(float* x, const float* y, int64_t n);

float dot(const float* a, const float* b, int64_t n);

// out[i] += a * x[i]
void axpy(float a, const float* x, int64_t n, float* out);

}  // namespace hearth::ops
