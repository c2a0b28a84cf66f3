// libFuzzer target for the GGUF reader: any bytes must either parse or throw
// hearth::Error; anything else (a crash, a sanitizer report, another exception
// type escaping) is a finding. A file that parses is also re-written with the
// writer and must read back the same, which checks the two against each other.
//
// Seed mode: with HEARTH_FUZZ_WRITE_SEEDS=DIR set, the binary writes a few
// small valid files made with the writer into DIR and exits (scripts/fuzz-gguf
// uses this to build its seed corpus).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "util/error.h"

using hearth::Error;
using hearth::GgmlType;
namespace gguf = hearth::gguf;

// UBSan findings must stop the run like ASan's do, even when the target runs
// without scripts/fuzz-gguf's environment.
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

// Reads every element of every value, the way inspect and the loaders do.
uint64_t touch(const gguf::Array& a) {
  uint64_t sum = a.count;
  if (a.is_numeric()) {
    for (uint64_t i = 0; i < a.count; ++i)
      sum += static_cast<uint64_t>(a.integer(i)) + (a.number(i) > 0);
  }
  for (const auto& s : a.strings) sum += s.size();
  for (const auto& inner : a.arrays) sum += touch(inner);
  return sum;
}

void check_round_trip(const gguf::File& f) {
  gguf::Writer w;
  std::vector<uint8_t> bytes;
  try {
    for (const auto& kv : f.metadata()) w.set(kv.key, kv.value);
    for (const auto& t : f.tensors()) {
      w.add_tensor(t.name, t.type, t.dims, std::span<const uint8_t>(t.data, t.n_bytes));
    }
    bytes = w.to_bytes();
  } catch (const Error&) {
    return;  // the writer is stricter (e.g. tensor names of 64+ bytes)
  }
  try {
    const gguf::File g = gguf::File::parse(bytes, "rewritten");
    if (g.metadata().size() != f.metadata().size() || g.tensors().size() != f.tensors().size()) {
      finding("a re-written file reads back with different counts");
    }
    for (size_t k = 0; k < f.tensors().size(); ++k) {
      const auto& a = f.tensors()[k];
      const auto& b = g.tensors()[k];
      if (a.name != b.name || a.n_bytes != b.n_bytes ||
          std::memcmp(a.data, b.data, a.n_bytes) != 0) {
        finding("a re-written tensor reads back different");
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("a file re-written by the writer does not read back");
  }
}

void write_seeds(const std::string& dir) {
  auto save = [&](const std::string& name, const gguf::Writer& w) { w.write(dir + "/" + name); };
  {
    gguf::Writer w;  // every value type and a few tensor types
    w.set_string("general.architecture", "llama");
    w.set_u8("t.u8", 1);
    w.set_i8("t.i8", -1);
    w.set_u16("t.u16", 2);
    w.set_i16("t.i16", -2);
    w.set_u32("llama.embedding_length", 64);
    w.set_i32("t.i32", -3);
    w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.set_bool("t.bool", true);
    w.set_u64("t.u64", 4);
    w.set_i64("t.i64", -4);
    w.set_f64("t.f64", 0.5);
    w.set_array("tokenizer.ggml.tokens", gguf::make_string_array({"<unk>", "<s>", "a", ""}));
    w.set_array("tokenizer.ggml.scores", gguf::make_array(std::vector<float>{0, 0, -1, -2}));
    w.set_array("t.nested", gguf::make_array_of_arrays({gguf::make_array(std::vector<int32_t>{1}),
                                                        gguf::make_string_array({"x"})}));
    w.add_tensor("f32", GgmlType::F32, {4, 2}, std::vector<uint8_t>(32, 1));
    w.add_tensor("q4_0", GgmlType::Q4_0, {32}, std::vector<uint8_t>(18, 2));
    w.add_tensor("q4_k", GgmlType::Q4_K, {256}, std::vector<uint8_t>(144, 3));
    save("all-types.gguf", w);
  }
  for (const uint32_t align : {1u, 64u}) {
    gguf::Writer w;
    w.set_alignment(align);
    w.add_tensor("a", GgmlType::F16, {3}, std::vector<uint8_t>(6, 4));
    w.add_tensor("b", GgmlType::I8, {5}, std::vector<uint8_t>(5, 5));
    save("align-" + std::to_string(align) + ".gguf", w);
  }
  {
    gguf::Writer w;  // vocab-only: no tensors
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_array("tokenizer.ggml.merges", gguf::make_string_array({"a b", "ab c"}));
    save("vocab-only.gguf", w);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("HEARTH_FUZZ_WRITE_SEEDS"); dir && *dir) {
    try {
      write_seeds(dir);
    } catch (const Error& e) {
      std::fprintf(stderr, "gguf_fuzz: %s\n", e.what());
      std::exit(1);
    }
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gguf::File f = gguf::File::parse({data, size}, "fuzz.gguf");
    uint64_t sum = 0;
    for (const auto& kv : f.metadata()) {
      if (const auto* a = kv.value.as_array()) sum += touch(*a);
      sum += kv.value.as_int().value_or(0) + kv.value.as_bool().value_or(false);
    }
    for (const auto& t : f.tensors()) {
      if (t.n_bytes) sum += t.data[0] + t.data[t.n_bytes - 1];  // in bounds?
      sum += t.shape_string().size();
    }
    // The typed getters on keys the loaders ask for.
    try {
      sum += f.get_string_or("general.architecture", "").size();
      sum += static_cast<uint64_t>(f.get_int_or("llama.embedding_length", 0));
      sum += f.get_number_or("llama.attention.layer_norm_rms_epsilon", 0) > 0;
      if (f.get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING)) ++sum;
    } catch (const Error&) {
    }
    if (sum == 42) std::fputc(0, stderr);  // keep the reads from being optimized away
    check_round_trip(f);
  } catch (const Error&) {
    // Expected for broken input.
  }
  return 0;
}
