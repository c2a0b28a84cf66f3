// kernels::attention and the element-wise kernels (elementwise.h) for
// the AVX2 + FMA path (see attention_impl.h).
#include <immintrin.h>

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/elementwise.h"

namespace hearth::kernels {
namespace {

struct V {
  using Reg = __m256;
  static constexpr int kLanes = 8;
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float x) { return _mm256_set1_ps(x); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg load_partial(const float* p, int n) { return n >= 8 ? load(p) : _mm256_maskload_ps(p, mask(n)); }
  static Reg load_partial_fill(const float* p, int n, float fill) {
    return n >= 8 ? load(p) : _mm256_blendv_ps(set1(fill), _mm256_maskload_ps(p, mask(n)), _mm256_castsi256_ps(mask(n)));
  }
  static void store(float* p, Reg r) { _mm256_storeu_ps(p, r); }
  static void store_partial(float* p, Reg r, int n) {
    if (n >= 8) {
      store(p, r);
    } else {
      _mm256_maskstore_ps(p, mask(n), r);
    }
  }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static float hmax(Reg a) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static Reg floor(Reg x) { return _mm256_floor_ps(x); }
  static Reg scale_pow2(Reg e, Reg n) {
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(e), _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23)));
  }
  static Reg zero_below(Reg x, float limit, Reg v) { return _mm256_and_ps(v, _mm256_cmp_ps(x, set1(limit), _CMP_GE_OQ)); }
  static Reg div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static Reg select_nonneg(Reg x, Reg a, Reg b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, zero(), _CMP_GE_OQ)); }
};

#include "kernels/attention_impl.h"
#include "kernels/elementwise_impl.h"

}  // namespace

detail::AttentionFn detail::attention_avx2() { return attention_impl<V>; }
detail::SwigluFn detail::swiglu_avx2() { return swiglu_impl<V>; }

}  // namespace hearth::kernels
