// hearth chat: a conversation in the terminal, laid out with the model's own
// chat template. The engine keeps the conversation's KV cache between turns,
// so each turn processes only its new tokens (the stats line says how many).
#include <CLI/CLI.hpp>
#include <editline/readline.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/read_file.h"
#include "cli/sampling_options.h"
#include "engine/chat_prompt.h"
#include "engine/scheduler.h"
#include "model/model.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

using json = nlohmann::ordered_json;

std::atomic<bool>* g_cancel = nullptr;  // the reply being generated, for Ctrl-C

void on_sigint(int) {
  if (g_cancel) g_cancel->store(true);
}

struct ChatOptions {
  std::string model;
  std::string system;
  std::string template_file;
  int n_predict = -1;
  int threads = 0;
  int ctx_size = 0;
  bool quiet = false;
  SamplingParams sampling;
  std::optional<uint64_t> seed;
};

constexpr const char* kHelp =
    "Commands:\n"
    "  /help         this text\n"
    "  /reset        forget the conversation (the system prompt stays)\n"
    "  /save FILE    write the conversation to FILE as JSON messages\n"
    "  /load FILE    read a conversation (a JSON array of messages) from FILE\n"
    "  /exit, /bye   leave (as does Ctrl-D)\n"
    "Multi-line input: end a line with \\ to continue it, or put \"\"\" before and after the text.\n"
    "Ctrl-C stops a reply. Nothing is written to disk unless you /save.\n";

class Chat {
 public:
  Chat(const ChatOptions& opt, const Model& model)
      : opt_(opt),
        prompt_(model, opt.template_file.empty() ? "" : read_file(opt.template_file)),
        engine_(model, {.n_slots = 1, .n_ctx = opt.ctx_size, .threads = opt.threads, .max_queue = 1}),
        sampling_(with_seed(opt.sampling, opt.seed)) {
    if (prompt_.fallback_used() && !opt.quiet) {
      std::fprintf(stderr, "hearth: %s has no chat template; using ChatML (--chat-template FILE to choose one)\n",
                   opt.model.c_str());
    }
    reset();
  }

  void reset() {
    messages_ = json::array();
    if (!opt_.system.empty()) messages_.push_back({{"role", "system"}, {"content", opt_.system}});
  }

  // One user turn: the reply is streamed to stdout.
  void turn(const std::string& user_text) {
    messages_.push_back({{"role", "user"}, {"content", user_text}});
    std::vector<TokenId> tokens = fit_context();
    if (tokens.empty()) {
      messages_.erase(messages_.end() - 1);
      return;
    }
    engine::GenerationRequest req;
    req.prompt = std::move(tokens);
    req.sampling = sampling_;
    req.sampling.seed = sampling_.seed + turns_++;
    req.max_tokens = opt_.n_predict;
    req.cancel = std::make_shared<std::atomic<bool>>(false);
    g_cancel = req.cancel.get();
    std::signal(SIGINT, on_sigint);
    const engine::GenerationResult r = engine_.generate(std::move(req), [](const engine::TokenEvent& ev) {
      std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
      std::fflush(stdout);
    });
    std::signal(SIGINT, SIG_DFL);
    g_cancel = nullptr;
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (r.finish == engine::FinishReason::Error) throw Error(r.error);
    messages_.push_back({{"role", "assistant"}, {"content", r.text}});
    const int32_t used = r.prompt_tokens + r.completion_tokens;
    if (r.finish == engine::FinishReason::Length && opt_.n_predict >= 0 && r.completion_tokens < opt_.n_predict) {
      std::fprintf(stderr, "hearth: the context is full (%d tokens); older turns will be dropped\n", used);
    }
    if (!opt_.quiet) {
      std::fprintf(stderr,
                   "hearth: prompt %d tokens (%d cached, %d processed) | reply %d tokens, %.1f tokens/s | "
                   "context %d/%d%s\n",
                   r.prompt_tokens, r.cached_tokens, r.prompt_tokens - r.cached_tokens, r.completion_tokens,
                   r.generation_s > 0 ? (r.completion_tokens - 1) / r.generation_s : 0.0, used, engine_.n_ctx(),
                   r.finish == engine::FinishReason::Cancelled ? " | stopped" : "");
    }
  }

  void save(const std::string& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write");
    out << messages_.dump(2) << '\n';
    if (!out) throw Error(path + ": write failed");
  }

