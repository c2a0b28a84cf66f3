// The GGUF reader on every shared file, and the writer: round trips of every
// value type and tensor layout, and re-writing the shared models.
#include "gguf/gguf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "gguf/gguf_writer.h"
#include "shared_data.h"
#include "util/error.h"

namespace hearth::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> gguf_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".gguf") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The whole file in one read (read_file_bytes goes byte by byte, which is
// slow for 70 MB in sanitizer builds).
std::vector<uint8_t> slurp(const fs::path& path) {
  std::vector<uint8_t> out(fs::file_size(path));
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  EXPECT_TRUE(in.good()) << path;
  return out;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Element-by-element equality; floats compare by bits so NaN round trips count.
void expect_same_array(const Array& a, const Array& b, const std::string& what) {
  ASSERT_EQ(a.elem_type, b.elem_type) << what;
  ASSERT_EQ(a.count, b.count) << what;
  EXPECT_EQ(a.raw, b.raw) << what;
  EXPECT_EQ(a.strings, b.strings) << what;
  ASSERT_EQ(a.arrays.size(), b.arrays.size()) << what;
  for (size_t k = 0; k < a.arrays.size(); ++k) {
    expect_same_array(a.arrays[k], b.arrays[k], what + "[" + std::to_string(k) + "]");
  }
}

void expect_same_value(const Value& a, const Value& b, const std::string& what) {
  ASSERT_EQ(a.type, b.type) << what;
  switch (a.type) {
    case ValueType::FLOAT32:
      EXPECT_EQ(std::bit_cast<uint32_t>(static_cast<float>(a.f)),
                std::bit_cast<uint32_t>(static_cast<float>(b.f)))
          << what;
      break;
    case ValueType::FLOAT64:
      EXPECT_EQ(std::bit_cast<uint64_t>(a.f), std::bit_cast<uint64_t>(b.f)) << what;
      break;
    case ValueType::STRING:
      EXPECT_EQ(a.str, b.str) << what;
      break;
    case ValueType::ARRAY:
      expect_same_array(a.arr, b.arr, what);
      break;
    case ValueType::BOOL:
      EXPECT_EQ(a.u != 0, b.u != 0) << what;
      break;
    default:
      EXPECT_EQ(a.u, b.u) << what;
      EXPECT_EQ(a.i, b.i) << what;
  }
}

void expect_same_file(const File& a, const File& b) {
  ASSERT_EQ(a.metadata().size(), b.metadata().size());
  for (size_t k = 0; k < a.metadata().size(); ++k) {
    EXPECT_EQ(a.metadata()[k].key, b.metadata()[k].key);
    expect_same_value(a.metadata()[k].value, b.metadata()[k].value, a.metadata()[k].key);
  }
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t k = 0; k < a.tensors().size(); ++k) {
    const TensorInfo& x = a.tensors()[k];
    const TensorInfo& y = b.tensors()[k];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.type, y.type) << x.name;
    EXPECT_EQ(x.dims, y.dims) << x.name;
    ASSERT_EQ(x.n_bytes, y.n_bytes) << x.name;
    EXPECT_EQ(0, std::memcmp(x.data, y.data, x.n_bytes)) << x.name;
  }
}

// Facts every valid file must satisfy, checked independently of the reader's
// own checks; `tight` adds llama.cpp's rule that tensors follow each other in
// order, each padded to the alignment (what gguf-py and llama.cpp write).
void check_layout(const File& f, bool tight) {
  SCOPED_TRACE(f.path());
  EXPECT_TRUE(f.version() == 2 || f.version() == 3);
  EXPECT_EQ(std::popcount(f.alignment()), 1);
  EXPECT_EQ(f.data_offset() % f.alignment(), 0u);
  uint64_t expected_offset = 0;
  for (const TensorInfo& t : f.tensors()) {
    SCOPED_TRACE(t.name);
    const GgmlTypeTraits tr = traits(t.type);
    ASSERT_FALSE(t.dims.empty());
    int64_t n = 1;
    for (const int64_t d : t.dims) n *= d;
    EXPECT_EQ(t.n_elements, n);
    EXPECT_EQ(t.dims[0] % tr.block_elems, 0);
    EXPECT_EQ(t.n_bytes, static_cast<uint64_t>(n) / tr.block_elems * tr.block_bytes);
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    EXPECT_LE(f.data_offset() + t.offset + t.n_bytes, f.file_size());
    if (tight) {
      EXPECT_EQ(t.offset, expected_offset);
      expected_offset += align_up(t.n_bytes, f.alignment());
    }
  }
  if (tight && !f.tensors().empty()) {
    EXPECT_EQ(f.data_offset() + expected_offset, f.file_size());
  }
}

