// Parsing and validating OpenAI request bodies (/v1/chat/completions,
// /v1/completions, /v1/embeddings) into engine requests. Pure functions of
// the JSON: no model needed, so every rule here is unit-tested. What is
// accepted, ignored or refused is listed in the README ("hearth serve").
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "engine/scheduler.h"
#include "server/json_fields.h"

namespace hearth::server {

// A prompt given as text or as token ids.
using PromptInput = std::variant<std::string, std::vector<TokenId>>;

struct ChatRequest {
  json messages;                   // normalised: [{"role", "content": string}, ...]
  engine::GenerationRequest gen;   // everything but the prompt
  bool stream = false;
  bool include_usage = false;      // stream_options.include_usage
  bool logprobs = false;
};

struct CompletionRequest {
  PromptInput prompt;
  engine::GenerationRequest gen;
  bool stream = false;
  bool include_usage = false;
  int32_t logprobs = -1;           // legacy integer: alternatives per token; -1 none
};

struct EmbeddingRequest {
  std::vector<PromptInput> inputs;
  bool base64 = false;             // encoding_format "base64" (the openai npm package's default)
};

// Limits from the server's options.
struct RequestLimits {
  int32_t max_tokens_cap = 16384;
};

inline constexpr size_t kMaxStopStrings = 16;
inline constexpr size_t kMaxStopBytes = 1024;
inline constexpr size_t kMaxEmbeddingInputs = 2048;

// Each throws ApiError 400 naming the offending field.
ChatRequest parse_chat_request(const json& body, const RequestLimits& limits);
CompletionRequest parse_completion_request(const json& body, const RequestLimits& limits);
EmbeddingRequest parse_embedding_request(const json& body);

// Messages as OpenAI sends them -> [{role, content: string}] for the chat
// template: text parts joined, "developer" treated as "system".
json normalize_messages(const json& messages, const std::string& field = "messages");

// The sampling fields both OpenAI endpoints share, plus max_tokens, stop,
// seed and n. Hearth's defaults (temperature 0.8, top_k 40, top_p 0.95,
// min_p 0.05, as llama.cpp's server) apply to fields left out.
void parse_openai_generation_fields(const Fields& f, engine::GenerationRequest& gen, const RequestLimits& limits);

// A random seed for requests that give none.
uint64_t random_seed();

}  // namespace hearth::server
