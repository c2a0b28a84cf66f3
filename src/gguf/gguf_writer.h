// GGUF v3 writer (little-endian), the counterpart of gguf.h's reader.
//
// The layout is the one gguf-py and llama.cpp write and expect:
//   header | metadata | tensor infos | zero padding to the alignment |
//   tensor 0 data | padding | tensor 1 data | padding | ...
// Tensors are stored in the order they were added; each tensor's offset is the
// running sum of the previous tensors' sizes rounded up to the alignment, and
// every tensor (the last one too) is followed by padding, because llama.cpp
// checks exactly these offsets and reads the padded data section in one piece.
//
// Streaming: tensor data can be given as a fill callback that is called only
// while the file is written, one tensor at a time, so a quantizer never holds
// more than one output tensor in memory.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/ggml_type.h"

namespace hearth::gguf {

// llama.cpp refuses tensor names of 64 bytes or more (GGML_MAX_NAME).
inline constexpr size_t kMaxTensorName = 63;

// The metadata value type of a C++ element type (numbers and bool).
template <typename T>
constexpr ValueType value_type_of() {
  if constexpr (std::is_same_v<T, bool>)
    return ValueType::BOOL;
  else if constexpr (std::is_same_v<T, uint8_t>)
    return ValueType::UINT8;
  else if constexpr (std::is_same_v<T, int8_t>)
    return ValueType::INT8;
  else if constexpr (std::is_same_v<T, uint16_t>)
    return ValueType::UINT16;
  else if constexpr (std::is_same_v<T, int16_t>)
    return ValueType::INT16;
  else if constexpr (std::is_same_v<T, uint32_t>)
    return ValueType::UINT32;
  else if constexpr (std::is_same_v<T, int32_t>)
    return ValueType::INT32;
  else if constexpr (std::is_same_v<T, uint64_t>)
    return ValueType::UINT64;
  else if constexpr (std::is_same_v<T, int64_t>)
    return ValueType::INT64;
  else if constexpr (std::is_same_v<T, float>)
    return ValueType::FLOAT32;
  else if constexpr (std::is_same_v<T, double>)
    return ValueType::FLOAT64;
  else
    static_assert(!sizeof(T), "not a GGUF numeric element type");
}

// Array builders. Numbers are packed little-endian, as Array::raw holds them.
template <typename T>
Array make_array(std::span<const T> values) {
  static_assert(std::endian::native == std::endian::little, "GGUF is little-endian");
  Array a;
  a.elem_type = value_type_of<T>();
  a.count = values.size();
  if constexpr (std::is_same_v<T, bool>) {
    for (const bool b : values) a.raw.push_back(b ? 1 : 0);
  } else {
    const auto* p = reinterpret_cast<const uint8_t*>(values.data());
    a.raw.assign(p, p + values.size_bytes());
  }
  return a;
}
template <typename T>
Array make_array(const std::vector<T>& values) {
  return make_array(std::span<const T>(values));
}
Array make_bool_array(const std::vector<bool>& values);
Array make_string_array(std::vector<std::string> values);
Array make_array_of_arrays(std::vector<Array> values);

class Writer {
 public:
  // Writes exactly out.size() bytes of one tensor's data into `out`.
  using FillFn = std::function<void(std::span<uint8_t> out)>;

  // Metadata. Keys keep the order of their first set; setting a key again
  // replaces its value in place. Every setter validates (a value that does
  // not fit its type, an inconsistent Array, an empty key, a bad
  // general.alignment) and throws hearth::Error.
  void set(std::string_view key, Value value);
  void set_u8(std::string_view key, uint8_t v);
  void set_i8(std::string_view key, int8_t v);
  void set_u16(std::string_view key, uint16_t v);
  void set_i16(std::string_view key, int16_t v);
  void set_u32(std::string_view key, uint32_t v);
  void set_i32(std::string_view key, int32_t v);
  void set_u64(std::string_view key, uint64_t v);
  void set_i64(std::string_view key, int64_t v);
  void set_f32(std::string_view key, float v);
  void set_f64(std::string_view key, double v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string v);
  void set_array(std::string_view key, Array a);
  // general.alignment (a power of two); tensor data is aligned to it.
  void set_alignment(uint32_t alignment) { set_u32("general.alignment", alignment); }
  bool remove(std::string_view key);

  // Tensors. dims[0] is the innermost dimension, as in ggml and TensorInfo.
  // The span form copies the bytes, which must be exactly the tensor's size.
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> dims,
                  std::span<const uint8_t> data);
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> dims, FillFn fill);

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  size_t tensor_count() const { return tensors_.size(); }
  uint64_t alignment() const;
  // Size of the whole file that write() / to_bytes() will produce.
  uint64_t file_size() const;

  std::vector<uint8_t> to_bytes() const;
  // Writes to a temporary file beside `path`, then renames it over `path`, so
  // a failed write never leaves a half-written model behind. Throws
  // hearth::Error naming `path`.
  void write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> dims;
    uint64_t n_bytes = 0;
    std::vector<uint8_t> owned;  // data given as a span
    FillFn fill;                 // data given as a callback
  };
  using Output = std::function<void(const uint8_t* p, size_t n)>;

  void set_unsigned(std::string_view key, ValueType type, uint64_t u);
  void set_signed(std::string_view key, ValueType type, int64_t i);

  // Offset in the data section of each tensor, and the padded section size.
  std::vector<uint64_t> tensor_offsets(uint64_t* data_size) const;
  // Sends the file to `out` front to back; with_data = false stops after the
  // header's padding (to measure it).
  void emit(const Output& out, bool with_data) const;

  std::vector<KeyValue> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace hearth::gguf
