#include "server/context.h"

#include <httplib.h>

#include <algorithm>
#include <new>

#include "util/error.h"

namespace hearth::server {

ServerContext::ServerContext(ServerOptions opts)
    : options(std::move(opts)), hosts(options.allowed_hosts), cors(options.cors_origins) {}

Backend& ServerContext::require_backend() const {
  Backend* b = backend.load();
  if (!b) throw ApiError(503, "the model is still loading; retry shortly", "", "model_loading");
  return *b;
}

LiveGauges ServerContext::live_gauges() const {
  LiveGauges g;
  g.streams_open = generations_open.load();
  if (Backend* b = backend.load()) {
    const auto s = b->stats();
    g.slots = s.n_slots;
    g.slots_busy = s.slots_busy;
    g.queue_depth = s.queue_depth;
    g.ready = true;
  }
  return g;
}

AccessLogEntry& current_log() {
  thread_local AccessLogEntry entry;
  return entry;
}

void send_json(httplib::Response& res, const json& body, int status) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e, ApiStyle style) {
  send_json(res, style == ApiStyle::OpenAI ? openai_error_body(e) : ollama_error_body(e), e.status());
  if (e.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
  if (e.status() == 429) res.set_header("Retry-After", "1");
  auto& log = current_log();
  log.error = e.what();
  log.error_is_private = e.code() == "invalid_json";
}

RouteHandler guarded(ApiStyle style, RouteHandler handler) {
  return [style, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const ApiError& e) {
      send_error(res, e, style);
    } catch (const std::bad_alloc&) {
      send_error(res, ApiError(503, "out of memory while serving the request"), style);
    } catch (const Error& e) {
      // Expected user errors are converted to ApiError where they can occur;
      // one that gets here is the server's fault.
      send_error(res, ApiError(500, std::string("internal error: ") + e.what()), style);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, std::string("internal error: ") + e.what()), style);
    }
  };
}

void post_route(httplib::Server& server, const ServerContext& ctx, const std::string& path, ApiStyle style,
                BodyRoute route) {
  server.Post(path, [&ctx, style, route = std::move(route)](const httplib::Request& req, httplib::Response& res,
                                                            const httplib::ContentReader& reader) {
    const size_t limit = ctx.options.max_body_bytes;
    std::string body;
    bool too_large = false;
    size_t discarded = 0;
    const bool ok = reader([&](const char* data, size_t n) {
      if (!too_large && body.size() + n <= limit) {
        body.append(data, n);
        return true;
      }
      // Over the limit: read on without keeping it, so the client gets the
      // 413 instead of a reset connection; give up on a body far too large.
      too_large = true;
      discarded += n;
      return discarded <= std::max<size_t>(limit, 16u << 20);
    });
    current_log().request_bytes = body.size();
    // httplib itself sets 413 for a declared Content-Length over the limit.
    if (too_large || res.status == 413) {
      res.set_header("Connection", "close");  // the rest of the body is never read
      return send_error(res,
                        ApiError(413, "the request body is larger than the limit of " + std::to_string(limit) +
                                          " bytes (see --max-body)", "", "request_too_large"),
                        style);
    }
    if (!ok) {
      res.set_header("Connection", "close");
      return send_error(res, ApiError(400, "the request body could not be read", "", "bad_request"), style);
    }
    guarded(style, [&](const httplib::Request&, httplib::Response& r) { route(body, r); })(req, res);
  });
}

}  // namespace hearth::server
