// Weight matrix products, the bulk of the forward pass.
//
// A WeightMatrix views a 2-D GGUF tensor in place (memory-mapped): `rows`
// output features (ggml ne[1]), each a contiguous row of `cols` input features
// (ggml ne[0]) stored in `type`'s block layout. New weight types plug in here:
// the model code never looks at the element type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
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
  // Rows rewritten by kernels::pack_rows into the kernels' packed layout
  // (same size); only matmul and get_row read them.
  bool packed = false;
};

namespace kernels {

// Whether matmul/get_row handle this weight type.
bool supports(GgmlType type);

// y[t * w.rows + r] = sum_c w[r][c] * x[t * w.cols + c] for t < n_tokens.
// Work is split over output rows / tokens, never inside one dot product, so
// the result is bit-identical for any thread count. pool may be null.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool);

// Several products of the same input x (e.g. the Q, K and V projections):
// y_i = w_i x, with the same results as matmul() for each, but one hand-off
// to the pool for all of them and the activations quantized once per format.
// At most 4 products; every w_i has x's width.
struct MatmulOutput {
  const WeightMatrix* w;
  float* y;
};
void matmul_many(std::span<const MatmulOutput> products, const float* x, int64_t n_tokens, ThreadPool* pool);

// Decoding (n_tokens <= 8): has the pool's workers prefetch, while they wait
// for their next job, the start of the rows they will multiply first in the
// next matmul / matmul_many call, which is to be over `next` (in this order)
// with n_tokens tokens. The caller meanwhile does the single-threaded work
// between the two (norms, attention set-up, ...), and the memory bandwidth
// is not left idle. Only a hint: results never depend on it.
void prefetch_next(std::span<const WeightMatrix* const> next, int64_t n_tokens, ThreadPool* pool);

// Decodes row `row` of w into out[0 .. w.cols) (embedding lookup).
void get_row(const WeightMatrix& w, int64_t row, float* out);

// Packed rows. Some block types (Q4_0, Q8_0, Q4_K, Q5_K) have a second row
// layout that the SIMD kernels read with fewer instructions (Q4_0 / Q8_0: no
// byte gathering, one scale conversion per 16 blocks instead of per 4; Q4_K /
// Q5_K: the headers of four super-blocks unpacked together). A model whose weights
// are copied at load can write them packed; matmul and get_row take either
// layout on every ISA (one without native kernels for packed rows unpacks
// them on the fly), and results agree with the GGUF layout's to float
// rounding, not bit for bit (the dot products are summed in another order).
bool has_packed_layout(GgmlType type);
// Whether the active ISA multiplies packed rows of `type` natively (packing
// is worth it).
bool prefers_packed(GgmlType type);
// Writes w's rows, packed, to dst, one every dst_row_bytes (0: w.row_bytes;
// at least the row's size), and points w at them with w.packed set. dst may
// be w.data itself when the stride stays. The full super-groups of a packed
// row load fastest from rows at 64-byte boundaries.
void pack_rows(WeightMatrix& w, void* dst, size_t dst_row_bytes = 0);

// Quantized weights (Q4_0 .. IQ4_XS) are multiplied in one of two ways:
//  * fast (default): each token's activations are quantized once to the
//    weight type's activation format (Q8_0, Q8_1 or Q8_K) and multiplied with
//    integer dot products, as the reference runtime (ggml) does, whose
//    results this reproduces to float rounding;
//  * exact weights: weight rows are decoded exactly to F32 and multiplied
//    with the F32 activations (a reference path: slower, no activation
//    rounding).
// HEARTH_EXACT_WEIGHTS=1 (environment) selects exact weights at start-up;
// set_exact_weights() switches at any time (not during a matmul). F32, F16
// and BF16 weights always use F32 activations.
bool exact_weights();
void set_exact_weights(bool exact);

// Instruction-set paths. The best one the CPU supports is chosen at start-up;
// HEARTH_ISA=scalar|avx2|avx512 (environment) or force_isa() overrides it
// (tests run every path this machine can execute).
enum class Isa { Scalar, Avx2, Avx512 };
Isa active_isa();
bool cpu_supports(Isa isa);
// Returns false (and changes nothing) when the CPU lacks `isa`.
bool force_isa(Isa isa);
std::string_view isa_name(Isa isa);
// Of one kernel's three per-ISA versions, the active ISA's.
template <class Fn>
Fn for_active_isa(Fn scalar, Fn avx2, Fn avx512) {
  switch (active_isa()) {
    case Isa::Avx512:
      return avx512;
    case Isa::Avx2:
      return avx2;
    case Isa::Scalar:
      break;
  }
  return scalar;
}
// The path whose kernels matmul uses for `type` now: the active one, or the
// best lower one when the active one has no kernels for that type (yet).
// (In exact-weights mode, quantized types run on the F32 kernels instead.)
Isa kernel_isa(GgmlType type);
// "avx512 (cpu: avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16)"
std::string cpu_features_string();

}  // namespace kernels
}  // namespace hearth
