// The HTTP server of `hearth serve`: cpp-httplib with the security checks
// run before any route (Host, Origin/CORS, API key), OpenAI and Ollama
// routes, /health, /metrics, the access log, and a graceful shutdown.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "server/context.h"
#include "server/options.h"

namespace httplib {
class Server;
}

namespace hearth::server {

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Opens the listening socket (port 0: a free one); returns the port.
  // Throws hearth::Error when the address cannot be bound.
  int bind();
  // Serves until stop(); blocks the calling thread.
  void serve();

  // The model is loaded: routes start working and /health says "ok".
  // The backend must outlive serving.
  void set_backend(Backend* backend);

  // Refuses new requests (503), lets running generations finish for up to
  // `grace`, cancels the rest, waits for their responses to close, then
  // stops the listener so serve() returns.
  void shutdown_gracefully(std::chrono::milliseconds grace);
  // Stops the listener at once (open streams are cut).
  void stop();

  ServerContext& context() { return *ctx_; }

 private:
  void install_handlers();

  std::unique_ptr<ServerContext> ctx_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> stop_requested_{false};
};

// The metrics label for a request path: a known route, "/v1/models/{id}",
// or "other" (raw paths would let clients create unbounded label sets).
std::string endpoint_label(const std::string& path);

}  // namespace hearth::server
