// The HTTP layer end to end over real sockets, against FakeBackend (no
// model): routes, response shapes, streaming framing, security checks,
// queueing, cancellation on disconnect, metrics and graceful shutdown.
#include "server/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "server/fake_backend.h"
#include "util/error.h"

namespace hearth::server {
namespace {

using testing::FakeBackend;

class TestServer {
 public:
  explicit TestServer(ServerOptions o = {}, FakeBackend::Options bo = {}, bool ready = true) {
    o.port = 0;
    o.access_log = false;
    server_ = std::make_unique<HttpServer>(o);
    port_ = server_->bind();
    backend_ = std::make_unique<FakeBackend>(bo);
    if (ready) server_->set_backend(backend_.get());
    thread_ = std::thread([this] { server_->serve(); });
  }
  ~TestServer() {
    server_->stop();
    thread_.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10);
    return c;
  }
  HttpServer& server() { return *server_; }
  FakeBackend& backend() { return *backend_; }
  void set_ready() { server_->set_backend(backend_.get()); }
  std::thread& thread() { return thread_; }
  int port() const { return port_; }

 private:
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

httplib::Result post(httplib::Client& c, const std::string& path, const std::string& body,
                     httplib::Headers headers = {}) {
  return c.Post(path.c_str(), headers, body, "application/json");
}

// The "data: " payloads of an SSE body; fails the test on bad framing.
std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < body.size()) {
    const size_t end = body.find("\n\n", start);
    EXPECT_NE(end, std::string::npos) << "event not terminated by a blank line: " << body.substr(start);
    if (end == std::string::npos) break;
    const std::string event = body.substr(start, end - start);
    start = end + 2;
    if (event[0] == ':') continue;  // comment (keep-alive)
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    EXPECT_EQ(event.find('\n'), std::string::npos) << "one data line per event: " << event;
    out.push_back(event.substr(6));
  }
  return out;
}

void expect_openai_error(const httplib::Result& r, int status, const std::string& message_part) {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  const json j = json::parse(r->body);
  ASSERT_TRUE(j.contains("error")) << r->body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_TRUE(j["error"]["type"].is_string());
  EXPECT_TRUE(j["error"].contains("param"));
  EXPECT_TRUE(j["error"].contains("code"));
  EXPECT_NE(j["error"]["message"].get<std::string>().find(message_part), std::string::npos) << r->body;
}

const char* kChat = R"({"model": "x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})";

TEST(HttpServer, APortInUseIsAnError) {
  TestServer s;
  ServerOptions o;
  o.port = s.port();
  HttpServer second(o);
  EXPECT_THROW(second.bind(), Error) << "a second server must not share the port (no SO_REUSEPORT)";
}

TEST(HttpServer, HealthSaysLoadingUntilTheBackendIsSet) {
  TestServer s({}, {}, /*ready=*/false);
  auto c = s.client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["status"], "loading");
  expect_openai_error(post(c, "/v1/chat/completions", kChat), 503, "loading");
  s.set_ready();
  r = c.Get("/health");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"status": "ok"})"));
}

TEST(HttpServer, ChatCompletionNonStreaming) {
  TestServer s;
  auto c = s.client();
  auto r = post(c, "/v1/chat/completions", kChat);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "fake-model");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "w0 w1 w2 ");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  const size_t prompt_len = s.backend().chat_tokens(json::parse(R"([{"role":"user","content":"hi"}])")).size();
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt_len);
  EXPECT_EQ(j["usage"]["completion_tokens"], 3);
  EXPECT_EQ(j["usage"]["total_tokens"], prompt_len + 3);
}

