// One structured (JSON) line per request on stderr. Prompts and generated
// text are private: they appear only with --log-prompts; everything else
// (sizes, token counts, timings, statuses) is always logged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "server/json_fields.h"

namespace hearth::server {

struct AccessLogEntry {
  std::string remote;  // "127.0.0.1:54321"
  std::string method;
  std::string path;    // without the query string
  int status = 0;
  double duration_ms = 0;
  size_t request_bytes = 0;
  // Filled by generation routes.
  bool generation = false;
  bool stream = false;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t completion_tokens = 0;
  std::string finish;   // "stop", "length", "cancelled", "error"
  double queue_ms = 0;
  double ttft_ms = 0;
  // Errors: the message may quote the body (a JSON syntax error shows what
  // was read), so such messages are private like prompts.
  std::string error;
  bool error_is_private = false;
  // Private text, logged only with --log-prompts.
  std::string prompt;
  std::string output;
};

// The log line (no trailing newline). `log_prompts` includes prompt and
// output text and private error messages.
std::string format_access_log(const AccessLogEntry& e, bool log_prompts, const std::string& timestamp);

}  // namespace hearth::server
