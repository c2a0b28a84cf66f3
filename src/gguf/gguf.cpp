#include "gguf/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "util/checked_math.h"
#include "util/error.h"

namespace hearth::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint64_t kDefaultAlignment = 32;

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "\"";
}

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "?";
}

size_t value_type_size(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64: return 8;
    case ValueType::STRING:
    case ValueType::ARRAY: return 0;
  }
  return 0;
}

// ---------------------------------------------------------------- values

namespace {

// Decodes one little-endian numeric element of `type` at p.
void decode_number(ValueType type, const uint8_t* p, uint64_t* u, int64_t* i, double* f) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::BOOL: *u = p[0]; break;
    case ValueType::INT8: *i = static_cast<int8_t>(p[0]); break;
    case ValueType::UINT16: { uint16_t v; std::memcpy(&v, p, 2); *u = v; break; }
    case ValueType::INT16: { int16_t v; std::memcpy(&v, p, 2); *i = v; break; }
    case ValueType::UINT32: { uint32_t v; std::memcpy(&v, p, 4); *u = v; break; }
    case ValueType::INT32: { int32_t v; std::memcpy(&v, p, 4); *i = v; break; }
    case ValueType::FLOAT32: { float v; std::memcpy(&v, p, 4); *f = v; break; }
    case ValueType::UINT64: std::memcpy(u, p, 8); break;
    case ValueType::INT64: std::memcpy(i, p, 8); break;
    case ValueType::FLOAT64: std::memcpy(f, p, 8); break;
    case ValueType::STRING:
    case ValueType::ARRAY: break;
  }
}

bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
         t == ValueType::UINT64;
}
bool is_signed(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 ||
         t == ValueType::INT64;
}
bool is_floating(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }

}  // namespace

bool Array::is_numeric() const { return value_type_size(elem_type) != 0; }

double Array::number(uint64_t idx) const {
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  decode_number(elem_type, raw.data() + idx * value_type_size(elem_type), &u, &i, &f);
  if (is_floating(elem_type)) return f;
  if (is_signed(elem_type)) return static_cast<double>(i);
  return static_cast<double>(u);
}

int64_t Array::integer(uint64_t idx) const {
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  decode_number(elem_type, raw.data() + idx * value_type_size(elem_type), &u, &i, &f);
  if (is_floating(elem_type)) {
    // Saturate: converting NaN or an out-of-range double is undefined behaviour.
    if (!(f == f)) return 0;
    if (f >= 9.2e18) return std::numeric_limits<int64_t>::max();
    if (f <= -9.2e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(f);
  }
  if (is_signed(elem_type)) return i;
  return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(u);
}

bool Value::is_integer() const { return is_unsigned(type) || is_signed(type); }
bool Value::is_float() const { return is_floating(type); }

std::optional<int64_t> Value::as_int() const {
  if (is_signed(type)) return i;
  if (is_unsigned(type) && u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(u);
  }
  return std::nullopt;
}

std::optional<double> Value::as_number() const {
  if (is_signed(type)) return static_cast<double>(i);
  if (is_unsigned(type)) return static_cast<double>(u);
  if (is_floating(type)) return f;
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (type == ValueType::BOOL) return u != 0;
  return std::nullopt;
}

const std::string* Value::as_string() const { return type == ValueType::STRING ? &str : nullptr; }
const Array* Value::as_array() const { return type == ValueType::ARRAY ? &arr : nullptr; }

std::string check_tensor_shape(GgmlType type, std::span<const int64_t> dims,
                               int64_t* n_elements, uint64_t* n_bytes) {
  if (dims.empty() || dims.size() > kMaxDims) {
    return "has " + std::to_string(dims.size()) + " dimensions (1 to " +
           std::to_string(kMaxDims) + " allowed)";
  }
  const GgmlTypeTraits tr = traits(type);
  // `span` is the product of the dimensions with zeros counted as 1: every
  // row size and stride a consumer computes is at most that, so it must fit
  // ggml's int64 even when a zero dimension makes the tensor empty.
  uint64_t span = 1;
  bool empty = false;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] < 0) {
      return "has a negative dimension (dimension " + std::to_string(d) + " = " +
             std::to_string(dims[d]) + ")";
    }
    empty |= dims[d] == 0;
    if (!checked_mul(span, std::max<uint64_t>(static_cast<uint64_t>(dims[d]), 1), &span) ||
        span > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      std::string shape;
      for (const int64_t v : dims) shape += (shape.empty() ? "" : ", ") + std::to_string(v);
      return "has an absurd shape [" + shape + "] (the element count overflows)";
    }
  }
  if (dims[0] % tr.block_elems != 0) {
    return "of type " + std::string(tr.name) + " has " + std::to_string(dims[0]) +
           " elements per row, not a multiple of its block size " +
           std::to_string(tr.block_elems);
  }
  // The bytes of `span` elements in whole blocks bound every byte size and
  // stride the same way; exact for a non-empty tensor, whose rows are whole
  // blocks.
  uint64_t span_bytes;
  if (!checked_mul((span + tr.block_elems - 1) / tr.block_elems, tr.block_bytes, &span_bytes)) {
    return "has a size in bytes that overflows";
  }
  *n_elements = empty ? 0 : static_cast<int64_t>(span);
  *n_bytes = empty ? 0 : span_bytes;
  return {};
}

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d) s += ", ";
    s += std::to_string(dims[d]);
  }
  return s + "]";
}

