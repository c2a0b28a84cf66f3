// State the routes share: options, the backend (null while the model
// loads), metrics, and the per-request access-log entry.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "server/access_log.h"
#include "server/api_error.h"
#include "server/backend.h"
#include "server/metrics.h"
#include "server/options.h"
#include "server/security.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::server {

// How a route reports errors.
enum class ApiStyle { OpenAI, Ollama };

struct ServerContext {
  explicit ServerContext(ServerOptions opts);

  ServerOptions options;
  HostPolicy hosts;
  CorsPolicy cors;
  Metrics metrics;
  std::atomic<Backend*> backend{nullptr};
  std::atomic<int64_t> generations_open{0};  // generation requests whose response is not finished
  std::atomic<bool> shutting_down{false};
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

  // The backend, or ApiError 503 while the model loads.
  Backend& require_backend() const;
  LiveGauges live_gauges() const;
};

// The access-log entry of the request this worker thread is serving (the
// pre-routing handler resets it; the logger writes it out). Request handlers
// and content providers run on the same worker thread, so a thread-local
// entry needs no map from request to entry.
AccessLogEntry& current_log();

// Writes the error as a JSON body in the route's style, and logs it.
void send_error(httplib::Response& res, const ApiError& e, ApiStyle style);
// A JSON body with status 200 (or `status`).
void send_json(httplib::Response& res, const json& body, int status = 200);

using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&)>;
// Wraps a route so every exception becomes an error response in its style:
// ApiError as given, anything else as 500 (never a dropped connection).
RouteHandler guarded(ApiStyle style, RouteHandler handler);

// A POST route that gets the body read under the --max-body limit. httplib
// enforces its payload limit only for bodies with a Content-Length; a
// chunked body is counted here, so neither kind can exhaust memory.
using BodyRoute = std::function<void(const std::string& body, httplib::Response&)>;
void post_route(httplib::Server& server, const ServerContext& ctx, const std::string& path, ApiStyle style,
                BodyRoute route);

void register_openai_routes(httplib::Server& server, ServerContext& ctx);
void register_ollama_routes(httplib::Server& server, ServerContext& ctx);

}  // namespace hearth::server
