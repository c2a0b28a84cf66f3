#include "server/openai_request.h"

#include <limits>
#include <random>

#include "server/api_error.h"

namespace hearth::server {
namespace {

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Fields we cannot honour are refused rather than silently dropped when
// dropping them would change what the client gets (tools, JSON mode, n > 1).
void refuse_unsupported_common(const Fields& f) {
  if (const json* bias = f.object("logit_bias"); bias && !bias->empty()) {
    throw invalid_field("logit_bias", "is not supported (send {} or leave it out)");
  }
  if (f.has("n")) {
    const json& n = *f.raw("n");
    if (!n.is_number()) throw invalid_field("n", "must be an integer, not " + json_type_phrase(n));
    if (n != 1) throw invalid_field("n", "only n = 1 is supported (got " + n.dump() + ")");
  }
  f.string("user");
  if (const json* so = f.object("stream_options")) Fields(*so, "stream_options.").boolean("include_usage");
}

bool stream_flag(const Fields& f, bool* include_usage) {
  const bool stream = f.boolean("stream").value_or(false);
  *include_usage = false;
  if (const json* so = f.object("stream_options")) {
    if (!stream) throw invalid_field("stream_options", "is only allowed with \"stream\": true");
    *include_usage = Fields(*so, "stream_options.").boolean("include_usage").value_or(false);
  }
  return stream;
}

std::vector<TokenId> token_array(const json& arr, const std::string& field) {
  std::vector<TokenId> ids;
  ids.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const json& v = arr[i];
    const std::string where = field + "[" + std::to_string(i) + "]";
    if (!v.is_number_integer()) throw invalid_field(where, "must be a token id (an integer), not " + json_type_phrase(v));
    constexpr int64_t max_id = std::numeric_limits<TokenId>::max();
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(max_id)
                                                 : v.get<int64_t>() >= 0 && v.get<int64_t>() <= max_id;
    if (!in_range) throw invalid_field(where, "is not a valid token id: " + v.dump());
    ids.push_back(static_cast<TokenId>(v.get<int64_t>()));
  }
  return ids;
}

// A prompt/input: a string, a list of token ids, or (for `allow_list`) a
// list of those.
bool is_token_array(const json& v) { return v.is_array() && !v.empty() && v[0].is_number(); }

}  // namespace

uint64_t random_seed() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

void parse_openai_generation_fields(const Fields& f, engine::GenerationRequest& gen, const RequestLimits& limits) {
  SamplingParams& s = gen.sampling;
  if (auto v = f.number("temperature", 0, 2)) s.temperature = static_cast<float>(*v);
  if (auto v = f.number("top_p", 0, 1)) s.top_p = static_cast<float>(*v);
  // Extensions llama.cpp's server also takes; OpenAI has none of these.
  if (auto v = f.integer("top_k", 0, 1 << 20)) s.top_k = static_cast<int32_t>(*v);
  if (auto v = f.number("min_p", 0, 1)) s.min_p = static_cast<float>(*v);
  if (auto v = f.number("repeat_penalty", 0, 10)) s.repeat_penalty = static_cast<float>(*v);
  if (auto v = f.integer("repeat_last_n", -1, 1 << 20)) s.repeat_last_n = static_cast<int32_t>(*v);
  if (auto v = f.number("presence_penalty", -2, 2)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = f.number("frequency_penalty", -2, 2)) s.frequency_penalty = static_cast<float>(*v);
  const auto seed = f.integer("seed", kInt64Min, kInt64Max);
  s.seed = seed ? static_cast<uint64_t>(*seed) : random_seed();

  // max_completion_tokens is the newer name; when both come, it wins.
  auto max_tokens = f.integer("max_tokens", 1, limits.max_tokens_cap);
  if (auto v = f.integer("max_completion_tokens", 1, limits.max_tokens_cap)) max_tokens = v;
  gen.max_tokens = max_tokens ? static_cast<int32_t>(*max_tokens) : limits.max_tokens_cap;

  if (auto stop = f.string_or_list("stop", kMaxStopStrings, kMaxStopBytes)) gen.stop = std::move(*stop);
  refuse_unsupported_common(f);
}

json normalize_messages(const json& messages, const std::string& field) {
  if (!messages.is_array()) throw invalid_field(field, "must be an array of messages, not " + json_type_phrase(messages));
  if (messages.empty()) throw invalid_field(field, "must contain at least one message");
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string where = field + "[" + std::to_string(i) + "]";
    const json& m = messages[i];
    if (!m.is_object()) throw invalid_field(where, "must be an object, not " + json_type_phrase(m));
    Fields mf(m, where + ".");
    auto role = mf.string("role", 64);
    if (!role) throw invalid_field(where + ".role", "is required");
    if (*role == "developer") role = "system";
    if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool") {
      throw invalid_field(where + ".role", "must be system, developer, user, assistant or tool, not \"" + *role + "\"");
    }
    std::string content;
    const json* c = mf.raw("content");
    if (!c) {
      // An assistant turn that only called tools has no content.
      if (*role != "assistant") throw invalid_field(where + ".content", "is required");
    } else if (c->is_string()) {
      content = c->get<std::string>();
    } else if (c->is_array()) {
      for (size_t j = 0; j < c->size(); ++j) {
        const std::string pwhere = where + ".content[" + std::to_string(j) + "]";
        const json& part = (*c)[j];
        if (!part.is_object()) throw invalid_field(pwhere, "must be an object, not " + json_type_phrase(part));
        Fields pf(part, pwhere + ".");
        const auto type = pf.string("type", 64);
        if (type != "text") {
          throw invalid_field(pwhere + ".type", "only text parts are supported (got " +
                                                   (type ? "\"" + *type + "\"" : std::string("none")) + ")");
        }
        const auto text = pf.string("text");
        if (!text) throw invalid_field(pwhere + ".text", "is required");
        content += *text;
      }
    } else {
      throw invalid_field(where + ".content", "must be a string or a list of text parts, not " + json_type_phrase(*c));
    }
    mf.string("name", 256);
    out.push_back({{"role", *role}, {"content", std::move(content)}});
  }
  return out;
}

