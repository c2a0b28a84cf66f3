// hearth synth: write a random-weight GGUF model in the shape of a real one
// (for benchmarks; see src/tools/synthetic_model.h).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "kernels/thread_pool.h"
#include "tools/synthetic_model.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

struct SynthOptions {
  std::string shape;
  std::string type = "F16";
  std::string out;
  uint64_t seed = 1;
  int layers = 0;
  int vocab = 0;
  int threads = 0;
  bool pure = false;
  bool list = false;
  bool quiet = false;
};

void list_shapes() {
  std::printf("%-16s %-6s %6s %6s %8s %6s %7s %5s  %s\n", "shape", "arch", "layers", "embd", "heads",
              "ff", "vocab", "tied", "params");
  for (const auto& s : tools::shape_presets()) {
    const auto plan = tools::plan_model(s, tools::parse_weight_format("F16"));
    std::printf("%-16s %-6s %6d %6d %5d/%-2d %6d %7d %5s  %.3f B  (%s)\n", s.name.c_str(), s.arch.c_str(),
                s.n_layer, s.n_embd, s.n_head, s.n_head_kv, s.n_ff, s.n_vocab, s.tied ? "yes" : "no",
                plan.n_params / 1e9, s.description.c_str());
  }
  std::string types;
  for (const auto& f : tools::llama_ftypes()) types += (types.empty() ? "" : " ") + std::string(f.name);
  std::printf("\ntypes: %s (llama-quantize's tensor mix; --pure: every matrix in the base type),\n"
              "       or a plain quantized type (Q4_K, Q5_K, Q3_K ...: every matrix in it)\n",
              types.c_str());
}

int run(const SynthOptions& opt) {
  if (opt.list) {
    list_shapes();
    return 0;
  }
  if (opt.shape.empty() || opt.out.empty()) throw Error("synth needs --shape and --out (or --list)");
  const tools::ModelShape shape = tools::shrink_shape(tools::find_shape(opt.shape), opt.layers, opt.vocab);
  const tools::WeightFormat format = tools::parse_weight_format(opt.type, opt.pure);
  const tools::ModelPlan plan = tools::plan_model(shape, format);

  tools::SynthOptions so;
  so.seed = opt.seed;
  so.threads = opt.threads > 0 ? opt.threads : ThreadPool::default_threads();
  const bool tty = ::isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  int last_decile = -1;
  if (!opt.quiet) {
    std::fprintf(stderr, "hearth synth: %s as %s%s, %.3f B parameters, %.2f GiB -> %s\n", shape.name.c_str(),
                 format.name.c_str(), format.pure ? " (pure)" : "", plan.n_params / 1e9,
                 plan.n_bytes / (1024.0 * 1024 * 1024), opt.out.c_str());
    // A live line on a terminal; a line per tenth otherwise (logs stay short).
    so.progress = [&](size_t done, size_t total, uint64_t bytes, uint64_t total_bytes, const std::string& name) {
      const double frac = total_bytes ? static_cast<double>(bytes) / total_bytes : 1.0;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (tty) {
        std::fprintf(stderr, "\r[%4zu/%zu] %5.1f%%  %6.1f s  %-32s", done, total, 100 * frac, s, name.c_str());
        if (done == total) std::fputc('\n', stderr);
      } else if (static_cast<int>(frac * 10) > last_decile) {
        last_decile = static_cast<int>(frac * 10);
        std::fprintf(stderr, "[%zu/%zu] %.1f%% %.1f s\n", done, total, 100 * frac, s);
      }
    };
  }
  tools::write_synthetic_model(plan, opt.out, so);
  if (!opt.quiet) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "hearth synth: wrote %s in %.1f s\n", opt.out.c_str(), s);
  }
  return 0;
}

}  // namespace

void add_synth_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<SynthOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write a random-weight GGUF model in the shape of a real one (for benchmarks)");
  cmd->add_option("--shape", opt->shape, "Model shape (see --list), e.g. tinyllama-1.1b");
  cmd->add_option("--type", opt->type, "Weight format: F16, Q8_0, Q4_0, Q4_K_M, ... (see --list)")
      ->capture_default_str();
  cmd->add_option("-o,--out", opt->out, "Output GGUF file");
  cmd->add_option("-s,--seed", opt->seed, "Random seed (same seed, same bytes)")->capture_default_str();
  cmd->add_option("--layers", opt->layers, "Override the layer count (smaller test models)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--vocab", opt->vocab, "Override the vocabulary size (at least 260)")
      ->check(CLI::Range(260, 1 << 24));
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_flag("--pure", opt->pure, "Every matrix in the base type (llama-quantize --pure)");
  cmd->add_flag("--list", opt->list, "List the shapes and weight formats");
  cmd->add_flag("-q,--quiet", opt->quiet, "No progress on stderr");
  cmd->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace hearth::cli
