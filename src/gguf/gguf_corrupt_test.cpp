// A generated corpus of broken GGUF files. A small valid file is written with
// the writer, then damaged in every way the format can be: each result must
// either parse or throw hearth::Error naming the file and the problem, never
// anything else. Inputs are copied into buffers of their exact size so that
// AddressSanitizer sees any read past the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <random>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "util/error.h"

namespace hearth::gguf {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

constexpr char kName[] = "corrupt.gguf";

// ---------------------------------------------------------------- the sample

// Tensor sizes: a F32 [4, 2] = 32 bytes, b Q4_0 [64] = 36, c F16 [3] = 6.
Bytes valid_file() {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_alignment(32);
  w.set_u8("test.u8", 7);
  w.set_i8("test.i8", -7);
  w.set_u16("test.u16", 700);
  w.set_i16("test.i16", -700);
  w.set_u32("test.u32", 70000);
  w.set_i32("test.i32", -70000);
  w.set_f32("test.f32", 0.25f);
  w.set_bool("test.bool", true);
  w.set_u64("test.u64", 1ull << 40);
  w.set_i64("test.i64", -(1ll << 40));
  w.set_f64("test.f64", 1e100);
  w.set_string("test.string", "hello");
  w.set_array("test.strings", make_string_array({"a", "bc", ""}));
  w.set_array("test.numbers", make_array(std::vector<uint32_t>{1, 2, 3}));
  w.set_array("test.nested", make_array_of_arrays({make_array(std::vector<int16_t>{1, 2}),
                                                   make_string_array({"x"})}));
  w.add_tensor("tensor_a", GgmlType::F32, {4, 2}, Bytes(32, 0x11));
  w.add_tensor("tensor_b", GgmlType::Q4_0, {64}, Bytes(36, 0x22));
  w.add_tensor("tensor_c", GgmlType::F16, {3}, Bytes(6, 0x33));
  return w.to_bytes();
}

// Offset of the length field of the string `s` (a key or a tensor name).
size_t string_at(const Bytes& b, std::string_view s) {
  Bytes needle(8);
  const uint64_t len = s.size();
  std::memcpy(needle.data(), &len, 8);
  needle.insert(needle.end(), s.begin(), s.end());
  const auto it = std::search(b.begin(), b.end(), needle.begin(), needle.end());
  EXPECT_NE(it, b.end()) << s;
  EXPECT_EQ(std::search(it + 1, b.end(), needle.begin(), needle.end()), b.end()) << s;
  return static_cast<size_t>(it - b.begin());
}

// Field positions in the sample, found from its unique strings.
struct Layout {
  explicit Layout(const Bytes& b) : bytes(b) {}
  // Metadata: the value type follows the key; the value follows the type.
  size_t type_of(std::string_view key) const { return string_at(bytes, key) + 8 + key.size(); }
  size_t value_of(std::string_view key) const { return type_of(key) + 4; }
  // Tensor info: name, n_dims (u32), dims (u64 each), type (u32), offset (u64).
  size_t n_dims_of(std::string_view t) const { return string_at(bytes, t) + 8 + t.size(); }
  size_t dim_of(std::string_view t, int d) const { return n_dims_of(t) + 4 + 8 * d; }
  size_t type_of_tensor(std::string_view t, int n_dims) const { return dim_of(t, n_dims); }
  size_t offset_of(std::string_view t, int n_dims) const { return dim_of(t, n_dims) + 4; }
  const Bytes& bytes;
};

void put_u32(Bytes& b, size_t pos, uint32_t v) { std::memcpy(b.data() + pos, &v, 4); }
void put_u64(Bytes& b, size_t pos, uint64_t v) { std::memcpy(b.data() + pos, &v, 8); }
uint64_t get_u64(const Bytes& b, size_t pos) {
  uint64_t v;
  std::memcpy(&v, b.data() + pos, 8);
  return v;
}

// ---------------------------------------------------------------- checks

// Parses a heap copy of exactly `n` bytes. Returns "" when the file parses,
// else the error message; any exception other than hearth::Error fails.
std::string parse_exact(const uint8_t* data, size_t n) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[n]);
  if (n) std::memcpy(copy.get(), data, n);
  try {
    const File f = File::parse({copy.get(), n}, kName);
    // Touch the first and last byte of every tensor: they must be in bounds.
    unsigned sum = 0;
    for (const auto& t : f.tensors()) {
      if (t.n_bytes) sum += t.data[0] + t.data[t.n_bytes - 1];
    }
    (void)sum;
    return "";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(std::string(kName) + ": ", 0), 0u)
        << "message does not name the file: " << what;
    EXPECT_GT(what.size(), sizeof(kName) + 8) << what;
    return what.empty() ? "?" : what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "unknown exception";
  }
  return "?";
}
std::string parse_exact(const Bytes& b) { return parse_exact(b.data(), b.size()); }

