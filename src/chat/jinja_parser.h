// Parser: tokens -> Program, following jinja2.parser's grammar (operator
// precedence, tests without parentheses, tuple rules, {% set %} block form,
// macros/call blocks, loop filters) so that templates parse exactly where
// Jinja2 accepts them.
#pragma once

#include <string_view>

#include "chat/jinja_ast.h"

namespace hearth::chat::jinja {

// Deepest nesting of blocks and expressions the parser accepts. Jinja2 itself
// is bounded by Python's recursion limit; real chat templates nest < 20 deep.
inline constexpr int kMaxParseDepth = 200;

// Parses template source (raw; newlines are normalized here). Throws
// TemplateError (Syntax) with the line number.
Program parse_template(std::string_view source);

}  // namespace hearth::chat::jinja