// ---------------------------------------------------------------- parser

// Reads the header front to back. Every read is bounds-checked against the
// bytes that remain, and `where_` names the item being read so that errors
// say where the file is broken.
class File::Parser {
 public:
  Parser(File& file) : f_(file), bytes_(file.bytes_) {}

  void parse() {
    where_ = "header";
    if (bytes_.size() < 4) fail("file is too small to be a GGUF file (" +
                                std::to_string(bytes_.size()) + " bytes)");
    const uint32_t magic = read_u32();
    if (magic != kMagic) fail("not a GGUF file (bad magic bytes)");
    if (bytes_.size() < 8) fail("truncated: file ends inside the header");
    const uint32_t version = read_u32();
    if (version == 0x02000000u || version == 0x03000000u) {
      fail("big-endian GGUF files are not supported");
    }
    if (version != 2 && version != 3) {
      fail("unsupported GGUF version " + std::to_string(version) +
           " (versions 2 and 3 are supported" +
           (version == 1 ? "; re-convert this file with a current converter)" : ")"));
    }
    f_.version_ = version;
    const uint64_t n_tensors = read_u64();
    const uint64_t n_kv = read_u64();

    read_metadata(n_kv);
    read_alignment();
    read_tensor_infos(n_tensors);

    where_ = "data section";
    uint64_t data_offset;
    if (!checked_align_up(pos_, f_.alignment_, &data_offset)) fail("data offset overflows");
    f_.data_offset_ = data_offset;
    place_tensors();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(f_.name_ + ": " + what);
  }

  [[noreturn]] void truncated(uint64_t need) const {
    fail("truncated or corrupt: " + where_ + " needs " + std::to_string(need) +
         " bytes at offset " + std::to_string(pos_) + " but only " +
         std::to_string(remaining()) + " remain");
  }

  uint64_t remaining() const { return bytes_.size() - pos_; }

