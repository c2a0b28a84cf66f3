// The body of kernels::attention, written once over a vector type V and
// compiled per ISA: attention_scalar.cpp, attention_avx2.cpp and
// attention_avx512.cpp define V (lanes, load/store with a partial form for
// the tail, fma, max, exp, horizontal sum) and include this inside an
// anonymous namespace, so no inline code is shared between files compiled
// with different flags (see the ODR note in matmul_table.h).
//
// Every query's result comes from the same operations in the same order
// whatever the other queries of the call, so a head's result does not
// depend on its group or batch.

// Keys per block of the score loop: kBlock / V::kLanes accumulators.
constexpr int kBlockRegs = 4;
// The softmax denominator is summed in this many lanes (key j into lane
// j % kSumLanes), added up in a fixed order: the same bits for every vector
// width with fused multiply-add (AVX2 and AVX-512 agree exactly).
constexpr int kSumLanes = 16;

inline float sum_lanes(const float* l) {
  float s8[8];
  for (int i = 0; i < 8; ++i) s8[i] = l[i] + l[i + 8];
  const float s4[4] = {s8[0] + s8[4], s8[1] + s8[5], s8[2] + s8[6], s8[3] + s8[7]};
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

// e^x for x <= 0 (scores minus their maximum), ~1 ulp: x = n ln2 + r with
// |r| <= ln2/2, e^r by a degree-6 polynomial (Cephes' expf coefficients),
// 2^n put into the exponent bits; 0 below -87.3. The same operations on
// every ISA (fused where V::fma is).
template <class V>
typename V::Reg exp_nonpositive(typename V::Reg x) {
  using R = typename V::Reg;
  constexpr float kMin = -87.3f;
  const R clamped = V::max(x, V::set1(kMin));
  const R n = V::floor(V::fma(clamped, V::set1(1.44269504088896341f), V::set1(0.5f)));
  R r = V::fma(n, V::set1(-0.693359375f), clamped);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  R p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  const R e = V::add(V::fma(p, V::mul(r, r), r), V::set1(1.0f));
  return V::zero_below(x, kMin, V::scale_pow2(e, n));
}

// Query heads handled together: each key (value) load serves all of them.
constexpr int kScoreHeads = 8;
constexpr int kValueHeads = 4;

// Up to this many cache lines of keys, and as many of values, are
// prefetched when a call starts. Decoding reads them once per token after the
// weights have streamed through every cache level, so they come from memory,
// and the keys' rows (one per dimension, n_ctx apart) and the values' rows
// (one per key) are short strided runs the hardware prefetchers miss.
// Longer contexts are long runs they do follow.
constexpr int64_t kPrefetchLines = 1024;

// Prefetches `rows` runs of `bytes` bytes, `stride` bytes apart, if that is
// at most kPrefetchLines cache lines.
inline void prefetch_rows(const float* p, int64_t rows, size_t stride_floats, size_t bytes) {
  const int64_t lines = static_cast<int64_t>((bytes + 63) / 64);
  if (rows * lines > kPrefetchLines) return;
  for (int64_t r = 0; r < rows; ++r) {
    const char* row = reinterpret_cast<const char*>(p + static_cast<size_t>(r) * stride_floats);
    for (int64_t l = 0; l < lines; ++l) __builtin_prefetch(row + 64 * l);
  }
}

// Scores of NG query heads (g0 .. g0+NG) against every key, into their
// scratch rows: s_j = scale * sum over d, in order, of q[d] * k_j[d], a
// vector of keys at a time. NG is a compile-time count and the loops over
// it are unrolled so that the accumulators stay in registers.
template <class V, int NG>
void score_heads(const AttentionArgs& a, int g0, size_t n_pad) {
  using R = typename V::Reg;
  constexpr int L = V::kLanes;
  const int hd = a.head_dim;
  const int n = a.n_keys;
  const R scale = V::set1(a.scale);
  const float* q = a.q + static_cast<size_t>(g0) * hd;
  for (int j0 = 0; j0 < n; j0 += L) {
    const int left = n - j0;
    R acc[NG];
    #pragma GCC unroll 8
    for (int g = 0; g < NG; ++g) acc[g] = V::zero();
    // The same loop for full key vectors and the last partial one, with the
    // load chosen outside it.
    auto accumulate = [&](auto load_keys) {
      const float* k = a.kt + j0;
      for (int d = 0; d < hd; ++d, k += a.kt_stride) {
        const R kv = load_keys(k);
        #pragma GCC unroll 8
        for (int g = 0; g < NG; ++g) acc[g] = V::fma(V::set1(q[static_cast<size_t>(g) * hd + d]), kv, acc[g]);
      }
    };
    if (left >= L) {
      accumulate([](const float* k) { return V::load(k); });
    } else {
      accumulate([left](const float* k) { return V::load_partial(k, left); });
    }
    #pragma GCC unroll 8
    for (int g = 0; g < NG; ++g) V::store_partial(a.scratch + (g0 + g) * n_pad + j0, V::mul(acc[g], scale), left);
  }
}

// In place: each of rows [g0, g0 + ng) of the scratch becomes the softmax of
// its scores.
template <class V>
void softmax_heads(const AttentionArgs& a, int g0, int ng, size_t n_pad) {
  using R = typename V::Reg;
  constexpr int L = V::kLanes;
  const int n = a.n_keys;
  for (int g = g0; g < g0 + ng; ++g) {
    float* p = a.scratch + g * n_pad;
    R mx = V::set1(-3.402823466e38f);
    int j = 0;
    for (; j + L <= n; j += L) mx = V::max(mx, V::load(p + j));
    if (j < n) mx = V::max(mx, V::load_partial_fill(p + j, n - j, -3.402823466e38f));
    const R m = V::set1(V::hmax(mx));
    static_assert(kSumLanes % L == 0);
    R sum[kSumLanes / L];
    for (R& r : sum) r = V::zero();
    for (j = 0; j + L <= n; j += L) {
      const R e = exp_nonpositive<V>(V::sub(V::load(p + j), m));
      V::store(p + j, e);
      sum[(j / L) % (kSumLanes / L)] = V::add(sum[(j / L) % (kSumLanes / L)], e);
    }
    if (j < n) {
      const R e = exp_nonpositive<V>(V::sub(V::load_partial_fill(p + j, n - j, -3.402823466e38f), m));
      V::store_partial(p + j, e, n - j);
      // The fill lanes gave exp(-huge) = 0.
      sum[(j / L) % (kSumLanes / L)] = V::add(sum[(j / L) % (kSumLanes / L)], e);
    }
    float lanes[kSumLanes];
    for (int r = 0; r < kSumLanes / L; ++r) V::store(lanes + r * L, sum[r]);
    const R inv = V::set1(1.0f / sum_lanes(lanes));
    for (j = 0; j + L <= n; j += L) V::store(p + j, V::mul(V::load(p + j), inv));
    if (j < n) V::store_partial(p + j, V::mul(V::load_partial(p + j, n - j), inv), n - j);
  }
}

// out = sum over j, in order, of p_j * v_j for NG heads (g0 ..) and
// dimensions [d0, d0 + REGS * L) (the last register may be partial: width),
// so each value load serves all NG heads.
template <class V, int NG, int REGS>
void weigh_values(const AttentionArgs& a, int g0, int d0, int width, size_t n_pad) {
  using R = typename V::Reg;
  constexpr int L = V::kLanes;
  R acc[NG][REGS];
  #pragma GCC unroll 8
  for (int g = 0; g < NG; ++g) {
    #pragma GCC unroll 8
    for (int r = 0; r < REGS; ++r) acc[g][r] = V::zero();
  }
  const float* p = a.scratch + static_cast<size_t>(g0) * n_pad;
  const float* v = a.v + d0;
  const bool full = width == REGS * L;
  for (int j = 0; j < a.n_keys; ++j, v += a.v_stride) {
    R vr[REGS];
    #pragma GCC unroll 8
    for (int r = 0; r < REGS; ++r) {
      vr[r] = full || width - r * L >= L ? V::load(v + r * L) : V::load_partial(v + r * L, width - r * L);
    }
    #pragma GCC unroll 8
    for (int g = 0; g < NG; ++g) {
      const R pj = V::set1(p[g * n_pad + j]);
      #pragma GCC unroll 8
      for (int r = 0; r < REGS; ++r) acc[g][r] = V::fma(pj, vr[r], acc[g][r]);
    }
  }
  #pragma GCC unroll 8
  for (int g = 0; g < NG; ++g) {
    float* out = a.out + static_cast<size_t>(g0 + g) * a.head_dim + d0;
    #pragma GCC unroll 8
    for (int r = 0; r < REGS; ++r) V::store_partial(out + r * L, acc[g][r], width - r * L);
  }
}

// Calls f.template operator()<N>() for the runtime n in 1 .. kMax.
template <int kMax, class F>
void with_count(int n, F&& f) {
  if constexpr (kMax >= 1) {
    if (n == kMax) {
      f.template operator()<kMax>();
      return;
    }
    with_count<kMax - 1>(n, f);
  }
}

template <class V>
void attention_impl(const AttentionArgs& a) {
  constexpr int L = V::kLanes;
  const int hd = a.head_dim;
  const int n = a.n_keys;
  const size_t n_pad = attention_scratch_stride(n);
  prefetch_rows(a.kt, hd, a.kt_stride, static_cast<size_t>(n) * sizeof(float));
  prefetch_rows(a.v, n, a.v_stride, static_cast<size_t>(hd) * sizeof(float));
  for (int g0 = 0; g0 < a.n_q; g0 += kScoreHeads) {
    const int ng = a.n_q - g0 < kScoreHeads ? a.n_q - g0 : kScoreHeads;
    with_count<kScoreHeads>(ng, [&]<int NG>() { score_heads<V, NG>(a, g0, n_pad); });
    softmax_heads<V>(a, g0, ng, n_pad);
  }
  for (int g0 = 0; g0 < a.n_q; g0 += kValueHeads) {
    const int ng = a.n_q - g0 < kValueHeads ? a.n_q - g0 : kValueHeads;
    for (int d0 = 0; d0 < hd; d0 += kBlockRegs * L) {
      const int width = hd - d0 < kBlockRegs * L ? hd - d0 : kBlockRegs * L;
      const int regs = (width + L - 1) / L;
      with_count<kValueHeads>(ng, [&]<int NG>() {
        with_count<kBlockRegs>(regs, [&]<int REGS>() { weigh_values<V, NG, REGS>(a, g0, d0, width, n_pad); });
      });
    }
  }
}
