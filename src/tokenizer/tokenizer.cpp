#include "tokenizer/tokenizer.h"

#include "gguf/gguf.h"
#include "tokenizer/spm_tokenizer.h"
#include "util/error.h"

namespace hearth {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  constexpr std::string_view kModelKey = "tokenizer.ggml.model";
  if (!file.find(kModelKey)) {
    throw Error(file.path() + ": " + std::string(kModelKey) +
                " is missing: the file has no tokenizer");
  }
  const std::string model = file.get_string(kModelKey);
  if (model == "llama") return SpmTokenizer::from_gguf(file);
  // "gpt2" (byte-level BPE) and "bert" (WordPiece) are issue #4.
  throw Error(file.path() + ": " + std::string(kModelKey) + " is \"" + model +
              "\", a tokenizer Hearth does not support (supported: \"llama\")");
}

}  // namespace hearth
