// Settings of `hearth serve` that the HTTP layer uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hearth::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                         // 0: any free port (tests)
  std::string api_key;                     // "": none; required for non-loopback binds unless no_auth
  bool no_auth = false;
  std::vector<std::string> cors_origins;   // empty: CORS closed; "*": any origin
  std::vector<std::string> allowed_hosts;  // Host names accepted besides loopback ones; "*": any
  size_t max_body_bytes = 4u << 20;        // larger bodies get 413
  int32_t max_tokens_cap = 16384;          // max_tokens / num_predict above this get 400
  bool log_prompts = false;                // prompt and output text in the access log
  bool access_log = true;
  int http_threads = 0;                    // 0: enough for every slot and queue entry, plus spare
  double shutdown_grace_s = 10;            // SIGTERM: how long running requests may finish
  std::string version = "0.1.0";
};

// Whether `host` (a bind address) is a loopback address or name.
bool is_loopback_bind_address(const std::string& host);

// Refuses settings that would expose the server: a non-loopback bind needs
// an API key or an explicit no_auth. Throws hearth::Error; returns a warning
// to print ("" if none).
std::string check_exposure(const ServerOptions& options);

}  // namespace hearth::server