TEST(HttpServer, ParametersReachTheEngine) {
  TestServer s;
  auto c = s.client();
  auto r = post(c, "/v1/chat/completions",
                R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "temperature": 0,
                    "top_p": 0.3, "seed": 5, "stop": "END", "presence_penalty": 0.5})");
  ASSERT_EQ(r->status, 200) << r->body;
  const auto req = s.backend().last_request();
  EXPECT_EQ(req.max_tokens, 2);
  EXPECT_EQ(req.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(req.sampling.top_p, 0.3f);
  EXPECT_EQ(req.sampling.seed, 5u);
  EXPECT_EQ(req.stop, std::vector<std::string>{"END"});
  EXPECT_FLOAT_EQ(req.sampling.presence_penalty, 0.5f);
  EXPECT_TRUE(req.cancel) << "every request carries a cancel flag";
}

TEST(HttpServer, StopFinishReasonWhenTheModelEnds) {
  FakeBackend::Options bo;
  bo.eos_after = 2;
  TestServer s({}, bo);
  auto c = s.client();
  const json j = json::parse(post(c, "/v1/chat/completions", kChat)->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "w0 w1 ");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
}

TEST(HttpServer, ChatCompletionStreamsServerSentEvents) {
  TestServer s;
  auto c = s.client();
  auto r = post(c, "/v1/chat/completions",
                R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": true,
                    "stream_options": {"include_usage": true}})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const auto events = sse_payloads(r->body);
  ASSERT_GE(events.size(), 4u) << r->body;
  EXPECT_EQ(events.back(), "[DONE]");
  const json first = json::parse(events.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["id"], first["id"]) << "one id per stream";
    EXPECT_TRUE(chunk["usage"].is_null());
    const json& choice = chunk["choices"][0];
    if (choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(text, "w0 w1 w2 ");
  EXPECT_EQ(finish, "length");
  const json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
}

TEST(HttpServer, CompletionsWithLogprobs) {
  TestServer s;
  auto c = s.client();
  auto r = post(c, "/v1/completions", R"({"prompt": "Once", "max_tokens": 2, "logprobs": 2})");
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "w0 w1 ");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5) << "BOS + 4 bytes";
  const json& lp = j["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json::parse(R"(["w0 ", "w1 "])"));
  EXPECT_EQ(lp["text_offset"], json::parse("[0, 3]"));
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  EXPECT_EQ(s.backend().last_request().top_logprobs, 2);

  r = post(c, "/v1/completions", R"({"prompt": [1, 2, 999999], "max_tokens": 1})");
  expect_openai_error(r, 400, "outside the vocabulary");

  r = post(c, "/v1/completions", R"({"prompt": "x", "max_tokens": 2, "stream": true})");
  const auto events = sse_payloads(r->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"], "length");
}

TEST(HttpServer, ChatLogprobsStreamed) {
  TestServer s;
  auto c = s.client();
  auto r = post(c, "/v1/chat/completions",
                R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true,
                    "logprobs": true, "top_logprobs": 1})");
  int entries = 0;
  for (const auto& e : sse_payloads(r->body)) {
    if (e == "[DONE]") continue;
    const json chunk = json::parse(e);
    const json& lp = chunk["choices"][0]["logprobs"];
    if (lp.is_object()) {
      for (const auto& entry : lp["content"]) {
        EXPECT_EQ(entry["logprob"], -0.5);
        EXPECT_EQ(entry["top_logprobs"].size(), 1u);
        EXPECT_TRUE(entry["bytes"].is_array());
        ++entries;
      }
    }
  }
  EXPECT_EQ(entries, 2);
}

TEST(HttpServer, ModelsAndEmbeddings) {
  TestServer s;
  auto c = s.client();
  auto r = c.Get("/v1/models");
  const json models = json::parse(r->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "fake-model");
  EXPECT_EQ(models["data"][0]["object"], "model");
  EXPECT_EQ(c.Get("/v1/models/fake-model")->status, 200);
  expect_openai_error(c.Get("/v1/models/other"), 404, "not found");

  r = post(c, "/v1/embeddings", R"({"input": ["ab", "abc"], "model": "x"})");
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][1]["index"], 1);
  EXPECT_EQ(j["data"][1]["embedding"], json::parse("[0.5, 0.5, 0.5, 4.0]"));
  EXPECT_EQ(j["usage"]["prompt_tokens"], 7);
  r = post(c, "/v1/embeddings", R"({"input": "ab", "encoding_format": "base64"})");
  j = json::parse(r->body);
  EXPECT_EQ(j["data"][0]["embedding"], "AAAAPwAAAD8AAAA/AABAQA==");
  expect_openai_error(post(c, "/v1/embeddings", R"({"input": "ab", "dimensions": 3})"), 400, "dimensions");
}

