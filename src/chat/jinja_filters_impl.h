// Shared helpers of the filter implementations (jinja_filters*.cpp); internal.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chat/jinja_builtins.h"
#include "chat/jinja_interp.h"

namespace hearth::chat::jinja::detail {

[[noreturn]] void type_error(std::string msg);
[[noreturn]] void arg_error(std::string msg);

extern const Value kNone;
extern const Value kFalse;
extern const Value kEmpty;

// Jinja2's soft_str: str() that keeps Markup.
std::string soft_str(const Value& v);
// A string result that stays Markup when `src` was.
Value like(Interp& in, std::string s, const Value& src);
int64_t int_arg(const Value& v, const char* what);

// make_attrgetter: "a.b.0" -> a getitem chain (digit parts as integers).
std::vector<Value> attribute_parts(const Value& attr);
Value get_attribute(Interp& in, Value item, const std::vector<Value>& parts, const Value* dflt = nullptr);
Value ignore_case(const Value& v);
// sorted(values, key=keys): stable, `<` only, like Python.
std::vector<Value> sort_by_keys(Interp& in, std::vector<Value> values, const std::vector<Value>& keys, bool reverse);

// Generators: from a finished list, and "deferred" ones whose body (checks
// included) runs on first iteration, as a Python generator function's does.
Value gen_from_list(Interp& in, std::vector<Value> items, const char* label);
int gen_depth(const Value& v);
Value deferred(Interp& in, int depth, const char* fn, std::function<Generator::Next(Interp&)> start);
Generator::Next list_next(std::vector<Value> items);

using FilterFn = Value (*)(Interp&, const Value&, CallArgs&);

Value f_length(Interp& in, const Value& v, CallArgs& a);
Value f_abs(Interp& in, const Value& v, CallArgs& a);
Value f_capitalize(Interp& in, const Value& v, CallArgs& a);
Value f_center(Interp& in, const Value& v, CallArgs& a);
Value f_escape(Interp& in, const Value& v, CallArgs& a);
Value f_filesizeformat(Interp& in, const Value& v, CallArgs& a);
Value f_float(Interp& in, const Value& v, CallArgs& a);
Value f_forceescape(Interp& in, const Value& v, CallArgs& a);
Value f_format(Interp& in, const Value& v, CallArgs& a);
Value f_indent(Interp& in, const Value& v, CallArgs& a);
Value f_int(Interp& in, const Value& v, CallArgs& a);
Value f_lower(Interp& in, const Value& v, CallArgs& a);
Value f_pprint(Interp& in, const Value& v, CallArgs& a);
Value f_replace(Interp& in, const Value& v, CallArgs& a);
Value f_round(Interp& in, const Value& v, CallArgs& a);
Value f_safe(Interp& in, const Value& v, CallArgs& a);
Value f_string(Interp& in, const Value& v, CallArgs& a);
Value f_striptags(Interp& in, const Value& v, CallArgs& a);
Value f_title(Interp& in, const Value& v, CallArgs& a);
Value f_tojson(Interp& in, const Value& v, CallArgs& a);
Value f_trim(Interp& in, const Value& v, CallArgs& a);
Value f_truncate(Interp& in, const Value& v, CallArgs& a);
Value f_upper(Interp& in, const Value& v, CallArgs& a);
Value f_urlencode(Interp& in, const Value& v, CallArgs& a);
Value f_wordcount(Interp& in, const Value& v, CallArgs& a);

}  // namespace hearth::chat::jinja::detail
