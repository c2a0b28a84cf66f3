// OpenAI-compatible routes: /v1/chat/completions, /v1/completions,
// /v1/embeddings, /v1/models. Response shapes follow OpenAI's API reference
// (streaming: server-sent events of chunk objects, then "data: [DONE]").
#include <httplib.h>

#include <chrono>

#include "server/context.h"
#include "server/framing.h"
#include "server/generation.h"
#include "server/openai_request.h"
#include "util/error.h"

namespace hearth::server {
namespace {

using Clock = std::chrono::system_clock;

std::vector<TokenId> prompt_tokens(const Backend& backend, const PromptInput& prompt, const std::string& field) {
  if (const auto* text = std::get_if<std::string>(&prompt)) return backend.encode(*text);
  const auto& ids = std::get<std::vector<TokenId>>(prompt);
  const int32_t n_vocab = backend.info().n_vocab;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= n_vocab) {
      throw invalid_field(field + "[" + std::to_string(i) + "]",
                          "token id " + std::to_string(ids[i]) + " is outside the vocabulary (" +
                              std::to_string(n_vocab) + " tokens)");
    }
  }
  return ids;
}

json usage_json(const engine::GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

json bytes_json(const std::string& s) {
  json bytes = json::array();
  for (unsigned char c : s) bytes.push_back(c);
  return bytes;
}

// One entry of a chat logprobs.content list.
json chat_logprob(const Backend& backend, const engine::TokenEvent& ev) {
  const std::string piece = backend.token_piece(ev.id);
  json top = json::array();
  for (const auto& alt : ev.top) {
    top.push_back({{"token", alt.text}, {"logprob", alt.logprob}, {"bytes", bytes_json(alt.text)}});
  }
  return {{"token", piece}, {"logprob", ev.logprob}, {"bytes", bytes_json(piece)}, {"top_logprobs", top}};
}

// The legacy completions logprobs object over `events`, with text offsets
// counted from `offset`.
json completion_logprobs(const Backend& backend, const std::vector<engine::TokenEvent>& events, size_t offset) {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  for (const auto& ev : events) {
    const std::string piece = backend.token_piece(ev.id);
    tokens.push_back(piece);
    lps.push_back(ev.logprob);
    json top = json::object();
    for (const auto& alt : ev.top) top[alt.text] = alt.logprob;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += piece.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

std::string concat_text(const std::vector<engine::TokenEvent>& events) {
  std::string s;
  for (const auto& ev : events) s += ev.text;
  return s;
}

std::string stream_error(const engine::GenerationResult& r) {
  const ApiError e = r.finish == engine::FinishReason::Cancelled
                         ? ApiError(503, "the request was cancelled because the server is shutting down", "", "cancelled")
                         : ApiError(500, "generation failed: " + r.error, "", "generation_error");
  return sse_event(openai_error_body(e)) + std::string(kSseDone);
}

// What the two OpenAI streams share: the ids, the closing chunk with the
// finish reason, the usage chunk and [DONE], keep-alive comments.
class OpenAiStream : public StreamWriter {
 public:
  OpenAiStream(const Backend& backend, std::string model, bool include_usage, bool logprobs, const char* object,
               const char* id_prefix)
      : backend_(backend),
        model_(std::move(model)),
        include_usage_(include_usage),
        logprobs_(logprobs),
        object_(object),
        id_(random_id(id_prefix)) {}

  std::string done(const engine::GenerationResult& r) override {
    if (r.finish == engine::FinishReason::Error || r.finish == engine::FinishReason::Cancelled) {
      return stream_error(r);
    }
    std::string out = final_chunk(api_finish_reason(r.finish));
    if (include_usage_) {
      json usage_chunk = base();
      usage_chunk["choices"] = json::array();
      usage_chunk["usage"] = usage_json(r);
      out += sse_event(usage_chunk);
    }
    out.append(kSseDone);
    return out;
  }

  std::string keepalive() override { return ": keep-alive\n\n"; }

 protected:
  // The chunk that carries the finish reason.
  virtual std::string final_chunk(const char* finish) const = 0;

  virtual json base() const {
    return {{"id", id_}, {"object", object_}, {"created", created_}, {"model", model_}};
  }
  std::string event(json choice, const char* finish) const {
    json c = base();
    choice["finish_reason"] = finish ? json(finish) : json(nullptr);
    c["choices"] = json::array({std::move(choice)});
    // With include_usage every chunk carries "usage": null but the last.
    if (include_usage_) c["usage"] = nullptr;
    return sse_event(c);
  }

  const Backend& backend_;
  std::string model_;
  bool include_usage_, logprobs_;

 private:
  const char* object_;
  std::string id_;
  int64_t created_ = unix_seconds(Clock::now());
};

class ChatStream : public OpenAiStream {
 public:
  ChatStream(const Backend& backend, std::string model, bool include_usage, bool logprobs)
      : OpenAiStream(backend, std::move(model), include_usage, logprobs, "chat.completion.chunk", "chatcmpl-") {}

  std::string start() override { return chunk({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr); }

  std::string tokens(const std::vector<engine::TokenEvent>& events) override {
    std::string text = concat_text(events);
    if (text.empty() && !logprobs_) return {};
    json lp = nullptr;
    if (logprobs_) {
      json content = json::array();
      for (const auto& ev : events) content.push_back(chat_logprob(backend_, ev));
      lp = {{"content", content}};
    }
    return chunk({{"content", std::move(text)}}, lp, nullptr);
  }

 private:
  json base() const override {
    json b = OpenAiStream::base();
    b["system_fingerprint"] = "hearth";
    return b;
  }
  std::string final_chunk(const char* finish) const override { return chunk(json::object(), nullptr, finish); }
  std::string chunk(json delta, json logprobs, const char* finish) const {
    return event({{"index", 0}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)}}, finish);
  }
};

class CompletionStream : public OpenAiStream {
 public:
  CompletionStream(const Backend& backend, std::string model, bool include_usage, bool logprobs)
      : OpenAiStream(backend, std::move(model), include_usage, logprobs, "text_completion", "cmpl-") {}

  std::string tokens(const std::vector<engine::TokenEvent>& events) override {
    std::string text = concat_text(events);
    if (text.empty() && !logprobs_) return {};
    json lp = logprobs_ ? completion_logprobs(backend_, events, offset_) : json(nullptr);
    offset_ += text.size();
    return chunk(std::move(text), lp, nullptr);
  }

 private:
  std::string final_chunk(const char* finish) const override { return chunk("", nullptr, finish); }
  std::string chunk(std::string text, json logprobs, const char* finish) const {
    return event({{"text", std::move(text)}, {"index", 0}, {"logprobs", std::move(logprobs)}}, finish);
  }

  size_t offset_ = 0;
};

RequestLimits limits_of(const ServerContext& ctx) { return {ctx.options.max_tokens_cap}; }

void chat_completions(ServerContext& ctx, const std::string& request_body, httplib::Response& res) {
  Backend& backend = ctx.require_backend();
  ChatRequest chat = parse_chat_request(parse_json_body(request_body), limits_of(ctx));
  if (ctx.options.log_prompts) current_log().prompt = dump_json(chat.messages);
  try {
    chat.gen.prompt = backend.chat_tokens(chat.messages);
  } catch (const Error& e) {
    throw ApiError(400, std::string("messages: ") + e.what(), "messages");
  }
  check_prompt_fits(backend, chat.gen.prompt.size());
  auto channel = submit_generation(ctx, std::move(chat.gen));
  const std::string& model = backend.info().name;
  if (chat.stream) {
    stream_generation(ctx, res, std::move(channel),
                      std::make_shared<ChatStream>(backend, model, chat.include_usage, chat.logprobs),
                      "text/event-stream");
    return;
  }
  const auto done = wait_for_generation(ctx, channel);
  throw_if_failed(done.result);
  json logprobs = nullptr;
  if (chat.logprobs) {
    json content = json::array();
    for (const auto& ev : done.events) content.push_back(chat_logprob(backend, ev));
    logprobs = {{"content", content}};
  }
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", done.result.text}}},
                 {"logprobs", logprobs},
                 {"finish_reason", api_finish_reason(done.result.finish)}};
  send_json(res, {{"id", random_id("chatcmpl-")},
                  {"object", "chat.completion"},
                  {"created", unix_seconds(Clock::now())},
                  {"model", model},
                  {"system_fingerprint", "hearth"},
                  {"choices", json::array({choice})},
                  {"usage", usage_json(done.result)}});
}

void completions(ServerContext& ctx, const std::string& request_body, httplib::Response& res) {
  Backend& backend = ctx.require_backend();
  CompletionRequest cr = parse_completion_request(parse_json_body(request_body), limits_of(ctx));
  if (ctx.options.log_prompts) {
    if (const auto* text = std::get_if<std::string>(&cr.prompt)) current_log().prompt = *text;
  }
  cr.gen.prompt = prompt_tokens(backend, cr.prompt, "prompt");
  check_prompt_fits(backend, cr.gen.prompt.size());
  auto channel = submit_generation(ctx, std::move(cr.gen));
  const std::string& model = backend.info().name;
  if (cr.stream) {
    stream_generation(ctx, res, std::move(channel),
                      std::make_shared<CompletionStream>(backend, model, cr.include_usage, cr.logprobs >= 0),
                      "text/event-stream");
    return;
  }
  const auto done = wait_for_generation(ctx, channel);
  throw_if_failed(done.result);
  json choice = {{"text", done.result.text},
                 {"index", 0},
                 {"logprobs", cr.logprobs >= 0 ? completion_logprobs(backend, done.events, 0) : json(nullptr)},
                 {"finish_reason", api_finish_reason(done.result.finish)}};
  send_json(res, {{"id", random_id("cmpl-")},
                  {"object", "text_completion"},
                  {"created", unix_seconds(Clock::now())},
                  {"model", model},
                  {"choices", json::array({choice})},
                  {"usage", usage_json(done.result)}});
}

void embeddings(ServerContext& ctx, const std::string& request_body, httplib::Response& res) {
  Backend& backend = ctx.require_backend();
  const json body = parse_json_body(request_body);
  const EmbeddingRequest er = parse_embedding_request(body);
  if (auto dims = Fields(body).integer("dimensions", 1, 1 << 20); dims && *dims != backend.info().n_embd) {
    throw invalid_field("dimensions", "this model's embeddings have " + std::to_string(backend.info().n_embd) +
                                          " dimensions; other sizes are not supported");
  }
  json data = json::array();
  int64_t total_tokens = 0;
  for (size_t i = 0; i < er.inputs.size(); ++i) {
    const std::string field = er.inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
    const std::vector<TokenId> tokens = prompt_tokens(backend, er.inputs[i], field);
    if (tokens.empty()) throw invalid_field(field, "is empty");
    if (tokens.size() > static_cast<size_t>(backend.n_ctx())) {
      throw ApiError(400,
                     field + ": " + std::to_string(tokens.size()) + " tokens, more than a slot's context of " +
                         std::to_string(backend.n_ctx()),
                     field, "context_length_exceeded");
    }
    std::vector<float> vec;
    try {
      vec = backend.embed(tokens);
    } catch (const Error& e) {
      if (ctx.shutting_down) throw ApiError(503, "the server is shutting down", "", "shutting_down");
      throw ApiError(400, field + ": " + e.what(), field);
    }
    total_tokens += static_cast<int64_t>(tokens.size());
    json item = {{"object", "embedding"}, {"index", i}};
    item["embedding"] = er.base64 ? json(floats_base64(vec)) : json(vec);
    data.push_back(std::move(item));
  }
  current_log().prompt_tokens = total_tokens;
  send_json(res, {{"object", "list"},
                  {"data", data},
                  {"model", backend.info().name},
                  {"usage", {{"prompt_tokens", total_tokens}, {"total_tokens", total_tokens}}}});
}

json model_object(const ModelInfo& info) {
  return {{"id", info.name}, {"object", "model"}, {"created", info.modified_unix}, {"owned_by", "hearth"}};
}

}  // namespace

