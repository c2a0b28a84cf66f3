// Tokenization throughput on a large mixed text, run by hand:
//   hearth_tokenizer_bench [MB] [VOCAB...]
// The text is the reference vector inputs (../shared/vocab/*.inp: code,
// emoji, CJK, Cyrillic, Khmer, whitespace runs) interleaved with generated
// English-like prose, repeated to MB megabytes (default 10). Each vocab
// (default: gpt-2 llama-bpe qwen2 llama-spm bert-bge) encodes it once without
// special tokens; the best of three runs is reported. Not a test: timings
// depend on the machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace {

fs::path shared_dir() {
  if (const char* env = std::getenv("HEARTH_SHARED_DIR"); env && *env) return env;
  return fs::path(HEARTH_SOURCE_DIR) / ".." / "shared";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Deterministic prose: words from a small list, sentence punctuation,
// numbers and the odd contraction, so that BPE sees realistic words.
std::string prose(size_t bytes) {
  static const char* kWords[] = {
      "the",     "of",        "and",      "to",        "in",        "a",       "is",
      "that",    "for",       "it",       "as",        "was",       "with",    "be",
      "by",      "on",        "not",      "he",        "I",         "this",    "are",
      "or",      "his",       "from",     "at",        "which",     "but",     "have",
      "an",      "had",       "they",     "you",       "were",      "their",   "one",
      "all",     "we",        "can",      "tokenizer", "inference", "runtime", "quantization",
      "matrix",  "attention", "model",    "Hearth",    "private",   "machine", "language",
      "weights", "embedding", "sequence", "don't",     "it's",      "we're",   "they've",
      "Llama",   "Qwen",      "2024",     "3.14",      "1,000,000"};
  const size_t n_words = sizeof kWords / sizeof kWords[0];
  std::string out;
  uint64_t state = 0x243F6A8885A308D3ull;
  size_t in_sentence = 0;
  while (out.size() < bytes) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::string word = kWords[(state >> 33) % n_words];
    if (in_sentence == 0) word[0] = static_cast<char>(std::toupper(word[0]));
    out += word;
    ++in_sentence;
    if (in_sentence > 6 && (state >> 20) % 7 == 0) {
      out += (state >> 40) % 5 == 0 ? "?" : ".";
      out += (state >> 44) % 4 == 0 ? "\n\n" : " ";
      in_sentence = 0;
    } else {
      out += (state >> 48) % 11 == 0 ? ", " : " ";
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double mb = 10;
  std::vector<std::string> vocabs;
  for (int i = 1; i < argc; ++i) {
    char* end = nullptr;
    const double v = std::strtod(argv[i], &end);
    if (end && *end == '\0' && v > 0) {
      mb = v;
    } else {
      vocabs.emplace_back(argv[i]);
    }
  }
  if (vocabs.empty()) vocabs = {"gpt-2", "llama-bpe", "qwen2", "llama-spm", "bert-bge"};

  const fs::path dir = shared_dir() / "vocab";
  std::string inputs;
  if (fs::is_directory(dir)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".inp") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) inputs += read_file(f);
  }
  const size_t target = static_cast<size_t>(mb * 1024 * 1024);
  std::string text;
  const std::string filler = prose(64 * 1024);
  while (text.size() < target) {
    text += inputs;
    text += filler;
  }
  text.resize(target);
  // Do not end inside a UTF-8 character.
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
  if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();

  std::printf("text: %.2f MB (%zu bytes)\n", text.size() / 1048576.0, text.size());
  for (const std::string& name : vocabs) {
    try {
      const auto file = hearth::gguf::File::open((dir / ("ggml-vocab-" + name + ".gguf")).string());
      const auto load_start = std::chrono::steady_clock::now();
      const auto tok = hearth::Tokenizer::from_gguf(file);
      const double load_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
      double best = 1e30;
      size_t n_tokens = 0;
      for (int run = 0; run < 3; ++run) {
        const auto t0 = std::chrono::steady_clock::now();
        n_tokens = tok->encode(text, false, false).size();
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::printf("%-12s %-6s %8.2f MB/s  %9zu tokens  %6.3f s  (load %.2f s)\n", name.c_str(),
                  std::string(tok->model_name()).c_str(), text.size() / 1048576.0 / best, n_tokens,
                  best, load_s);
    } catch (const hearth::Error& e) {
      std::printf("%-12s error: %s\n", name.c_str(), e.what());
    }
  }
  return 0;
}
