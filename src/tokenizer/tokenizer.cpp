#include "tokenizer/tokenizer.h"

#include "gguf/gguf.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/wpm_tokenizer.h"
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
  if (model == "gpt2") return BpeTokenizer::from_gguf(file);
  if (model == "bert") return WpmTokenizer::from_gguf(file);
  throw Error(file.path() + ": " + std::string(kModelKey) + " is \"" + model +
              "\", a tokenizer Hearth does not support (supported: \"llama\", \"gpt2\", "
              "\"bert\")");
}

}  // namespace hearth
