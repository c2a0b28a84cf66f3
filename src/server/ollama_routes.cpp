// Ollama-compatible routes: /api/generate, /api/chat, /api/embed,
// /api/embeddings, /api/tags, /api/show, /api/ps, /api/version. Shapes
// follow Ollama's API docs: streaming is newline-delimited JSON ending with a
// "done": true object that carries the counts and durations (nanoseconds).
#include <httplib.h>

#include <chrono>
#include <cstdio>

#include "server/context.h"
#include "server/framing.h"
#include "server/generation.h"
#include "server/ollama_request.h"
#include "util/error.h"

namespace hearth::server {
namespace {

using SysClock = std::chrono::system_clock;
using SteadyClock = std::chrono::steady_clock;

int64_t ns(double seconds) { return static_cast<int64_t>(seconds * 1e9); }

std::string parameter_size(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) std::snprintf(buf, sizeof buf, "%.1fB", n / 1e9);
  else if (n >= 1000000ull) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2fK", n / 1e3);
  return buf;
}

// Not a content hash (hashing a multi-GB file per request is too slow):
// stable for one file as long as its size and modification time are.
std::string pseudo_digest(const ModelInfo& info) {
  uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) {
      h1 = (h1 ^ c) * 1099511628211ull;
      h2 = (h2 + c) * 6364136223846793005ull + 1442695040888963407ull;
    }
  };
  mix(info.path);
  mix(std::to_string(info.file_size));
  mix(std::to_string(info.modified_unix));
  char buf[65];
  std::snprintf(buf, sizeof buf, "%016llx%016llx%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2,
                (unsigned long long)(h1 ^ h2), (unsigned long long)(h1 * 31 + h2));
  return buf;
}

json details(const ModelInfo& info) {
  return {{"parent_model", ""},
          {"format", "gguf"},
          {"family", info.architecture},
          {"families", json::array({info.architecture})},
          {"parameter_size", parameter_size(info.n_params)},
          {"quantization_level", info.quantization}};
}

json model_entry(const ModelInfo& info) {
  return {{"name", info.name},
          {"model", info.name},
          {"modified_at", rfc3339(SysClock::from_time_t(static_cast<std::time_t>(info.modified_unix)))},
          {"size", info.file_size},
          {"digest", pseudo_digest(info)},
          {"details", details(info)}};
}

// The fields of a final ("done": true) object.
void add_final_stats(json& j, const engine::GenerationResult& r, SteadyClock::time_point started) {
  j["done_reason"] = api_finish_reason(r.finish);
  j["done"] = true;
  j["total_duration"] = ns(std::chrono::duration<double>(SteadyClock::now() - started).count());
  j["load_duration"] = 0;
  j["prompt_eval_count"] = r.prompt_tokens;
  j["prompt_eval_duration"] = ns(r.ttft_s);
  j["eval_count"] = r.completion_tokens;
  j["eval_duration"] = ns(r.generation_s);
}

std::string stream_error_line(const engine::GenerationResult& r) {
  return ndjson_line({{"error", r.finish == engine::FinishReason::Cancelled
                                    ? "the request was cancelled because the server is shutting down"
                                    : "generation failed: " + r.error}});
}

// One writer for both endpoints: chat puts text in message.content,
// generate in response.
class OllamaStream : public StreamWriter {
 public:
  OllamaStream(std::string model, bool chat) : model_(std::move(model)), chat_(chat) {}

  std::string tokens(const std::vector<engine::TokenEvent>& events) override {
    std::string text;
    for (const auto& ev : events) text += ev.text;
    if (text.empty()) return {};
    json j = head();
    put_text(j, std::move(text));
    j["done"] = false;
    return ndjson_line(j);
  }

  std::string done(const engine::GenerationResult& r) override {
    if (r.finish == engine::FinishReason::Error || r.finish == engine::FinishReason::Cancelled) {
      return stream_error_line(r);
    }
    json j = head();
    put_text(j, "");
    add_final_stats(j, r, started_);
    return ndjson_line(j);
  }

