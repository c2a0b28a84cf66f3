// GGUF reader (format versions 2 and 3).
//
// Every byte of a model file is untrusted: each count, length, offset,
// dimension and size is checked with overflow-safe arithmetic against the real
// file size before it is used, so a broken file yields a hearth::Error naming
// the file and what is wrong, never a crash. Tensor data is memory-mapped and
// used in place.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/ggml_type.h"
#include "util/mapped_file.h"

namespace hearth::gguf {

// Metadata value types, numbered as in the file.
enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// Arrays may nest this many levels deep (the reader's recursion bound; the
// writer refuses deeper ones so that everything it writes reads back).
inline constexpr int kMaxArrayDepth = 8;
// ggml tensors have at most 4 dimensions.
inline constexpr size_t kMaxDims = 4;

std::string_view value_type_name(ValueType type);
// Bytes of one element of a fixed-size type (0 for STRING and ARRAY).
size_t value_type_size(ValueType type);

// An array value. Numbers are kept packed as in the file (little-endian), so
// a huge array costs no more memory than its bytes in the file.
struct Array {
  ValueType elem_type = ValueType::UINT8;
  uint64_t count = 0;
  std::vector<uint8_t> raw;          // numeric and bool elements
  std::vector<std::string> strings;  // elem_type == STRING
  std::vector<Array> arrays;         // elem_type == ARRAY (nested)

  bool is_numeric() const;  // integer, float or bool elements
  // Element i converted; i < count and is_numeric() are the caller's duty.
  double number(uint64_t i) const;
  int64_t integer(uint64_t i) const;
};

// One metadata value: a scalar, a string or an array.
struct Value {
  ValueType type = ValueType::UINT8;
  uint64_t u = 0;  // unsigned integers and bool
  int64_t i = 0;   // signed integers
  double f = 0;    // FLOAT32 / FLOAT64
  std::string str;
  Array arr;

  bool is_integer() const;
  bool is_float() const;
  // Any integer type that fits in int64 (not bool).
  std::optional<int64_t> as_int() const;
  // Integer or float as double.
  std::optional<double> as_number() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const Array* as_array() const;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> dims;  // dims[0] is the innermost (contiguous) one, as in ggml
  uint64_t offset = 0;        // relative to the start of the data section
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;
  const uint8_t* data = nullptr;  // inside the mapped file

  int64_t dim(size_t i) const { return i < dims.size() ? dims[i] : 1; }
  std::string shape_string() const;  // "[256, 512]"
};

// Checks a tensor's shape against its type (1 to kMaxDims dimensions, none
// negative, the element count representable, rows a whole number of blocks)
// and computes its element count and byte size. Returns what is wrong ("has 5
// dimensions ..."), or an empty string when the shape is valid. The reader and
// the writer share it so that they agree on which tensors are valid. `type`
// must be a known type.
std::string check_tensor_shape(GgmlType type, std::span<const int64_t> dims,
                               int64_t* n_elements, uint64_t* n_bytes);

class File {
 public:
  // Maps and parses `path`. Throws hearth::Error ("<path>: <what is wrong>").
  static File open(const std::string& path);
  // Parses bytes owned by the caller, which must outlive the File (fuzzing,
  // tests). `name` stands in for the path in error messages.
  static File parse(std::span<const uint8_t> bytes, const std::string& name);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Maps all of a memory-mapped file's pages now (see MappedFile::prefault);
  // nothing for caller-owned bytes.
  void prefault() const;
  // Unmaps the tensor data's pages once it has been copied elsewhere (keeps
  // the process's resident memory honest); metadata stays mapped.
  void drop_tensor_pages() const;

  const Value* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;

  // Typed getters. The *_or forms return the fallback when the key is absent;
  // every form throws hearth::Error naming the file and key when the value has
  // the wrong type or range.
  std::string get_string(std::string_view key) const;
  std::string get_string_or(std::string_view key, std::string fallback) const;
  int64_t get_int(std::string_view key) const;
  int64_t get_int_or(std::string_view key, int64_t fallback) const;
  double get_number(std::string_view key) const;
  double get_number_or(std::string_view key, double fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  // Array whose elements have `elem_type` (nullptr when the key is absent).
  const Array* get_array(std::string_view key, ValueType elem_type) const;

 private:
  File() = default;
  class Parser;

  std::string name_;
  std::unique_ptr<MappedFile> map_;  // null when parsing caller-owned bytes
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace hearth::gguf