  void load(const std::string& path) {
    json loaded;
    try {
      loaded = json::parse(read_file(path));
    } catch (const json::exception& e) {
      throw Error(path + ": invalid JSON: " + e.what());
    }
    if (!loaded.is_array()) throw Error(path + ": expected a JSON array of messages");
    for (const json& m : loaded) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
          !m["content"].is_string()) {
        throw Error(path + ": each message needs a string \"role\" and \"content\"");
      }
    }
    messages_ = std::move(loaded);
  }

  size_t n_messages() const { return messages_.size(); }

 private:
  // The conversation's tokens, dropping the oldest turns (never the system
  // prompt or the new message) until they fit with room for a reply.
  std::vector<TokenId> fit_context() {
    const int32_t n_ctx = engine_.n_ctx();
    const int32_t reserve = opt_.n_predict >= 0 ? std::min(opt_.n_predict, n_ctx / 2) : n_ctx / 4;
    int dropped = 0;
    for (;;) {
      std::vector<TokenId> tokens = prompt_.tokens(messages_, nullptr, true);
      if (static_cast<int32_t>(tokens.size()) + reserve <= n_ctx) {
        if (dropped > 0) {
          std::fprintf(stderr, "hearth: context full: dropped the %d oldest message%s%s\n", dropped,
                       dropped == 1 ? "" : "s", opt_.system.empty() ? "" : " (the system prompt is kept)");
        }
        return tokens;
      }
      const size_t first = !messages_.empty() && messages_[0]["role"] == "system" ? 1 : 0;
      if (messages_.size() - first <= 1) {
        std::fprintf(stderr, "hearth: that message is too long: %zu tokens with the system prompt, and the context holds %d "
                     "(with %d kept for the reply); use --ctx-size\n",
                     tokens.size(), n_ctx, reserve);
        return {};
      }
      // Drop a whole turn: the oldest message and the replies that follow it.
      size_t end = first + 1;
      while (end < messages_.size() - 1 && messages_[end]["role"] != "user") ++end;
      dropped += static_cast<int>(end - first);
      messages_.erase(messages_.begin() + first, messages_.begin() + end);
    }
  }

  const ChatOptions& opt_;
  engine::ChatPrompt prompt_;
  engine::Scheduler engine_;
  SamplingParams sampling_;
  uint64_t turns_ = 0;
  json messages_;
};

// Reads one message from the terminal: continuation lines after a trailing
// backslash, or a """ ... """ block. nullopt at end of input.
std::optional<std::string> read_message() {
  std::string text;
  bool block = false;
  for (;;) {
    char* raw = readline(text.empty() && !block ? ">>> " : "... ");
    if (!raw) return text.empty() && !block ? std::nullopt : std::optional(text);
    std::string line(raw);
    std::free(raw);
    if (!block && text.empty() && line.starts_with("\"\"\"")) {
      block = true;
      line.erase(0, 3);
      if (line.ends_with("\"\"\"") ) {
        line.resize(line.size() - 3);
        return line;
      }
      text = line;
      continue;
    }
    if (block) {
      if (line.ends_with("\"\"\"")) {
        line.resize(line.size() - 3);
        return (text.empty() ? "" : text + "\n") + line;
      }
      text += (text.empty() ? "" : "\n") + line;
      continue;
    }
    if (line.ends_with("\\")) {
      line.pop_back();
      text += line + "\n";
      continue;
    }
    return text + line;
  }
}

int interactive(Chat& chat) {
  std::fprintf(stderr, "hearth: chatting; /help for commands, Ctrl-D to leave\n");
  for (;;) {
    const std::optional<std::string> input = read_message();
    if (!input) break;
    const std::string& text = *input;
    if (text.find_first_not_of(" \t\n") == std::string::npos) continue;
    add_history(text.c_str());
    try {
      if (text[0] == '/') {
        const size_t space = text.find(' ');
        const std::string cmd = text.substr(0, space);
        const std::string arg = space == std::string::npos ? "" : text.substr(text.find_first_not_of(' ', space));
        if (cmd == "/exit" || cmd == "/bye" || cmd == "/quit") break;
        if (cmd == "/help" || cmd == "/?") {
          std::fputs(kHelp, stdout);
        } else if (cmd == "/reset" || cmd == "/clear") {
          chat.reset();
          std::fprintf(stderr, "hearth: conversation cleared\n");
        } else if ((cmd == "/save" || cmd == "/load") && arg.empty()) {
          std::fprintf(stderr, "hearth: %s needs a file name\n", cmd.c_str());
        } else if (cmd == "/save") {
          chat.save(arg);
          std::fprintf(stderr, "hearth: saved %zu messages to %s\n", chat.n_messages(), arg.c_str());
        } else if (cmd == "/load") {
          chat.load(arg);
          std::fprintf(stderr, "hearth: loaded %zu messages from %s\n", chat.n_messages(), arg.c_str());
        } else {
          std::fprintf(stderr, "hearth: unknown command %s (/help lists them)\n", cmd.c_str());
        }
        continue;
      }
      chat.turn(text);
    } catch (const Error& e) {
      std::fprintf(stderr, "hearth: error: %s\n", e.what());
    }
  }
  return 0;
}

int run(const ChatOptions& opt) {
  const auto model = Model::load(opt.model);
  Chat chat(opt, *model);
  if (isatty(STDIN_FILENO)) return interactive(chat);
  // Piped input: the whole of stdin is one message, answered once.
  const std::string text(std::istreambuf_iterator<char>(std::cin), {});
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("no message on standard input");
  chat.turn(text);
  return 0;
}

}  // namespace

void add_chat_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal (or answer a message piped to stdin)");
  cmd->add_option("-m,--model", opt->model, "GGUF model file")->required();
  cmd->add_option("--system", opt->system, "System prompt");
  cmd->add_option("--chat-template", opt->template_file,
                  "Jinja chat template file to use instead of the model's");
  cmd->add_option("-n,--n-predict", opt->n_predict, "Most tokens per reply (-1: until the end of the turn)")
      ->capture_default_str();
  add_sampling_options(cmd, opt->sampling, opt->seed);
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("-c,--ctx-size", opt->ctx_size, "Context size (default: the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_flag("-q,--quiet", opt->quiet, "No status lines on stderr");
  cmd->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace hearth::cli