// Expects an error whose message contains every needle.
void expect_error(const Bytes& b, std::initializer_list<std::string_view> needles) {
  const std::string what = parse_exact(b);
  ASSERT_FALSE(what.empty()) << "parsed, but should have failed";
  for (const auto needle : needles) {
    EXPECT_NE(what.find(needle), std::string::npos) << "\"" << needle << "\" not in: " << what;
  }
}

class GgufCorrupt : public ::testing::Test {
 protected:
  GgufCorrupt() : good(valid_file()), at(good) {}
  Bytes copy() const { return good; }
  Bytes good;
  Layout at;
};

TEST_F(GgufCorrupt, TheSampleIsValid) {
  ASSERT_EQ(parse_exact(good), "");
  const File f = File::parse(good, kName);
  EXPECT_EQ(f.metadata().size(), 17u);
  EXPECT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[2].offset, 96u);
}

TEST_F(GgufCorrupt, TruncationAtEveryOffset) {
  const File f = File::parse(good, kName);
  // The file is complete once the last tensor's data is; only padding follows.
  const uint64_t complete = f.data_offset() + f.tensors()[2].offset + f.tensors()[2].n_bytes;
  ASSERT_LT(complete, good.size());
  for (size_t n = 0; n < good.size(); ++n) {
    SCOPED_TRACE("length " + std::to_string(n));
    const std::string what = parse_exact(good.data(), n);
    if (n >= complete) {
      EXPECT_EQ(what, "");
    } else if (n < 4) {
      EXPECT_NE(what.find("too small to be a GGUF file"), std::string::npos) << what;
    } else {
      EXPECT_NE(what.find("truncated"), std::string::npos) << what;
    }
  }
}

TEST_F(GgufCorrupt, Header) {
  Bytes b = copy();
  b[0] = 'X';
  expect_error(b, {"not a GGUF file"});
  for (const uint32_t v : {0u, 1u, 4u, 0xffffffffu}) {
    b = copy();
    put_u32(b, 4, v);
    expect_error(b, {"unsupported GGUF version " + std::to_string(v)});
  }
  b = copy();
  put_u32(b, 4, 0x03000000);  // version 3 written big-endian
  expect_error(b, {"big-endian"});
  b = copy();
  put_u32(b, 4, 2);  // v2 has the same layout as v3
  ASSERT_EQ(parse_exact(b), "");
  EXPECT_EQ(File::parse(b, kName).version(), 2u);

  for (const uint64_t n : {1ull << 40, ~0ull, 1ull << 63}) {
    b = copy();
    put_u64(b, 8, n);
    expect_error(b, {"tensor count " + std::to_string(n), "impossible"});
    b = copy();
    put_u64(b, 16, n);
    expect_error(b, {"metadata count " + std::to_string(n), "impossible"});
  }
  // One more item than there is: what follows is misread, and refused.
  b = copy();
  put_u64(b, 8, get_u64(b, 8) + 1);
  expect_error(b, {});
  b = copy();
  put_u64(b, 16, get_u64(b, 16) + 1);
  expect_error(b, {});
  // One fewer may even parse (the last tensor info is taken for padding before
  // an earlier data section); GGUF has no checksum to tell. No crash is owed.
  b = copy();
  put_u64(b, 8, get_u64(b, 8) - 1);
  parse_exact(b);
  b = copy();
  put_u64(b, 16, get_u64(b, 16) - 1);
  expect_error(b, {});
}

