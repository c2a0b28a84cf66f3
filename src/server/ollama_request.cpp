#include "server/ollama_request.h"

#include <limits>

#include "server/api_error.h"

namespace hearth::server {
namespace {

void ollama_defaults(engine::GenerationRequest& gen, const RequestLimits& limits) {
  SamplingParams& s = gen.sampling;
  s.temperature = 0.8f;
  s.top_k = 40;
  s.top_p = 0.9f;
  s.min_p = 0.0f;
  s.repeat_penalty = 1.1f;
  s.repeat_last_n = 64;
  s.seed = random_seed();
  gen.max_tokens = limits.max_tokens_cap;
}

// Top-level fields both endpoints share.
void parse_common(const Fields& f, bool* stream) {
  f.string("model", 256);
  *stream = f.boolean("stream").value_or(true);
  if (const json* fmt = f.raw("format"); fmt && !(fmt->is_string() && fmt->get<std::string>().empty())) {
    throw invalid_field("format", "structured output (\"json\" or a schema) is not supported");
  }
  if (const json* tools = f.array("tools"); tools && !tools->empty()) {
    throw invalid_field("tools", "tool calling is not supported");
  }
  // keep_alive: a duration string or seconds; the model stays loaded anyway.
  if (const json* ka = f.raw("keep_alive"); ka && !ka->is_string() && !ka->is_number()) {
    throw invalid_field("keep_alive", "must be a duration string or a number of seconds");
  }
  f.boolean("think");
}

void refuse_images(const Fields& f, const std::string& field) {
  if (const json* images = f.array("images"); images && !images->empty()) {
    throw invalid_field(field, "images are not supported by this server");
  }
}

}  // namespace

void parse_ollama_options(const json* options, engine::GenerationRequest& gen, const RequestLimits& limits) {
  if (!options) return;
  if (!options->is_object()) throw invalid_field("options", "must be an object, not " + json_type_phrase(*options));
  Fields o(*options, "options.");
  SamplingParams& s = gen.sampling;
  if (auto v = o.number("temperature", 0, 100)) s.temperature = static_cast<float>(*v);
  if (auto v = o.integer("top_k", -1, 1 << 20)) s.top_k = static_cast<int32_t>(*v);
  if (auto v = o.number("top_p", 0, 1)) s.top_p = static_cast<float>(*v);
  if (auto v = o.number("min_p", 0, 1)) s.min_p = static_cast<float>(*v);
  if (auto v = o.number("repeat_penalty", 0, 10)) s.repeat_penalty = static_cast<float>(*v);
  if (auto v = o.integer("repeat_last_n", -1, 1 << 20)) s.repeat_last_n = static_cast<int32_t>(*v);
  if (auto v = o.number("presence_penalty", -2, 2)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = o.number("frequency_penalty", -2, 2)) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = o.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    s.seed = static_cast<uint64_t>(*v);
  }
  // -1: no limit, -2: fill the context (Ollama's meanings); both stop at the
  // cap or a full context. 0 is treated like -1.
  if (auto v = o.integer("num_predict", -2, limits.max_tokens_cap); v && *v > 0) {
    gen.max_tokens = static_cast<int32_t>(*v);
  }
  if (auto stop = o.string_or_list("stop", kMaxStopStrings, kMaxStopBytes)) gen.stop = std::move(*stop);
  // Checked, then ignored: a slot's context is fixed when the server starts.
  o.integer("num_ctx", 1, 1 << 24);
  o.integer("num_keep", -1, 1 << 24);
  o.integer("num_batch", 1, 1 << 24);
  o.integer("num_thread", 0, 1 << 16);
  o.integer("num_gpu", -1, 1 << 16);
}

OllamaGenerateRequest parse_ollama_generate(const json& body, const RequestLimits& limits) {
  Fields f(body);
  OllamaGenerateRequest req;
  ollama_defaults(req.gen, limits);
  parse_common(f, &req.stream);
  req.prompt = f.string("prompt").value_or("");
  req.system = f.string("system");
  req.raw = f.boolean("raw").value_or(false);
  refuse_images(f, "images");
  if (auto t = f.string("template"); t && !t->empty()) {
    throw invalid_field("template", "Go-template overrides are not supported (start the server with --chat-template)");
  }
  if (const json* c = f.array("context"); c && !c->empty()) {
    throw invalid_field("context", "continuing from a context array is not supported; use /api/chat");
  }
  if (auto suffix = f.string("suffix"); suffix && !suffix->empty()) {
    throw invalid_field("suffix", "insertion (suffix) is not supported");
  }
  parse_ollama_options(f.raw("options"), req.gen, limits);
  return req;
}

OllamaChatRequest parse_ollama_chat(const json& body, const RequestLimits& limits) {
  Fields f(body);
  OllamaChatRequest req;
  ollama_defaults(req.gen, limits);
  parse_common(f, &req.stream);
  req.messages = json::array();
  if (const json* messages = f.array("messages"); messages && !messages->empty()) {
    for (size_t i = 0; i < messages->size(); ++i) {
      if ((*messages)[i].is_object()) {
        refuse_images(Fields((*messages)[i]), "messages[" + std::to_string(i) + "].images");
      }
    }
    req.messages = normalize_messages(*messages);
  }
  parse_ollama_options(f.raw("options"), req.gen, limits);
  return req;
}

OllamaEmbedRequest parse_ollama_embed(const json& body, bool legacy) {
  Fields f(body);
  OllamaEmbedRequest req;
  f.string("model", 256);
  f.boolean("truncate");
  if (legacy) {
    auto prompt = f.string("prompt");
    if (!prompt) throw invalid_field("prompt", "is required");
    req.inputs.push_back(*prompt);
    return req;
  }
  const json* input = f.raw("input");
  if (!input) throw invalid_field("input", "is required");
  if (input->is_string()) {
    req.inputs.push_back(input->get<std::string>());
  } else if (input->is_array()) {
    if (input->empty()) throw invalid_field("input", "must not be empty");
    if (input->size() > kMaxEmbeddingInputs) {
      throw invalid_field("input", "has more than " + std::to_string(kMaxEmbeddingInputs) + " entries");
    }
    for (size_t i = 0; i < input->size(); ++i) {
      if (!(*input)[i].is_string()) {
        throw invalid_field("input[" + std::to_string(i) + "]", "must be a string, not " + json_type_phrase((*input)[i]));
      }
      req.inputs.push_back((*input)[i].get<std::string>());
    }
  } else {
    throw invalid_field("input", "must be a string or a list of strings, not " + json_type_phrase(*input));
  }
  return req;
}

}  // namespace hearth::server
