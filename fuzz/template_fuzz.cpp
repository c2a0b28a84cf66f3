// libFuzzer target for the chat-template engine: any bytes are a template;
// it is parsed and rendered against a small fixed conversation (with tools).
// Both must either succeed or throw hearth::chat::TemplateError - a crash, a
// sanitizer report, a hang past libFuzzer's -timeout or another exception
// type escaping is a finding. Limits are tightened so that hostile inputs hit
// them quickly; a render is also repeated to check it is deterministic.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.h"

// UBSan findings must stop the run like ASan's do.
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

namespace {

using json = nlohmann::ordered_json;
namespace chat = hearth::chat;

const json& messages() {
  static const json m = json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Héllo <b> & 'q' 😀\n"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call12345", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": 1.5, "ok": true, "x": null}}}]},
    {"role": "tool", "tool_call_id": "call12345", "content": "{\"t\": 21}"},
    {"role": "user", "content": ["list", {"type": "text", "text": "part"}]}
  ])");
  return m;
}

const json& tools() {
  static const json t = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
    "required": ["city"]}}}])");
  return t;
}

chat::RenderOptions options() {
  chat::RenderOptions o;
  o.max_output_bytes = 1 << 16;
  o.max_loop_iterations = 20000;
  o.max_steps = 300000;
  o.max_alloc_bytes = 16 << 20;
  o.max_call_depth = 40;
  o.clock = [] {
    std::tm tm{};
    tm.tm_year = 126;
    tm.tm_mday = 15;
    return tm;
  };
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const chat::RenderOptions opts = options();
  const std::string source(reinterpret_cast<const char*>(data), size);
  try {
    const chat::ChatTemplate tmpl = chat::ChatTemplate::parse(source);
    std::string first;
    bool first_ok = false;
    try {
      first = chat::render_chat(tmpl, messages(), tools(), true, "<s>", "</s>", json::object(), opts);
      first_ok = true;
    } catch (const chat::TemplateError&) {
    }
    if (first_ok) {
      const std::string again = chat::render_chat(tmpl, messages(), tools(), true, "<s>", "</s>", json::object(), opts);
      // strftime_now uses the fixed clock, so a template's output is a pure function of its input.
      if (again != first) {
        std::fprintf(stderr, "template_fuzz: two renders of one template differ\n");
        std::abort();
      }
    }
  } catch (const chat::TemplateError&) {
  }
  return 0;
}
