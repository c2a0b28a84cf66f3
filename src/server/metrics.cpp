#include "server/metrics.h"

#include <cmath>
#include <cstdio>

namespace hearth::server {
namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, double v) {
  out += name;
  out += ' ';
  out += format_value(v);
  out += '\n';
}

}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? format_value(bounds_[i]) : "+Inf";
    out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  sample(out, name + "_sum", sum_);
  sample(out, name + "_count", static_cast<double>(count_));
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      token_latency_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::record_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::add_tokens(int64_t prompt, int64_t cached, int64_t completion) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += static_cast<uint64_t>(prompt > 0 ? prompt : 0);
  cached_tokens_ += static_cast<uint64_t>(cached > 0 ? cached : 0);
  completion_tokens_ += static_cast<uint64_t>(completion > 0 ? completion : 0);
}

void Metrics::observe_ttft(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.observe(seconds);
}

void Metrics::observe_token_latency(double seconds) {
  std::lock_guard lock(mutex_);
  token_latency_.observe(seconds);
}

void Metrics::record_rejected_busy() {
  std::lock_guard lock(mutex_);
  ++rejected_busy_;
}

uint64_t Metrics::request_count(const std::string& endpoint, int status) const {
  std::lock_guard lock(mutex_);
  const auto it = requests_.find({endpoint, status});
  return it == requests_.end() ? 0 : it->second;
}

std::string Metrics::render(const LiveGauges& live) const {
  std::lock_guard lock(mutex_);
  std::string out;
  header(out, "hearth_requests_total", "counter", "HTTP requests finished, by endpoint and status code.");
  for (const auto& [key, count] : requests_) {
    out += "hearth_requests_total{endpoint=\"" + escape_label_value(key.first) + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  header(out, "hearth_requests_rejected_busy_total", "counter", "Requests refused with 429 because the queue was full.");
  sample(out, "hearth_requests_rejected_busy_total", static_cast<double>(rejected_busy_));
  header(out, "hearth_prompt_tokens_total", "counter", "Prompt tokens of finished generations (tokens in).");
  sample(out, "hearth_prompt_tokens_total", static_cast<double>(prompt_tokens_));
  header(out, "hearth_prompt_tokens_cached_total", "counter",
         "Prompt tokens found in a slot's KV cache and not processed again.");
  sample(out, "hearth_prompt_tokens_cached_total", static_cast<double>(cached_tokens_));
  header(out, "hearth_completion_tokens_total", "counter", "Generated tokens (tokens out).");
  sample(out, "hearth_completion_tokens_total", static_cast<double>(completion_tokens_));
  header(out, "hearth_time_to_first_token_seconds", "histogram",
         "From a generation request's arrival (queue wait included) to its first token.");
  ttft_.render("hearth_time_to_first_token_seconds", out);
  header(out, "hearth_token_latency_seconds", "histogram", "Time between consecutive generated tokens of a request.");
  token_latency_.render("hearth_token_latency_seconds", out);
  header(out, "hearth_slots", "gauge", "Generation slots (--parallel).");
  sample(out, "hearth_slots", static_cast<double>(live.slots));
  header(out, "hearth_slots_busy", "gauge", "Slots running a request now.");
  sample(out, "hearth_slots_busy", static_cast<double>(live.slots_busy));
  header(out, "hearth_queue_depth", "gauge", "Requests waiting for a slot.");
  sample(out, "hearth_queue_depth", static_cast<double>(live.queue_depth));
  header(out, "hearth_streams_open", "gauge", "Generation requests whose HTTP response is still open.");
  sample(out, "hearth_streams_open", static_cast<double>(live.streams_open));
  header(out, "hearth_ready", "gauge", "1 once the model is loaded.");
  sample(out, "hearth_ready", live.ready ? 1 : 0);
  return out;
}

}  // namespace hearth::server
