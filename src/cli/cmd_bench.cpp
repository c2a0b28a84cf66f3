// hearth bench: llama-bench-compatible speed tests (pp<P>, tg<N>) and the
// memory-bandwidth probe that bounds token generation.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "tools/bench.h"
#include "tools/membw.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

struct BenchOptions {
  std::vector<std::string> models;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> threads;
  int reps = 5;
  uint64_t seed = 42;
  bool json = false;
  bool md = false;
  bool membw = false;
  int membw_mib = 1024;
  int membw_passes = 10;
  bool no_warmup = false;
  bool progress = false;
};

nlohmann::ordered_json membw_json(const tools::MembwResult& m) {
  return {{"test", "membw"},
          {"cpu_info", kernels::cpu_features_string()},
          {"n_threads", m.threads},
          {"bytes", m.bytes},
          {"membw_gbps", m.median_gbps},
          {"samples_gbps", m.gbps}};
}

int run(const BenchOptions& opt) {
  if (opt.models.empty() && !opt.membw) throw Error("bench needs a model (-m FILE) or --membw");
  std::vector<int> threads = opt.threads;
  if (threads.empty()) threads.push_back(ThreadPool::default_threads());
  for (const int t : threads) {
    if (t < 1 || t > 1024) throw Error("thread counts must be between 1 and 1024, not " + std::to_string(t));
  }
  const bool show_progress = opt.progress || ::isatty(STDERR_FILENO);
  const auto progress = [show_progress](const std::string& s) {
    if (show_progress) std::fprintf(stderr, "bench: %s\n", s.c_str());
  };

  // Bandwidth first, per thread count, so that tg rows can show the roofline.
  std::map<int, tools::MembwResult> membw;
  if (opt.membw) {
    for (const int t : threads) {
      progress("memory bandwidth, " + std::to_string(t) + " threads");
      ThreadPool pool(t);
      membw[t] = tools::measure_read_bandwidth(pool, static_cast<size_t>(opt.membw_mib) << 20,
                                               opt.membw_passes);
    }
  }

  if (!opt.json) {
    std::printf("cpu: %s\n", kernels::cpu_features_string().c_str());
    for (const auto& [t, m] : membw) {
      std::printf("memory read bandwidth: %.1f GB/s with %d thread%s (median of %zu passes over %zu MiB)\n",
                  m.median_gbps, t, t == 1 ? "" : "s", m.gbps.size(), m.bytes >> 20);
    }
  }
  if (opt.models.empty()) {
    if (opt.json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& [t, m] : membw) out.push_back(membw_json(m));
      std::printf("%s\n", out.dump(2).c_str());
    }
    return 0;
  }

  tools::BenchConfig config;
  config.models = opt.models;
  config.n_prompt = opt.n_prompt;
  config.n_gen = opt.n_gen;
  config.threads = threads;
  config.reps = opt.reps;
  config.warmup = !opt.no_warmup;
  config.seed = opt.seed;
  config.progress = progress;
  if (opt.membw) {
    // Also right before each tg repetition (smaller and shorter than the
    // probe above, which is printed): the roofline of each repetition is
    // that of its moment.
    config.bandwidth = [](ThreadPool& pool) {
      return tools::measure_read_bandwidth(pool, size_t{512} << 20, 3).median_gbps;
    };
  }

  const bool roofline = opt.membw;
  if (!opt.json) {
    std::printf("\n%s", tools::markdown_header(roofline).c_str());
    std::fflush(stdout);
  }
  // Markdown rows appear as tests finish; JSON is printed whole at the end.
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  tools::run_bench(config, [&](const tools::BenchResult& result) {
    tools::BenchResult r = result;
    if (const auto it = membw.find(r.threads); it != membw.end()) {
      tools::add_roofline(r, it->second.median_gbps);
    }
    if (opt.json) {
      out.push_back(tools::to_json(r));
    } else {
      std::printf("%s", tools::markdown_row(r, roofline).c_str());
      std::fflush(stdout);
    }
  });
  if (opt.json) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt and generation speed (like llama-bench)");
  cmd->add_option("-m,--model", opt->models, "GGUF model file (repeat for several)");
  cmd->add_option("-p,--n-prompt", opt->n_prompt, "Prompt lengths for pp tests (comma list; 0: none)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", opt->n_gen, "Generated tokens for tg tests (comma list; 0: none)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-t,--threads", opt->threads, "Thread counts (comma list; default: physical cores)")
      ->delimiter(',');
  cmd->add_option("-r,--repetitions", opt->reps, "Timed repetitions per test")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("-s,--seed", opt->seed, "Seed of the random token ids")->capture_default_str();
  auto* json = cmd->add_flag("--json", opt->json, "Print a JSON array of results (with raw samples)");
  cmd->add_flag("--md", opt->md, "Print a Markdown table (the default)")->excludes(json);
  cmd->add_flag("--membw", opt->membw,
                "Measure memory read bandwidth first, and again before each tg repetition; tg rows then show "
                "the bandwidth roofline");
  cmd->add_option("--membw-size", opt->membw_mib, "Bandwidth probe buffer in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--membw-passes", opt->membw_passes, "Bandwidth probe passes (median reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--no-warmup", opt->no_warmup, "Skip the untimed warm-up run of each test");
  cmd->add_flag("--progress", opt->progress, "Status lines on stderr (default when it is a terminal)");
  cmd->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace hearth::cli