 private:
  json head() const { return {{"model", model_}, {"created_at", rfc3339(SysClock::now())}}; }
  void put_text(json& j, std::string text) const {
    if (chat_) j["message"] = {{"role", "assistant"}, {"content", std::move(text)}};
    else j["response"] = std::move(text);
  }

  std::string model_;
  bool chat_;
  SteadyClock::time_point started_ = SteadyClock::now();
};

RequestLimits limits_of(const ServerContext& ctx) { return {ctx.options.max_tokens_cap}; }

// Ollama's answer to a request with nothing to generate: "the model is loaded".
void send_load_response(httplib::Response& res, const ModelInfo& info, bool chat) {
  json j = {{"model", info.name}, {"created_at", rfc3339(SysClock::now())}};
  if (chat) j["message"] = {{"role", "assistant"}, {"content", ""}};
  else j["response"] = "";
  j["done_reason"] = "load";
  j["done"] = true;
  send_json(res, j);
}

void run_generation(ServerContext& ctx, httplib::Response& res, engine::GenerationRequest gen, bool stream,
                    bool chat) {
  const Backend& backend = ctx.require_backend();
  const auto started = SteadyClock::now();
  check_prompt_fits(backend, gen.prompt.size());
  auto channel = submit_generation(ctx, std::move(gen));
  const std::string& model = backend.info().name;
  if (stream) {
    stream_generation(ctx, res, std::move(channel), std::make_shared<OllamaStream>(model, chat),
                      "application/x-ndjson");
    return;
  }
  const auto done = wait_for_generation(ctx, channel);
  throw_if_failed(done.result);
  json j = {{"model", model}, {"created_at", rfc3339(SysClock::now())}};
  if (chat) j["message"] = {{"role", "assistant"}, {"content", done.result.text}};
  else j["response"] = done.result.text;
  add_final_stats(j, done.result, started);
  send_json(res, j);
}

std::vector<TokenId> template_tokens(const Backend& backend, const json& messages) {
  try {
    return backend.chat_tokens(messages);
  } catch (const Error& e) {
    throw ApiError(400, std::string("messages: ") + e.what(), "messages");
  }
}

void generate(ServerContext& ctx, const std::string& request_body, httplib::Response& res) {
  const Backend& backend = ctx.require_backend();
  OllamaGenerateRequest g = parse_ollama_generate(parse_json_body(request_body), limits_of(ctx));
  if (g.prompt.empty()) return send_load_response(res, backend.info(), false);
  if (ctx.options.log_prompts) current_log().prompt = g.prompt;
  if (g.raw) {
    g.gen.prompt = backend.encode(g.prompt);
  } else {
    // Ollama renders the prompt through the model's template as one user turn.
    json messages = json::array();
    if (g.system) messages.push_back({{"role", "system"}, {"content", *g.system}});
    messages.push_back({{"role", "user"}, {"content", g.prompt}});
    g.gen.prompt = template_tokens(backend, messages);
  }
  run_generation(ctx, res, std::move(g.gen), g.stream, false);
}

void chat(ServerContext& ctx, const std::string& request_body, httplib::Response& res) {
  const Backend& backend = ctx.require_backend();
  OllamaChatRequest c = parse_ollama_chat(parse_json_body(request_body), limits_of(ctx));
  if (c.messages.empty()) return send_load_response(res, backend.info(), true);
  if (ctx.options.log_prompts) current_log().prompt = dump_json(c.messages);
  c.gen.prompt = template_tokens(backend, c.messages);
  run_generation(ctx, res, std::move(c.gen), c.stream, true);
}