// Re-creates `f` with the writer: same metadata in order, same tensors.
Writer copy_to_writer(const File& f) {
  Writer w;
  for (const auto& kv : f.metadata()) w.set(kv.key, kv.value);
  for (const auto& t : f.tensors()) {
    w.add_tensor(t.name, t.type, t.dims, std::span<const uint8_t>(t.data, t.n_bytes));
  }
  return w;
}

// ---------------------------------------------------------------- shared files

TEST(GgufShared, EveryFileReads) {
  HEARTH_REQUIRE_SHARED(shared);
  size_t models = 0, vocabs = 0;
  for (const auto& path : gguf_files(shared / "models")) {
    const File f = File::open(path.string());
    check_layout(f, /*tight=*/true);
    EXPECT_FALSE(f.tensors().empty()) << path;
    EXPECT_FALSE(f.get_string("general.architecture").empty()) << path;
    ++models;
  }
  for (const auto& path : gguf_files(shared / "vocab")) {
    const File f = File::open(path.string());
    check_layout(f, true);
    EXPECT_TRUE(f.tensors().empty()) << path;
    const Array* tokens = f.get_array("tokenizer.ggml.tokens", ValueType::STRING);
    ASSERT_NE(tokens, nullptr) << path;
    EXPECT_GT(tokens->count, 0u) << path;
    EXPECT_EQ(tokens->strings.size(), tokens->count) << path;
    EXPECT_FALSE(f.get_string("tokenizer.ggml.model").empty()) << path;
    ++vocabs;
  }
  // The shared set's README promises 26 models and 12 vocab files.
  EXPECT_EQ(models, 26u);
  EXPECT_EQ(vocabs, 12u);
}

TEST(GgufShared, Stories260K) {
  HEARTH_REQUIRE_SHARED(shared);
  const File f = File::open((shared / "models" / "stories260K.gguf").string());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  const int64_t n_embd = f.get_int("llama.embedding_length");
  EXPECT_EQ(n_embd, 64);
  const Array* tokens = f.get_array("tokenizer.ggml.tokens", ValueType::STRING);
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->count, 512u);
  ASSERT_EQ(tokens->strings.size(), 512u);
  const Array* scores = f.get_array("tokenizer.ggml.scores", ValueType::FLOAT32);
  ASSERT_NE(scores, nullptr);
  EXPECT_EQ(scores->count, 512u);

  // Shapes follow from the hyperparameters (ggml order: innermost first).
  const int64_t n_layer = f.get_int("llama.block_count");
  const int64_t n_ff = f.get_int("llama.feed_forward_length");
  const int64_t n_head = f.get_int("llama.attention.head_count");
  const int64_t n_head_kv = f.get_int_or("llama.attention.head_count_kv", n_head);
  EXPECT_EQ(f.tensors().size(), static_cast<size_t>(9 * n_layer + 3));
  auto dims = [&](const std::string& name) {
    const TensorInfo* t = f.find_tensor(name);
    EXPECT_NE(t, nullptr) << name;
    return t ? t->dims : std::vector<int64_t>{};
  };
  EXPECT_EQ(dims("token_embd.weight"), (std::vector<int64_t>{n_embd, 512}));
  EXPECT_EQ(dims("output_norm.weight"), (std::vector<int64_t>{n_embd}));
  for (int64_t l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(dims(p + "attn_norm.weight"), (std::vector<int64_t>{n_embd}));
    EXPECT_EQ(dims(p + "attn_q.weight"), (std::vector<int64_t>{n_embd, n_embd}));
    EXPECT_EQ(dims(p + "attn_k.weight"),
              (std::vector<int64_t>{n_embd, n_embd / n_head * n_head_kv}));
    EXPECT_EQ(dims(p + "ffn_up.weight"), (std::vector<int64_t>{n_embd, n_ff}));
    EXPECT_EQ(dims(p + "ffn_down.weight"), (std::vector<int64_t>{n_ff, n_embd}));
  }
  for (const auto& t : f.tensors()) EXPECT_EQ(t.type, GgmlType::F32) << t.name;
}

