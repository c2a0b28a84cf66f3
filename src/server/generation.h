// Running one generation for a route: submit to the scheduler, then either
// wait for the whole result or stream it through an API-specific writer.
// Metrics, the access log, cancellation on disconnect and the count of open
// generations are handled here once for every API.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "server/context.h"
#include "server/token_channel.h"

namespace hearth::server {

// Turns tokens into the bytes of one streaming response format.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual std::string start() { return {}; }
  virtual std::string tokens(const std::vector<engine::TokenEvent>& events) = 0;
  // The closing bytes: final chunk, usage, [DONE] — or an error event.
  virtual std::string done(const engine::GenerationResult& result) = 0;
  // Sent when nothing else was for a while, so a client that went away
  // is noticed (a write to a closed socket fails) even before the first
  // token. "" where the format has no comment syntax (NDJSON).
  virtual std::string keepalive() { return {}; }
};

// 400 when the prompt does not fit a slot's context (it needs at least one
// position left to generate into).
void check_prompt_fits(const Backend& backend, size_t n_prompt);

// Submits `request` (prompt filled in). Throws ApiError 429 (queue full,
// with Retry-After) or 503 (shutting down).
std::shared_ptr<TokenChannel> submit_generation(ServerContext& ctx, engine::GenerationRequest request);

struct CompletedGeneration {
  std::vector<engine::TokenEvent> events;
  engine::GenerationResult result;
};
// Blocks until the generation ends.
CompletedGeneration wait_for_generation(ServerContext& ctx, const std::shared_ptr<TokenChannel>& channel);

// Makes `res` a chunked response that drains `channel` through `writer`.
// A failed write (client gone) cancels the generation, freeing its slot.
void stream_generation(ServerContext& ctx, httplib::Response& res, std::shared_ptr<TokenChannel> channel,
                       std::shared_ptr<StreamWriter> writer, const std::string& content_type);

// Throws ApiError 500 for FinishReason::Error (non-streaming routes), 503
// for a generation cancelled by shutdown.
void throw_if_failed(const engine::GenerationResult& result);

// "stop" / "length" for APIs (cancelled and error never reach a client as a
// finish reason).
const char* api_finish_reason(engine::FinishReason r);

}  // namespace hearth::server
