// Test helper (header-only, so that it stays out of hearth_tokenizer): small
// in-memory GGUF files with chosen metadata (through gguf::Writer), for tests
// that need a synthetic or deliberately broken vocab.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace hearth::testing {

// A fluent front to gguf::Writer for tests: metadata only, no tensors.
class GgufTestWriter {
 public:
  GgufTestWriter& string(std::string_view key, std::string_view value) {
    w_.set_string(key, std::string(value));
    return *this;
  }
  GgufTestWriter& u32(std::string_view key, uint32_t value) {
    w_.set_u32(key, value);
    return *this;
  }
  GgufTestWriter& i32(std::string_view key, int32_t value) {
    w_.set_i32(key, value);
    return *this;
  }
  GgufTestWriter& boolean(std::string_view key, bool value) {
    w_.set_bool(key, value);
    return *this;
  }
  GgufTestWriter& strings(std::string_view key, const std::vector<std::string>& values) {
    w_.set_array(key, gguf::make_string_array(values));
    return *this;
  }
  GgufTestWriter& f32s(std::string_view key, const std::vector<float>& values) {
    w_.set_array(key, gguf::make_array(values));
    return *this;
  }
  GgufTestWriter& i32s(std::string_view key, const std::vector<int32_t>& values) {
    w_.set_array(key, gguf::make_array(values));
    return *this;
  }

  // The whole file: header, metadata, no tensors.
  std::vector<uint8_t> bytes() const { return w_.to_bytes(); }

 private:
  gguf::Writer w_;
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
