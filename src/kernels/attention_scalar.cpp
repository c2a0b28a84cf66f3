// kernels::attention and the element-wise kernels (elementwise.h) for
// the scalar path (see attention_impl.h): one lane.
#include <cstdint>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/elementwise.h"

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
  static Reg floor(Reg x) {
    int i = static_cast<int>(x);
    if (static_cast<float>(i) > x) --i;
    return static_cast<float>(i);
  }
  // e * 2^n for an integral n (added to the exponent bits).
  static Reg scale_pow2(Reg e, Reg n) {
    uint32_t bits;
    std::memcpy(&bits, &e, 4);
    bits += static_cast<uint32_t>(static_cast<int32_t>(n)) << 23;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
  }
  static Reg zero_below(Reg x, float limit, Reg v) { return x >= limit ? v : 0.0f; }
  static Reg div(Reg a, Reg b) { return a / b; }
  static Reg select_nonneg(Reg x, Reg a, Reg b) { return x >= 0.0f ? a : b; }
};

#include "kernels/attention_impl.h"
#include "kernels/elementwise_impl.h"

}  // namespace

detail::AttentionFn detail::attention_scalar() { return attention_impl<V>; }
detail::SwigluFn detail::swiglu_scalar() { return swiglu_impl<V>; }

}  // namespace hearth::kernels