TEST(HttpServer, RequestErrorsAreOpenAiShaped) {
  TestServer s;
  auto c = s.client();
  expect_openai_error(post(c, "/v1/chat/completions", "{not json"), 400, "invalid JSON");
  expect_openai_error(post(c, "/v1/chat/completions", "[]"), 400, "JSON object");
  auto r = post(c, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"})");
  expect_openai_error(r, 400, "max_tokens: must be an integer");
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "max_tokens");
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "invalid_request_error");
  expect_openai_error(post(c, "/v1/chat/completions", R"({"messages": [{"role": "user", "content": "RAISE"}]})"), 400,
                      "messages: template error");
  const std::string long_text(400, 'x');
  expect_openai_error(post(c, "/v1/completions", R"({"prompt": ")" + long_text + R"("})"), 400,
                      "a slot's context holds 256");
  expect_openai_error(post(c, "/v1/nothing", "{}"), 404, "no route");
  expect_openai_error(c.Get("/v1/chat/completions"), 404, "no route");
}

TEST(HttpServer, OllamaRoutes) {
  TestServer s;
  auto c = s.client();
  // Streaming is the default: NDJSON, the last line done with counts.
  auto r = post(c, "/api/chat", R"({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                   "options": {"num_predict": 3}})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  std::vector<json> lines;
  size_t start = 0;
  while (start < r->body.size()) {
    const size_t end = r->body.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    lines.push_back(json::parse(r->body.substr(start, end - start)));
    start = end + 1;
  }
  ASSERT_GE(lines.size(), 2u);
  std::string text;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], "fake-model");
    EXPECT_TRUE(lines[i]["created_at"].is_string());
    text += lines[i]["message"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, "w0 w1 w2 ");
  const json& last = lines.back();
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["done_reason"], "length");
  EXPECT_EQ(last["eval_count"], 3);
  EXPECT_GT(last["prompt_eval_count"], 0);
  EXPECT_GT(last["total_duration"], 0);

  r = post(c, "/api/generate", R"({"model": "m", "prompt": "hi", "stream": false, "options": {"num_predict": 2}})");
  json j = json::parse(r->body);
  EXPECT_EQ(j["response"], "w0 w1 ");
  EXPECT_EQ(j["done"], true);
  r = post(c, "/api/generate", R"({"model": "m"})");
  EXPECT_EQ(json::parse(r->body)["done_reason"], "load");

  j = json::parse(c.Get("/api/tags")->body);
  EXPECT_EQ(j["models"][0]["name"], "fake-model");
  EXPECT_EQ(j["models"][0]["details"]["quantization_level"], "Q8_0");
  EXPECT_EQ(j["models"][0]["details"]["parameter_size"], "1.23M");
  j = json::parse(post(c, "/api/show", R"({"model": "fake-model"})")->body);
  EXPECT_EQ(j["model_info"]["general.architecture"], "llama");
  j = json::parse(c.Get("/api/ps")->body);
  EXPECT_EQ(j["hearth"]["slots_busy"], 0);
  EXPECT_TRUE(json::parse(c.Get("/api/version")->body)["version"].is_string());
  j = json::parse(post(c, "/api/embed", R"({"model": "m", "input": "ab"})")->body);
  EXPECT_EQ(j["embeddings"][0].size(), 4u);

  // Ollama's error shape: {"error": "..."}.
  r = post(c, "/api/chat", R"({"messages": [{"role": "user", "content": "hi"}], "options": {"temperature": "x"}})");
  EXPECT_EQ(r->status, 400);
  j = json::parse(r->body);
  EXPECT_TRUE(j["error"].is_string()) << r->body;
  EXPECT_NE(j["error"].get<std::string>().find("options.temperature"), std::string::npos);
}

