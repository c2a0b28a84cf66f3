// Parsing and validating Ollama request bodies (/api/generate, /api/chat,
// /api/embed) into engine requests. Ollama's defaults apply to options left
// out (temperature 0.8, top_k 40, top_p 0.9, min_p 0, repeat_penalty 1.1,
// repeat_last_n 64) and streaming is on unless "stream": false, as in Ollama.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "server/json_fields.h"
#include "server/openai_request.h"

namespace hearth::server {

struct OllamaGenerateRequest {
  std::string prompt;                 // empty: Ollama's "load the model" request
  std::optional<std::string> system;
  bool raw = false;                   // true: the prompt goes in as is, without the chat template
  bool stream = true;
  engine::GenerationRequest gen;
};

struct OllamaChatRequest {
  json messages;                      // normalised; may be empty ("load the model")
  bool stream = true;
  engine::GenerationRequest gen;
};

struct OllamaEmbedRequest {
  std::vector<std::string> inputs;
};

OllamaGenerateRequest parse_ollama_generate(const json& body, const RequestLimits& limits);
OllamaChatRequest parse_ollama_chat(const json& body, const RequestLimits& limits);
// /api/embed ("input": string or list) and the older /api/embeddings ("prompt").
OllamaEmbedRequest parse_ollama_embed(const json& body, bool legacy);

// The "options" object. num_ctx is range-checked but not applied: each slot's
// context is fixed by --ctx-size when the server starts.
void parse_ollama_options(const json* options, engine::GenerationRequest& gen, const RequestLimits& limits);

}  // namespace hearth::server
