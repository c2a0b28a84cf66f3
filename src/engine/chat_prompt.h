// Turning a conversation into the model's prompt tokens: the chat template
// the GGUF file carries (or a --chat-template override, or a named fallback
// when the file has none), rendered byte-exactly, then tokenized so that the
// template's special-token text becomes special tokens while the text of the
// messages never does (a user typing "<|im_end|>" gets those characters,
// not an end-of-turn).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth {
class Model;
namespace gguf {
class File;
}
}  // namespace hearth
namespace hearth::chat {
class ChatTemplate;
}

namespace hearth::engine {

class ChatPrompt {
 public:
  // template_source: a template to use instead of the model's (empty: the
  // model's tokenizer.chat_template, or the ChatML fallback when it has
  // none — `fallback_used()` says so). Throws hearth::Error (with the
  // template's line) for a template that does not parse.
  ChatPrompt(const gguf::File& file, const Tokenizer& tokenizer, const std::string& template_source = "");
  explicit ChatPrompt(const Model& model, const std::string& template_source = "");
  ~ChatPrompt();

  // Renders `messages` (OpenAI-style [{role, content}, ...]; tools may be
  // null) and tokenizes the result. extra_vars: more template variables
  // (e.g. {"enable_thinking": false}). Throws hearth::Error for a template
  // error (it names the line) or bad messages.
  std::vector<TokenId> tokens(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                              bool add_generation_prompt,
                              const nlohmann::ordered_json& extra_vars = nlohmann::ordered_json::object()) const;
  // The rendered text alone.
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt,
                     const nlohmann::ordered_json& extra_vars = nlohmann::ordered_json::object()) const;

  bool fallback_used() const { return fallback_used_; }
  std::string_view name() const { return name_; }  // "model", "file", "chatml"

 private:
  const Tokenizer& tok_;
  std::unique_ptr<chat::ChatTemplate> template_;
  std::string bos_text_, eos_text_;
  bool fallback_used_ = false;
  std::string name_;
};

// The ChatML layout (<|im_start|>role\ncontent<|im_end|>\n), used when a
// model carries no template.
extern const char* const kChatMlTemplate;

}  // namespace hearth::engine