TEST(HttpServer, ApiKeyIsRequiredExceptForHealth) {
  ServerOptions o;
  o.api_key = "s3cret";
  TestServer s(o);
  auto c = s.client();
  auto r = post(c, "/v1/chat/completions", kChat);
  expect_openai_error(r, 401, "API key");
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
  expect_openai_error(post(c, "/v1/chat/completions", kChat, {{"Authorization", "Bearer wrong"}}), 401, "API key");
  expect_openai_error(c.Get("/metrics"), 401, "API key");
  EXPECT_EQ(post(c, "/v1/chat/completions", kChat, {{"Authorization", "Bearer s3cret"}})->status, 200);
  EXPECT_EQ(c.Get("/health")->status, 200);
  r = c.Get("/api/tags");
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(json::parse(r->body)["error"].is_string()) << "Ollama-shaped on /api";
}

TEST(HttpServer, ForeignHostIsRefused) {
  ServerOptions o;
  o.allowed_hosts = {"box.lan"};
  TestServer s(o);
  auto c = s.client();
  expect_openai_error(c.Get("/v1/models", {{"Host", "evil.example"}}), 403, "Host 'evil.example' is not allowed");
  expect_openai_error(c.Get("/health", {{"Host", "127.0.0.1.evil.example:80"}}), 403, "not allowed");
  EXPECT_EQ(c.Get("/v1/models", {{"Host", "localhost:1234"}})->status, 200);
  EXPECT_EQ(c.Get("/v1/models", {{"Host", "box.lan:1234"}})->status, 200);
  EXPECT_EQ(c.Get("/v1/models")->status, 200) << "127.0.0.1:port";
}

