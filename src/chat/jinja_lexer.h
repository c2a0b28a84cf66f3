// Jinja2's lexer as configured by Hugging Face's chat-template environment:
// default delimiters, trim_blocks and lstrip_blocks on, keep_trailing_newline
// off. Whitespace control ({%- -%} {{- -}} {#- -#} and the + forms) is applied
// here, exactly where Jinja2's lexer applies it, so the parser only sees the
// data that will be printed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat::jinja {

enum class TokType { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Op, Eof };

struct Token {
  TokType type = TokType::Eof;
  std::string value;  // data text, name, decoded string literal, operator spelling
  int64_t ival = 0;
  double fval = 0;
  int line = 1;
};

// What Jinja2 does to a template source before lexing: \r\n and \r become \n,
// and one trailing newline is dropped (keep_trailing_newline=False).
std::string normalize_source(std::string_view raw);

// Tokenizes a normalized source. Throws TemplateError (Syntax) with the line.
std::vector<Token> tokenize(std::string_view source);

}  // namespace hearth::chat::jinja
