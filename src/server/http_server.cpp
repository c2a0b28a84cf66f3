#include "server/http_server.h"

#include <httplib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <mutex>
#include <thread>

#include "server/framing.h"
#include "util/error.h"

namespace hearth::server {
namespace {

using Steady = std::chrono::steady_clock;

// When the request this worker thread serves started (set before routing).
Steady::time_point& request_start() {
  thread_local Steady::time_point t;
  return t;
}

ApiStyle style_for(const std::string& path) { return path.rfind("/api/", 0) == 0 ? ApiStyle::Ollama : ApiStyle::OpenAI; }

// Bodies for errors httplib raises itself (no route, body too large, ...).
ApiError library_error(int status, const httplib::Request& req, size_t max_body) {
  switch (status) {
    case 404: return ApiError(404, "no route for " + req.method + " " + req.path, "", "not_found");
    case 413:
      return ApiError(413, "the request body is larger than the limit of " + std::to_string(max_body) +
                               " bytes (see --max-body)", "", "request_too_large");
    case 414: return ApiError(414, "the request URI is too long", "", "uri_too_long");
    case 400: return ApiError(400, "malformed HTTP request", "", "bad_request");
    default: return ApiError(status, "HTTP error " + std::to_string(status));
  }
}

std::mutex g_log_mutex;

}  // namespace

std::string endpoint_label(const std::string& path) {
  static const char* const known[] = {"/",
                                      "/health",
                                      "/metrics",
                                      "/v1/chat/completions",
                                      "/v1/completions",
                                      "/v1/embeddings",
                                      "/v1/models",
                                      "/api/generate",
                                      "/api/chat",
                                      "/api/embed",
                                      "/api/embeddings",
                                      "/api/show",
                                      "/api/tags",
                                      "/api/ps",
                                      "/api/version"};
  for (const char* k : known) {
    if (path == k) return path;
  }
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

HttpServer::HttpServer(ServerOptions options)
    : ctx_(std::make_unique<ServerContext>(std::move(options))), http_(std::make_unique<httplib::Server>()) {
  const ServerOptions& o = ctx_->options;
  // httplib's default pool has max(8, cores - 1) threads and every open
  // stream holds one for its whole life; size it for all slots and queue
  // entries plus spare for short requests (health, metrics, errors).
  const size_t threads = o.http_threads > 0 ? static_cast<size_t>(o.http_threads) : 64;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(o.max_body_bytes);
  http_->set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which lets a second server
  // (or another program of the same user) bind the same port and silently
  // take half the connections. Reusing a TIME_WAIT address is all we want.
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
  });
  http_->set_read_timeout(30);
  http_->set_write_timeout(30);
  // A configured non-wildcard bind address is a name clients will use.
  if (o.host != "0.0.0.0" && o.host != "::" && !o.host.empty()) {
    std::vector<std::string> hosts = o.allowed_hosts;
    hosts.push_back(o.host.find(':') != std::string::npos && o.host.front() != '[' ? "[" + o.host + "]" : o.host);
    ctx_->hosts = HostPolicy(hosts);
  }
  install_handlers();
}

HttpServer::~HttpServer() = default;