TEST(HttpServer, CorsIsClosedUnlessConfigured) {
  {
    TestServer s;
    auto c = s.client();
    auto r = c.Get("/v1/models", {{"Origin", "http://evil.example"}});
    EXPECT_EQ(r->status, 403);
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
    r = c.Options("/v1/chat/completions", {{"Origin", "http://evil.example"},
                                           {"Access-Control-Request-Method", "POST"}});
    EXPECT_EQ(r->status, 403);
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
  }
  ServerOptions o;
  o.cors_origins = {"http://localhost:3000"};
  TestServer s(o);
  auto c = s.client();
  auto r = c.Get("/v1/models", {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  r = c.Options("/v1/chat/completions", {{"Origin", "http://localhost:3000"},
                                         {"Access-Control-Request-Method", "POST"},
                                         {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  EXPECT_NE(r->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Headers"), "authorization, content-type");
  r = c.Get("/v1/models", {{"Origin", "http://localhost:3001"}});
  EXPECT_EQ(r->status, 403);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
}

TEST(HttpServer, OversizedBodyGets413) {
  ServerOptions o;
  o.max_body_bytes = 4096;
  TestServer s(o);
  auto c = s.client();
  const std::string big = R"({"prompt": ")" + std::string(8000, 'x') + R"("})";
  expect_openai_error(post(c, "/v1/completions", big), 413, "larger than the limit of 4096 bytes");
  EXPECT_EQ(post(c, "/v1/completions", R"({"prompt": "x", "max_tokens": 1})")->status, 200);
  // A chunked body has no Content-Length for httplib to check: counted as it arrives.
  auto chunked = [&](const std::string& body) {
    auto cc = s.client();
    return cc.Post(
        "/v1/completions",
        [body](size_t offset, httplib::DataSink& sink) {
          if (offset < body.size()) sink.write(body.data() + offset, std::min<size_t>(1000, body.size() - offset));
          if (offset + 1000 >= body.size()) sink.done();
          return true;
        },
        "application/json");
  };
  expect_openai_error(chunked(big), 413, "larger than the limit");
  auto r = chunked(R"({"prompt": "x", "max_tokens": 1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST(HttpServer, FullQueueGets429WithRetryAfter) {
  FakeBackend::Options bo;
  bo.n_slots = 1;
  bo.max_queue = 1;
  bo.token_delay = std::chrono::milliseconds(5);
  TestServer s({}, bo);
  const char* body = R"({"prompt": "x", "max_tokens": 60})";
  std::thread a([&] { auto c = s.client(); post(c, "/v1/completions", body); });
  // Wait until the first runs, then fill the queue.
  for (int i = 0; i < 200 && s.backend().stats().slots_busy == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread b([&] { auto c = s.client(); post(c, "/v1/completions", body); });
  for (int i = 0; i < 200 && s.backend().stats().queue_depth == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto c = s.client();
  auto r = post(c, "/v1/completions", body);
  expect_openai_error(r, 429, "queue is full");
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  a.join();
  b.join();
  EXPECT_NE(c.Get("/metrics")->body.find("hearth_requests_rejected_busy_total 1\n"), std::string::npos);
}

TEST(HttpServer, ClientDisconnectCancelsTheGeneration) {
  FakeBackend::Options bo;
  bo.token_delay = std::chrono::milliseconds(2);
  TestServer s({}, bo);
  auto c = s.client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10000, "stream": true})";
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  c.send(req);  // ends with an error: we hung up
  EXPECT_EQ(chunks, 3);
  bool freed = false;
  for (int i = 0; i < 300 && !freed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    freed = s.backend().stats().slots_busy == 0 && s.backend().cancelled_count() == 1;
  }
  EXPECT_TRUE(freed) << "the slot must be freed after the client left";
  const json ps = json::parse(c.Get("/api/ps")->body);
  EXPECT_EQ(ps["hearth"]["slots_busy"], 0);
}

TEST(HttpServer, MetricsCountRequestsAndTokens) {
  TestServer s;
  auto c = s.client();
  // Requests are counted after their response is sent; on one kept-alive
  // connection the next request is read only after that.
  c.set_keep_alive(true);
  post(c, "/v1/chat/completions", kChat);
  post(c, "/v1/chat/completions", "{bad");
  c.Get("/nope");
  auto r = c.Get("/metrics");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string& m = r->body;
  EXPECT_NE(m.find("hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("hearth_requests_total{endpoint=\"other\",status=\"404\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("hearth_completion_tokens_total 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("hearth_time_to_first_token_seconds_count 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("hearth_token_latency_seconds_count 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("hearth_slots 2\n"), std::string::npos) << m;
}

TEST(HttpServer, GracefulShutdownClosesStreamsCleanly) {
  FakeBackend::Options bo;
  bo.token_delay = std::chrono::milliseconds(5);
  auto s = std::make_unique<TestServer>(ServerOptions{}, bo);
  std::string body;
  std::thread client([&] {
    auto c = s->client();
    auto r = post(c, "/v1/chat/completions",
                  R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10000, "stream": true})");
    if (r) body = r->body;
  });
  for (int i = 0; i < 200 && s->backend().stats().slots_busy == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  s->server().shutdown_gracefully(std::chrono::milliseconds(100));
  client.join();
  const auto events = sse_payloads(body);
  ASSERT_GE(events.size(), 2u) << body;
  EXPECT_EQ(events.back(), "[DONE]");
  const json err = json::parse(events[events.size() - 2]);
  EXPECT_EQ(err["error"]["code"], "cancelled") << body;
  EXPECT_EQ(s->backend().stats().slots_busy, 0);
  s.reset();  // serve() has returned: the destructor's stop() and join() finish at once
}

}  // namespace
}  // namespace hearth::server
