// kernels::attention for the scalar path (see attention_impl.h): one lane.
#include <cstdint>
#include <cstring>

#include "kernels/attention.h"

namespace hearth::kernels {
namespace {

struct V {
  using Reg = float;
  static constexpr int kLanes = 1;
  static Reg zero() { return 0.0f; }
  static Reg set1(float x) { return x; }
  static Reg load(const float* p) { return *p; }
  static Reg load_partial(const float* p, int) { return *p; }
  static Reg load_partial_fill(const float* p, int, float) { return *p; }
  static void store(float* p, Reg r) { *p = r; }
  static void store_partial(float* p, Reg r, int) { *p = r; }
  static Reg fma(Reg a, Reg b, Reg c) { return a * b + c; }
  static Reg mul(Reg a, Reg b) { return a * b; }
  static Reg add(Reg a, Reg b) { return a + b; }
  static Reg sub(Reg a, Reg b) { return a - b; }
  static Reg max(Reg a, Reg b) { return a > b ? a : b; }
  static float hmax(Reg a) { return a; }
  // e^x for x <= 0, ~1 ulp: x = n ln2 + r, |r| <= ln2/2, e^r by Cephes'
  // expf polynomial, 2^n into the exponent bits; 0 below -87.3.
  static Reg exp_nonpositive(Reg x) {
    if (!(x >= -87.3f)) return 0.0f;
    const float t = x * 1.44269504088896341f + 0.5f;
    int ni = static_cast<int>(t);
    if (static_cast<float>(ni) > t) --ni;  // floor
    const float nf = static_cast<float>(ni);
    float r = x - nf * 0.693359375f;
    r = r + nf * 2.12194440e-4f;
    float poly = 1.9875691500e-4f;
    poly = poly * r + 1.3981999507e-3f;
    poly = poly * r + 8.3334519073e-3f;
    poly = poly * r + 4.1665795894e-2f;
    poly = poly * r + 1.6666665459e-1f;
    poly = poly * r + 5.0000001201e-1f;
    const float e = poly * (r * r) + r + 1.0f;
    uint32_t bits;
    std::memcpy(&bits, &e, 4);
    bits += static_cast<uint32_t>(ni) << 23;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
  }
};

#include "kernels/attention_impl.h"

}  // namespace

detail::AttentionFn detail::attention_scalar() { return attention_impl<V>; }

}  // namespace hearth::kernels
