#include "engine/chat_prompt.h"

#include <string_view>

#include "chat/chat_template.h"
#include "model/model.h"
#include "util/error.h"

namespace hearth::engine {

const char* const kChatMlTemplate =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

namespace {

using json = nlohmann::ordered_json;

// Private-use code points around a number mark where message text went.
constexpr std::string_view kOpen = "\xEE\x80\x80", kClose = "\xEE\x80\x81";

std::string sentinel(size_t i) { return std::string(kOpen) + std::to_string(i) + std::string(kClose); }

// A copy of `messages` with each text (a string content, or the text of a
// content part) replaced by a sentinel; `texts` gets the originals.
json with_sentinels(const json& messages, std::vector<std::string>& texts) {
  json out = messages;
  if (!out.is_array()) return out;
  auto swap_text = [&texts](json& v) {
    if (!v.is_string()) return;
    texts.push_back(v.get<std::string>());
    v = sentinel(texts.size() - 1);
  };
  for (json& m : out) {
    if (!m.is_object() || !m.contains("content")) continue;
    json& c = m["content"];
    if (c.is_string()) {
      swap_text(c);
    } else if (c.is_array()) {
      for (json& part : c) {
        if (part.is_object() && part.contains("text")) swap_text(part["text"]);
      }
    }
  }
  return out;
}

// Puts the texts back into a sentinel render, recording where each went.
// Returns false when a sentinel is malformed (the template cut one apart).
bool restore(std::string_view marked, const std::vector<std::string>& texts, std::string& out,
             std::vector<TextRange>& ranges) {
  size_t pos = 0;
  for (;;) {
    const size_t open = marked.find(kOpen, pos);
    out.append(marked.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
    if (open == std::string_view::npos) return marked.find(kClose, pos) == std::string_view::npos;
    if (marked.substr(pos, open - pos).find(kClose) != std::string_view::npos) return false;
    const size_t close = marked.find(kClose, open);
    if (close == std::string_view::npos) return false;
    size_t index = 0;
    const std::string_view digits = marked.substr(open + kOpen.size(), close - open - kOpen.size());
    if (digits.empty() || digits.size() > 9) return false;
    for (const char c : digits) {
      if (c < '0' || c > '9') return false;
      index = index * 10 + static_cast<size_t>(c - '0');
    }
    if (index >= texts.size()) return false;
    if (!texts[index].empty()) ranges.push_back({out.size(), out.size() + texts[index].size()});
    out += texts[index];
    pos = close + kClose.size();
  }
}

}  // namespace

ChatPrompt::ChatPrompt(const Model& model, const std::string& template_source)
    : ChatPrompt(model.file(), model.tokenizer(), template_source) {}

ChatPrompt::ChatPrompt(const gguf::File& file, const Tokenizer& tok, const std::string& template_source)
    : tok_(tok) {
  std::string source = template_source;
  name_ = "file";
  if (source.empty()) {
    const gguf::Value* v = file.find("tokenizer.chat_template");
    if (v && v->as_string() && !v->as_string()->empty()) {
      source = *v->as_string();
      name_ = "model";
    } else {
      source = kChatMlTemplate;
      name_ = "chatml";
      fallback_used_ = true;
    }
  }
  try {
    template_ = std::make_unique<chat::ChatTemplate>(chat::ChatTemplate::parse(std::move(source)));
  } catch (const chat::TemplateError& e) {
    throw Error(std::string(name_ == "model" ? "the model's chat template" : "the chat template") +
                ": " + e.what());
  }
  if (tok.bos() >= 0) bos_text_ = tok.token_text(tok.bos());
  if (tok.eos() >= 0) eos_text_ = tok.token_text(tok.eos());
}

ChatPrompt::~ChatPrompt() = default;

std::string ChatPrompt::render(const json& messages, const json& tools, bool add_generation_prompt,
                               const json& extra_vars) const {
  if (!messages.is_array()) throw Error("messages: expected an array of {role, content} objects");
  try {
    return chat::render_chat(*template_, messages, tools, add_generation_prompt, bos_text_, eos_text_, extra_vars);
  } catch (const chat::TemplateError& e) {
    throw Error(std::string("chat template: ") + e.what());
  }
}

std::vector<TokenId> ChatPrompt::tokens(const json& messages, const json& tools, bool add_generation_prompt,
                                        const json& extra_vars) const {
  const std::string text = render(messages, tools, add_generation_prompt, extra_vars);
  // Where the messages' text lies in the render: render once more with
  // sentinels in place of the texts; if putting the texts back gives the
  // same prompt, the sentinels' places are exact. (A template that inspects
  // the text, e.g. splits off reasoning, can render differently; then the
  // messages' text is found by search, in order.)
  std::vector<std::string> texts;
  std::vector<TextRange> ranges;
  std::string restored;
  bool exact = false;
  try {
    const std::string marked =
        chat::render_chat(*template_, with_sentinels(messages, texts), tools, add_generation_prompt, bos_text_,
                          eos_text_, extra_vars);
    exact = restore(marked, texts, restored, ranges) && restored == text;
  } catch (const chat::TemplateError&) {
  }
  if (!exact) {
    ranges.clear();
    size_t from = 0;
    for (const std::string& t : texts) {
      if (t.empty()) continue;
      const size_t at = text.find(t, from);
      if (at == std::string::npos) continue;
      ranges.push_back({at, at + t.size()});
      from = at + t.size();
    }
  }
  std::erase_if(ranges, [](const TextRange& r) { return r.begin == r.end; });
  // Templates add BOS themselves (as text, parsed here as special); ask the
  // tokenizer for one only when the render does not start with it.
  const bool add_bos = !(tok_.bos() >= 0 && !bos_text_.empty() && text.starts_with(bos_text_));
  return tok_.encode(text, add_bos, /*parse_special=*/true, ranges);
}

}  // namespace hearth::engine
