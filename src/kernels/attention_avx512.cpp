// kernels::attention for the AVX-512 path (see attention_impl.h).
#include <immintrin.h>

#include <cstdint>

// GCC 12's _mm512_undefined_* self-initialise (a -Wall false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/attention.h"

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
  // As the scalar path's exp_nonpositive, sixteen lanes at once, fused.
  static Reg exp_nonpositive(Reg x) {
    const __mmask16 valid = _mm512_cmp_ps_mask(x, set1(-87.3f), _CMP_GE_OQ);
    x = _mm512_max_ps(x, set1(-87.3f));
    const __m512 n = _mm512_roundscale_ps(fma(x, set1(1.44269504088896341f), set1(0.5f)),
                                          _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r = fma(n, set1(-0.693359375f), x);
    r = fma(n, set1(2.12194440e-4f), r);
    __m512 p = set1(1.9875691500e-4f);
    p = fma(p, r, set1(1.3981999507e-3f));
    p = fma(p, r, set1(8.3334519073e-3f));
    p = fma(p, r, set1(4.1665795894e-2f));
    p = fma(p, r, set1(1.6666665459e-1f));
    p = fma(p, r, set1(5.0000001201e-1f));
    const __m512 e = _mm512_add_ps(fma(p, _mm512_mul_ps(r, r), r), set1(1.0f));
    const __m512i bits = _mm512_add_epi32(_mm512_castps_si512(e), _mm512_slli_epi32(_mm512_cvtps_epi32(n), 23));
    return _mm512_maskz_mov_ps(valid, _mm512_castsi512_ps(bits));
  }
};

#include "kernels/attention_impl.h"

}  // namespace

detail::AttentionFn detail::attention_avx512() { return attention_impl<V>; }

}  // namespace hearth::kernels
