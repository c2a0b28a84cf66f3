#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "util/checked_math.h"
#include "util/error.h"

namespace hearth::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;

[[noreturn]] void fail(const std::string& what) { throw Error("GGUF writer: " + what); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool valid_value_type(ValueType t) {
  return static_cast<uint32_t>(t) <= static_cast<uint32_t>(ValueType::FLOAT64);
}

// Checks an Array's contents against its element type and count, recursively.
void check_array(const std::string& key, const Array& a, int depth) {
  if (depth > kMaxArrayDepth) {
    fail("metadata " + quoted(key) + " nests arrays deeper than " +
         std::to_string(kMaxArrayDepth) + " levels (the reader would refuse it)");
  }
  if (!valid_value_type(a.elem_type)) {
    fail("metadata " + quoted(key) + " has an array of unknown type " +
         std::to_string(static_cast<uint32_t>(a.elem_type)));
  }
  const size_t elem = value_type_size(a.elem_type);
  uint64_t raw_bytes = 0;
  const bool ok =
      elem ? checked_mul(a.count, elem, &raw_bytes) && a.raw.size() == raw_bytes &&
                 a.strings.empty() && a.arrays.empty()
      : a.elem_type == ValueType::STRING
          ? a.strings.size() == a.count && a.raw.empty() && a.arrays.empty()
          : a.arrays.size() == a.count && a.raw.empty() && a.strings.empty();
  if (!ok) {
    fail("metadata " + quoted(key) + ": array of " +
         std::string(value_type_name(a.elem_type)) + " with count " + std::to_string(a.count) +
         " does not match its contents");
  }
  for (const Array& inner : a.arrays) check_array(key, inner, depth + 1);
}

// Checks that a scalar fits its type: a Value keeps every integer in a 64-bit
// field, and writing 300 as a u8 would silently store 44.
void check_value(const std::string& key, const Value& v) {
  auto out_of_range = [&](const std::string& shown) {
    fail("metadata " + quoted(key) + ": value " + shown + " does not fit " +
         std::string(value_type_name(v.type)));
  };
  auto check_u = [&](uint64_t max) {
    if (v.u > max) out_of_range(std::to_string(v.u));
  };
  auto check_i = [&](int64_t min, int64_t max) {
    if (v.i < min || v.i > max) out_of_range(std::to_string(v.i));
  };
  switch (v.type) {
    case ValueType::UINT8: check_u(UINT8_MAX); break;
    case ValueType::UINT16: check_u(UINT16_MAX); break;
    case ValueType::UINT32: check_u(UINT32_MAX); break;
    case ValueType::INT8: check_i(INT8_MIN, INT8_MAX); break;
    case ValueType::INT16: check_i(INT16_MIN, INT16_MAX); break;
    case ValueType::INT32: check_i(INT32_MIN, INT32_MAX); break;
    case ValueType::ARRAY: check_array(key, v.arr, 1); break;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT32:
    case ValueType::FLOAT64:
    case ValueType::BOOL:
    case ValueType::STRING: break;
    default:
      fail("metadata " + quoted(key) + " has unknown value type " +
           std::to_string(static_cast<uint32_t>(v.type)));
  }
}

Value scalar(ValueType type) {
  Value v;
  v.type = type;
  return v;
}

}  // namespace

Array make_bool_array(const std::vector<bool>& values) {
  Array a;
  a.elem_type = ValueType::BOOL;
  a.count = values.size();
  for (const bool b : values) a.raw.push_back(b ? 1 : 0);
  return a;
}

Array make_string_array(std::vector<std::string> values) {
  Array a;
  a.elem_type = ValueType::STRING;
  a.count = values.size();
  a.strings = std::move(values);
  return a;
}

Array make_array_of_arrays(std::vector<Array> values) {
  Array a;
  a.elem_type = ValueType::ARRAY;
  a.count = values.size();
  a.arrays = std::move(values);
  return a;
}

// ---------------------------------------------------------------- metadata

