// The hearth subcommands. Each add_* registers one subcommand on the CLI11 app;
// its callback runs the command and stores the process exit code. Commands
// throw hearth::Error for bad input; main() prints it as one line on stderr.
#pragma once

namespace CLI {
class App;
}

namespace hearth::cli {

void add_inspect_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_logits_command(CLI::App& app, int& exit_code);
void add_tokenize_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_synth_command(CLI::App& app, int& exit_code);
void add_template_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);
void add_chat_command(CLI::App& app, int& exit_code);

}  // namespace hearth::cli
