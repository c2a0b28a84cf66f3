// Test helper (header-only, so that it stays out of hearth_tokenizer): writes
// small in-memory GGUF files with chosen metadata, for tests that need a
// synthetic or deliberately broken vocab.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace hearth::testing {

class GgufTestWriter {
 public:
  GgufTestWriter& string(std::string_view key, std::string_view value) {
    begin(key, kString);
    put_string(value);
    return *this;
  }
  GgufTestWriter& u32(std::string_view key, uint32_t value) {
    begin(key, kUint32);
    put(value);
    return *this;
  }
  GgufTestWriter& i32(std::string_view key, int32_t value) {
    begin(key, kInt32);
    put(value);
    return *this;
  }
  GgufTestWriter& boolean(std::string_view key, bool value) {
    begin(key, kBool);
    put(static_cast<uint8_t>(value ? 1 : 0));
    return *this;
  }
  GgufTestWriter& strings(std::string_view key, const std::vector<std::string>& values) {
    begin_array(key, kString, values.size());
    for (const auto& v : values) put_string(v);
    return *this;
  }
  GgufTestWriter& f32s(std::string_view key, const std::vector<float>& values) {
    begin_array(key, kFloat32, values.size());
    for (float v : values) put(v);
    return *this;
  }
  GgufTestWriter& i32s(std::string_view key, const std::vector<int32_t>& values) {
    begin_array(key, kInt32, values.size());
    for (int32_t v : values) put(v);
    return *this;
  }

  // The whole file: header, metadata, no tensors, padded to 32 bytes.
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out;
    const auto append = [&out](const auto& v) {
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      out.insert(out.end(), p, p + sizeof(v));
    };
    out.insert(out.end(), {'G', 'G', 'U', 'F'});
    append(uint32_t{3});
    append(uint64_t{0});
    append(n_kv_);
    out.insert(out.end(), kv_.begin(), kv_.end());
    while (out.size() % 32) out.push_back(0);
    return out;
  }

 private:
  enum : uint32_t { kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7, kString = 8, kArray = 9 };

  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    kv_.insert(kv_.end(), p, p + sizeof(v));
  }
  void put_string(std::string_view s) {
    put(static_cast<uint64_t>(s.size()));
    kv_.insert(kv_.end(), s.begin(), s.end());
  }
  void begin(std::string_view key, uint32_t type) {
    put_string(key);
    put(type);
    ++n_kv_;
  }
  void begin_array(std::string_view key, uint32_t elem_type, size_t count) {
    begin(key, kArray);
    put(elem_type);
    put(static_cast<uint64_t>(count));
  }

  std::vector<uint8_t> kv_;
  uint64_t n_kv_ = 0;
};

struct TestToken {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::Normal;
};

// An SPM vocab: <unk>, <s>, </s> (ids 0-2), then the 256 byte tokens
// <0x00>..<0xFF> (ids 3-258) when `byte_tokens`, then `extra`.
inline std::vector<TestToken> spm_test_tokens(bool byte_tokens,
                                              const std::vector<TestToken>& extra) {
  std::vector<TestToken> tokens = {{"<unk>", 0, TokenType::Unknown},
                                   {"<s>", 0, TokenType::Control},
                                   {"</s>", 0, TokenType::Control}};
  if (byte_tokens) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      tokens.push_back(
          {std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, TokenType::Byte});
    }
  }
  tokens.insert(tokens.end(), extra.begin(), extra.end());
  return tokens;
}

// Writes tokenizer.ggml.model / tokens / scores / token_type for `tokens`.
inline GgufTestWriter& write_vocab(GgufTestWriter& w, const std::vector<TestToken>& tokens,
                                   std::string_view model = "llama") {
  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const auto& t : tokens) {
    texts.push_back(t.text);
    scores.push_back(t.score);
    types.push_back(static_cast<int32_t>(t.type));
  }
  return w.string("tokenizer.ggml.model", model)
      .strings("tokenizer.ggml.tokens", texts)
      .f32s("tokenizer.ggml.scores", scores)
      .i32s("tokenizer.ggml.token_type", types);
}

// Parses the written file and builds its tokenizer (the tokenizer keeps no
// reference to the file).
inline std::unique_ptr<Tokenizer> tokenizer_from(const GgufTestWriter& w,
                                                 const std::string& name = "synthetic.gguf") {
  const std::vector<uint8_t> bytes = w.bytes();
  const gguf::File file = gguf::File::parse(bytes, name);
  return Tokenizer::from_gguf(file);
}

}  // namespace hearth::testing
