// hearth template: render a chat template the way Hugging Face's
// apply_chat_template does, to see the exact prompt a model will get. The
// template comes from a file or from a GGUF model's tokenizer.chat_template
// (only metadata and vocab are read, never the weights).
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/read_file.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

using json = nlohmann::ordered_json;

struct TemplateOptions {
  std::string template_file;
  std::string model;
  std::string messages_file;
  bool add_generation_prompt = false;
  std::string bos;
  std::string eos;
  bool bos_given = false;
  bool eos_given = false;
  std::vector<std::string> vars;
  std::string now;
};

json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(what + ": invalid JSON: " + e.what());
  }
}

// "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (or with 'T') as a local time.
std::tm parse_now(const std::string& text) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  const int n = std::sscanf(text.c_str(), "%d-%d-%d%c%d:%d:%d", &y, &mo, &d, &sep, &h, &mi, &s);
  if (!(n == 3 || (n == 7 && (sep == ' ' || sep == 'T'))) || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
      h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) {
    throw Error("--now: expected YYYY-MM-DD or \"YYYY-MM-DD HH:MM:SS\", got '" + text + "'");
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  std::tm copy = tm;
  if (timegm(&copy) == -1) throw Error("--now: date out of range: '" + text + "'");
  // timegm normalized the copy and filled in the weekday and day of year.
  tm.tm_wday = copy.tm_wday;
  tm.tm_yday = copy.tm_yday;
  return tm;
}

// Template errors can carry template-chosen text with newlines; the CLI
// reports one line.
std::string one_line(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

int run(const TemplateOptions& opt) {
  std::string source;
  std::string bos, eos;
  if (!opt.model.empty()) {
    const gguf::File file = gguf::File::open(opt.model);
    const gguf::Value* v = file.find("tokenizer.chat_template");
    if (!v || !v->as_string()) throw Error(opt.model + ": the model has no tokenizer.chat_template");
    source = *v->as_string();
    if (!opt.bos_given || !opt.eos_given) {
      // The special tokens' text as the tokenizer knows it; a model without
      // a BOS (or EOS) token renders it as the empty string.
      const auto tokenizer = Tokenizer::from_gguf(file);
      if (tokenizer->bos() >= 0) bos = tokenizer->token_text(tokenizer->bos());
      if (tokenizer->eos() >= 0) eos = tokenizer->token_text(tokenizer->eos());
    }
  } else {
    source = read_input(opt.template_file);
  }
  if (opt.bos_given) bos = opt.bos;
  if (opt.eos_given) eos = opt.eos;

  const json input = parse_json(read_input(opt.messages_file), opt.messages_file);
  json messages, tools = nullptr;
  if (input.is_array()) {
    messages = input;
  } else if (input.is_object() && input.contains("messages") && input["messages"].is_array()) {
    messages = input["messages"];
    if (input.contains("tools")) tools = input["tools"];
  } else {
    throw Error(opt.messages_file +
                ": expected an array of messages or an object with \"messages\" (and optionally \"tools\")");
  }

  json extra = json::object();
  for (const std::string& var : opt.vars) {
    const size_t eq = var.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--var: expected NAME=JSON, got '" + var + "'");
    extra[var.substr(0, eq)] = parse_json(var.substr(eq + 1), "--var " + var.substr(0, eq));
  }

  chat::RenderOptions render_options;
  if (!opt.now.empty()) {
    const std::tm now = parse_now(opt.now);
    render_options.clock = [now] { return now; };
  }
  std::string prompt;
  try {
    const chat::ChatTemplate tmpl = chat::ChatTemplate::parse(std::move(source));
    prompt = chat::render_chat(tmpl, messages, tools, opt.add_generation_prompt, bos, eos, extra, render_options);
  } catch (const chat::TemplateError& e) {
    const std::string where = e.line() > 0 ? " (template line " + std::to_string(e.line()) + ")" : "";
    throw Error("chat template" + where + ": " + std::string(chat::error_kind_name(e.kind())) + ": " +
                one_line(e.message()));
  }
  // The prompt exactly as rendered: no trailing newline added.
  if (!prompt.empty() && std::fwrite(prompt.data(), 1, prompt.size(), stdout) != prompt.size()) {
    throw Error("writing the prompt failed");
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void add_template_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<TemplateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "template", "Render a chat template for a conversation, exactly as the model will see the prompt");
  auto* tmpl = cmd->add_option("-t,--template", opt->template_file, "Jinja chat template file");
  auto* model = cmd->add_option("-m,--model", opt->model,
                                "GGUF model: use its tokenizer.chat_template and BOS/EOS token texts");
  tmpl->excludes(model);
  cmd->add_option("--messages", opt->messages_file,
                  "JSON file ('-': stdin): an array of OpenAI-style messages, or {\"messages\": [...], \"tools\": [...]}")
      ->required();
  cmd->add_flag("--add-generation-prompt", opt->add_generation_prompt,
                "End with the header that starts the assistant's reply");
  auto* bos = cmd->add_option("--bos", opt->bos, "bos_token text (default: the model's, or empty)");
  auto* eos = cmd->add_option("--eos", opt->eos, "eos_token text (default: the model's, or empty)");
  cmd->add_option("--var", opt->vars,
                  "Extra template variable NAME=JSON, e.g. --var enable_thinking=false (repeatable)");
  cmd->add_option("--now", opt->now,
                  "Clock for strftime_now: \"YYYY-MM-DD HH:MM:SS\" (default: the current local time)");
  cmd->callback([opt, tmpl, model, bos, eos, &exit_code] {
    if (tmpl->count() == 0 && model->count() == 0) throw Error("template: give --template FILE or --model FILE");
    opt->bos_given = bos->count() > 0;
    opt->eos_given = eos->count() > 0;
    exit_code = run(*opt);
  });
}

}  // namespace hearth::cli