void HttpServer::install_handlers() {
  ServerContext& ctx = *ctx_;

  http_->set_pre_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
    request_start() = Steady::now();
    current_log() = AccessLogEntry{};
    const ApiStyle style = style_for(req.path);
    if (ctx.shutting_down) {
      res.set_header("Connection", "close");
      send_error(res, ApiError(503, "the server is shutting down", "", "shutting_down"), style);
      return httplib::Server::HandlerResponse::Handled;
    }
    // DNS rebinding: a page on evil.example whose name now resolves to
    // 127.0.0.1 still sends "Host: evil.example".
    const std::string host = req.get_header_value("Host");
    if (!ctx.hosts.allows(host)) {
      send_error(res,
                 ApiError(403, "Host '" + host + "' is not allowed: use a loopback name such as localhost, or "
                               "start the server with --allowed-host NAME", "", "host_not_allowed"),
                 style);
      return httplib::Server::HandlerResponse::Handled;
    }
    // Browsers send Origin on cross-site requests. One not on the list gets
    // no CORS headers and is refused outright, so a web page cannot make a
    // local model work for it even blind (e.g. a form POST).
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty()) {
      if (!ctx.cors.allows(origin)) {
        send_error(res, ApiError(403, "Origin '" + origin + "' is not allowed (see --cors-origin)", "",
                                 "origin_not_allowed"),
                   style);
        return httplib::Server::HandlerResponse::Handled;
      }
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
    }
    if (req.method == "OPTIONS") {  // CORS preflight: browsers send no credentials with it
      if (!origin.empty()) {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        const std::string asked = req.get_header_value("Access-Control-Request-Headers");
        res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
        res.set_header("Access-Control-Max-Age", "600");
      }
      res.set_header("Allow", "GET, POST, OPTIONS");
      res.status = 204;
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool public_path = req.path == "/health" || req.path == "/";
    if (!ctx.options.api_key.empty() && !public_path &&
        !bearer_matches(req.get_header_value("Authorization"), ctx.options.api_key)) {
      send_error(res,
                 ApiError(401, "missing or wrong API key: send the header \"Authorization: Bearer <key>\"", "",
                          "invalid_api_key"),
                 style);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  http_->set_error_handler(httplib::Server::HandlerWithResponse([&ctx](const httplib::Request& req,
                                                                       httplib::Response& res) {
    // Routes write their own error bodies; fill in only httplib's own errors.
    if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, library_error(res.status, req, ctx.options.max_body_bytes), style_for(req.path));
    return httplib::Server::HandlerResponse::Handled;
  }));

  http_->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "internal error: " + what), style_for(req.path));
  });

  http_->set_logger([&ctx](const httplib::Request& req, const httplib::Response& res) {
    AccessLogEntry& log = current_log();
    log.remote = req.remote_addr + ":" + std::to_string(req.remote_port);
    log.method = req.method;
    log.path = req.path;
    log.status = res.status;
    log.request_bytes = std::max(log.request_bytes, req.body.size());  // POST routes count it themselves
    log.duration_ms = std::chrono::duration<double, std::milli>(Steady::now() - request_start()).count();
    ctx.metrics.record_request(endpoint_label(req.path), res.status);
    if (ctx.options.access_log) {
      const std::string line =
          format_access_log(log, ctx.options.log_prompts, rfc3339(std::chrono::system_clock::now())) + "\n";
      std::lock_guard lock(g_log_mutex);
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
    log = AccessLogEntry{};  // a request that skips pre-routing must not inherit this one's fields
  });

  http_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Hearth is running\n", "text/plain");
  });
  http_->Get("/health", [&ctx](const httplib::Request&, httplib::Response& res) {
    if (ctx.backend.load()) send_json(res, {{"status", "ok"}});
    else send_json(res, {{"status", "loading"}}, 503);
  });
  http_->Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(ctx.metrics.render(ctx.live_gauges()), "text/plain; version=0.0.4; charset=utf-8");
  });
  register_openai_routes(*http_, ctx);
  register_ollama_routes(*http_, ctx);
}

int HttpServer::bind() {
  const ServerOptions& o = ctx_->options;
  errno = 0;
  int port = o.port;
  if (port == 0) {
    port = http_->bind_to_any_port(o.host);
  } else if (!http_->bind_to_port(o.host, port)) {
    port = -1;
  }
  if (port < 0) {
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                (errno ? std::string(": ") + std::strerror(errno) : std::string()));
  }
  return port;
}

void HttpServer::serve() {
  serving_ = true;
  if (!stop_requested_) http_->listen_after_bind();
  serving_ = false;
}

void HttpServer::set_backend(Backend* backend) { ctx_->backend.store(backend); }

void HttpServer::stop() {
  // httplib's stop() does nothing until listening has begun, so a stop that
  // races a starting serve() would be lost. serve() sets serving_ before it
  // reads stop_requested_, stop() the reverse: one of them sees the other.
  stop_requested_ = true;
  while (serving_ && !http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_->stop();
}

void HttpServer::shutdown_gracefully(std::chrono::milliseconds grace) {
  ServerContext& ctx = *ctx_;
  ctx.shutting_down = true;
  const auto deadline = Steady::now() + grace;
  while (ctx.generations_open > 0 && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Cancel what is still running; each stream then writes its closing error
  // event, which the wait below lets reach the client.
  if (Backend* b = ctx.backend.load()) b->shutdown(/*cancel=*/true);
  const auto close_deadline = Steady::now() + std::chrono::seconds(5);
  while (ctx.generations_open > 0 && Steady::now() < close_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
}

}  // namespace hearth::server
