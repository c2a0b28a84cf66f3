// Weight matrix products, the bulk of the forward pass.
//
// A WeightMatrix views a 2-D GGUF tensor in place (memory-mapped): `rows`
// output features (ggml ne[1]), each a contiguous row of `cols` input features
// (ggml ne[0]) stored in `type`'s block layout. New weight types plug in here:
// the model code never looks at the element type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/ggml_type.h"

namespace hearth {

class ThreadPool;

struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;  // bytes of one row in `type`'s layout
};

namespace kernels {

// Whether matmul/get_row handle this weight type.
bool supports(GgmlType type);

// y[t * w.rows + r] = sum_c w[r][c] * x[t * w.cols + c] for t < n_tokens.
// Work is split over output rows / tokens, never inside one dot product, so
// the result is bit-identical for any thread count. pool may be null.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool);

// Decodes row `row` of w into out[0 .. w.cols) (embedding lookup).
void get_row(const WeightMatrix& w, int64_t row, float* out);

// Instruction-set paths. The best one the CPU supports is chosen at start-up;
// HEARTH_ISA=scalar|avx2|avx512 (environment) or force_isa() overrides it
// (tests run every path this machine can execute).
enum class Isa { Scalar, Avx2, Avx512 };
Isa active_isa();
bool cpu_supports(Isa isa);
// Returns false (and changes nothing) when the CPU lacks `isa`.
bool force_isa(Isa isa);
std::string_view isa_name(Isa isa);
// "avx512 (cpu: avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16)"
std::string cpu_features_string();

}  // namespace kernels
}  // namespace hearth
