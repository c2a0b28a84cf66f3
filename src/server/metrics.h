// Counters and histograms for GET /metrics, rendered in the Prometheus text
// exposition format (version 0.0.4). Thread-safe: requests are counted on
// HTTP worker threads, token latencies on the scheduler thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace hearth::server {

// A cumulative-bucket histogram with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends name_bucket{le=...}, name_sum, name_count lines.
  void render(const std::string& name, std::string& out) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Values read from the scheduler when /metrics is rendered.
struct LiveGauges {
  int64_t slots = 0;
  int64_t slots_busy = 0;
  int64_t queue_depth = 0;
  int64_t streams_open = 0;
  bool ready = false;
};

class Metrics {
 public:
  Metrics();

  // One finished HTTP request. endpoint is a route ("/v1/chat/completions",
  // "other" for unknown paths: raw paths would let clients create unbounded
  // label sets).
  void record_request(const std::string& endpoint, int status);
  void add_tokens(int64_t prompt, int64_t cached, int64_t completion);
  void observe_ttft(double seconds);
  void observe_token_latency(double seconds);
  void record_rejected_busy();  // a 429 because the queue was full

  std::string render(const LiveGauges& live) const;

  // For tests: the count of one endpoint/status pair.
  uint64_t request_count(const std::string& endpoint, int status) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, cached_tokens_ = 0, completion_tokens_ = 0;
  uint64_t rejected_busy_ = 0;
  Histogram ttft_;
  Histogram token_latency_;
};

// Escapes a label value (backslash, double quote, newline).
std::string escape_label_value(const std::string& v);

}  // namespace hearth::server