TEST_F(GgufCorrupt, StringLengths) {
  // The length fields of a key, a string value, an element of a string array
  // and a tensor name.
  const size_t str_elem = string_at(good, "bc");
  const std::vector<std::pair<size_t, std::string>> fields = {
      {string_at(good, "test.u16"), "metadata key #"},
      {at.value_of("test.string"), "metadata \"test.string\""},
      {str_elem, "metadata \"test.strings\""},
      {string_at(good, "tensor_b"), "tensor info #1"},
  };
  for (const auto& [pos, where] : fields) {
    const uint64_t remaining = good.size() - (pos + 8);
    for (const uint64_t len : std::initializer_list<uint64_t>{remaining + 1, 1ull << 40, ~0ull}) {
      SCOPED_TRACE(where + " length " + std::to_string(len));
      Bytes b = copy();
      put_u64(b, pos, len);
      expect_error(b, {where, "string length " + std::to_string(len)});
    }
  }
}

TEST_F(GgufCorrupt, ArrayLengths) {
  struct Case {
    std::string key;
    std::string elems;
  };
  for (const Case& c : {Case{"test.numbers", "u32"}, Case{"test.strings", "string"},
                        Case{"test.nested", "array"}}) {
    const size_t count_pos = at.value_of(c.key) + 4;  // after the element type
    const uint64_t remaining = good.size() - (count_pos + 8);
    for (const uint64_t n : std::initializer_list<uint64_t>{remaining + 1, remaining / 4 + 1,
                                                            1ull << 40, ~0ull, 1ull << 62}) {
      SCOPED_TRACE(c.key + " count " + std::to_string(n));
      Bytes b = copy();
      put_u64(b, count_pos, n);
      const std::string what = parse_exact(b);
      // A count the bytes could hold misreads the rest; a larger one is refused up front.
      ASSERT_FALSE(what.empty());
      if (n > remaining) {
        EXPECT_NE(what.find("claims " + std::to_string(n) + " " + c.elems + " elements"),
                  std::string::npos)
            << what;
      }
    }
  }
}

TEST_F(GgufCorrupt, ValueTypes) {
  for (const uint32_t t : {13u, 31u, 1000u, 0xffffffffu}) {
    Bytes b = copy();
    put_u32(b, at.type_of("test.u8"), t);
    expect_error(b, {"metadata \"test.u8\"", "unknown value type " + std::to_string(t)});
    b = copy();
    put_u32(b, at.value_of("test.numbers"), t);  // the element type
    expect_error(b, {"metadata \"test.numbers\"", "unknown value type " + std::to_string(t)});
  }
  // A valid but different type: the value is misread, the rest falls apart
  // or parses; either way no crash.
  for (uint32_t t = 0; t <= 12; ++t) {
    Bytes b = copy();
    put_u32(b, at.type_of("test.string"), t);
    parse_exact(b);
  }
}

TEST_F(GgufCorrupt, TensorTypes) {
  for (const uint32_t t : {4u, 5u, 31u, 36u, 40u, 1000u, 0xffffffffu}) {
    Bytes b = copy();
    put_u32(b, at.type_of_tensor("tensor_b", 1), t);
    expect_error(b, {"tensor \"tensor_b\"", "unknown tensor type id " + std::to_string(t)});
  }
}

