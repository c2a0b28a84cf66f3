// The bodies of the element-wise kernels (elementwise.h), written once over
// the vector type V of attention_impl.h and compiled per ISA by the
// attention_<isa>.cpp files, after attention_impl.h (for exp_nonpositive).

// silu(g) * u with sigmoid(g) from e = e^-|g| (never overflows):
// 1 / (1 + e) for g >= 0, e / (1 + e) for g < 0.
template <class V>
typename V::Reg swiglu_one(typename V::Reg g, typename V::Reg u) {
  const typename V::Reg e = exp_nonpositive<V>(V::sub(V::zero(), V::max(g, V::sub(V::zero(), g))));
  const typename V::Reg one = V::set1(1.0f);
  const typename V::Reg sigmoid = V::div(V::select_nonneg(g, one, e), V::add(one, e));
  return V::mul(V::mul(g, sigmoid), u);
}

template <class V>
void swiglu_impl(float* gate, const float* up, int64_t n) {
  constexpr int L = V::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(gate + i, swiglu_one<V>(V::load(gate + i), V::load(up + i)));
  if (i < n) {
    const int left = static_cast<int>(n - i);
    V::store_partial(gate + i, swiglu_one<V>(V::load_partial(gate + i, left), V::load_partial(up + i, left)), left);
  }
}
