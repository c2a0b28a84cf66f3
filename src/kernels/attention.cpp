#include "kernels/attention.h"

#include "kernels/matmul.h"

namespace hearth::kernels {

size_t attention_scratch_stride(int n_keys) { return (static_cast<size_t>(n_keys > 0 ? n_keys : 1) + 15) / 16 * 16; }

size_t attention_scratch_floats(int n_q, int n_keys) {
  return static_cast<size_t>(n_q > 0 ? n_q : 1) * attention_scratch_stride(n_keys);
}

void attention(const AttentionArgs& args) {
  for_active_isa(detail::attention_scalar(), detail::attention_avx2(), detail::attention_avx512())(args);
}

}  // namespace hearth::kernels