  const uint8_t* take(uint64_t n) {
    if (n > remaining()) truncated(n);
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  uint32_t read_u32() {
    uint32_t v;
    std::memcpy(&v, take(4), 4);
    return v;
  }
  uint64_t read_u64() {
    uint64_t v;
    std::memcpy(&v, take(8), 8);
    return v;
  }

  std::string read_string() {
    const uint64_t len = read_u64();
    if (len > remaining()) {
      fail("truncated or corrupt: " + where_ + " has string length " + std::to_string(len) +
           " but only " + std::to_string(remaining()) + " bytes remain");
    }
    const uint8_t* p = take(len);
    return std::string(reinterpret_cast<const char*>(p), len);
  }

  ValueType read_value_type() {
    const uint32_t t = read_u32();
    if (t > static_cast<uint32_t>(ValueType::FLOAT64)) {
      fail(where_ + " has unknown value type " + std::to_string(t));
    }
    return static_cast<ValueType>(t);
  }

  void read_value(ValueType type, Value& out, int depth) {
    out.type = type;
    if (type == ValueType::STRING) {
      out.str = read_string();
    } else if (type == ValueType::ARRAY) {
      read_array(out.arr, depth + 1);
    } else {
      decode_number(type, take(value_type_size(type)), &out.u, &out.i, &out.f);
    }
  }

  void read_array(Array& arr, int depth) {
    if (depth > kMaxArrayDepth) {
      fail(where_ + " nests arrays deeper than " + std::to_string(kMaxArrayDepth) + " levels");
    }
    arr.elem_type = read_value_type();
    arr.count = read_u64();
    // Smallest encoding of one element: fixed size, 8-byte string length, or
    // a nested array's 12-byte (type, count) header. Checking the count
    // against the bytes left bounds every allocation by the file size.
    const uint64_t elem_size = value_type_size(arr.elem_type);
    const uint64_t min_size = elem_size ? elem_size : arr.elem_type == ValueType::STRING ? 8 : 12;
    uint64_t need;
    if (!checked_mul(arr.count, min_size, &need) || need > remaining()) {
      fail("truncated or corrupt: " + where_ + " claims " + std::to_string(arr.count) + " " +
           std::string(value_type_name(arr.elem_type)) + " elements but only " +
           std::to_string(remaining()) + " bytes remain");
    }
    if (elem_size) {
      const uint8_t* p = take(need);
      arr.raw.assign(p, p + need);
    } else if (arr.elem_type == ValueType::STRING) {
      arr.strings.reserve(arr.count);
      for (uint64_t k = 0; k < arr.count; ++k) arr.strings.push_back(read_string());
    } else {
      arr.arrays.resize(arr.count);
      for (auto& inner : arr.arrays) read_array(inner, depth + 1);
    }
  }

  void read_metadata(uint64_t n_kv) {
    // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
    if (n_kv > remaining() / 13) {
      fail("truncated or corrupt header: metadata count " + std::to_string(n_kv) +
           " is impossible for a file of " + std::to_string(bytes_.size()) + " bytes");
    }
    f_.metadata_.reserve(n_kv);
    std::unordered_set<std::string> seen;
    for (uint64_t k = 0; k < n_kv; ++k) {
      where_ = "metadata key #" + std::to_string(k);
      KeyValue kv;
      kv.key = read_string();
      if (kv.key.empty()) fail(where_ + " is empty");
      where_ = "metadata " + quoted(kv.key);
      if (!seen.insert(kv.key).second) fail("duplicate metadata key " + quoted(kv.key));
      read_value(read_value_type(), kv.value, 0);
      f_.metadata_.push_back(std::move(kv));
    }
  }

  void read_alignment() {
    const Value* v = f_.find("general.alignment");
    if (!v) return;
    where_ = "metadata \"general.alignment\"";
    if (v->type != ValueType::UINT32) {
      fail("general.alignment must be a u32, not " + std::string(value_type_name(v->type)));
    }
    if (v->u == 0 || (v->u & (v->u - 1)) != 0) {
      fail("general.alignment must be a power of two, not " + std::to_string(v->u));
    }
    f_.alignment_ = v->u;
  }

  void read_tensor_infos(uint64_t n_tensors) {
    // A tensor info takes at least 8 (name length) + 4 + 8 (one dim) + 4 + 8.
    if (n_tensors > remaining() / 32) {
      fail("truncated or corrupt header: tensor count " + std::to_string(n_tensors) +
           " is impossible for a file of " + std::to_string(bytes_.size()) + " bytes");
    }
    f_.tensors_.reserve(n_tensors);
    std::unordered_set<std::string> seen;
    for (uint64_t k = 0; k < n_tensors; ++k) {
      where_ = "tensor info #" + std::to_string(k);
      TensorInfo t;
      t.name = read_string();
      where_ = "tensor " + quoted(t.name);
      if (t.name.empty()) fail("tensor info #" + std::to_string(k) + " has an empty name");
      if (!seen.insert(t.name).second) fail("duplicate tensor name " + quoted(t.name));

      // Bound n_dims before reading the dimensions: it sizes the reads.
      const uint32_t n_dims = read_u32();
      if (n_dims == 0 || n_dims > kMaxDims) {
        fail(where_ + " has " + std::to_string(n_dims) + " dimensions (1 to " +
             std::to_string(kMaxDims) + " allowed)");
      }
      // Dimensions are int64 in ggml; a value past INT64_MAX reads as negative
      // and is refused by check_tensor_shape.
      for (uint32_t d = 0; d < n_dims; ++d) t.dims.push_back(static_cast<int64_t>(read_u64()));

      const uint32_t type_id = read_u32();
      if (!ggml_type_traits(type_id)) {
        fail(where_ + " has unknown tensor type id " + std::to_string(type_id));
      }
      t.type = static_cast<GgmlType>(type_id);
      const std::string bad = check_tensor_shape(t.type, t.dims, &t.n_elements, &t.n_bytes);
      if (!bad.empty()) fail(where_ + " " + bad);
      t.offset = read_u64();
      if (t.offset % f_.alignment_ != 0) {
        fail(where_ + " offset " + std::to_string(t.offset) + " is not a multiple of the " +
             "alignment " + std::to_string(f_.alignment_));
      }
      f_.tensors_.push_back(std::move(t));
    }
  }

  // Checks that every tensor lies inside the data section and that no two
  // overlap, then points each at its bytes in the mapped file.
  void place_tensors() {
    auto& tensors = f_.tensors_;
    if (tensors.empty()) return;
    if (f_.data_offset_ > bytes_.size()) {
      fail("truncated: the data section would start at offset " +
           std::to_string(f_.data_offset_) + ", past the end of the file (" +
           std::to_string(bytes_.size()) + " bytes)");
    }
    const uint64_t data_size = bytes_.size() - f_.data_offset_;
    for (auto& t : tensors) {
      uint64_t end;
      if (!checked_add(t.offset, t.n_bytes, &end) || end > data_size) {
        fail("truncated or corrupt: tensor " + quoted(t.name) + " (" +
             std::to_string(t.n_bytes) + " bytes at data offset " + std::to_string(t.offset) +
             ") extends past the end of the file (data section is " +
             std::to_string(data_size) + " bytes)");
      }
      t.data = bytes_.data() + f_.data_offset_ + t.offset;
    }
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
      const auto& prev = tensors[order[k - 1]];
      const auto& cur = tensors[order[k]];
      if (prev.offset + prev.n_bytes > cur.offset) {
        fail("corrupt: tensors " + quoted(prev.name) + " and " + quoted(cur.name) +
             " overlap in the data section");
      }
    }
  }

