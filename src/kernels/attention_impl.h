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

template <class V>
void attention_impl(const AttentionArgs& a) {
  using R = typename V::Reg;
  constexpr int L = V::kLanes;
  const int hd = a.head_dim;
  const int n = a.n_keys;
  const size_t n_pad = attention_scratch_stride(n);
  for (int g0 = 0; g0 < a.n_q; g0 += kScoreHeads) {
    const int ng = a.n_q - g0 < kScoreHeads ? a.n_q - g0 : kScoreHeads;
    // Scores: s_j = scale * sum over d, in order, of q[d] * k_j[d], a vector
    // of keys at a time for up to kScoreHeads heads at once.
    const R scale = V::set1(a.scale);
    for (int j0 = 0; j0 < n; j0 += L) {
      const int left = n - j0;
      R acc[kScoreHeads];
      for (int g = 0; g < kScoreHeads; ++g) acc[g] = V::zero();
      for (int d = 0; d < hd; ++d) {
        const float* k = a.kt + static_cast<size_t>(d) * a.kt_stride + j0;
        const R kv = left >= L ? V::load(k) : V::load_partial(k, left);
        for (int g = 0; g < ng; ++g) acc[g] = V::fma(V::set1(a.q[static_cast<size_t>(g0 + g) * hd + d]), kv, acc[g]);
      }
      for (int g = 0; g < ng; ++g) V::store_partial(a.scratch + (g0 + g) * n_pad + j0, V::mul(acc[g], scale), left);
    }
    // Softmax of each head's scores.
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
  // out = sum over j, in order, of p_j * v_j: a vector of dimensions at a
  // time for up to kValueHeads heads, so each value load serves them all.
  for (int g0 = 0; g0 < a.n_q; g0 += kValueHeads) {
    const int ng = a.n_q - g0 < kValueHeads ? a.n_q - g0 : kValueHeads;
    for (int d0 = 0; d0 < hd; d0 += kBlockRegs * L) {
      const int width = hd - d0 < kBlockRegs * L ? hd - d0 : kBlockRegs * L;
      const int regs = (width + L - 1) / L;
      R acc[kValueHeads][kBlockRegs];
      for (int g = 0; g < kValueHeads; ++g) {
        for (int r = 0; r < kBlockRegs; ++r) acc[g][r] = V::zero();
      }
      const float* v = a.v + d0;
      for (int j = 0; j < n; ++j, v += a.v_stride) {
        R vr[kBlockRegs];
        for (int r = 0; r < regs; ++r) vr[r] = width - r * L >= L ? V::load(v + r * L) : V::load_partial(v + r * L, width - r * L);
        for (int g = 0; g < ng; ++g) {
          const R pj = V::set1(a.scratch[(g0 + g) * n_pad + j]);
          for (int r = 0; r < regs; ++r) acc[g][r] = V::fma(pj, vr[r], acc[g][r]);
        }
      }
      for (int g = 0; g < ng; ++g) {
        float* out = a.out + static_cast<size_t>(g0 + g) * hd + d0;
        for (int r = 0; r < regs; ++r) V::store_partial(out + r * L, acc[g][r], width - r * L);
      }
    }
  }
}