void embed(ServerContext& ctx, const std::string& request_body, httplib::Response& res, bool legacy) {
  Backend& backend = ctx.require_backend();
  const auto started = SteadyClock::now();
  const OllamaEmbedRequest e = parse_ollama_embed(parse_json_body(request_body), legacy);
  json embeddings = json::array();
  int64_t total_tokens = 0;
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    const std::string field = legacy ? "prompt" : e.inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
    const auto tokens = backend.encode(e.inputs[i]);
    if (tokens.empty()) throw invalid_field(field, "is empty");
    if (tokens.size() > static_cast<size_t>(backend.n_ctx())) {
      throw invalid_field(field, std::to_string(tokens.size()) + " tokens, more than a slot's context of " +
                                     std::to_string(backend.n_ctx()));
    }
    try {
      embeddings.push_back(backend.embed(tokens));
    } catch (const Error& err) {
      if (ctx.shutting_down) throw ApiError(503, "the server is shutting down");
      throw ApiError(400, field + ": " + err.what(), field);
    }
    total_tokens += static_cast<int64_t>(tokens.size());
  }
  current_log().prompt_tokens = total_tokens;
  if (legacy) return send_json(res, {{"embedding", embeddings[0]}});
  send_json(res, {{"model", backend.info().name},
                  {"embeddings", embeddings},
                  {"total_duration", ns(std::chrono::duration<double>(SteadyClock::now() - started).count())},
                  {"load_duration", 0},
                  {"prompt_eval_count", total_tokens}});
}

void show(ServerContext& ctx, const std::string& request_body, httplib::Response& res) {
  const Backend& backend = ctx.require_backend();
  const json body = parse_json_body(request_body);
  Fields f(body);
  // "model" is current; "name" is what older clients send.
  if (!f.string("model", 256) && !f.string("name", 256)) throw invalid_field("model", "is required");
  f.boolean("verbose");
  const ModelInfo& info = backend.info();
  const std::string& a = info.architecture;
  json model_info = {{"general.architecture", a},
                     {"general.parameter_count", info.n_params},
                     {a + ".context_length", info.n_ctx_train},
                     {a + ".embedding_length", info.n_embd},
                     {a + ".block_count", info.n_layer},
                     {a + ".attention.head_count", info.n_head},
                     {a + ".attention.head_count_kv", info.n_head_kv},
                     {a + ".vocab_size", info.n_vocab}};
  send_json(res, {{"modelfile", "# Served by hearth\nFROM " + info.path + "\n"},
                  {"parameters", ""},
                  {"template", info.chat_template},
                  {"details", details(info)},
                  {"model_info", model_info},
                  {"capabilities", json::array({"completion", "embedding"})},
                  {"modified_at", rfc3339(SysClock::from_time_t(static_cast<std::time_t>(info.modified_unix)))}});
}

}  // namespace

void register_ollama_routes(httplib::Server& server, ServerContext& ctx) {
  constexpr ApiStyle style = ApiStyle::Ollama;
  post_route(server, ctx, "/api/generate", style,
             [&ctx](const std::string& body, auto& res) { generate(ctx, body, res); });
  post_route(server, ctx, "/api/chat", style, [&ctx](const std::string& body, auto& res) { chat(ctx, body, res); });
  post_route(server, ctx, "/api/embed", style,
             [&ctx](const std::string& body, auto& res) { embed(ctx, body, res, false); });
  post_route(server, ctx, "/api/embeddings", style,
             [&ctx](const std::string& body, auto& res) { embed(ctx, body, res, true); });
  post_route(server, ctx, "/api/show", style, [&ctx](const std::string& body, auto& res) { show(ctx, body, res); });
  server.Get("/api/tags", guarded(style, [&ctx](const auto&, auto& res) {
               const Backend& backend = ctx.require_backend();
               send_json(res, {{"models", json::array({model_entry(backend.info())})}});
             }));
  server.Get("/api/ps", guarded(style, [&ctx](const auto&, auto& res) {
               const Backend& backend = ctx.require_backend();
               json m = model_entry(backend.info());
               // The model stays loaded while the server runs.
               m["expires_at"] = "9999-12-31T23:59:59Z";
               m["size_vram"] = 0;
               m["context_length"] = backend.n_ctx();
               const auto s = backend.stats();
               send_json(res, {{"models", json::array({m})},
                               {"hearth", {{"slots", s.n_slots}, {"slots_busy", s.slots_busy},
                                           {"queue_depth", s.queue_depth}}}});
             }));
  server.Get("/api/version", guarded(style, [&ctx](const auto&, auto& res) {
               send_json(res, {{"version", ctx.options.version}});
             }));
}

}  // namespace hearth::server
