// Chat templates: the Jinja template a GGUF file carries in
// `tokenizer.chat_template`, rendered exactly as Hugging Face transformers'
// apply_chat_template(..., tokenize=False) renders it (Jinja2's
// ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the
// loopcontrols extension, {% generation %}, tojson = json.dumps,
// raise_exception and strftime_now). Output must match byte for byte: a
// prompt laid out differently from training silently degrades every answer.
//
//   auto tmpl = hearth::chat::ChatTemplate::parse(source);    // throws TemplateError
//   std::string prompt = hearth::chat::render_chat(tmpl, messages, nullptr, true, "<s>", "</s>");
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/jinja_error.h"
#include "chat/render_options.h"

namespace hearth::chat {

class ChatTemplate {
 public:
  // Parses (and fully checks the syntax of) a template. Throws TemplateError.
  static ChatTemplate parse(std::string source);

  // Renders with `context` (a JSON object, or null for no variables; keys
  // become template variables, object key order is kept). Throws TemplateError for template errors and
  // when a limit in `options` is exceeded. Thread-safe: a parsed template can
  // be rendered concurrently.
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

  const std::string& source() const;

 private:
  struct Impl;
  explicit ChatTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// The variables apply_chat_template passes: messages, tools (null -> None),
// documents = None, add_generation_prompt, bos_token, eos_token, then
// `extra_vars` (an object; its keys may override the others).
nlohmann::ordered_json chat_context(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                    bool add_generation_prompt, std::string_view bos_token,
                                    std::string_view eos_token,
                                    const nlohmann::ordered_json& extra_vars = nlohmann::ordered_json::object());

std::string render_chat(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools, bool add_generation_prompt,
                        std::string_view bos_token, std::string_view eos_token,
                        const nlohmann::ordered_json& extra_vars = nlohmann::ordered_json::object(),
                        const RenderOptions& options = {});

}  // namespace hearth::chat
