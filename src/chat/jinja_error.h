// The one exception type the Jinja engine throws. Every template failure -
// a syntax error, a runtime error Jinja2 would raise (undefined value used,
// TypeError from Python semantics, sandbox violation), raise_exception() from
// the template itself, or one of our resource limits - arrives as a
// TemplateError carrying the template line, so a caller can show "line N: ..."
// and never has to guess which layer failed.
#pragma once

#include <string>
#include <string_view>

#include "util/error.h"

namespace hearth::chat {

enum class ErrorKind {
  Syntax,     // TemplateSyntaxError / TemplateAssertionError (at parse time)
  Undefined,  // UndefinedError: an undefined value used where Jinja2 refuses it
  Security,   // SecurityError: the immutable sandbox forbade an operation
  Type,       // Python TypeError (e.g. str + dict, None is not iterable)
  Value,      // Python ValueError / OverflowError / ZeroDivisionError ...
  Runtime,    // TemplateRuntimeError (unknown filter at run time, bad assignment)
  Raised,     // raise_exception(msg) called by the template
  Limit,      // one of Hearth's resource limits (output, loops, recursion, ...)
};

// The Python/Jinja2 exception class name that corresponds to `kind`
// ("TemplateError" for Raised, as jinja2.exceptions.TemplateError).
std::string_view error_kind_name(ErrorKind kind);

class TemplateError : public hearth::Error {
 public:
  TemplateError(ErrorKind kind, std::string message, int line = 0);

  ErrorKind kind() const { return kind_; }
  // The bare message: for Raised errors exactly the text the template passed.
  const std::string& message() const { return message_; }
  // 1-based template line; 0 when unknown.
  int line() const { return line_; }
  // Where the interpreter learns the line after the fact (errors from
  // builtins are thrown without one; the innermost node adds it).
  void set_line(int line);

  // "line N: message" (or just the message when the line is unknown).
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  ErrorKind kind_;
  std::string message_;
  int line_;
  std::string what_;
};

}  // namespace hearth::chat
