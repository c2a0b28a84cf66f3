// hearth logits: evaluate given token ids and dump the logits of every
// position, for checking a model or a port against a reference runtime.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/session.h"
#include "sampling/sampler.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

struct LogitsOptions {
  std::string model;
  std::string tokens;
  std::string out;
  int greedy = 0;
  int threads = 0;
  int ctx_size = 0;
  bool sequential = false;
};

std::vector<TokenId> parse_token_list(const std::string& text) {
  std::vector<TokenId> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? comma : comma - pos);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 0 || v > INT32_MAX) {
      throw Error("--tokens: \"" + item + "\" is not a token id (expected e.g. 1,2,3)");
    }
    ids.push_back(static_cast<TokenId>(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ids;
}

int run(const LogitsOptions& opt) {
  const std::vector<TokenId> tokens = parse_token_list(opt.tokens);
  const auto model = Model::load(opt.model, LoadOptions{.load_tokenizer = false});
  const int32_t n_vocab = model->hparams().n_vocab;
  ThreadPool pool(opt.threads > 0 ? opt.threads : ThreadPool::default_threads());
  const int32_t n_ctx =
      opt.ctx_size > 0 ? opt.ctx_size : static_cast<int32_t>(tokens.size()) + opt.greedy;
  Session session(*model, n_ctx, &pool);

  std::vector<float> all;
  if (opt.sequential) {
    for (const TokenId t : tokens) {
      const auto row = session.eval(std::span<const TokenId>(&t, 1), false);
      all.insert(all.end(), row.begin(), row.end());
    }
  } else {
    const auto rows = session.eval(tokens, /*all_logits=*/true);
    all.assign(rows.begin(), rows.end());
  }

  if (!opt.out.empty()) {
    FILE* f = std::fopen(opt.out.c_str(), "wb");
    if (!f) throw Error(opt.out + ": cannot open for writing");
    const size_t written = std::fwrite(all.data(), sizeof(float), all.size(), f);
    if (std::fclose(f) != 0 || written != all.size()) throw Error(opt.out + ": write failed");
  }

  if (opt.greedy > 0) {
    std::vector<float> last(all.end() - n_vocab, all.end());
    std::string line;
    for (int k = 0; k < opt.greedy; ++k) {
      const TokenId next = argmax(last.data(), n_vocab);
      line += (k ? " " : "") + std::to_string(next);
      if (k + 1 < opt.greedy) {
        const auto row = session.eval(std::span<const TokenId>(&next, 1), false);
        last.assign(row.begin(), row.end());
      }
    }
    std::printf("%s\n", line.c_str());
  }
  std::fprintf(stderr, "hearth: %zu positions x %d logits%s%s\n", tokens.size(), n_vocab,
               opt.out.empty() ? "" : " written to ", opt.out.c_str());
  return 0;
}

}  // namespace

void add_logits_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "Evaluate token ids; write every position's logits as raw float32");
  cmd->add_option("-m,--model", opt->model, "GGUF model file")->required();
  cmd->add_option("--tokens", opt->tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
  cmd->add_option("-o,--out", opt->out,
                  "Output file: positions x vocabulary float32, little-endian, row-major");
  cmd->add_option("--greedy", opt->greedy, "Then print this many greedy continuation ids")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("-c,--ctx-size", opt->ctx_size, "Context size (default: tokens + greedy)")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_flag("--sequential", opt->sequential, "Evaluate one token at a time, not in one batch");
  cmd->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace hearth::cli
