#include "chat/chat_template.h"

#include "chat/jinja_interp.h"
#include "chat/jinja_parser.h"

namespace hearth::chat {

struct ChatTemplate::Impl {
  std::string source;
  jinja::Program program;
};

ChatTemplate ChatTemplate::parse(std::string source) {
  auto impl = std::make_shared<Impl>();
  impl->program = jinja::parse_template(source);
  impl->source = std::move(source);
  return ChatTemplate(std::move(impl));
}

const std::string& ChatTemplate::source() const { return impl_->source; }

std::string ChatTemplate::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  if (!context.is_object() && !context.is_null()) {
    throw TemplateError(ErrorKind::Type, "template context must be a JSON object");
  }
  const jinja::Value vars = context.is_null() ? jinja::Value::none() : jinja::from_json(context);
  jinja::Interp interp(impl_->program, options);
  return interp.render(vars);
}

nlohmann::ordered_json chat_context(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                    bool add_generation_prompt, std::string_view bos_token,
                                    std::string_view eos_token, const nlohmann::ordered_json& extra_vars) {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  ctx["tools"] = tools;  // null renders as None, as transformers passes it
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = std::string(bos_token);
  ctx["eos_token"] = std::string(eos_token);
  if (extra_vars.is_object()) {
    for (const auto& [k, v] : extra_vars.items()) ctx[k] = v;
  }
  return ctx;
}

std::string render_chat(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools, bool add_generation_prompt,
                        std::string_view bos_token, std::string_view eos_token,
                        const nlohmann::ordered_json& extra_vars, const RenderOptions& options) {
  return tmpl.render(chat_context(messages, tools, add_generation_prompt, bos_token, eos_token, extra_vars),
                     options);
}

}  // namespace hearth::chat
