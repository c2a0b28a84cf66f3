// Packing and unpacking rows (the layout is described in packed_layout.h),
// and the public pack_rows.
#include "kernels/packed_layout.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/matmul_table.h"
#include "tensor/quants.h"
#include "util/error.h"

namespace hearth::kernels {
namespace detail {
namespace {

// Calls f(block, d, plane0, plane_stride) for every block of a row: its
// offset in GGUF's layout, and in the packed one the offsets of its scale and
// of its plane-0 bytes (plane k's are plane_stride * k further on).
template <class F>
void for_each_block(GgmlType type, int64_t cols, F&& f) {
  const int planes = packed_planes(type);
  const size_t block_bytes = 2 + 4 * static_cast<size_t>(planes);
  const int64_t nb = cols / 32;
  for (int64_t s = 0; s * kPackedGroupBlocks < nb; ++s) {
    const int64_t first = s * kPackedGroupBlocks;
    const int64_t m = std::min<int64_t>(kPackedGroupBlocks, nb - first);
    const size_t group = packed_planes_offset(type, s);
    for (int64_t b = 0; b < m; ++b) {
      const size_t src = static_cast<size_t>(first + b) * block_bytes;
      const size_t d = packed_scales_offset(type, nb) + 2 * static_cast<size_t>(first + b);
      const size_t plane0 = group + 4 * static_cast<size_t>(b);
      f(src, d, plane0, 4 * static_cast<size_t>(m));
    }
  }
}

// Q4_K / Q5_K: calls f(block, header, body) for every super-block of a row:
// its offset in GGUF's layout, and those of its header and body in the
// packed one.
template <class F>
void for_each_k4_block(GgmlType type, int64_t cols, F&& f) {
  const size_t block_bytes = k4_block_bytes(type), body_bytes = k4_body_bytes(type);
  const int64_t nsb = cols / 256;
  for (int64_t first = 0; first < nsb; first += kK4GroupBlocks) {
    const int64_t m = std::min<int64_t>(kK4GroupBlocks, nsb - first);
    const size_t group = static_cast<size_t>(first) * block_bytes;
    for (int64_t b = 0; b < m; ++b) {
      const auto i = static_cast<size_t>(b);
      f(group + i * block_bytes, group + i * kK4HeaderBytes,
        group + static_cast<size_t>(m) * kK4HeaderBytes + i * body_bytes);
    }
  }
}

void unpack_k4_block(GgmlType type, const uint8_t* row, size_t header, size_t body, uint8_t* out) {
  std::memcpy(out, row + header, kK4HeaderBytes);
  std::memcpy(out + kK4HeaderBytes, row + body, k4_body_bytes(type));
}

// Packed Q8_0 bytes are q + 128: the sign bit flipped, four bytes at a time.
uint32_t flip_mask(GgmlType type) { return type == GgmlType::Q8_0 ? 0x80808080u : 0u; }

inline void copy_word(const uint8_t* in, uint8_t* out, uint32_t flip) {
  uint32_t w;
  std::memcpy(&w, in, 4);
  w ^= flip;
  std::memcpy(out, &w, 4);
}

// GGUF's bytes of one block from its scale and planes in a packed row.
void unpack_block(GgmlType type, const uint8_t* row, size_t d, size_t plane0, size_t plane_stride, uint8_t* out) {
  const uint32_t flip = flip_mask(type);
  std::memcpy(out, row + d, 2);
  for (int k = 0; k < packed_planes(type); ++k) copy_word(row + plane0 + k * plane_stride, out + 2 + 4 * k, flip);
}

}  // namespace

void pack_row(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols) {
  if (k4_block_bytes(type) != 0) {
    for_each_k4_block(type, cols, [&](size_t block, size_t header, size_t body) {
      std::memcpy(dst + header, src + block, kK4HeaderBytes);
      std::memcpy(dst + body, src + block + kK4HeaderBytes, k4_body_bytes(type));
    });
    return;
  }
  const int planes = packed_planes(type);
  const uint32_t flip = flip_mask(type);
  for_each_block(type, cols, [&](size_t block, size_t d, size_t plane0, size_t plane_stride) {
    std::memcpy(dst + d, src + block, 2);
    for (int k = 0; k < planes; ++k) copy_word(src + block + 2 + 4 * k, dst + plane0 + k * plane_stride, flip);
  });
}

void unpack_row(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols) {
  if (k4_block_bytes(type) != 0) {
    for_each_k4_block(type, cols, [&](size_t block, size_t header, size_t body) {
      unpack_k4_block(type, src, header, body, dst + block);
    });
    return;
  }
  for_each_block(type, cols, [&](size_t block, size_t d, size_t plane0, size_t plane_stride) {
    unpack_block(type, src, d, plane0, plane_stride, dst + block);
  });
}

void packed_to_f32(GgmlType type, const uint8_t* row, int64_t cols, float* out) {
  const TypeKernels* scalar = find_scalar_quant_kernels(type);
  if (const size_t block_bytes = k4_block_bytes(type); block_bytes != 0) {
    uint8_t block[k4_block_bytes(GgmlType::Q5_K)];  // the larger one
    for_each_k4_block(type, cols, [&](size_t offset, size_t header, size_t body) {
      unpack_k4_block(type, row, header, body, block);
      scalar->to_f32(block, 256, out + offset / block_bytes * 256);
    });
    return;
  }
  // Block by block: each unpacked into GGUF's layout, then decoded.
  const size_t block_bytes = 2 + 4 * static_cast<size_t>(packed_planes(type));
  uint8_t block[2 + 4 * 8];
  for_each_block(type, cols, [&](size_t offset, size_t d, size_t plane0, size_t plane_stride) {
    unpack_block(type, row, d, plane0, plane_stride, block);
    scalar->to_f32(block, 32, out + offset / block_bytes * 32);
  });
}

}  // namespace detail

bool has_packed_layout(GgmlType type) {
  return detail::packed_planes(type) != 0 || detail::k4_block_bytes(type) != 0;
}

void pack_rows(WeightMatrix& w, void* dst, size_t dst_row_bytes) {
  if (!has_packed_layout(w.type)) {
    throw Error("pack_rows: weight type " + std::string(type_name(w.type)) + " has no packed layout");
  }
  if (w.packed) throw Error("pack_rows: the matrix is packed already");
  const size_t row_size = quant_row_bytes(w.type, w.cols);
  if (w.cols % traits(w.type).block_elems != 0 || w.row_bytes < row_size) {
    throw Error("pack_rows: " + std::to_string(w.cols) + " columns and a row stride of " +
                std::to_string(w.row_bytes) + " bytes do not describe " + std::string(type_name(w.type)) + " rows");
  }
  if (dst_row_bytes == 0) dst_row_bytes = w.row_bytes;
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* out = static_cast<uint8_t*>(dst);
  if (dst_row_bytes < row_size || (src == out && dst_row_bytes != w.row_bytes)) {
    throw Error("pack_rows: a destination row stride of " + std::to_string(dst_row_bytes) + " bytes cannot hold " +
                std::to_string(row_size) + "-byte rows" + (src == out ? " in place" : ""));
  }
  // In place (dst == data) goes through one row of scratch.
  std::vector<uint8_t> row(src == out ? row_size : 0);
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* in = src + static_cast<size_t>(r) * w.row_bytes;
    if (!row.empty()) in = static_cast<const uint8_t*>(std::memcpy(row.data(), in, row_size));
    detail::pack_row(w.type, in, out + static_cast<size_t>(r) * dst_row_bytes, w.cols);
  }
  w.data = dst;
  w.row_bytes = dst_row_bytes;
  w.packed = true;
}

}  // namespace hearth::kernels
