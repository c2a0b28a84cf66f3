#include "tools/bench.h"
#include "tools/membw.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/session.h"
#include "tools/weight_format.h"
#include "util/error.h"

namespace hearth::tools {
namespace {

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The type most matrix bytes are stored in (for files without general.file_type).
std::string dominant_type(const gguf::File& f) {
  std::map<std::string, uint64_t> bytes;
  for (const auto& t : f.tensors()) {
    if (t.dims.size() == 2) bytes[std::string(type_name(t.type))] += t.n_bytes;
  }
  std::string best = "?";
  uint64_t most = 0;
  for (const auto& [name, n] : bytes) {
    if (n > most) best = name, most = n;
  }
  return best;
}

// Token ids for one test: BOS first (as llama-bench does when the model adds
// one), then uniformly random valid ids.
std::vector<TokenId> test_tokens(const Model& model, int n, std::mt19937_64& rng) {
  const int32_t n_vocab = model.hparams().n_vocab;
  std::uniform_int_distribution<TokenId> pick(0, n_vocab - 1);
  std::vector<TokenId> tokens(static_cast<size_t>(n));
  for (auto& t : tokens) t = pick(rng);
  const int64_t bos = model.file().get_int_or("tokenizer.ggml.bos_token_id", -1);
  if (n > 0 && bos >= 0 && bos < n_vocab) tokens[0] = static_cast<TokenId>(bos);
  return tokens;
}

uint64_t ns_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}

// One repetition; the session is built before the clock starts.
uint64_t run_once(const Model& model, ThreadPool& pool, const std::vector<TokenId>& tokens,
                  bool batched) {
  Session session(model, static_cast<int32_t>(tokens.size()), &pool);
  const auto t0 = std::chrono::steady_clock::now();
  if (batched) {
    session.eval(tokens, /*all_logits=*/false);
  } else {
    for (const TokenId& t : tokens) session.eval(std::span<const TokenId>(&t, 1), false);
  }
  return ns_since(t0);
}

}  // namespace

