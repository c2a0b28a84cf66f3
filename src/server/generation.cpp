#include "server/generation.h"

#include <httplib.h>

#include <chrono>

namespace hearth::server {
namespace {

using Clock = std::chrono::steady_clock;

// Decrements the open-generation gauge when the response that owns it goes.
struct OpenGeneration {
  explicit OpenGeneration(std::atomic<int64_t>& c) : count(c) { ++count; }
  ~OpenGeneration() { --count; }
  OpenGeneration(const OpenGeneration&) = delete;
  OpenGeneration& operator=(const OpenGeneration&) = delete;
  std::atomic<int64_t>& count;
};

void log_result(const engine::GenerationResult& r) {
  auto& log = current_log();
  log.generation = true;
  log.prompt_tokens = r.prompt_tokens;
  log.cached_tokens = r.cached_tokens;
  log.completion_tokens = r.completion_tokens;
  log.finish = engine::finish_reason_name(r.finish);
  log.queue_ms = r.queue_s * 1e3;
  log.ttft_ms = r.ttft_s * 1e3;
  log.output = r.text;
  if (r.finish == engine::FinishReason::Error) log.error = r.error;
}

}  // namespace

const char* api_finish_reason(engine::FinishReason r) {
  return r == engine::FinishReason::Length ? "length" : "stop";
}

void check_prompt_fits(const Backend& backend, size_t n_prompt) {
  if (n_prompt == 0) throw ApiError(400, "the prompt is empty", "prompt");
  const size_t n_ctx = static_cast<size_t>(backend.n_ctx());
  if (n_prompt >= n_ctx) {
    throw ApiError(400,
                   "the prompt is " + std::to_string(n_prompt) + " tokens, but a slot's context holds " +
                       std::to_string(n_ctx) + " (at least one must be left to generate; see --ctx-size)",
                   "messages", "context_length_exceeded");
  }
}

std::shared_ptr<TokenChannel> submit_generation(ServerContext& ctx, engine::GenerationRequest request) {
  Backend& backend = ctx.require_backend();
  auto channel = std::make_shared<TokenChannel>();
  request.cancel = channel->cancel_flag();
  current_log().generation = true;
  current_log().prompt_tokens = static_cast<int64_t>(request.prompt.size());

  // Inter-token gaps are measured where tokens appear: on the scheduler thread.
  auto last_token = std::make_shared<Clock::time_point>();
  Metrics* metrics = &ctx.metrics;
  auto on_token = [channel, last_token, metrics](const engine::TokenEvent& ev) {
    const auto now = Clock::now();
    if (last_token->time_since_epoch().count() != 0) {
      metrics->observe_token_latency(std::chrono::duration<double>(now - *last_token).count());
    }
    *last_token = now;
    channel->push(ev);
  };
  auto on_done = [channel, metrics](const engine::GenerationResult& r) {
    metrics->add_tokens(r.prompt_tokens, r.cached_tokens, r.completion_tokens);
    if (r.completion_tokens > 0) metrics->observe_ttft(r.queue_s + r.ttft_s);
    channel->finish(r);
  };
  if (!backend.submit(std::move(request), std::move(on_token), std::move(on_done))) {
    if (ctx.shutting_down) throw ApiError(503, "the server is shutting down", "", "shutting_down");
    ctx.metrics.record_rejected_busy();
    throw ApiError(429, "all slots are busy and the request queue is full; retry shortly", "", "server_busy");
  }
  return channel;
}

CompletedGeneration wait_for_generation(ServerContext& ctx, const std::shared_ptr<TokenChannel>& channel) {
  OpenGeneration open(ctx.generations_open);
  CompletedGeneration out;
  for (;;) {
    auto batch = channel->take(std::chrono::milliseconds(250));
    for (auto& ev : batch.events) out.events.push_back(std::move(ev));
    if (batch.done) {
      out.result = std::move(*batch.done);
      break;
    }
  }
  log_result(out.result);
  return out;
}

void throw_if_failed(const engine::GenerationResult& result) {
  if (result.finish == engine::FinishReason::Error) {
    throw ApiError(500, "generation failed: " + result.error, "", "generation_error");
  }
  if (result.finish == engine::FinishReason::Cancelled) {
    throw ApiError(503, "the request was cancelled because the server is shutting down", "", "cancelled");
  }
}

void stream_generation(ServerContext& ctx, httplib::Response& res, std::shared_ptr<TokenChannel> channel,
                       std::shared_ptr<StreamWriter> writer, const std::string& content_type) {
  struct State {
    State(std::atomic<int64_t>& open_count, std::shared_ptr<TokenChannel> ch, std::shared_ptr<StreamWriter> w)
        : open(open_count), channel(std::move(ch)), writer(std::move(w)) {}
    OpenGeneration open;
    std::shared_ptr<TokenChannel> channel;
    std::shared_ptr<StreamWriter> writer;
    bool started = false;
    Clock::time_point last_write = Clock::now();
  };
  auto state = std::make_shared<State>(ctx.generations_open, std::move(channel), std::move(writer));
  current_log().stream = true;

  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // proxies must not buffer a stream
  res.set_chunked_content_provider(
      content_type,
      [state](size_t, httplib::DataSink& sink) -> bool {
        std::string out;
        if (!state->started) {
          state->started = true;
          out = state->writer->start();
        }
        auto batch = state->channel->take(std::chrono::milliseconds(100));
        if (!batch.events.empty()) out += state->writer->tokens(batch.events);
        if (batch.done) {
          log_result(*batch.done);
          out += state->writer->done(*batch.done);
        }
        const auto now = Clock::now();
        if (out.empty() && now - state->last_write > std::chrono::seconds(2)) out = state->writer->keepalive();
        // httplib ends the stream on a zero-length write, so never make one.
        if (!out.empty()) {
          if (!sink.write(out.data(), out.size())) {
            state->channel->cancel();
            current_log().finish = "disconnected";  // the engine's own finish comes after the log line
            return false;
          }
          state->last_write = now;
        }
        if (batch.done) sink.done();
        return true;
      },
      [state](bool success) {
        // Not a complete response: the client went away (or the write timed
        // out); stop generating for it.
        if (!success) state->channel->cancel();
      });
}

}  // namespace hearth::server