// The goldens were made by llama.cpp on these files: their metadata, sizes and
// tensor types are an independent account of what the reader must see.
TEST(GgufShared, MatchesGoldenDescriptions) {
  HEARTH_REQUIRE_SHARED(shared);
  size_t checked = 0;
  for (const auto& e : fs::directory_iterator(shared / "golden")) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    const auto j = nlohmann::json::parse(in);
    if (!j.contains("tensor_types")) continue;
    const fs::path model = shared / "models" / j.at("model_file").get<std::string>();
    SCOPED_TRACE(model.string());
    const File f = File::open(model.string());
    EXPECT_EQ(f.file_size(), j.at("model_bytes").get<uint64_t>());
    EXPECT_EQ(f.get_string("general.architecture"), j.at("arch").get<std::string>());
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"),
              j.at("tokenizer").at("model").get<std::string>());
    const auto& pre = j.at("tokenizer").at("pre");
    if (pre.is_null()) {
      EXPECT_EQ(f.find("tokenizer.ggml.pre"), nullptr);
    } else {
      EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), pre.get<std::string>());
    }
    for (const auto& [key, value] : j.at("metadata").items()) {
      // JSON numbers are doubles; an f32 in the file was widened exactly.
      EXPECT_EQ(f.get_number(key), value.get<double>()) << key;
    }
    const auto& types = j.at("tensor_types");
    EXPECT_EQ(f.tensors().size(), types.size());
    for (const auto& [name, type] : types.items()) {
      const TensorInfo* t = f.find_tensor(name);
      ASSERT_NE(t, nullptr) << name;
      EXPECT_EQ(type_name(t->type), type.get<std::string>()) << name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 26u);
}

// Every shared file was written by gguf-py or llama-quantize. Re-writing it
// must read back identical, and since our layout is theirs, byte for byte.
TEST(GgufShared, RewriteReadsBackIdentical) {
  HEARTH_REQUIRE_SHARED(shared);
  std::vector<fs::path> files = gguf_files(shared / "models");
  for (const auto& p : gguf_files(shared / "vocab")) files.push_back(p);
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const File original = File::open(path.string());
    const std::vector<uint8_t> bytes = copy_to_writer(original).to_bytes();
    const File copy = File::parse(bytes, "copy of " + path.string());
    expect_same_file(original, copy);
    EXPECT_EQ(copy.data_offset(), original.data_offset());
    auto want = slurp(path);
    if (original.tensors().empty()) {
      // Older vocab-only files end right after the metadata; the current
      // gguf-py and llama.cpp writers, like ours, pad to the data section.
      ASSERT_LE(want.size(), bytes.size());
      want.resize(original.data_offset(), 0);
    }
    EXPECT_EQ(bytes.size(), want.size());
    EXPECT_TRUE(bytes == want) << "bytes differ";
  }
}

// ---------------------------------------------------------------- writer

// The exact bytes of a minimal file, spelled out from the format description.
TEST(GgufWriter, ExactBytesOfATinyFile) {
  Writer w;
  w.set_u32("a", 7);
  const float one = 1.0f;
  w.add_tensor("t", GgmlType::F32, {1}, std::span(reinterpret_cast<const uint8_t*>(&one), 4));

  std::vector<uint8_t> want;
  auto u32 = [&](uint32_t v) {
    for (int k = 0; k < 4; ++k) want.push_back(v >> (8 * k) & 0xff);
  };
  auto u64 = [&](uint64_t v) {
    for (int k = 0; k < 8; ++k) want.push_back(v >> (8 * k) & 0xff);
  };
  for (const char c : std::string("GGUF")) want.push_back(c);
  u32(3);  // version
  u64(1);  // tensors
  u64(1);  // metadata
  u64(1);  // key length
  want.push_back('a');
  u32(4);  // u32
  u32(7);
  u64(1);  // tensor name length
  want.push_back('t');
  u32(1);  // n_dims
  u64(1);  // dims[0]
  u32(0);  // F32
  u64(0);  // offset
  ASSERT_EQ(want.size(), 74u);
  want.resize(96, 0);  // pad to 32
  for (int k = 0; k < 4; ++k) want.push_back(reinterpret_cast<const uint8_t*>(&one)[k]);
  want.resize(128, 0);  // the last tensor is padded too

  EXPECT_EQ(w.to_bytes(), want);
  EXPECT_EQ(w.file_size(), want.size());
}