ChatRequest parse_chat_request(const json& body, const RequestLimits& limits) {
  Fields f(body);
  ChatRequest req;
  f.string("model", 256);
  const json* messages = f.raw("messages");
  if (!messages) throw invalid_field("messages", "is required");
  req.messages = normalize_messages(*messages);
  parse_openai_generation_fields(f, req.gen, limits);
  req.stream = stream_flag(f, &req.include_usage);

  req.logprobs = f.boolean("logprobs").value_or(false);
  const auto top = f.integer("top_logprobs", 0, 20);
  if (top && !req.logprobs) throw invalid_field("top_logprobs", "needs \"logprobs\": true");
  req.gen.top_logprobs = req.logprobs ? static_cast<int32_t>(top.value_or(0)) : -1;

  if (const json* tools = f.array("tools"); tools && !tools->empty()) {
    throw invalid_field("tools", "tool calling is not supported");
  }
  if (const json* fns = f.array("functions"); fns && !fns->empty()) {
    throw invalid_field("functions", "function calling is not supported");
  }
  if (const json* choice = f.raw("tool_choice")) {
    if (!(choice->is_string() && (*choice == "none" || *choice == "auto"))) {
      throw invalid_field("tool_choice", "only \"none\" or \"auto\" (without tools) is supported");
    }
  }
  if (const json* rf = f.object("response_format")) {
    const auto type = Fields(*rf, "response_format.").string("type", 64);
    if (type != "text") throw invalid_field("response_format", "only {\"type\": \"text\"} is supported");
  }
  if (f.has("audio")) throw invalid_field("audio", "audio output is not supported");
  if (f.has("prediction")) throw invalid_field("prediction", "predicted outputs are not supported");
  if (const json* mods = f.array("modalities")) {
    for (const auto& m : *mods) {
      if (m != "text") throw invalid_field("modalities", "only \"text\" is supported");
    }
  }
  return req;
}

CompletionRequest parse_completion_request(const json& body, const RequestLimits& limits) {
  Fields f(body);
  CompletionRequest req;
  f.string("model", 256);
  const json* prompt = f.raw("prompt");
  if (!prompt) throw invalid_field("prompt", "is required");
  if (prompt->is_string()) {
    req.prompt = prompt->get<std::string>();
  } else if (is_token_array(*prompt)) {
    req.prompt = token_array(*prompt, "prompt");
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    req.prompt = (*prompt)[0].get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && is_token_array((*prompt)[0])) {
    req.prompt = token_array((*prompt)[0], "prompt[0]");
  } else if (prompt->is_array() && prompt->size() > 1) {
    throw invalid_field("prompt", "only one prompt per request is supported");
  } else {
    throw invalid_field("prompt", "must be a string or a list of token ids, not " + json_type_phrase(*prompt));
  }
  parse_openai_generation_fields(f, req.gen, limits);
  req.stream = stream_flag(f, &req.include_usage);
  if (auto lp = f.integer("logprobs", 0, 5)) req.logprobs = static_cast<int32_t>(*lp);
  req.gen.top_logprobs = req.logprobs;
  if (f.boolean("echo").value_or(false)) throw invalid_field("echo", "echoing the prompt is not supported");
  if (auto best_of = f.integer("best_of", 1, 1 << 20); best_of && *best_of != 1) {
    throw invalid_field("best_of", "only best_of = 1 is supported");
  }
  if (auto suffix = f.string("suffix"); suffix && !suffix->empty()) {
    throw invalid_field("suffix", "insertion (suffix) is not supported");
  }
  return req;
}

EmbeddingRequest parse_embedding_request(const json& body) {
  Fields f(body);
  EmbeddingRequest req;
  f.string("model", 256);
  f.string("user");
  const json* input = f.raw("input");
  if (!input) throw invalid_field("input", "is required");
  if (input->is_string()) {
    req.inputs.emplace_back(input->get<std::string>());
  } else if (is_token_array(*input)) {
    req.inputs.emplace_back(token_array(*input, "input"));
  } else if (input->is_array()) {
    if (input->empty()) throw invalid_field("input", "must not be empty");
    if (input->size() > kMaxEmbeddingInputs) {
      throw invalid_field("input", "has " + std::to_string(input->size()) + " entries, at most " +
                                       std::to_string(kMaxEmbeddingInputs) + " are allowed");
    }
    for (size_t i = 0; i < input->size(); ++i) {
      const json& item = (*input)[i];
      const std::string where = "input[" + std::to_string(i) + "]";
      if (item.is_string()) {
        req.inputs.emplace_back(item.get<std::string>());
      } else if (is_token_array(item)) {
        req.inputs.emplace_back(token_array(item, where));
      } else {
        throw invalid_field(where, "must be a string or a list of token ids, not " + json_type_phrase(item));
      }
    }
  } else {
    throw invalid_field("input", "must be a string or a list of strings, not " + json_type_phrase(*input));
  }
  if (auto fmt = f.string("encoding_format", 32)) {
    if (*fmt != "float" && *fmt != "base64") throw invalid_field("encoding_format", "must be \"float\" or \"base64\"");
    req.base64 = *fmt == "base64";
  }
  f.integer("dimensions", 1, 1 << 20);  // checked against the model by the route
  return req;
}

}  // namespace hearth::server