void register_openai_routes(httplib::Server& server, ServerContext& ctx) {
  constexpr ApiStyle style = ApiStyle::OpenAI;
  post_route(server, ctx, "/v1/chat/completions", style,
             [&ctx](const std::string& body, auto& res) { chat_completions(ctx, body, res); });
  post_route(server, ctx, "/v1/completions", style,
             [&ctx](const std::string& body, auto& res) { completions(ctx, body, res); });
  post_route(server, ctx, "/v1/embeddings", style,
             [&ctx](const std::string& body, auto& res) { embeddings(ctx, body, res); });
  server.Get("/v1/models", guarded(style, [&ctx](const auto&, auto& res) {
               const Backend& backend = ctx.require_backend();
               send_json(res, {{"object", "list"}, {"data", json::array({model_object(backend.info())})}});
             }));
  server.Get(R"(/v1/models/(.+))", guarded(style, [&ctx](const httplib::Request& req, auto& res) {
               const Backend& backend = ctx.require_backend();
               if (req.matches[1] != backend.info().name) {
                 throw ApiError(404, "model '" + std::string(req.matches[1]) + "' not found; this server has '" +
                                         backend.info().name + "'",
                                "model", "model_not_found");
               }
               send_json(res, model_object(backend.info()));
             }));
}

}  // namespace hearth::server
