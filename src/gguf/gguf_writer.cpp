#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

std::string quoted(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

bool valid_value_type(ValueType t) {
  return static_cast<uint32_t>(t) <= static_cast<uint32_t>(ValueType::FLOAT64);
}

// Checks an Array's contents against its element type and count, recursively.
void check_array(const std::string& key, const Array& a, int depth) {
  if (depth > kMaxArrayDepth) {
    fail("metadata " + quoted(key) + " nests arrays deeper than " + std::to_string(kMaxArrayDepth) +
         " levels (the reader would refuse it)");
  }
  if (!valid_value_type(a.elem_type)) {
    fail("metadata " + quoted(key) + " has an array of unknown type " +
         std::to_string(static_cast<uint32_t>(a.elem_type)));
  }
  const size_t elem = value_type_size(a.elem_type);
  uint64_t raw_bytes = 0;
  const bool ok = elem ? checked_mul(a.count, elem, &raw_bytes) && a.raw.size() == raw_bytes &&
                             a.strings.empty() && a.arrays.empty()
                  : a.elem_type == ValueType::STRING
                      ? a.strings.size() == a.count && a.raw.empty() && a.arrays.empty()
                      : a.arrays.size() == a.count && a.raw.empty() && a.strings.empty();
  if (!ok) {
    fail("metadata " + quoted(key) + ": array of " + std::string(value_type_name(a.elem_type)) +
         " with count " + std::to_string(a.count) + " does not match its contents");
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
    case ValueType::UINT8:
      check_u(UINT8_MAX);
      break;
    case ValueType::UINT16:
      check_u(UINT16_MAX);
      break;
    case ValueType::UINT32:
      check_u(UINT32_MAX);
      break;
    case ValueType::INT8:
      check_i(INT8_MIN, INT8_MAX);
      break;
    case ValueType::INT16:
      check_i(INT16_MIN, INT16_MAX);
      break;
    case ValueType::INT32:
      check_i(INT32_MIN, INT32_MAX);
      break;
    case ValueType::ARRAY:
      check_array(key, v.arr, 1);
      break;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT32:
    case ValueType::FLOAT64:
    case ValueType::BOOL:
    case ValueType::STRING:
      break;
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

void Writer::set_u8(std::string_view key, uint8_t v) { set_unsigned(key, ValueType::UINT8, v); }
void Writer::set_u16(std::string_view key, uint16_t v) { set_unsigned(key, ValueType::UINT16, v); }
void Writer::set_u32(std::string_view key, uint32_t v) { set_unsigned(key, ValueType::UINT32, v); }
void Writer::set_u64(std::string_view key, uint64_t v) { set_unsigned(key, ValueType::UINT64, v); }
void Writer::set_bool(std::string_view key, bool v) { set_unsigned(key, ValueType::BOOL, v); }
void Writer::set_i8(std::string_view key, int8_t v) { set_signed(key, ValueType::INT8, v); }
void Writer::set_i16(std::string_view key, int16_t v) { set_signed(key, ValueType::INT16, v); }
void Writer::set_i32(std::string_view key, int32_t v) { set_signed(key, ValueType::INT32, v); }
void Writer::set_i64(std::string_view key, int64_t v) { set_signed(key, ValueType::INT64, v); }

void Writer::set_unsigned(std::string_view key, ValueType type, uint64_t u) {
  Value value = scalar(type);
  value.u = u;
  set(key, std::move(value));
}

void Writer::set_signed(std::string_view key, ValueType type, int64_t i) {
  Value value = scalar(type);
  value.i = i;
  set(key, std::move(value));
}

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
    TensorInfo info;
    info.dims = t.dims;
    const std::string shape = info.shape_string();
    const std::string what = "tensor " + quoted(t.name) + " has " + std::to_string(data.size()) +
                             " bytes of data, but a " + std::string(type_name(type)) + " " + shape +
                             " tensor takes " + std::to_string(t.n_bytes);
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

namespace {

// Tracks the position in the file for padding and hands bytes to the output.
class Emitter {
 public:
  explicit Emitter(const std::function<void(const uint8_t*, size_t)>& out) : out_(out) {}

  void put(const void* p, size_t n) {
    out_(static_cast<const uint8_t*>(p), n);
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

  void put_array(const Array& a) {
    put_u32(static_cast<uint32_t>(a.elem_type));
    put_u64(a.count);
    if (a.elem_type == ValueType::STRING) {
      for (const auto& s : a.strings) put_string(s);
    } else if (a.elem_type == ValueType::ARRAY) {
      for (const auto& inner : a.arrays) put_array(inner);
    } else {
      put(a.raw.data(), a.raw.size());  // already packed little-endian
    }
  }

  void put_value(const Value& v) {
    switch (v.type) {
      case ValueType::UINT8:
        put_int(v.u, 1);
        break;
      case ValueType::UINT16:
        put_int(v.u, 2);
        break;
      case ValueType::UINT32:
        put_int(v.u, 4);
        break;
      case ValueType::UINT64:
        put_int(v.u, 8);
        break;
      case ValueType::BOOL:
        put_int(v.u != 0, 1);
        break;
      case ValueType::INT8:
        put_int(static_cast<uint64_t>(v.i), 1);
        break;
      case ValueType::INT16:
        put_int(static_cast<uint64_t>(v.i), 2);
        break;
      case ValueType::INT32:
        put_int(static_cast<uint64_t>(v.i), 4);
        break;
      case ValueType::INT64:
        put_int(static_cast<uint64_t>(v.i), 8);
        break;
      case ValueType::FLOAT32: {
        const float f = static_cast<float>(v.f);
        put(&f, 4);
        break;
      }
      case ValueType::FLOAT64:
        put(&v.f, 8);
        break;
      case ValueType::STRING:
        put_string(v.str);
        break;
      case ValueType::ARRAY:
        put_array(v.arr);
        break;
    }
  }

 private:
  // The low `n` bytes of v, little-endian (range checked by set()).
  void put_int(uint64_t v, size_t n) { put(&v, n); }

  const std::function<void(const uint8_t*, size_t)>& out_;
  uint64_t pos_ = 0;
};

}  // namespace

void Writer::emit(const Output& out, bool with_data) const {
  static_assert(std::endian::native == std::endian::little,
                "the writer assumes a little-endian host");
  uint64_t data_size;
  const std::vector<uint64_t> offsets = tensor_offsets(&data_size);
  const uint64_t align = alignment();

  Emitter e(out);
  e.put_u32(kMagic);
  e.put_u32(kVersion);
  e.put_u64(tensors_.size());
  e.put_u64(metadata_.size());
  for (const auto& kv : metadata_) {
    e.put_string(kv.key);
    e.put_u32(static_cast<uint32_t>(kv.value.type));
    e.put_value(kv.value);
  }
  for (size_t k = 0; k < tensors_.size(); ++k) {
    const Tensor& t = tensors_[k];
    e.put_string(t.name);
    e.put_u32(static_cast<uint32_t>(t.dims.size()));
    for (const int64_t d : t.dims) e.put_u64(static_cast<uint64_t>(d));
    e.put_u32(static_cast<uint32_t>(t.type));
    e.put_u64(offsets[k]);
  }
  e.pad_to(align);
  if (!with_data) return;

  std::vector<uint8_t> buffer;
  for (const Tensor& t : tensors_) {
    if (t.fill) {
      // One tensor at a time: the buffer is reused, never the whole model.
      buffer.assign(t.n_bytes, 0);
      t.fill(std::span<uint8_t>(buffer));
      e.put(buffer.data(), buffer.size());
    } else {
      e.put(t.owned.data(), t.owned.size());
    }
    e.pad_to(align);
  }
}

uint64_t Writer::file_size() const {
  uint64_t header = 0;
  emit([&](const uint8_t*, size_t n) { header += n; }, false);
  uint64_t data_size;
  tensor_offsets(&data_size);
  return header + data_size;
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> bytes;
  bytes.reserve(file_size());
  emit([&](const uint8_t* p, size_t n) { bytes.insert(bytes.end(), p, p + n); }, true);
  return bytes;
}

namespace {

// A temporary file beside the destination, removed unless committed.
class TempFile {
 public:
  explicit TempFile(const std::string& dest) : dest_(dest) {
    static std::atomic<uint64_t> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
      path_ = dest + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
      // 0666 less the umask: the model gets the permissions a new file would.
      const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd >= 0) {
        file_ = ::fdopen(fd, "wb");
        if (!file_) {
          const int err = errno;
          ::close(fd);
          ::unlink(path_.c_str());
          throw_errno("cannot open a temporary file for writing", err);
        }
        std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
        return;
      }
      if (errno != EEXIST) break;
    }
    throw_errno("cannot create a temporary file beside it", errno);
  }
  ~TempFile() {
    if (file_) std::fclose(file_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const uint8_t* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, file_) != n) throw_errno("cannot write", errno);
  }

  // Flushes to disk, then renames over the destination.
  void commit() {
    if (std::fflush(file_) != 0) throw_errno("cannot write", errno);
    if (::fsync(::fileno(file_)) != 0) throw_errno("cannot write", errno);
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) throw_errno("cannot write", errno);
    if (std::rename(path_.c_str(), dest_.c_str()) != 0) {
      throw_errno("cannot rename " + path_ + " to it", errno);
    }
    committed_ = true;
  }

 private:
  [[noreturn]] void throw_errno(const std::string& what, int err) const {
    throw Error(dest_ + ": " + what + ": " + std::strerror(err));
  }

  std::string dest_;
  std::string path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void Writer::write(const std::string& path) const {
  TempFile tmp(path);
  // An exception (a failed write, or one from a fill callback) destroys tmp,
  // which removes the partial file; `path` is replaced only by commit().
  emit([&](const uint8_t* p, size_t n) { tmp.write(p, n); }, true);
  tmp.commit();
}

}  // namespace hearth::gguf