TEST_F(GgufCorrupt, Shapes) {
  for (const uint32_t n : {0u, 5u, 0xffffffffu}) {
    Bytes b = copy();
    put_u32(b, at.n_dims_of("tensor_a"), n);
    expect_error(b, {"tensor \"tensor_a\"", "has " + std::to_string(n) + " dimensions"});
  }
  Bytes b = copy();
  put_u64(b, at.dim_of("tensor_a", 0), 0);  // an empty tensor is valid, as in llama.cpp
  ASSERT_EQ(parse_exact(b), "");
  EXPECT_EQ(File::parse(b, kName).tensors()[0].n_bytes, 0u);

  // Empty, but a row of 2^62 floats is 2^64 bytes: strides would overflow.
  put_u64(b, at.dim_of("tensor_a", 1), 1ull << 62);
  expect_error(b, {"tensor \"tensor_a\"", "size in bytes that overflows"});
  put_u64(b, at.dim_of("tensor_a", 1), 1ull << 40);  // empty, and every stride fits
  ASSERT_EQ(parse_exact(b), "");
  put_u64(b, at.dim_of("tensor_a", 1), 1ull << 63);
  expect_error(b, {"tensor \"tensor_a\"", "negative dimension"});

  b = copy();
  put_u64(b, at.dim_of("tensor_a", 1), 1ull << 40);
  expect_error(b, {"tensor \"tensor_a\"", "extends past the end of the file"});
  b = copy();
  put_u64(b, at.dim_of("tensor_a", 0), 1ull << 32);
  put_u64(b, at.dim_of("tensor_a", 1), 1ull << 32);
  expect_error(b, {"tensor \"tensor_a\"", "absurd shape"});
  b = copy();
  put_u64(b, at.dim_of("tensor_a", 1), ~0ull);  // -1 as ggml's int64
  expect_error(b, {"tensor \"tensor_a\"", "negative dimension"});
  b = copy();
  put_u64(b, at.dim_of("tensor_b", 0), 48);  // Q4_0 rows are whole 32-element blocks
  expect_error(b, {"tensor \"tensor_b\"", "Q4_0", "not a multiple of its block size 32"});
}

TEST_F(GgufCorrupt, Offsets) {
  const size_t off_c = at.offset_of("tensor_c", 1);
  const std::vector<std::pair<uint64_t, std::string>> cases = {
      {97, "not a multiple of the alignment 32"},
      {1ull << 20, "extends past the end of the file"},
      {~0ull & ~31ull, "extends past the end of the file"},  // offset + size wraps
      {32, "overlap"},                                       // on top of tensor_b
      {0, "overlap"},                                        // on top of tensor_a
  };
  for (const auto& [offset, needle] : cases) {
    SCOPED_TRACE(offset);
    Bytes b = copy();
    put_u64(b, off_c, offset);
    expect_error(b, {"tensor_c", needle});
  }
}

TEST_F(GgufCorrupt, Duplicates) {
  Bytes b = copy();
  b[string_at(b, "test.u8") + 8 + 5] = 'i';  // "test.u8" -> "test.i8"
  expect_error(b, {"duplicate metadata key \"test.i8\""});
  b = copy();
  b[string_at(b, "tensor_b") + 8 + 7] = 'a';  // "tensor_b" -> "tensor_a"
  expect_error(b, {"duplicate tensor name \"tensor_a\""});
}

TEST_F(GgufCorrupt, Alignment) {
  const size_t value = at.value_of("general.alignment");
  for (const uint32_t a : {0u, 3u, 48u, 0xffffffffu}) {
    Bytes b = copy();
    put_u32(b, value, a);
    expect_error(b, {"general.alignment", "power of two, not " + std::to_string(a)});
  }
  Bytes b = copy();
  put_u32(b, at.type_of("general.alignment"), 5);  // i32: same size, wrong type
  expect_error(b, {"general.alignment must be a u32, not i32"});
  b = copy();
  put_u32(b, value, 64);  // tensor_b sits at 32
  expect_error(b, {"tensor \"tensor_b\"", "not a multiple of the alignment 64"});

  // A valid alignment, but the data section would start far past the end.
  Writer w;
  w.set_alignment(32);
  w.add_tensor("t", GgmlType::F32, {1}, Bytes(4, 0));
  b = w.to_bytes();
  put_u32(b, Layout(b).value_of("general.alignment"), 1u << 31);
  expect_error(b, {"truncated", "data section would start at offset 2147483648"});
}

// Hand-made: one key whose value is `levels` arrays nested in one another.
Bytes nested_file(int levels) {
  Bytes b;
  auto u32 = [&](uint32_t v) {
    b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4);
  };
  auto u64 = [&](uint64_t v) {
    b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
  };
  for (const char c : std::string("GGUF")) b.push_back(static_cast<uint8_t>(c));
  u32(3);
  u64(0);  // tensors
  u64(1);  // metadata
  u64(4);
  for (const char c : std::string("deep")) b.push_back(static_cast<uint8_t>(c));
  u32(9);  // ARRAY
  for (int l = 1; l < levels; ++l) {
    u32(9);  // of arrays
    u64(1);  // one element
  }
  u32(0);  // the innermost: an empty u8 array
  u64(0);
  return b;
}

