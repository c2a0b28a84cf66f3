#include "server/access_log.h"

#include <cmath>

namespace hearth::server {
namespace {

double round_ms(double ms) { return std::round(ms * 100.0) / 100.0; }

}  // namespace

std::string format_access_log(const AccessLogEntry& e, bool log_prompts, const std::string& timestamp) {
  json line;
  line["time"] = timestamp;
  line["remote"] = e.remote;
  line["method"] = e.method;
  line["path"] = e.path;
  line["status"] = e.status;
  line["duration_ms"] = round_ms(e.duration_ms);
  line["request_bytes"] = e.request_bytes;
  if (e.generation) {
    line["stream"] = e.stream;
    line["prompt_tokens"] = e.prompt_tokens;
    line["cached_tokens"] = e.cached_tokens;
    line["completion_tokens"] = e.completion_tokens;
    if (!e.finish.empty()) line["finish"] = e.finish;
    line["queue_ms"] = round_ms(e.queue_ms);
    line["ttft_ms"] = round_ms(e.ttft_ms);
  }
  if (!e.error.empty()) {
    line["error"] = (e.error_is_private && !log_prompts) ? "(withheld: may quote the request; see --log-prompts)"
                                                           : e.error;
  }
  if (log_prompts) {
    if (!e.prompt.empty()) line["prompt"] = e.prompt;
    if (!e.output.empty()) line["output"] = e.output;
  }
  return dump_json(line);
}

}  // namespace hearth::server
