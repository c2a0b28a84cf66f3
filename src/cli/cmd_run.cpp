// hearth run: generate a continuation of a prompt, streamed to stdout.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/sampling_options.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/session.h"
#include "sampling/sampler.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct RunOptions {
  std::string model;
  std::string prompt;
  int n_predict = -1;
  int threads = 0;
  int ctx_size = 0;
  bool no_echo = false;
  SamplingParams sampling;
  std::optional<uint64_t> seed;
};

int run(const RunOptions& opt) {
  const auto t_load = std::chrono::steady_clock::now();
  const auto model = Model::load(opt.model);
  const double load_s = seconds_since(t_load);
  const Tokenizer& tok = model->tokenizer();

  const int threads = opt.threads > 0 ? opt.threads : ThreadPool::default_threads();
  ThreadPool pool(threads);
  Session session(*model, opt.ctx_size, &pool);

  const std::vector<TokenId> prompt = tok.encode(opt.prompt, /*add_special=*/true,
                                                 /*parse_special=*/false);
  if (prompt.empty()) throw Error("the prompt is empty and the model adds no BOS token");
  if (static_cast<int32_t>(prompt.size()) >= session.n_ctx()) {
    throw Error("the prompt has " + std::to_string(prompt.size()) +
                " tokens, more than the context size " + std::to_string(session.n_ctx()) +
                " allows (use --ctx-size)");
  }

  const SamplingParams sp = with_seed(opt.sampling, opt.seed);
  Sampler sampler(sp, model->hparams().n_vocab);
  for (const TokenId t : prompt) sampler.accept(t);

  if (!opt.no_echo) {
    std::fwrite(opt.prompt.data(), 1, opt.prompt.size(), stdout);
    std::fflush(stdout);
  }

  g_interrupted = false;
  std::signal(SIGINT, on_sigint);

  const auto t_prompt = std::chrono::steady_clock::now();
  std::span<const float> logits = session.eval(prompt, /*all_logits=*/false);
  const double prompt_s = seconds_since(t_prompt);

  const auto t_gen = std::chrono::steady_clock::now();
  int n_generated = 0;
  const char* stop_reason = "length";
  while (opt.n_predict < 0 || n_generated < opt.n_predict) {
    if (g_interrupted) {
      stop_reason = "interrupted";
      break;
    }
    const TokenId next = sampler.sample(logits.data());
    if (tok.is_eog(next)) {
      stop_reason = "end of text";
      break;
    }
    const std::string piece = tok.token_to_piece(next);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    sampler.accept(next);
    ++n_generated;
    if (session.n_past() >= session.n_ctx()) {
      stop_reason = "context full";
      break;
    }
    logits = session.eval(std::span<const TokenId>(&next, 1), false);
  }
  const double gen_s = seconds_since(t_gen);
  std::signal(SIGINT, SIG_DFL);
  std::fputc('\n', stdout);
  std::fflush(stdout);

  std::fprintf(stderr,
               "\nhearth: stopped (%s); load %.0f ms | prompt %zu tokens, %.1f tokens/s | "
               "generation %d tokens, %.1f tokens/s | %d threads, seed %llu\n",
               stop_reason, load_s * 1e3, prompt.size(), prompt.size() / prompt_s, n_generated,
               n_generated > 0 ? n_generated / gen_s : 0.0, threads,
               static_cast<unsigned long long>(sp.seed));
  return g_interrupted ? 130 : 0;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt");
  cmd->add_option("-m,--model", opt->model, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", opt->prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", opt->n_predict,
                  "Tokens to generate (-1: until end of text or a full context)")
      ->capture_default_str();
  add_sampling_options(cmd, opt->sampling, opt->seed);
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("-c,--ctx-size", opt->ctx_size, "Context size (default: the model's)")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_flag("--no-echo", opt->no_echo, "Print only the continuation, not the prompt");
  cmd->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace hearth::cli
