#include "chat/jinja_error.h"

#include <utility>

namespace hearth::chat {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Syntax: return "TemplateSyntaxError";
    case ErrorKind::Undefined: return "UndefinedError";
    case ErrorKind::Security: return "SecurityError";
    case ErrorKind::Type: return "TypeError";
    case ErrorKind::Value: return "ValueError";
    case ErrorKind::Runtime: return "TemplateRuntimeError";
    case ErrorKind::Raised: return "TemplateError";
    case ErrorKind::Limit: return "LimitError";
  }
  return "TemplateError";
}

namespace {
std::string format_what(int line, const std::string& message) {
  if (line <= 0) return message;
  return "line " + std::to_string(line) + ": " + message;
}
}  // namespace

TemplateError::TemplateError(ErrorKind kind, std::string message, int line)
    : hearth::Error(message), kind_(kind), message_(std::move(message)), line_(line),
      what_(format_what(line_, message_)) {}

void TemplateError::set_line(int line) {
  line_ = line;
  what_ = format_what(line_, message_);
}

}  // namespace hearth::chat
