// What the HTTP layer needs from a loaded model: tokenization, chat prompts,
// the continuous-batching scheduler and the facts /v1/models and /api/show
// report. An interface, so that the routes are tested against a fake
// without loading a model (engine_backend.h is the real one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "server/json_fields.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

struct ModelInfo {
  std::string name;          // the id clients use: --alias, else the file name without .gguf
  std::string path;
  std::string architecture;  // general.architecture: "llama", "qwen2"
  std::string quantization;  // "Q8_0", "Q4_K_M", "F16"...
  std::string template_name; // "model", "file", "chatml" (see ChatPrompt::name)
  std::string chat_template; // the template source in use (may be empty for the built-in fallback)
  uint64_t file_size = 0;
  uint64_t n_params = 0;
  int64_t modified_unix = 0; // file modification time
  int32_t n_ctx_train = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t n_vocab = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const ModelInfo& info() const = 0;
  // Raw prompt text -> ids, BOS added as the model wants, special-token text
  // left as plain text (a prompt cannot forge control tokens).
  virtual std::vector<TokenId> encode(const std::string& text) const = 0;
  // OpenAI-style messages -> prompt ids through the chat template, with the
  // assistant generation prompt appended. Throws hearth::Error for a
  // template error or messages the template rejects.
  virtual std::vector<TokenId> chat_tokens(const json& messages) const = 0;
  // The text of one token for logprobs (special tokens as their text).
  virtual std::string token_piece(TokenId id) const = 0;
  virtual int32_t n_ctx() const = 0;  // per slot

  // As engine::Scheduler: false when the queue is full or shutting down.
  virtual bool submit(engine::GenerationRequest request, engine::Scheduler::TokenCallback on_token,
                      engine::Scheduler::DoneCallback on_done) = 0;
  virtual std::vector<float> embed(const std::vector<TokenId>& tokens) = 0;
  virtual engine::SchedulerStats stats() const = 0;
  // Stops taking requests; cancel: end running ones now. Returns when all are done.
  virtual void shutdown(bool cancel) = 0;
};

}  // namespace hearth::server
