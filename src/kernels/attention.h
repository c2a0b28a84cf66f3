// Attention of the query heads that share one KV head, for one token, over
// that KV head's cached keys and values: scores = q·k * scale, softmax, then
// the probability-weighted sum of the values. Vectorised over the keys (the
// cache keeps keys transposed, one row per dimension), so it is fast for any
// head size, and the group's heads share each key load (grouped-query
// attention).
//
// Every query head's result is computed by the same operations whatever
// else is in its group or batch, so batched and one-token evaluation give
// identical bits (on one ISA).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::kernels {

struct AttentionArgs {
  const float* q = nullptr;  // n_q queries, head_dim floats each, contiguous
  int n_q = 0;
  int head_dim = 0;
  int n_keys = 0;             // >= 1
  const float* kt = nullptr;  // key j, dimension d at kt[d * kt_stride + j]
  size_t kt_stride = 0;
  const float* v = nullptr;   // value j, dimension d at v[j * v_stride + d]
  size_t v_stride = 0;
  float scale = 1;
  float* out = nullptr;       // n_q x head_dim, contiguous
  float* scratch = nullptr;   // at least attention_scratch_floats(n_q, n_keys) floats
};

// Scratch of one call: the probabilities of every query head.
size_t attention_scratch_stride(int n_keys);  // floats per query head
size_t attention_scratch_floats(int n_q, int n_keys);

// Runs on the active ISA (see matmul.h: active_isa / force_isa).
void attention(const AttentionArgs& args);

namespace detail {
using AttentionFn = void (*)(const AttentionArgs&);
AttentionFn attention_scalar();
AttentionFn attention_avx2();
AttentionFn attention_avx512();
}  // namespace detail

}  // namespace hearth::kernels