void Writer::set(std::string_view key, Value value) {
  const std::string k(key);
  if (k.empty()) fail("metadata keys must not be empty");
  check_value(k, value);
  if (k == "general.alignment") {
    // Checked here, where the caller can see which call was wrong, rather
    // than when the file is written.
    if (value.type != ValueType::UINT32) {
      fail("general.alignment must be a u32, not " + std::string(value_type_name(value.type)));
    }
    if (value.u == 0 || (value.u & (value.u - 1)) != 0) {
      fail("general.alignment must be a power of two, not " + std::to_string(value.u));
    }
  }
  for (auto& kv : metadata_) {
    if (kv.key == k) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata_.push_back({k, std::move(value)});
}

void Writer::set_u8(std::string_view key, uint8_t v) { set(key, unsigned_value(ValueType::UINT8, v)); }
void Writer::set_u16(std::string_view key, uint16_t v) { set(key, unsigned_value(ValueType::UINT16, v)); }
void Writer::set_u32(std::string_view key, uint32_t v) { set(key, unsigned_value(ValueType::UINT32, v)); }
void Writer::set_u64(std::string_view key, uint64_t v) { set(key, unsigned_value(ValueType::UINT64, v)); }
void Writer::set_bool(std::string_view key, bool v) { set(key, unsigned_value(ValueType::BOOL, v)); }
void Writer::set_i8(std::string_view key, int8_t v) { set(key, signed_value(ValueType::INT8, v)); }
void Writer::set_i16(std::string_view key, int16_t v) { set(key, signed_value(ValueType::INT16, v)); }
void Writer::set_i32(std::string_view key, int32_t v) { set(key, signed_value(ValueType::INT32, v)); }
void Writer::set_i64(std::string_view key, int64_t v) { set(key, signed_value(ValueType::INT64, v)); }

void Writer::set_f32(std::string_view key, float v) {
  Value value = scalar(ValueType::FLOAT32);
  value.f = v;
  set(key, std::move(value));
}

void Writer::set_f64(std::string_view key, double v) {
  Value value = scalar(ValueType::FLOAT64);
  value.f = v;
  set(key, std::move(value));
}

void Writer::set_string(std::string_view key, std::string v) {
  Value value = scalar(ValueType::STRING);
  value.str = std::move(v);
  set(key, std::move(value));
}

void Writer::set_array(std::string_view key, Array a) {
  Value value = scalar(ValueType::ARRAY);
  value.arr = std::move(a);
  set(key, std::move(value));
}

bool Writer::remove(std::string_view key) {
  for (auto it = metadata_.begin(); it != metadata_.end(); ++it) {
    if (it->key == key) {
      metadata_.erase(it);
      return true;
    }
  }
  return false;
}

uint64_t Writer::alignment() const {
  for (const auto& kv : metadata_) {
    if (kv.key == "general.alignment") return kv.value.u;  // validated by set()
  }
  return kDefaultAlignment;
}

// ---------------------------------------------------------------- tensors

void Writer::add_tensor(std::string name, GgmlType type, std::vector<int64_t> dims,
                        std::span<const uint8_t> data) {
  add_tensor(std::move(name), type, std::move(dims), FillFn{});
  Tensor& t = tensors_.back();
  if (data.size() != t.n_bytes) {
    const std::string what = "tensor " + quoted(t.name) + " has " + std::to_string(data.size()) +
                             " bytes of data, but a " + std::string(type_name(type)) + " " +
                             TensorInfo{.dims = t.dims}.shape_string() + " tensor takes " +
                             std::to_string(t.n_bytes);
    tensors_.pop_back();
    fail(what);
  }
  t.owned.assign(data.begin(), data.end());
}

void Writer::add_tensor(std::string name, GgmlType type, std::vector<int64_t> dims, FillFn fill) {
  if (name.empty()) fail("tensor names must not be empty");
  if (name.size() > kMaxTensorName) {
    fail("tensor name " + quoted(name) + " is " + std::to_string(name.size()) +
         " bytes long; llama.cpp allows at most " + std::to_string(kMaxTensorName));
  }
  for (const auto& t : tensors_) {
    if (t.name == name) fail("duplicate tensor name " + quoted(name));
  }
  if (!ggml_type_traits(static_cast<uint32_t>(type))) {
    fail("tensor " + quoted(name) + " has unknown type id " +
         std::to_string(static_cast<uint32_t>(type)));
  }
  Tensor t;
  int64_t n_elements = 0;
  const std::string bad = check_tensor_shape(type, dims, &n_elements, &t.n_bytes);
  if (!bad.empty()) fail("tensor " + quoted(name) + " " + bad);
  t.name = std::move(name);
  t.type = type;
  t.dims = std::move(dims);
  t.fill = std::move(fill);
  tensors_.push_back(std::move(t));
}

std::vector<uint64_t> Writer::tensor_offsets(uint64_t* data_size) const {
  const uint64_t align = alignment();
  std::vector<uint64_t> offsets;
  offsets.reserve(tensors_.size());
  uint64_t pos = 0;
  for (const auto& t : tensors_) {
    offsets.push_back(pos);
    uint64_t padded;
    if (!checked_align_up(t.n_bytes, align, &padded) || !checked_add(pos, padded, &pos)) {
      fail("the tensor data is too large for a file");
    }
  }
  *data_size = pos;
  return offsets;
}

// ---------------------------------------------------------------- output

// Where emit() sends the bytes. Tracks the position for padding.
class Writer::Sink {
 public:
  virtual ~Sink() = default;
  void put(const void* p, size_t n) {
    write(static_cast<const uint8_t*>(p), n);
    pos_ += n;
  }
  void put_u32(uint32_t v) { put(&v, 4); }
  void put_u64(uint64_t v) { put(&v, 8); }
  void put_string(std::string_view s) {
    put_u64(s.size());
    put(s.data(), s.size());
  }
  void pad_to(uint64_t align) {
    static const uint8_t zeros[256] = {};
    uint64_t target;
    if (!checked_align_up(pos_, align, &target)) fail("the file is too large");
    while (pos_ < target) put(zeros, std::min<uint64_t>(target - pos_, sizeof zeros));
  }
  uint64_t pos() const { return pos_; }

 protected:
  virtual void write(const uint8_t* p, size_t n) = 0;

 private:
  uint64_t pos_ = 0;
};

namespace {

class CountingSink final : public Writer_Sink_Base {};

}  // namespace
