// Dispatch from GgmlType to the per-family functions (quants_*.cpp), with the
// argument checks shared by all of them.
#include "tensor/quants.h"

#include <string>

#include "tensor/quants_impl.h"
#include "util/error.h"

namespace hearth {

// The layouts must be exactly the file format's (ggml_type.cpp's table).
static_assert(sizeof(BlockQ4_0) == 18 && alignof(BlockQ4_0) == 1);
static_assert(sizeof(BlockQ4_1) == 20 && alignof(BlockQ4_1) == 1);
static_assert(sizeof(BlockQ5_0) == 22 && alignof(BlockQ5_0) == 1);
static_assert(sizeof(BlockQ5_1) == 24 && alignof(BlockQ5_1) == 1);
static_assert(sizeof(BlockQ8_0) == 34 && alignof(BlockQ8_0) == 1);
static_assert(sizeof(BlockQ8_1) == 36 && alignof(BlockQ8_1) == 1);
static_assert(sizeof(BlockQ2_K) == 84 && alignof(BlockQ2_K) == 1);
static_assert(sizeof(BlockQ3_K) == 110 && alignof(BlockQ3_K) == 1);
static_assert(sizeof(BlockQ4_K) == 144 && alignof(BlockQ4_K) == 1);
static_assert(sizeof(BlockQ5_K) == 176 && alignof(BlockQ5_K) == 1);
static_assert(sizeof(BlockQ6_K) == 210 && alignof(BlockQ6_K) == 1);
static_assert(sizeof(BlockQ8_K) == 292 && alignof(BlockQ8_K) == 1);
static_assert(sizeof(BlockIQ4_NL) == 18 && alignof(BlockIQ4_NL) == 1);
static_assert(sizeof(BlockIQ4_XS) == 136 && alignof(BlockIQ4_XS) == 1);

namespace {

using namespace quants_detail;

// Block count of n elements, after checking n against the block size.
int64_t blocks(GgmlType type, int64_t n, const char* what) {
  const auto t = ggml_type_traits(static_cast<uint32_t>(type));
  if (!t || !quant_supported(type)) {
    throw Error(std::string(what) + ": type " + (t ? std::string(t->name) : std::to_string(static_cast<uint32_t>(type))) +
                " is not supported");
  }
  if (n < 0 || n % t->block_elems != 0) {
    throw Error(std::string(what) + ": " + std::to_string(n) + " elements is not a whole number of " +
                std::string(t->name) + " blocks of " + std::to_string(t->block_elems));
  }
  return n / t->block_elems;
}

template <class B>
const B* as(const void* p) {
  return static_cast<const B*>(p);
}
template <class B>
B* as(void* p) {
  return static_cast<B*>(p);
}

}  // namespace

bool quant_supported(GgmlType type) { return dequantize_row_fn(type) != nullptr; }

size_t quant_row_bytes(GgmlType type, int64_t n) {
  return static_cast<size_t>(blocks(type, n, "quant_row_bytes")) * traits(type).block_bytes;
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  blocks(type, n, "dequantize_row");
  dequantize_row_fn(type)(src, dst, n);
}

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  const int64_t nb = blocks(type, n, "quantize_row");
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::F16:
    case GgmlType::BF16: {
      auto* p = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = type == GgmlType::F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
        std::memcpy(p + 2 * i, &h, sizeof h);
      }
      return;
    }
    case GgmlType::Q4_0: return quantize_q4_0(src, as<BlockQ4_0>(dst), nb);
    case GgmlType::Q4_1: return quantize_q4_1(src, as<BlockQ4_1>(dst), nb);
    case GgmlType::Q5_0: return quantize_q5_0(src, as<BlockQ5_0>(dst), nb);
    case GgmlType::Q5_1: return quantize_q5_1(src, as<BlockQ5_1>(dst), nb);
    case GgmlType::Q8_0: return quantize_q8_0(src, as<BlockQ8_0>(dst), nb);
    case GgmlType::Q8_1: return quantize_q8_1(src, as<BlockQ8_1>(dst), nb);
    case GgmlType::Q2_K: return quantize_q2_K(src, as<BlockQ2_K>(dst), nb);
    case GgmlType::Q3_K: return quantize_q3_K(src, as<BlockQ3_K>(dst), nb);
    case GgmlType::Q4_K: return quantize_q4_K(src, as<BlockQ4_K>(dst), nb);
    case GgmlType::Q5_K: return quantize_q5_K(src, as<BlockQ5_K>(dst), nb);
    case GgmlType::Q6_K: return quantize_q6_K(src, as<BlockQ6_K>(dst), nb);
    case GgmlType::Q8_K: return quantize_q8_K(src, as<BlockQ8_K>(dst), nb);
    case GgmlType::IQ4_NL: return quantize_iq4_nl(src, as<BlockIQ4_NL>(dst), nb);
    case GgmlType::IQ4_XS: return quantize_iq4_xs(src, as<BlockIQ4_XS>(dst), nb);
    default: break;
  }
}

GgmlType vec_dot_type(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
    case GgmlType::IQ4_NL:
      return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
      return GgmlType::Q8_1;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::IQ4_XS:
      return GgmlType::Q8_K;
    default:
      return GgmlType::F32;
  }
}

