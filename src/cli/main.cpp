// hearth: run large language models privately on this machine.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "kernels/matmul.h"
#include "util/error.h"

namespace {

std::string version_string() {
  return "hearth 0.1.0 (kernels: " + hearth::kernels::cpu_features_string() + ")";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hearth: run large language models privately on this machine"};
  app.set_version_flag("--version", version_string);
  app.require_subcommand(1);

  int exit_code = 0;
  hearth::cli::add_run_command(app, exit_code);
  hearth::cli::add_inspect_command(app, exit_code);
  hearth::cli::add_logits_command(app, exit_code);
  hearth::cli::add_tokenize_command(app, exit_code);
  hearth::cli::add_bench_command(app, exit_code);
  hearth::cli::add_synth_command(app, exit_code);
  hearth::cli::add_template_command(app, exit_code);
  hearth::cli::add_serve_command(app, exit_code);
  hearth::cli::add_chat_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const hearth::Error& e) {
    std::fprintf(stderr, "hearth: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "hearth: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hearth: internal error: %s\n", e.what());
    return 2;
  }
  return exit_code;
}
