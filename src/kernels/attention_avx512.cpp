// kernels::attention and the element-wise kernels (elementwise.h) for
// the AVX-512 path (see attention_impl.h).
#include <immintrin.h>

#include <cstdint>

// GCC 12's _mm512_undefined_* self-initialise (a -Wall false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/attention.h"
#include "kernels/elementwise.h"

namespace hearth::kernels {
namespace {

struct V {
  using Reg = __m512;
  static constexpr int kLanes = 16;
  static __mmask16 mask(int n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float x) { return _mm512_set1_ps(x); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static Reg load_partial_fill(const float* p, int n, float fill) { return _mm512_mask_loadu_ps(set1(fill), mask(n), p); }
  static void store(float* p, Reg r) { _mm512_storeu_ps(p, r); }
  static void store_partial(float* p, Reg r, int n) { _mm512_mask_storeu_ps(p, mask(n), r); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static float hmax(Reg a) { return _mm512_reduce_max_ps(a); }
  static Reg floor(Reg x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static Reg scale_pow2(Reg e, Reg n) {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(e), _mm512_slli_epi32(_mm512_cvtps_epi32(n), 23)));
  }
  static Reg zero_below(Reg x, float limit, Reg v) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, set1(limit), _CMP_GE_OQ), v);
  }
  static Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static Reg select_nonneg(Reg x, Reg a, Reg b) {
    return _mm512_mask_mov_ps(b, _mm512_cmp_ps_mask(x, zero(), _CMP_GE_OQ), a);
  }
};

#include "kernels/attention_impl.h"
#include "kernels/elementwise_impl.h"

}  // namespace

detail::AttentionFn detail::attention_avx512() { return attention_impl<V>; }
detail::SwigluFn detail::swiglu_avx512() { return swiglu_impl<V>; }

}  // namespace hearth::kernels