TEST(GgufCorruptNesting, DeepArraysAreRefusedWithoutRecursingDeep) {
  EXPECT_EQ(parse_exact(nested_file(kMaxArrayDepth)), "");
  expect_error(nested_file(kMaxArrayDepth + 1),
               {"metadata \"deep\"", "nests arrays deeper than " + std::to_string(kMaxArrayDepth)});
  expect_error(nested_file(10000), {"nests arrays deeper than"});
  expect_error(nested_file(100000), {"nests arrays deeper than"});
}

// Seeded random damage, concentrated on the header where every byte matters.
TEST_F(GgufCorrupt, RandomMutations) {
  const File f = File::parse(good, kName);
  const size_t header = f.data_offset();
  std::mt19937_64 rng(20240601);
  const uint64_t interesting[] = {
      0,          1,          2,          3,          4,     5,           8,
      9,          12,         13,         31,         32,    255,         0x7fffffff,
      0xffffffff, 1ull << 32, 1ull << 62, 1ull << 63, ~0ull, good.size(), good.size() + 1};
  size_t parsed = 0, refused = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    Bytes b = copy();
    const int n_mut = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < n_mut; ++m) {
      const size_t pos = rng() % 8 ? rng() % std::min(header, b.size()) : rng() % b.size();
      switch (rng() % 6) {
        case 0:
          b[pos] = static_cast<uint8_t>(rng());
          break;
        case 1:
          b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 2:
        case 3:
          if (pos + 8 <= b.size()) put_u64(b, pos, interesting[rng() % std::size(interesting)]);
          break;
        case 4:
          if (pos + 4 <= b.size())
            put_u32(b, pos, static_cast<uint32_t>(interesting[rng() % std::size(interesting)]));
          break;
        case 5:
          b.resize(rng() % (b.size() + 1));
          break;
      }
      if (b.empty()) break;
    }
    SCOPED_TRACE("mutation " + std::to_string(iter));
    (parse_exact(b).empty() ? parsed : refused)++;
    if (HasFailure()) break;
  }
  // Both outcomes occur: the mutations neither all miss nor all hit.
  EXPECT_GT(parsed, 0u);
  EXPECT_GT(refused, 2000u);
}

// ---------------------------------------------------------------- File::open

class GgufOpen : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth_gguf_open_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void expect_open_error(const std::string& path, std::string_view needle) {
    try {
      File::open(path);
      ADD_FAILURE() << path << " opened";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  }
  fs::path dir_;
};

TEST_F(GgufOpen, MissingDirectoryEmptyAndTruncated) {
  expect_open_error((dir_ / "missing.gguf").string(), "No such file");
  expect_open_error(dir_.string(), "not a regular file");
  const fs::path empty = dir_ / "empty.gguf";
  std::ofstream(empty).close();
  expect_open_error(empty.string(), "too small");

  const Bytes good = valid_file();
  const fs::path whole = dir_ / "whole.gguf";
  const fs::path half = dir_ / "half.gguf";
  std::ofstream(whole, std::ios::binary)
      .write(reinterpret_cast<const char*>(good.data()), good.size());
  std::ofstream(half, std::ios::binary)
      .write(reinterpret_cast<const char*>(good.data()), good.size() / 2);
  EXPECT_EQ(File::open(whole.string()).tensors().size(), 3u);
  expect_open_error(half.string(), "truncated");
}

// Opening a FIFO for reading blocks until a writer appears; MappedFile opens
// with O_NONBLOCK, sees a non-regular file and refuses it at once.
TEST_F(GgufOpen, FifoDoesNotHang) {
  const std::string fifo = (dir_ / "fifo.gguf").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto opened = std::async(std::launch::async, [&] {
    try {
      File::open(fifo);
      return std::string("opened");
    } catch (const Error& e) {
      return std::string(e.what());
    }
  });
  if (opened.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    ADD_FAILURE() << "File::open blocks on a FIFO";
    // Release the blocked open: a writer arrives and leaves at once.
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  const std::string what = opened.get();
  EXPECT_NE(what.find("not a regular file"), std::string::npos) << what;
}

}  // namespace
}  // namespace hearth::gguf
