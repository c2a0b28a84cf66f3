// libFuzzer target for the tokenizers: arbitrary bytes (invalid UTF-8
// included) are encoded with real vocabs from ../shared/vocab - byte-level
// BPE (qwen2, gpt-2), WordPiece (bert-bge) and SentencePiece (llama-spm).
// Findings: a crash, a sanitizer report, an exception, an id outside the
// vocab, or a lossy round trip where the vocab can represent the text:
//   * qwen2 (byte-level BPE, no clean-up of spaces on decode) must give
//     decode(encode(text)) == text for any valid UTF-8, with and without
//     parse_special;
//   * llama-spm must too (parse_special off), unless the text contains
//     U+2581, the character SentencePiece uses for a space.
// The vocabs are found through $HEARTH_SHARED_DIR or ../shared (relative to
// the working directory); without them every input is accepted unchecked.
//
// Inputs starting with "GGUF" are also parsed as a GGUF file and handed to
// Tokenizer::from_gguf, which must either load or throw hearth::Error.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

// UBSan findings must stop the run like ASan's do.
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

namespace {

namespace fs = std::filesystem;
using hearth::TokenId;
using hearth::Tokenizer;

struct Loaded {
  std::unique_ptr<Tokenizer> qwen2, gpt2, bert, spm;
};
Loaded g_tok;

[[noreturn]] void finding(const std::string& what, std::string_view input) {
  std::fprintf(stderr, "tokenizer_fuzz: %s (input of %zu bytes)\n", what.c_str(), input.size());
  std::abort();
}

std::unique_ptr<Tokenizer> load(const fs::path& dir, const char* name) {
  const fs::path path = dir / ("ggml-vocab-" + std::string(name) + ".gguf");
  if (!fs::exists(path)) return nullptr;
  return Tokenizer::from_gguf(hearth::gguf::File::open(path.string()));
}

std::vector<TokenId> encode(const Tokenizer& tok, std::string_view text, bool add_special,
                            bool parse_special, std::string_view input) {
  std::vector<TokenId> ids;
  try {
    ids = tok.encode(text, add_special, parse_special);
  } catch (const std::exception& e) {
    finding(std::string(tok.model_name()) + " encode threw: " + e.what(), input);
  }
  for (const TokenId id : ids) {
    if (id < 0 || id >= tok.n_vocab()) finding("id out of range: " + std::to_string(id), input);
  }
  return ids;
}

void check_round_trip(const Tokenizer& tok, std::string_view text, bool parse_special) {
  const auto ids = encode(tok, text, false, parse_special, text);
  if (tok.decode(ids, true) != text) {
    finding(std::string(tok.pre_tokenizer_name()) + " does not round-trip" +
                (parse_special ? " with parse_special" : ""),
            text);
  }
}

void fuzz_text(std::string_view text) {
  const bool valid = hearth::unicode::is_valid_utf8(text);
  if (g_tok.qwen2) {
    if (valid) {
      check_round_trip(*g_tok.qwen2, text, false);
      check_round_trip(*g_tok.qwen2, text, true);
    } else {
      encode(*g_tok.qwen2, text, true, true, text);
    }
  }
  if (g_tok.gpt2) {
    const auto ids = encode(*g_tok.gpt2, text, true, false, text);
    (void)g_tok.gpt2->decode(ids);
  }
  if (g_tok.bert) {
    const auto ids = encode(*g_tok.bert, text, true, false, text);
    (void)g_tok.bert->decode(ids);
  }
  if (g_tok.spm) {
    if (valid && text.find("\xe2\x96\x81") == std::string_view::npos) {
      check_round_trip(*g_tok.spm, text, false);
    } else {
      encode(*g_tok.spm, text, true, true, text);
    }
  }
}

void fuzz_gguf(const uint8_t* data, size_t size) {
  try {
    const auto file = hearth::gguf::File::parse({data, size}, "fuzz.gguf");
    const auto tok = Tokenizer::from_gguf(file);
    for (const std::string_view text : {"Hello world", "a\xff b", "  \n\n 123 <s>"}) {
      const auto ids = tok->encode(text, true, true);
      for (const TokenId id : ids) {
        if (id < 0 || id >= tok->n_vocab()) finding("loaded vocab gives id out of range", text);
      }
      (void)tok->decode(ids, true);
    }
  } catch (const hearth::Error&) {
    // Expected for broken files.
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fs::path dir;
  if (const char* env = std::getenv("HEARTH_SHARED_DIR"); env && *env) {
    dir = fs::path(env) / "vocab";
  } else {
    dir = fs::path("..") / "shared" / "vocab";
  }
  try {
    g_tok.qwen2 = load(dir, "qwen2");
    g_tok.gpt2 = load(dir, "gpt-2");
    g_tok.bert = load(dir, "bert-bge");
    g_tok.spm = load(dir, "llama-spm");
  } catch (const hearth::Error& e) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", e.what());
    std::exit(1);
  }
  if (!g_tok.qwen2 && !g_tok.spm) {
    std::fprintf(stderr,
                 "tokenizer_fuzz: no vocabs in %s (set HEARTH_SHARED_DIR); "
                 "only GGUF-shaped inputs are exercised\n",
                 dir.string().c_str());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.substr(0, 4) == "GGUF") {
    fuzz_gguf(data, size);
  } else {
    fuzz_text(bytes);
  }
  return 0;
}
