// Decoding of every quantized format checked against an independent reading
// of the format: an element-by-element decoder written here from byte
// offsets (not through the block structs), run on random block bytes, plus a
// few blocks built by hand whose values are worked out in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tensor/quants.h"
#include "util/error.h"
#include "util/fp16.h"

namespace hearth {
namespace {

constexpr int8_t kNL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

float h(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return f16_to_f32(v);
}
void put_h(uint8_t* p, float f) {
  const uint16_t v = f32_to_f16(f);
  std::memcpy(p, &v, 2);
}

// 6-bit scale/min pair j of the 12 packed bytes of Q4_K / Q5_K.
void k4_pair(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Element e of the block at b, straight from the format description.
float decode_element(GgmlType type, const uint8_t* b, int e) {
  switch (type) {
    case GgmlType::Q4_0: {
      const int nib = e < 16 ? b[2 + e] & 15 : b[2 + e - 16] >> 4;
      return static_cast<float>(nib - 8) * h(b);
    }
    case GgmlType::Q4_1: {
      const int nib = e < 16 ? b[4 + e] & 15 : b[4 + e - 16] >> 4;
      return static_cast<float>(nib) * h(b) + h(b + 2);
    }
    case GgmlType::Q5_0:
    case GgmlType::Q5_1: {
      const int off = type == GgmlType::Q5_0 ? 2 : 4;
      uint32_t qh;
      std::memcpy(&qh, b + off, 4);
      const uint8_t* qs = b + off + 4;
      const int q = (e < 16 ? qs[e] & 15 : qs[e - 16] >> 4) | static_cast<int>(((qh >> e) & 1) << 4);
      return type == GgmlType::Q5_0 ? static_cast<float>(q - 16) * h(b) : static_cast<float>(q) * h(b) + h(b + 2);
    }
    case GgmlType::Q8_0:
      return static_cast<float>(static_cast<int8_t>(b[2 + e])) * h(b);
    case GgmlType::Q8_1:
      return static_cast<float>(static_cast<int8_t>(b[4 + e])) * h(b);
    case GgmlType::Q2_K: {
      const int half = e / 128, g = (e % 128) / 32, l = e % 32;
      const int q = (b[16 + half * 32 + l] >> (2 * g)) & 3;
      const int sc = b[e / 16];
      return h(b + 80) * static_cast<float>(sc & 15) * static_cast<float>(q) - h(b + 82) * static_cast<float>(sc >> 4);
    }
    case GgmlType::Q3_K: {
      const int half = e / 128, g = (e % 128) / 32, l = e % 32, j = e / 16;
      const int low = (b[32 + half * 32 + l] >> (2 * g)) & 3;
      const int hbit = (b[l] >> (half * 4 + g)) & 1;
      const uint8_t* s = b + 96;
      const int s_low = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
      const int s_high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
      const int scale = (s_low | (s_high << 4)) - 32;
      return h(b + 108) * static_cast<float>(scale) * static_cast<float>(low - (hbit ? 0 : 4));
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const bool five = type == GgmlType::Q5_K;
      const uint8_t* qs = b + (five ? 48 : 16);
      const int chunk = e / 64, l = e % 32;
      const uint8_t byte = qs[chunk * 32 + l];
      int q = (e % 64) < 32 ? byte & 15 : byte >> 4;
      if (five) q += ((b[16 + l] >> (e / 32)) & 1) * 16;
      int sc, m;
      k4_pair(b + 4, e / 32, &sc, &m);
      return h(b) * static_cast<float>(sc) * static_cast<float>(q) - h(b + 2) * static_cast<float>(m);
    }
    case GgmlType::Q6_K: {
      const int half = e / 128, g = (e % 128) / 32, l = e % 32;
      const uint8_t ql = b[half * 64 + l + 32 * (g & 1)];
      const int low = g >= 2 ? ql >> 4 : ql & 15;
      const int high = (b[128 + half * 32 + l] >> (2 * g)) & 3;
      const int scale = static_cast<int8_t>(b[192 + e / 16]);
      return h(b + 208) * static_cast<float>(scale) * static_cast<float>((low | (high << 4)) - 32);
    }
    case GgmlType::Q8_K: {
      float d;
      std::memcpy(&d, b, 4);
      return d * static_cast<float>(static_cast<int8_t>(b[4 + e]));
    }
    case GgmlType::IQ4_NL: {
      const int idx = e < 16 ? b[2 + e] & 15 : b[2 + e - 16] >> 4;
      return h(b) * static_cast<float>(kNL[idx]);
    }
    case GgmlType::IQ4_XS: {
      const int sub = e / 32, w = e % 32;
      uint16_t scales_h;
      std::memcpy(&scales_h, b + 2, 2);
      const int ls = ((b[4 + sub / 2] >> (4 * (sub % 2))) & 15) | (((scales_h >> (2 * sub)) & 3) << 4);
      const uint8_t byte = b[8 + sub * 16 + w % 16];
      const int idx = w < 16 ? byte & 15 : byte >> 4;
      return h(b) * static_cast<float>(ls - 32) * static_cast<float>(kNL[idx]);
    }
    default:
      ADD_FAILURE() << "no element decoder for " << type_name(type);
      return 0;
  }
}

constexpr GgmlType kQuantTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                    GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q2_K, GgmlType::Q3_K,
                                    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
                                    GgmlType::IQ4_NL, GgmlType::IQ4_XS};

size_t struct_size(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: return sizeof(BlockQ4_0);
    case GgmlType::Q4_1: return sizeof(BlockQ4_1);
    case GgmlType::Q5_0: return sizeof(BlockQ5_0);
    case GgmlType::Q5_1: return sizeof(BlockQ5_1);
    case GgmlType::Q8_0: return sizeof(BlockQ8_0);
    case GgmlType::Q8_1: return sizeof(BlockQ8_1);
    case GgmlType::Q2_K: return sizeof(BlockQ2_K);
    case GgmlType::Q3_K: return sizeof(BlockQ3_K);
    case GgmlType::Q4_K: return sizeof(BlockQ4_K);
    case GgmlType::Q5_K: return sizeof(BlockQ5_K);
    case GgmlType::Q6_K: return sizeof(BlockQ6_K);
    case GgmlType::Q8_K: return sizeof(BlockQ8_K);
    case GgmlType::IQ4_NL: return sizeof(BlockIQ4_NL);
    case GgmlType::IQ4_XS: return sizeof(BlockIQ4_XS);
    default: return 0;
  }
}

// Offsets of the F16 / F32 scale fields, which random bytes must not turn
// into inf / NaN.
std::vector<int> half_fields(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL: case GgmlType::IQ4_XS:
      return {0};
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q8_1: case GgmlType::Q4_K: case GgmlType::Q5_K:
      return {0, 2};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

TEST(QuantBlocks, StructSizesMatchTheTypeTable) {
  for (GgmlType type : kQuantTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    EXPECT_EQ(struct_size(type), traits(type).block_bytes);
    EXPECT_TRUE(quant_supported(type));
    EXPECT_EQ(quant_row_bytes(type, 3 * traits(type).block_elems), 3 * traits(type).block_bytes);
  }
}

TEST(QuantBlocks, DequantizeAgreesWithElementwiseDecoderOnRandomBlocks) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-3.0f, 3.0f);
  for (GgmlType type : kQuantTypes) {
    SCOPED_TRACE(std::string(type_name(type)));
    const GgmlTypeTraits t = traits(type);
    const int nblocks = 5;
    std::vector<uint8_t> bytes(t.block_bytes * nblocks);
    for (auto& v : bytes) v = static_cast<uint8_t>(byte(rng));
    for (int b = 0; b < nblocks; ++b) {
      uint8_t* blk = bytes.data() + b * t.block_bytes;
      for (int off : half_fields(type)) put_h(blk + off, scale(rng));
      if (type == GgmlType::Q8_K) {
        const float d = scale(rng);
        std::memcpy(blk, &d, 4);
      }
    }
    std::vector<float> out(t.block_elems * nblocks, NAN);
    dequantize_row(type, bytes.data(), out.data(), static_cast<int64_t>(out.size()));
    int mismatches = 0;
    for (int b = 0; b < nblocks; ++b) {
      for (uint32_t e = 0; e < t.block_elems; ++e) {
        const float want = decode_element(type, bytes.data() + b * t.block_bytes, static_cast<int>(e));
        // Bit equality: decoding is exact, so rounding must agree too.
        if (std::memcmp(&want, &out[b * t.block_elems + e], 4) != 0 && ++mismatches <= 3) {
          ADD_FAILURE() << "block " << b << " element " << e << ": got " << out[b * t.block_elems + e]
                        << ", format says " << want;
        }
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(QuantBlocks, HandBuiltQ4_0) {
  // d = 0.5; qs[j] = j | (15 - j) << 4, so element j is (j - 8) * 0.5 and
  // element j + 16 is (15 - j - 8) * 0.5.
  BlockQ4_0 b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(GgmlType::Q4_0, &b, y, 32);
  EXPECT_EQ(y[0], -4.0f);
  EXPECT_EQ(y[8], 0.0f);
  EXPECT_EQ(y[15], 3.5f);
  EXPECT_EQ(y[16], 3.5f);
  EXPECT_EQ(y[31], -4.0f);
}

TEST(QuantBlocks, HandBuiltQ5_1AndQ8_0) {
  // Q5_1: d = 0.25, m = -2, qh bit 31 set and element 31's nibble 0xF, so
  // it holds 31 * 0.25 - 2 = 5.75; element 0 holds nibble 1, no high bit: -1.75.
  BlockQ5_1 b{};
  b.d = 0x3400;  // 0.25
  b.m = 0xC000;  // -2
  const uint32_t qh = 1u << 31;
  std::memcpy(b.qh, &qh, 4);
  b.qs[0] = 0x01;
  b.qs[15] = 0xF0;
  float y[32];
  dequantize_row(GgmlType::Q5_1, &b, y, 32);
  EXPECT_EQ(y[0], -1.75f);
  EXPECT_EQ(y[31], 5.75f);
  EXPECT_EQ(y[1], -2.0f);

  // Q8_0: d = 2, qs = -128 .. : plain products.
  BlockQ8_0 c{};
  c.d = 0x4000;  // 2
  for (int j = 0; j < 32; ++j) c.qs[j] = static_cast<int8_t>(j * 8 - 128);
  dequantize_row(GgmlType::Q8_0, &c, y, 32);
  EXPECT_EQ(y[0], -256.0f);
  EXPECT_EQ(y[31], 240.0f);
}

TEST(QuantBlocks, HandBuiltQ4_K) {
  // Sub-block scales sc[j] = 10 + 7j and mins mn[j] = 63 - 5j, packed as the
  // format says: bytes 0-3 and 4-7 hold sc/mn 0-3 (6 bits) plus the top two
  // bits of sc/mn 4-7; bytes 8-11 the low nibbles of sc/mn 4-7.
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 10 + 7 * j;
    mn[j] = 63 - 5 * j;
  }
  BlockQ4_K b{};
  b.d = 0x3C00;     // 1
  b.dmin = 0x3800;  // 0.5
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  b.qs[0] = 0x5A;    // element 0: 10, element 32: 5
  b.qs[127] = 0xF3;  // element 255 - 32 = 223: 3, element 255: 15
  float y[256];
  dequantize_row(GgmlType::Q4_K, &b, y, 256);
  EXPECT_EQ(y[0], 10.0f * 10 - 0.5f * 63);           // 68.5
  EXPECT_EQ(y[32], 17.0f * 5 - 0.5f * 58);           // 56
  EXPECT_EQ(y[223], 52.0f * 3 - 0.5f * 33);          // sub-block 6: 139.5
  EXPECT_EQ(y[255], 59.0f * 15 - 0.5f * 28);         // sub-block 7: 871
  EXPECT_EQ(y[1], -0.5f * 63);                       // nibble 0
}

TEST(QuantBlocks, HandBuiltIQ4) {
  // IQ4_NL: d = 2, index 0 -> -127 * 2, index 15 -> 113 * 2.
  BlockIQ4_NL b{};
  b.d = 0x4000;
  b.qs[0] = 0xF0;
  float y[256];
  dequantize_row(GgmlType::IQ4_NL, &b, y, 32);
  EXPECT_EQ(y[0], -254.0f);
  EXPECT_EQ(y[16], 226.0f);
  // IQ4_XS: block 3's 6-bit scale = 0b10'0101 = 37 -> multiplier 5.
  BlockIQ4_XS x{};
  x.d = 0x3C00;
  x.scales_l[1] = 0x50;                            // block 3 low nibble 5 (high half of byte 1)
  x.scales_h = static_cast<uint16_t>(2u << 6);    // block 3 high bits 2
  x.qs[3 * 16] = 0x08;                            // element 96: index 8 (+1), element 112: index 0
  dequantize_row(GgmlType::IQ4_XS, &x, y, 256);
  EXPECT_EQ(y[96], 5.0f);
  EXPECT_EQ(y[112], -635.0f);
  EXPECT_EQ(y[0], 4064.0f);  // block 0: scale 0 - 32 = -32, index 0: -32 * -127
}

TEST(QuantBlocks, RejectsPartialBlocksAndUnknownTypes) {
  float y[64];
  uint8_t raw[64] = {};
  EXPECT_THROW(dequantize_row(GgmlType::Q4_0, raw, y, 31), Error);
  EXPECT_THROW(quantize_row(GgmlType::Q4_K, y, raw, 32), Error);
  EXPECT_THROW(dequantize_row(GgmlType::IQ2_XXS, raw, y, 256), Error);
  EXPECT_THROW(vec_dot(GgmlType::F16, 32, raw, raw), Error);
  EXPECT_THROW(quantize_activations(GgmlType::Q4_0, y, raw, 32), Error);
  EXPECT_FALSE(quant_supported(GgmlType::IQ2_XXS));
}

}  // namespace
}  // namespace hearth
