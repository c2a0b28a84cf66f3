// Limits and clock for rendering a chat template. The limits exist because a
// GGUF file's template is untrusted input: a hostile template must end with a
// TemplateError, never hang, exhaust memory or overflow the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>

namespace hearth::chat {

struct RenderOptions {
  // Largest rendered prompt, and largest single string a template may build.
  size_t max_output_bytes = 10u << 20;
  // Total iterations of all {% for %} loops in one render.
  uint64_t max_loop_iterations = 1'000'000;
  // Total evaluation steps (expressions, statements, per-element work inside
  // filters); bounds CPU time, including exponential macro recursion.
  uint64_t max_steps = 50'000'000;
  // Total bytes of strings and lists a render may build, cumulatively. Peak
  // memory can never exceed it; real templates stay far below.
  size_t max_alloc_bytes = 512u << 20;
  // Nested macro calls (Jinja2 is bounded by Python's recursion limit).
  int max_call_depth = 100;
  // Native stack one render may use; deep recursion fails cleanly first.
  size_t max_stack_bytes = 2u << 20;
  // strftime_now's clock: local broken-down time. Empty = the real local time.
  std::function<std::tm()> clock;
};

}  // namespace hearth::chat
