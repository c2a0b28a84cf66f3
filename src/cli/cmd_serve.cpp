// hearth serve: an OpenAI- and Ollama-compatible HTTP server over one model,
// with continuous batching across --parallel slots and safe defaults
// (loopback only, API key for anything else, Host and Origin checks).
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/read_file.h"
#include "model/model.h"
#include "server/engine_backend.h"
#include "server/http_server.h"
#include "tensor/ggml_type.h"
#include "tools/weight_format.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

struct ServeOptions {
  server::ServerOptions http;
  std::string model;
  std::string alias;
  std::string chat_template_file;
  int parallel = 4;
  int ctx_size = 0;
  int threads = 0;
  int queue = 64;
};

// Signals are taken by one thread with sigwait (blocked everywhere else), so
// the shutdown runs as ordinary code instead of inside a signal handler.
std::mutex g_signal_mutex;
std::condition_variable g_signal_cv;
int g_signal_count = 0;

void signal_thread(sigset_t set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    std::lock_guard lock(g_signal_mutex);
    ++g_signal_count;
    if (g_signal_count == 1) {
      std::fprintf(stderr, "hearth: %s received, shutting down (again to force)\n", strsignal(sig));
    } else {
      std::fprintf(stderr, "hearth: forced exit\n");
      std::_Exit(130);
    }
    g_signal_cv.notify_all();
  }
}

// The facts /v1/models, /api/tags and /api/show report that the engine does
// not know: name, file, quantization.
server::ModelInfo describe(const Model& model, const ServeOptions& opt) {
  server::ModelInfo info;
  const std::filesystem::path path(opt.model);
  info.name = opt.alias.empty() ? path.stem().string() : opt.alias;
  info.path = std::filesystem::absolute(path).string();
  struct stat st {};
  if (::stat(opt.model.c_str(), &st) == 0) info.modified_unix = st.st_mtime;
  const auto ftype = model.file().get_int_or("general.file_type", -1);
  const auto name = ftype >= 0 ? tools::llama_ftype_name(static_cast<uint32_t>(ftype)) : std::nullopt;
  if (name) {
    info.quantization = std::string(*name);
  } else {
    // No file type recorded: name the type of the largest tensor.
    const gguf::TensorInfo* largest = nullptr;
    for (const auto& t : model.file().tensors()) {
      if (!largest || t.n_bytes > largest->n_bytes) largest = &t;
    }
    if (largest) info.quantization = std::string(type_name(largest->type));
  }
  return info;
}

int serve(ServeOptions opt) {
  const std::string warning = server::check_exposure(opt.http);
  if (!warning.empty()) std::fprintf(stderr, "hearth: %s\n", warning.c_str());
  std::string template_source;
  if (!opt.chat_template_file.empty()) template_source = read_file(opt.chat_template_file);
  if (opt.http.http_threads == 0) opt.http.http_threads = std::max(32, opt.parallel + opt.queue + 16);

  // Before any thread exists, so every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
  std::thread(signal_thread, set).detach();

  server::HttpServer http(opt.http);
  const int port = http.bind();
  std::thread serving([&http] { http.serve(); });
  std::fprintf(stderr, "hearth: listening on http://%s:%d (loading %s)\n", opt.http.host.c_str(), port,
               opt.model.c_str());

  std::unique_ptr<Model> model;
  std::unique_ptr<server::EngineBackend> backend;
  try {
    model = Model::load(opt.model);
    engine::SchedulerOptions sched;
    sched.n_slots = opt.parallel;
    sched.n_ctx = opt.ctx_size;
    sched.threads = opt.threads;
    sched.max_queue = opt.queue;
    backend = std::make_unique<server::EngineBackend>(*model, describe(*model, opt), sched, template_source);
  } catch (...) {
    http.stop();
    serving.join();
    throw;
  }
  http.set_backend(backend.get());
  std::fprintf(stderr, "hearth: ready: model %s, %d slot(s) of %d tokens, chat template: %s\n",
               backend->info().name.c_str(), opt.parallel, backend->n_ctx(), backend->info().template_name.c_str());

  {
    std::unique_lock lock(g_signal_mutex);
    g_signal_cv.wait(lock, [] { return g_signal_count > 0; });
  }
  http.shutdown_gracefully(std::chrono::milliseconds(static_cast<int64_t>(opt.http.shutdown_grace_s * 1000)));
  serving.join();
  http.set_backend(nullptr);
  backend.reset();
  std::fprintf(stderr, "hearth: stopped\n");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ServeOptions>();
  auto& h = opt->http;
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI- and Ollama-compatible HTTP API");
  cmd->add_option("-m,--model", opt->model, "GGUF model file")->required();
  cmd->add_option("--host", h.host, "Address to bind (non-loopback needs --api-key or --no-auth)")
      ->capture_default_str();
  cmd->add_option("--port", h.port, "TCP port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", opt->parallel, "Requests decoded together (slots)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("-c,--ctx-size", opt->ctx_size, "Context per slot in tokens (0: the engine's default)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 24));
  cmd->add_option("-t,--threads", opt->threads, "Compute threads (default: physical cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--queue", opt->queue, "Requests that may wait for a slot; more get 429")
      ->capture_default_str()->check(CLI::Range(0, 100000));
  cmd->add_option("--api-key", h.api_key, "Require \"Authorization: Bearer KEY\" on every request but /health")
      ->check([](const std::string& key) { return key.empty() ? std::string("the key must not be empty") : std::string(); });
  cmd->add_flag("--no-auth", h.no_auth, "Allow a non-loopback --host without an API key (prints a warning)");
  cmd->add_option("--cors-origin", h.cors_origins,
                  "Browser origin allowed to call the API, e.g. http://localhost:3000 (repeatable; * for any)");
  cmd->add_option("--allowed-host", h.allowed_hosts,
                  "Host header name accepted besides loopback names and --host (repeatable; * for any)");
  cmd->add_option("--chat-template", opt->chat_template_file, "Jinja chat template file to use instead of the model's");
  cmd->add_option("--alias", opt->alias, "Model name clients see (default: the file name without .gguf)");
  cmd->add_option("--max-body", h.max_body_bytes, "Largest request body in bytes; larger get 413")
      ->capture_default_str()->check(CLI::Range(size_t{1024}, size_t{1} << 30));
  cmd->add_option("--max-tokens-cap", h.max_tokens_cap, "Largest max_tokens / num_predict a request may ask for")
      ->capture_default_str()->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--shutdown-grace", h.shutdown_grace_s,
                  "Seconds running requests may finish after SIGTERM before they are cancelled")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  cmd->add_flag("--log-prompts", h.log_prompts, "Include prompt and output text in the access log");
  cmd->add_flag("--no-access-log", [opt](int64_t) { opt->http.access_log = false; }, "Do not log requests to stderr");
  cmd->callback([opt, &exit_code] { exit_code = serve(*opt); });
}

}  // namespace hearth::cli
