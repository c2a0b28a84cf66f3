// Our reference quantizers against the files the reference runtime's
// `llama-quantize --pure <TYPE>` wrote from llama-spm-F32.gguf (no importance
// matrix): every 2-D tensor is quantized here from the F32 file and compared
// with the same tensor of ../shared/models/llama-spm-<TYPE>.gguf, byte for
// byte and by reconstruction error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "shared_data.h"
#include "tensor/quants.h"

namespace hearth {
namespace {

struct FileCase {
  GgmlType type;
  // Whether our bytes must equal the file's exactly. Where they do not have
  // to, our reconstruction error must still be no worse than the file's.
  bool bit_identical;
};

std::string case_name(const ::testing::TestParamInfo<FileCase>& info) {
  return std::string(type_name(info.param.type));
}

class QuantizeLikeReference : public ::testing::TestWithParam<FileCase> {};

double sum_sq_diff(const std::vector<float>& a, const float* b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return s;
}

TEST_P(QuantizeLikeReference, MatchesPureFile) {
  HEARTH_REQUIRE_SHARED(shared);
  const GgmlType type = GetParam().type;
  const std::string name(type_name(type));
  const auto f32 = gguf::File::open((shared / "models" / "llama-spm-F32.gguf").string());
  const auto quant = gguf::File::open((shared / "models" / ("llama-spm-" + name + ".gguf")).string());

  int tensors = 0;
  double ours_sq = 0, peer_sq = 0, total_elems = 0;
  int64_t total_rows = 0, total_differing = 0;
  for (const auto& ref : f32.tensors()) {
    if (ref.dims.size() != 2) continue;  // 1-D norms stay F32 in the pure files
    const gguf::TensorInfo* q = quant.find_tensor(ref.name);
    ASSERT_NE(q, nullptr) << ref.name;
    ASSERT_EQ(q->type, type) << ref.name;
    ASSERT_EQ(q->dims, ref.dims) << ref.name;
    ASSERT_EQ(ref.type, GgmlType::F32);
    ++tensors;

    const int64_t cols = ref.dim(0), rows = ref.dim(1);
    const size_t row_bytes = quant_row_bytes(type, cols);
    ASSERT_EQ(q->n_bytes, row_bytes * static_cast<size_t>(rows));
    std::vector<float> src(static_cast<size_t>(cols));
    std::vector<uint8_t> ours(row_bytes);
    std::vector<float> ours_f(static_cast<size_t>(cols)), peer_f(static_cast<size_t>(cols));
    int64_t differing_rows = 0;
    double t_ours = 0, t_peer = 0;
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(src.data(), ref.data + static_cast<size_t>(r * cols) * sizeof(float), src.size() * sizeof(float));
      quantize_row(type, src.data(), ours.data(), cols);
      const uint8_t* peer = q->data + static_cast<size_t>(r) * row_bytes;
      if (std::memcmp(ours.data(), peer, row_bytes) != 0) ++differing_rows;
      dequantize_row(type, ours.data(), ours_f.data(), cols);
      dequantize_row(type, peer, peer_f.data(), cols);
      t_ours += sum_sq_diff(src, ours_f.data());
      t_peer += sum_sq_diff(src, peer_f.data());
    }
    ours_sq += t_ours;
    peer_sq += t_peer;
    if (GetParam().bit_identical) {
      EXPECT_EQ(differing_rows, 0) << ref.name << ": rows whose bytes differ from the reference file";
    }
    // Per tensor: as accurate as the reference quantizer (relative slack for
    // float summation differences only).
    EXPECT_LE(t_ours, t_peer * (1 + 1e-6) + 1e-12) << ref.name;
    total_rows += rows;
    total_differing += differing_rows;
    total_elems += static_cast<double>(rows * cols);
  }
  EXPECT_GT(tensors, 0);
  std::printf("  %s: %d tensors, rows differing from the file %lld/%lld, RMS error ours %.6g, file's %.6g\n",
              name.c_str(), tensors, static_cast<long long>(total_differing), static_cast<long long>(total_rows),
              std::sqrt(ours_sq / total_elems), std::sqrt(peer_sq / total_elems));
  EXPECT_LE(ours_sq, peer_sq * (1 + 1e-6) + 1e-12);
}

INSTANTIATE_TEST_SUITE_P(PureFiles, QuantizeLikeReference,
                         ::testing::Values(FileCase{GgmlType::F16, true}, FileCase{GgmlType::BF16, true},
                                           FileCase{GgmlType::Q8_0, true}, FileCase{GgmlType::Q4_0, true},
                                           FileCase{GgmlType::Q4_1, true}, FileCase{GgmlType::Q5_0, true},
                                           FileCase{GgmlType::Q5_1, true}, FileCase{GgmlType::Q2_K, true},
                                           FileCase{GgmlType::Q3_K, true}, FileCase{GgmlType::Q4_K, true},
                                           FileCase{GgmlType::Q5_K, true}, FileCase{GgmlType::Q6_K, true},
                                           FileCase{GgmlType::IQ4_NL, true}, FileCase{GgmlType::IQ4_XS, true}),
                         case_name);

}  // namespace
}  // namespace hearth
