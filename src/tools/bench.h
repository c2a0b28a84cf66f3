// hearth bench: prompt-processing and generation speed, measured and reported
// the way llama.cpp's llama-bench does, so that numbers for the same GGUF file
// can be compared side by side.
//
//   pp<P>: a prompt of P random tokens evaluated in one batched pass, in a
//          fresh session each repetition.
//   tg<N>: N decode steps of one token each, from an empty session.
// Each test runs once untimed (warm-up), then `reps` timed repetitions;
// results are the mean and sample standard deviation of tokens/s.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hearth {

class ThreadPool;
class Model;
}

namespace hearth::tools {

struct Stats {
  double mean = 0;
  double stddev = 0;  // sample standard deviation (n - 1); 0 for fewer than 2 values
};
Stats mean_stddev(std::span<const double> values);

// "1.1B", "494M", "260K": llama.cpp-style size label from a parameter count.
std::string size_label(uint64_t n_params);

// What the report says about a model file.
struct ModelInfo {
  std::string path;
  std::string filename;
  std::string arch;
  std::string size_label;
  std::string type;  // general.file_type name ("Q4_K_M"), else the dominant matrix type
  uint64_t size_bytes = 0;  // all tensor data, as llama-bench's "size"
  uint64_t n_params = 0;
  // Bytes a decode step reads besides the KV cache: every layer's tensors,
  // the output matrix and norm, and one embedding row.
  uint64_t weight_bytes_per_token = 0;
  // KV cache bytes read per token per position already in the cache.
  uint64_t kv_bytes_per_position = 0;
};
ModelInfo describe_model(const Model& model, const std::string& path);

struct BenchResult {
  ModelInfo model;
  int threads = 0;
  std::string isa;
  std::string test;  // "pp512", "tg128"
  int n_prompt = 0;
  int n_gen = 0;
  std::string time;  // start of the test, ISO 8601 UTC
  std::vector<uint64_t> samples_ns;
  std::vector<double> samples_ts;
  Stats ns;
  Stats ts;
  // Token generation only, when the memory bandwidth was measured: the speed
  // at which reading the weights (and the mean KV cache) would take all of it.
  // With per-repetition probes (BenchConfig::bandwidth) membw_gbps is their
  // median and roofline_pct the mean of each repetition's own ratio.
  std::vector<double> samples_membw_gbps;
  std::optional<double> membw_gbps;
  std::optional<double> bytes_per_token;
  std::optional<double> roofline_ts;
  std::optional<double> roofline_pct;
};

// Fills the timing fields from per-repetition durations.
void set_samples(BenchResult& r, std::vector<uint64_t> samples_ns);
// Fills the roofline fields of a tg result (no-op for pp, and for models
// under 64 MiB per token, which run from the caches), from one bandwidth
// figure, or from r.samples_membw_gbps when it has one per repetition.
void add_roofline(BenchResult& r, double membw_gbps);

struct BenchConfig {
  std::vector<std::string> models;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> threads;  // empty: ThreadPool::default_threads()
  int reps = 5;
  bool warmup = true;
  uint64_t seed = 42;  // token ids
  std::function<void(const std::string&)> progress;  // status lines, may be empty
  // If set: measures the memory read bandwidth (GB/s) with the test's pool
  // right before each tg repetition, so that each repetition is put against
  // the bandwidth of its moment (on a shared machine it drifts within
  // minutes).
  std::function<double(ThreadPool&)> bandwidth;
};

// Runs every (model, threads, test) combination, calling on_result as each
// finishes. Throws hearth::Error for a model that cannot be loaded.
std::vector<BenchResult> run_bench(const BenchConfig& config,
                                   const std::function<void(const BenchResult&)>& on_result = {});

// llama-bench's Markdown table; roofline columns when any result has them.
std::string markdown_header(bool roofline);
std::string markdown_row(const BenchResult& r, bool roofline);
// One object per result, llama-bench's field names where they exist.
nlohmann::ordered_json to_json(const BenchResult& r);

}  // namespace hearth::tools