  File& f_;
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
  std::string where_;
};

// ---------------------------------------------------------------- File

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

File File::open(const std::string& path) {
  File f;
  f.name_ = path;
  f.map_ = std::make_unique<MappedFile>(path);
  f.bytes_ = f.map_->bytes();
  Parser(f).parse();
  return f;
}

File File::parse(std::span<const uint8_t> bytes, const std::string& name) {
  File f;
  f.name_ = name;
  f.bytes_ = bytes;
  Parser(f).parse();
  return f;
}

void File::prefault() const {
  if (map_) map_->prefault();
}

void File::drop_tensor_pages() const {
  if (map_) map_->drop_pages(data_offset_, bytes_.size() - data_offset_);
}

const Value* File::find(std::string_view key) const {
  for (const auto& kv : metadata_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

[[noreturn]] void wrong_type(const std::string& file, std::string_view key, const Value& v,
                             std::string_view wanted) {
  throw Error(file + ": metadata \"" + std::string(key) + "\" should be " + std::string(wanted) +
              ", not " + std::string(value_type_name(v.type)));
}

}  // namespace

std::string File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) throw Error(name_ + ": metadata \"" + std::string(key) + "\" is missing");
  if (!v->as_string()) wrong_type(name_, key, *v, "a string");
  return v->str;
}

std::string File::get_string_or(std::string_view key, std::string fallback) const {
  return find(key) ? get_string(key) : std::move(fallback);
}

int64_t File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) throw Error(name_ + ": metadata \"" + std::string(key) + "\" is missing");
  const auto i = v->as_int();
  if (!i) wrong_type(name_, key, *v, "an integer");
  return *i;
}

int64_t File::get_int_or(std::string_view key, int64_t fallback) const {
  return find(key) ? get_int(key) : fallback;
}

double File::get_number(std::string_view key) const {
  const Value* v = find(key);
  if (!v) throw Error(name_ + ": metadata \"" + std::string(key) + "\" is missing");
  const auto d = v->as_number();
  if (!d) wrong_type(name_, key, *v, "a number");
  return *d;
}

double File::get_number_or(std::string_view key, double fallback) const {
  return find(key) ? get_number(key) : fallback;
}

bool File::get_bool_or(std::string_view key, bool fallback) const {
  const Value* v = find(key);
  if (!v) return fallback;
  const auto b = v->as_bool();
  if (!b) wrong_type(name_, key, *v, "a bool");
  return *b;
}

const Array* File::get_array(std::string_view key, ValueType elem_type) const {
  const Value* v = find(key);
  if (!v) return nullptr;
  if (!v->as_array()) wrong_type(name_, key, *v, "an array");
  if (v->arr.elem_type != elem_type) {
    throw Error(name_ + ": metadata \"" + std::string(key) + "\" should be an array of " +
                std::string(value_type_name(elem_type)) + ", not of " +
                std::string(value_type_name(v->arr.elem_type)));
  }
  return &v->arr;
}

}  // namespace hearth::gguf