void quantize_activations(GgmlType act_type, const float* src, void* dst, int64_t n) {
  switch (act_type) {
    case GgmlType::Q8_0:
      return quantize_q8_0_activations(src, as<BlockQ8_0>(dst), blocks(act_type, n, "quantize_activations"));
    case GgmlType::Q8_1:
      return quantize_q8_1_activations(src, as<BlockQ8_1>(dst), blocks(act_type, n, "quantize_activations"));
    case GgmlType::Q8_K:
      return quantize_q8_K(src, as<BlockQ8_K>(dst), blocks(act_type, n, "quantize_activations"));
    default:
      throw Error("quantize_activations: " + std::string(type_name(act_type)) +
                  " is not an activation format (Q8_0, Q8_1 or Q8_K)");
  }
}

float vec_dot(GgmlType weight_type, int64_t n, const void* w, const void* a) {
  const VecDotFn f = vec_dot_fn(weight_type);
  if (f == nullptr) {
    throw Error("vec_dot: weight type " + std::string(type_name(weight_type)) + " has no integer dot product");
  }
  blocks(weight_type, n, "vec_dot");
  return f(w, a, n);
}

namespace {

// Adapters from the block-typed functions to the untyped row signatures.
template <class B, void (*F)(const B*, float*, int64_t), int QK>
void dequantize_adapter(const void* src, float* dst, int64_t n) {
  F(static_cast<const B*>(src), dst, n / QK);
}

template <class W, class A, float (*F)(const W*, const A*, int64_t), int QK>
float vec_dot_adapter(const void* w, const void* a, int64_t n) {
  return F(static_cast<const W*>(w), static_cast<const A*>(a), n / QK);
}

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

template <float (*Widen)(uint16_t)>
void dequantize_16bit(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, sizeof h);
    dst[i] = Widen(h);
  }
}

}  // namespace

DequantizeRowFn dequantize_row_fn(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return dequantize_f32;
    case GgmlType::F16: return dequantize_16bit<f16_to_f32>;
    case GgmlType::BF16: return dequantize_16bit<bf16_to_f32>;
    case GgmlType::Q4_0: return dequantize_adapter<BlockQ4_0, dequantize_q4_0, 32>;
    case GgmlType::Q4_1: return dequantize_adapter<BlockQ4_1, dequantize_q4_1, 32>;
    case GgmlType::Q5_0: return dequantize_adapter<BlockQ5_0, dequantize_q5_0, 32>;
    case GgmlType::Q5_1: return dequantize_adapter<BlockQ5_1, dequantize_q5_1, 32>;
    case GgmlType::Q8_0: return dequantize_adapter<BlockQ8_0, dequantize_q8_0, 32>;
    case GgmlType::Q8_1: return dequantize_adapter<BlockQ8_1, dequantize_q8_1, 32>;
    case GgmlType::Q2_K: return dequantize_adapter<BlockQ2_K, dequantize_q2_K, kQK_K>;
    case GgmlType::Q3_K: return dequantize_adapter<BlockQ3_K, dequantize_q3_K, kQK_K>;
    case GgmlType::Q4_K: return dequantize_adapter<BlockQ4_K, dequantize_q4_K, kQK_K>;
    case GgmlType::Q5_K: return dequantize_adapter<BlockQ5_K, dequantize_q5_K, kQK_K>;
    case GgmlType::Q6_K: return dequantize_adapter<BlockQ6_K, dequantize_q6_K, kQK_K>;
    case GgmlType::Q8_K: return dequantize_adapter<BlockQ8_K, dequantize_q8_K, kQK_K>;
    case GgmlType::IQ4_NL: return dequantize_adapter<BlockIQ4_NL, dequantize_iq4_nl, kQK4_NL>;
    case GgmlType::IQ4_XS: return dequantize_adapter<BlockIQ4_XS, dequantize_iq4_xs, kQK_K>;
    default: return nullptr;
  }
}

VecDotFn vec_dot_fn(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::Q4_0: return vec_dot_adapter<BlockQ4_0, BlockQ8_0, vec_dot_q4_0_q8_0, 32>;
    case GgmlType::Q4_1: return vec_dot_adapter<BlockQ4_1, BlockQ8_1, vec_dot_q4_1_q8_1, 32>;
    case GgmlType::Q5_0: return vec_dot_adapter<BlockQ5_0, BlockQ8_0, vec_dot_q5_0_q8_0, 32>;
    case GgmlType::Q5_1: return vec_dot_adapter<BlockQ5_1, BlockQ8_1, vec_dot_q5_1_q8_1, 32>;
    case GgmlType::Q8_0: return vec_dot_adapter<BlockQ8_0, BlockQ8_0, vec_dot_q8_0_q8_0, 32>;
    case GgmlType::Q2_K: return vec_dot_adapter<BlockQ2_K, BlockQ8_K, vec_dot_q2_K_q8_K, kQK_K>;
    case GgmlType::Q3_K: return vec_dot_adapter<BlockQ3_K, BlockQ8_K, vec_dot_q3_K_q8_K, kQK_K>;
    case GgmlType::Q4_K: return vec_dot_adapter<BlockQ4_K, BlockQ8_K, vec_dot_q4_K_q8_K, kQK_K>;
    case GgmlType::Q5_K: return vec_dot_adapter<BlockQ5_K, BlockQ8_K, vec_dot_q5_K_q8_K, kQK_K>;
    case GgmlType::Q6_K: return vec_dot_adapter<BlockQ6_K, BlockQ8_K, vec_dot_q6_K_q8_K, kQK_K>;
    case GgmlType::IQ4_NL: return vec_dot_adapter<BlockIQ4_NL, BlockQ8_0, vec_dot_iq4_nl_q8_0, kQK4_NL>;
    case GgmlType::IQ4_XS: return vec_dot_adapter<BlockIQ4_XS, BlockQ8_K, vec_dot_iq4_xs_q8_K, kQK_K>;
    default: return nullptr;
  }
}

}  // namespace hearth
