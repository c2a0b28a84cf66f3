// Builtin filters, tests and methods (Jinja2's FILTERS/TESTS plus the Python
// str/dict/list methods the immutable sandbox lets templates call).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace hearth::chat::jinja {

class Interp;

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

// Jinja2's default globals plus transformers' raise_exception/strftime_now.
void install_globals(Interp& in, std::unordered_map<std::string, Value>& vars);

bool has_filter(std::string_view name);
bool has_test(std::string_view name);

// Apply a filter/test by name. Throw TemplateError for unknown names
// ("No filter named 'x' found.") and for Python-level failures.
Value apply_filter(Interp& in, std::string_view name, const Value& subject, CallArgs& args);
bool apply_test(Interp& in, std::string_view name, const Value& subject, CallArgs& args);

// Methods reachable as attributes (x.split, d.items, ...).
enum class MethodAccess { None, Safe, Unsafe };
MethodAccess method_access(const Value& self, std::string_view name);
Value call_method(Interp& in, const Value& self, std::string_view name, CallArgs& args);

// Python `str % args` and str.format.
Value percent_format(Interp& in, const Value& fmt, const Value& args);
std::string str_format(Interp& in, std::string_view fmt, const CallArgs& args);

// Python strftime for a broken-down time (used by strftime_now).
std::string py_strftime(std::string_view fmt, const struct tm& tm);

}  // namespace hearth::chat::jinja