TEST(GgufWriter, EveryValueTypeRoundTrips) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Writer w;
  w.set_u8("t.u8", 255);
  w.set_i8("t.i8", -128);
  w.set_u16("t.u16", 65535);
  w.set_i16("t.i16", -32768);
  w.set_u32("t.u32", 4294967295u);
  w.set_i32("t.i32", std::numeric_limits<int32_t>::min());
  w.set_u64("t.u64", std::numeric_limits<uint64_t>::max());
  w.set_i64("t.i64", std::numeric_limits<int64_t>::min());
  w.set_f32("t.f32", 1e-5f);
  w.set_f32("t.f32nan", nan);
  w.set_f64("t.f64", -0.1);
  w.set_f64("t.f64inf", -std::numeric_limits<double>::infinity());
  w.set_bool("t.true", true);
  w.set_bool("t.false", false);
  w.set_string("t.str", "héllo \"world\"\n");
  w.set_string("t.empty", "");
  w.set_string("t.binary", std::string("\0\xff\xfe\x01", 4));
  w.set_array("t.a.u8", make_array(std::vector<uint8_t>{0, 1, 255}));
  w.set_array("t.a.i8", make_array(std::vector<int8_t>{-1, 0, 127}));
  w.set_array("t.a.u16", make_array(std::vector<uint16_t>{1, 65535}));
  w.set_array("t.a.i16", make_array(std::vector<int16_t>{-32768, 7}));
  w.set_array("t.a.u32", make_array(std::vector<uint32_t>{1, 2, 3}));
  w.set_array("t.a.i32", make_array(std::vector<int32_t>{-5, 5}));
  w.set_array("t.a.u64", make_array(std::vector<uint64_t>{~0ull}));
  w.set_array("t.a.i64", make_array(std::vector<int64_t>{-1, 1ll << 62}));
  w.set_array("t.a.f32", make_array(std::vector<float>{0.5f, -2.0f, nan}));
  w.set_array("t.a.f64", make_array(std::vector<double>{1e300, -1e-300}));
  w.set_array("t.a.bool", make_bool_array({true, false, true}));
  w.set_array("t.a.str", make_string_array({"a", "", "\xc3\xa9", std::string("\0", 1)}));
  w.set_array("t.a.empty_u32", make_array(std::vector<uint32_t>{}));
  w.set_array("t.a.empty_str", make_string_array({}));
  w.set_array("t.a.empty_arr", make_array_of_arrays({}));
  w.set_array("t.a.nested", make_array_of_arrays(
                                {make_array(std::vector<int32_t>{1, 2}), make_string_array({"x"}),
                                 make_array_of_arrays({make_array(std::vector<uint8_t>{}),
                                                       make_array(std::vector<double>{3.5})}),
                                 make_array_of_arrays({})}));
  // As deep as the reader allows.
  Array deep = make_array(std::vector<uint16_t>{42});
  for (int d = 1; d < kMaxArrayDepth; ++d) deep = make_array_of_arrays({deep});
  w.set_array("t.a.deep", deep);

  const auto bytes = w.to_bytes();
  const File f = File::parse(bytes, "roundtrip.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_TRUE(f.tensors().empty());
  ASSERT_EQ(f.metadata().size(), w.metadata().size());
  for (size_t k = 0; k < f.metadata().size(); ++k) {
    EXPECT_EQ(f.metadata()[k].key, w.metadata()[k].key);
    expect_same_value(w.metadata()[k].value, f.metadata()[k].value, w.metadata()[k].key);
  }
  // Spot checks through the typed getters, against the values set above.
  EXPECT_EQ(f.get_int("t.u32"), 4294967295);
  EXPECT_EQ(f.get_int("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_THROW(f.get_int("t.u64"), Error);  // does not fit an int64
  EXPECT_EQ(f.get_number("t.f32"), static_cast<double>(1e-5f));
  EXPECT_TRUE(std::isnan(f.get_number("t.f32nan")));
  EXPECT_EQ(f.get_number("t.f64inf"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(f.get_bool_or("t.true", false));
  EXPECT_FALSE(f.get_bool_or("t.false", true));
  EXPECT_EQ(f.get_string("t.binary"), std::string("\0\xff\xfe\x01", 4));
  const Array* i16 = f.get_array("t.a.i16", ValueType::INT16);
  ASSERT_NE(i16, nullptr);
  EXPECT_EQ(i16->integer(0), -32768);
  EXPECT_EQ(i16->number(1), 7.0);
  const Array* nested = f.get_array("t.a.nested", ValueType::ARRAY);
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->count, 4u);
  EXPECT_EQ(nested->arrays[1].strings, std::vector<std::string>{"x"});
  EXPECT_EQ(nested->arrays[2].arrays[1].number(0), 3.5);
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(seed + k * 31);
  return v;
}

TEST(GgufWriter, TensorsRoundTripAtEveryAlignment) {
  struct Spec {
    const char* name;
    GgmlType type;
    std::vector<int64_t> dims;
    size_t bytes;  // from the block sizes of the format
  };
  const std::vector<Spec> specs = {
      {"f32", GgmlType::F32, {3, 2}, 24},          {"f16", GgmlType::F16, {5}, 10},
      {"q4_0", GgmlType::Q4_0, {64, 3}, 6 * 18},   {"q8_0", GgmlType::Q8_0, {32, 1, 1, 2}, 2 * 34},
      {"q4_k", GgmlType::Q4_K, {256, 2}, 2 * 144}, {"i8", GgmlType::I8, {7}, 7},
      {"bf16", GgmlType::BF16, {1, 1, 3}, 6},      {"empty", GgmlType::F32, {0, 4}, 0},
      {"iq4_nl", GgmlType::IQ4_NL, {32}, 18},
  };
  for (const uint32_t alignment : {32u, 64u, 1u, 8u, 4096u}) {
    SCOPED_TRACE("alignment " + std::to_string(alignment));
    Writer w;
    w.set_string("general.architecture", "test");
    if (alignment != 32) w.set_alignment(alignment);
    std::vector<std::vector<uint8_t>> data;
    for (size_t k = 0; k < specs.size(); ++k) {
      data.push_back(pattern(specs[k].bytes, static_cast<uint8_t>(k)));
      w.add_tensor(specs[k].name, specs[k].type, specs[k].dims, data.back());
    }
    const auto bytes = w.to_bytes();
    EXPECT_EQ(bytes.size(), w.file_size());
    const File f = File::parse(bytes, "aligned.gguf");
    EXPECT_EQ(f.alignment(), alignment);
    check_layout(f, /*tight=*/true);
    ASSERT_EQ(f.tensors().size(), specs.size());
    for (size_t k = 0; k < specs.size(); ++k) {
      const TensorInfo& t = f.tensors()[k];
      EXPECT_EQ(t.name, specs[k].name);
      EXPECT_EQ(t.type, specs[k].type);
      EXPECT_EQ(t.dims, specs[k].dims);
      ASSERT_EQ(t.n_bytes, specs[k].bytes) << t.name;
      EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.n_bytes), data[k]) << t.name;
      // Tensor data is aligned in the file itself, as mmap users need.
      EXPECT_EQ((f.data_offset() + t.offset) % alignment, 0u);
    }
  }
}

TEST(GgufWriter, FillCallbackGivesTheSameFile) {
  const auto data = pattern(64 * 18 / 32 * 2, 9);
  Writer a, b;
  a.add_tensor("w", GgmlType::Q4_0, {64, 2}, data);
  size_t calls = 0;
  b.add_tensor("w", GgmlType::Q4_0, {64, 2}, [&](std::span<uint8_t> out) {
    ++calls;
    ASSERT_EQ(out.size(), data.size());
    std::copy(data.begin(), data.end(), out.begin());
  });
  EXPECT_EQ(calls, 0u);  // nothing is produced before writing
  EXPECT_EQ(a.to_bytes(), b.to_bytes());
  EXPECT_EQ(calls, 1u);
}

TEST(GgufWriter, SettingAKeyAgainReplacesItInPlace) {
  Writer w;
  w.set_u32("a", 1);
  w.set_string("b", "x");
  w.set_i64("a", -2);
  ASSERT_EQ(w.metadata().size(), 2u);
  const auto bytes = w.to_bytes();
  const File f = File::parse(bytes, "replace.gguf");
  EXPECT_EQ(f.metadata()[0].key, "a");
  EXPECT_EQ(f.get_int("a"), -2);
  EXPECT_TRUE(w.remove("b"));
  EXPECT_FALSE(w.remove("b"));
  EXPECT_EQ(w.metadata().size(), 1u);
}

// Each misuse is refused when it is made, with a message saying what is wrong.
TEST(GgufWriter, RefusesWhatTheReaderWouldRefuse) {
  auto expect_error = [](auto&& fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "no error; expected one containing \"" << needle << "\"";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Writer w;
  expect_error([&] { w.set_alignment(0); }, "power of two");
  expect_error([&] { w.set_alignment(48); }, "power of two");
  expect_error([&] { w.set_u64("general.alignment", 32); }, "must be a u32");
  expect_error([&] { w.set_u32("", 1); }, "empty");
  Value big;
  big.type = ValueType::UINT8;
  big.u = 300;
  expect_error([&] { w.set("k", big); }, "does not fit u8");
  Value neg;
  neg.type = ValueType::INT16;
  neg.i = -40000;
  expect_error([&] { w.set("k", neg); }, "does not fit i16");
  Array broken = make_array(std::vector<uint32_t>{1, 2});
  broken.count = 3;
  expect_error([&] { w.set_array("k", broken); }, "does not match");
  Array deep = make_array(std::vector<uint8_t>{1});
  for (int d = 0; d < kMaxArrayDepth; ++d) deep = make_array_of_arrays({deep});
  expect_error([&] { w.set_array("k", deep); }, "deeper than");
  EXPECT_TRUE(w.metadata().empty());

  const auto four = pattern(4, 0);
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {2}, four); }, "has 4 bytes of data");
  expect_error([&] { w.add_tensor("", GgmlType::F32, {1}, four); }, "empty");
  expect_error([&] { w.add_tensor(std::string(64, 'n'), GgmlType::F32, {1}, four); }, "at most 63");
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {}, four); }, "0 dimensions");
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {1, 1, 1, 1, 1}, four); }, "5 dimensions");
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {-1}, four); }, "negative");
  expect_error([&] { w.add_tensor("t", GgmlType::Q4_0, {48}, four); }, "block size 32");
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {1ll << 32, 1ll << 32}, four); }, "absurd");
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {0, 1ll << 62}, four); }, "overflows");
  expect_error([&] { w.add_tensor("t", static_cast<GgmlType>(4), {1}, four); }, "unknown type");
  EXPECT_EQ(w.tensor_count(), 0u);
  w.add_tensor("t", GgmlType::F32, {1}, four);
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {1}, four); }, "duplicate tensor name");
  EXPECT_EQ(w.tensor_count(), 1u);
}

class GgufWriterFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("hearth_gguf_writer_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  size_t entries() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(GgufWriterFiles, WriteReplacesTheFileAtomically) {
  const std::string path = (dir_ / "model.gguf").string();
  Writer w;
  w.set_string("general.name", "first");
  w.add_tensor("t", GgmlType::F32, {2}, pattern(8, 1));
  w.write(path);
  EXPECT_EQ(File::open(path).get_string("general.name"), "first");
  EXPECT_EQ(fs::file_size(path), w.file_size());

  w.set_string("general.name", "second");
  w.write(path);  // over an existing file
  EXPECT_EQ(File::open(path).get_string("general.name"), "second");
  EXPECT_EQ(entries(), 1u);  // no temporary file left behind

  // A failing tensor producer leaves the old file as it was, and no litter.
  Writer bad;
  bad.set_string("general.name", "third");
  bad.add_tensor("t", GgmlType::F32, {2},
                 [](std::span<uint8_t>) { throw Error("producer failed"); });
  EXPECT_THROW(bad.write(path), Error);
  EXPECT_EQ(File::open(path).get_string("general.name"), "second");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(GgufWriterFiles, WriteErrorsNameThePath) {
  const std::string path = (dir_ / "no such dir" / "model.gguf").string();
  Writer w;
  w.set_u32("a", 1);
  try {
    w.write(path);
    ADD_FAILURE() << "writing into a missing directory succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
  }
  // A directory where the file should go: the rename fails.
  const std::string taken = (dir_ / "taken").string();
  fs::create_directory(taken);
  fs::create_directory(dir_ / "taken" / "x");  // non-empty: rename cannot replace it
  try {
    w.write(taken);
    ADD_FAILURE() << "writing over a directory succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(taken + ": ", 0), 0u) << e.what();
  }
  EXPECT_EQ(entries(), 1u);  // only the directory
}

}  // namespace
}  // namespace hearth::gguf