Stats mean_stddev(std::span<const double> v) {
  Stats s;
  if (v.empty()) return s;
  double sum = 0;
  for (const double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  if (v.size() < 2) return s;
  double sq = 0;
  for (const double x : v) sq += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(sq / static_cast<double>(v.size() - 1));
  return s;
}

std::string size_label(uint64_t n) {
  const double d = static_cast<double>(n);
  if (d >= 1e9) return format("%.1fB", d / 1e9);
  if (d >= 1e6) return format("%.0fM", d / 1e6);
  if (d >= 1e3) return format("%.0fK", d / 1e3);
  return std::to_string(n);
}

ModelInfo describe_model(const Model& model, const std::string& path) {
  const gguf::File& f = model.file();
  const HParams& hp = model.hparams();
  ModelInfo info;
  info.path = path;
  info.filename = path.substr(path.find_last_of('/') + 1);
  info.arch = hp.arch;
  const bool tied = f.find_tensor("output.weight") == nullptr;
  for (const auto& t : f.tensors()) {
    info.size_bytes += t.n_bytes;
    info.n_params += static_cast<uint64_t>(t.n_elements);
    if (t.name == "token_embd.weight") {
      // Tied: the whole matrix is the output layer; else one row is looked up.
      info.weight_bytes_per_token += tied ? t.n_bytes : t.n_bytes / static_cast<uint64_t>(t.dim(1));
    } else {
      info.weight_bytes_per_token += t.n_bytes;
    }
  }
  info.kv_bytes_per_position = 2ull * hp.n_layer * hp.kv_dim() * sizeof(float);
  info.size_label = size_label(info.n_params);
  const int64_t ftype = f.get_int_or("general.file_type", -1);
  const auto name = ftype >= 0 ? llama_ftype_name(static_cast<uint32_t>(ftype)) : std::nullopt;
  info.type = name ? std::string(*name) : dominant_type(f);
  return info;
}

void set_samples(BenchResult& r, std::vector<uint64_t> samples_ns) {
  const int n_tokens = r.n_prompt + r.n_gen;
  r.samples_ns = std::move(samples_ns);
  std::vector<double> ns;
  r.samples_ts.clear();
  for (const uint64_t s : r.samples_ns) {
    ns.push_back(static_cast<double>(s));
    r.samples_ts.push_back(s > 0 ? 1e9 * n_tokens / static_cast<double>(s) : 0.0);
  }
  r.ns = mean_stddev(ns);
  r.ts = mean_stddev(r.samples_ts);
}

void add_roofline(BenchResult& r, double membw_gbps) {
  const bool per_rep = !r.samples_membw_gbps.empty() && r.samples_membw_gbps.size() == r.samples_ts.size();
  if (per_rep) membw_gbps = median(r.samples_membw_gbps);
  if (r.n_gen == 0 || membw_gbps <= 0) return;
  // Mean number of cached positions over the test's decode steps (0 .. n-1).
  const double mean_pos = (r.n_gen - 1) / 2.0;
  const double bytes = static_cast<double>(r.model.weight_bytes_per_token) +
                       mean_pos * static_cast<double>(r.model.kv_bytes_per_position);
  r.membw_gbps = membw_gbps;
  // A model this small stays in the caches: DRAM bandwidth does not bound it.
  constexpr double kMinStreamedBytes = 64.0 * 1024 * 1024;
  if (bytes < kMinStreamedBytes) return;
  r.bytes_per_token = bytes;
  r.roofline_ts = membw_gbps * 1e9 / bytes;
  if (!per_rep) {
    r.roofline_pct = 100.0 * r.ts.mean / *r.roofline_ts;
    return;
  }
  double sum = 0;
  for (size_t i = 0; i < r.samples_ts.size(); ++i) sum += r.samples_ts[i] * bytes / (r.samples_membw_gbps[i] * 1e9);
  r.roofline_pct = 100.0 * sum / static_cast<double>(r.samples_ts.size());
}

std::vector<BenchResult> run_bench(const BenchConfig& config,
                                   const std::function<void(const BenchResult&)>& on_result) {
  const auto say = [&](const std::string& s) {
    if (config.progress) config.progress(s);
  };
  std::vector<int> threads = config.threads;
  if (threads.empty()) threads.push_back(ThreadPool::default_threads());
  const int reps = std::max(1, config.reps);
  std::vector<BenchResult> results;
  std::mt19937_64 rng(config.seed);

  for (const std::string& path : config.models) {
    say("loading " + path);
    LoadOptions load;
    load.load_tokenizer = false;  // ids are random: any tokenizer model will do
    const auto model = Model::load(path, load);
    const ModelInfo info = describe_model(*model, path);
    for (const int n_threads : threads) {
      if (n_threads < 1) throw Error("thread counts must be at least 1");
      ThreadPool pool(n_threads);
      struct Test {
        int n_prompt, n_gen;
      };
      std::vector<Test> tests;
      for (const int p : config.n_prompt) {
        if (p > 0) tests.push_back({p, 0});
      }
      for (const int n : config.n_gen) {
        if (n > 0) tests.push_back({0, n});
      }
      for (const Test& test : tests) {
        BenchResult r;
        r.model = info;
        r.threads = n_threads;
        r.isa = std::string(kernels::isa_name(kernels::active_isa()));
        r.n_prompt = test.n_prompt;
        r.n_gen = test.n_gen;
        r.test = test.n_prompt > 0 ? "pp" + std::to_string(test.n_prompt)
                                   : "tg" + std::to_string(test.n_gen);
        r.time = utc_now();
        const std::string what = info.filename + " " + r.test + " t=" + std::to_string(n_threads);
        const bool batched = test.n_prompt > 0;
        if (config.warmup) {
          say(what + ": warm-up");
          // llama-bench's warm-up: the whole prompt, or a single decode step.
          run_once(*model, pool, test_tokens(*model, batched ? test.n_prompt : 1, rng), batched);
        }
        std::vector<uint64_t> samples;
        for (int rep = 0; rep < reps; ++rep) {
          say(what + ": repetition " + std::to_string(rep + 1) + "/" + std::to_string(reps));
          const auto tokens = test_tokens(*model, batched ? test.n_prompt : test.n_gen, rng);
          if (!batched && config.bandwidth) r.samples_membw_gbps.push_back(config.bandwidth(pool));
          samples.push_back(run_once(*model, pool, tokens, batched));
        }
        set_samples(r, std::move(samples));
        if (on_result) on_result(r);
        results.push_back(std::move(r));
      }
    }
  }
  return results;
}

namespace {

// Column widths of the Markdown table (negative: left-aligned).
constexpr int kWidths[] = {-44, 10, 10, -8, 7, -6, 7, 20};
constexpr int kRooflineWidths[] = {12, 7};

std::string cell(const std::string& text, int width) {
  // printf pads by bytes; count UTF-8 continuation bytes ("±") as no width.
  int pad = std::abs(width);
  for (const unsigned char c : text) pad += (c & 0xC0) == 0x80;
  char buf[256];
  std::snprintf(buf, sizeof buf, width < 0 ? " %-*s |" : " %*s |", pad, text.c_str());
  return buf;
}

std::string bytes_text(uint64_t n) {
  const double d = static_cast<double>(n);
  return d < 1024.0 * 1024 * 1024 ? format("%.2f MiB", d / (1024.0 * 1024))
                                  : format("%.2f GiB", d / (1024.0 * 1024 * 1024));
}

std::string params_text(uint64_t n) {
  const double d = static_cast<double>(n);
  return d < 1e9 ? format("%.2f M", d / 1e6) : format("%.2f B", d / 1e9);
}

}  // namespace

std::string markdown_header(bool roofline) {
  const char* names[] = {"model", "size", "params", "type", "threads", "isa", "test", "t/s"};
  std::string head = "|", rule = "|";
  // The rule under a column: dashes, ending in ':' for right-aligned ones.
  const auto add_rule = [&rule](int width) {
    rule.append(" ");
    rule.append(static_cast<size_t>(std::abs(width) - (width > 0)), '-');
    if (width > 0) rule.append(":");
    rule.append(" |");
  };
  for (size_t i = 0; i < std::size(kWidths); ++i) {
    head += cell(names[i], kWidths[i]);
    add_rule(kWidths[i]);
  }
  if (roofline) {
    const char* extra[] = {"roofline t/s", "% roof"};
    for (size_t i = 0; i < std::size(kRooflineWidths); ++i) {
      head += cell(extra[i], kRooflineWidths[i]);
      add_rule(kRooflineWidths[i]);
    }
  }
  return head + "\n" + rule + "\n";
}

std::string markdown_row(const BenchResult& r, bool roofline) {
  const ModelInfo& m = r.model;
  const std::string ts = format("%.2f", r.ts.mean) + " ± " + format("%.2f", r.ts.stddev);
  const std::string cells[] = {m.filename + " (" + m.arch + " " + m.size_label + ")",
                               bytes_text(m.size_bytes),
                               params_text(m.n_params),
                               m.type,
                               std::to_string(r.threads),
                               r.isa,
                               r.test,
                               ts};
  std::string row = "|";
  for (size_t i = 0; i < std::size(kWidths); ++i) row += cell(cells[i], kWidths[i]);
  if (roofline) {
    row += cell(r.roofline_ts ? format("%.2f", *r.roofline_ts) : "", kRooflineWidths[0]);
    row += cell(r.roofline_pct ? format("%.0f%%", *r.roofline_pct) : "", kRooflineWidths[1]);
  }
  return row + "\n";
}

nlohmann::ordered_json to_json(const BenchResult& r) {
  const ModelInfo& m = r.model;
  const auto opt = [](const std::optional<double>& v) -> nlohmann::ordered_json {
    return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
  };
  return {
      {"cpu_info", kernels::cpu_features_string()},
      {"isa", r.isa},
      {"model_filename", m.path},
      {"model_type", m.arch + " " + m.size_label + " " + m.type},
      {"arch", m.arch},
      {"size_label", m.size_label},
      {"file_type", m.type},
      {"model_size", m.size_bytes},
      {"model_n_params", m.n_params},
      {"n_threads", r.threads},
      {"n_prompt", r.n_prompt},
      {"n_gen", r.n_gen},
      {"test", r.test},
      {"test_time", r.time},
      {"reps", r.samples_ns.size()},
      {"avg_ns", r.ns.mean},
      {"stddev_ns", r.ns.stddev},
      {"avg_ts", r.ts.mean},
      {"stddev_ts", r.ts.stddev},
      {"samples_ns", r.samples_ns},
      {"samples_ts", r.samples_ts},
      {"membw_gbps", opt(r.membw_gbps)},
      {"samples_membw_gbps", r.samples_membw_gbps},
      {"bytes_per_token", opt(r.bytes_per_token)},
      {"roofline_ts", opt(r.roofline_ts)},
      {"roofline_pct", opt(r.roofline_pct)},
  };
}

}  // namespace hearth::tools
