// Jinja2's builtin tests (jinja2/tests.py) and default globals, plus
// transformers' chat-template globals (raise_exception, strftime_now).
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "chat/jinja_args.h"
#include "chat/jinja_builtins.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }

// ------------------------------------------------------------------ tests

using TestFn = bool (*)(Interp&, const Value&, CallArgs&);

const Value& test_arg(CallArgs& a, const char* test) {
  if (a.pos.empty()) {
    if (!a.kw.empty()) return a.kw.front().second;
    type_error(std::string("test_") + test + "() missing 1 required positional argument");
  }
  return a.pos[0];
}

bool is_callable(const Value& v) { return v.is_undefined() || v.as<Callable>() != nullptr; }

bool t_boolean(Interp&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_callable(Interp&, const Value& v, CallArgs&) { return is_callable(v); }
bool t_defined(Interp&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interp&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_divisibleby(Interp& in, const Value& v, CallArgs& a) {
  const Value r = binary_op(in, BinOp::Mod, v, test_arg(a, "divisibleby"));
  return py_eq(r, Value::integer(0));
}
bool t_eq(Interp&, const Value& v, CallArgs& a) { return py_eq(v, test_arg(a, "eq")); }
bool t_ne(Interp&, const Value& v, CallArgs& a) { return !py_eq(v, test_arg(a, "ne")); }
bool t_lt(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "lt"), "<") < 0; }
bool t_le(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "le"), "<=") <= 0; }
bool t_gt(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "gt"), ">") > 0; }
bool t_ge(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "ge"), ">=") >= 0; }
bool t_escaped(Interp&, const Value& v, CallArgs&) { return v.is_str() && v.markup(); }
bool t_even(Interp& in, const Value& v, CallArgs&) {
  return py_eq(binary_op(in, BinOp::Mod, v, Value::integer(2)), Value::integer(0));
}
bool t_odd(Interp& in, const Value& v, CallArgs&) {
  return py_eq(binary_op(in, BinOp::Mod, v, Value::integer(2)), Value::integer(1));
}
bool t_false(Interp&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_true(Interp&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_filter(Interp&, const Value& v, CallArgs&) { return v.is_str() && has_filter(v.str()); }
bool t_test(Interp&, const Value& v, CallArgs&) { return v.is_str() && has_test(v.str()); }
bool t_float(Interp&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_integer(Interp&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_in(Interp& in, const Value& v, CallArgs& a) { return contains(in, test_arg(a, "in"), v); }
bool t_iterable(Interp&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_str() || v.is_seq() || v.is_dict() || v.as<Generator>() ||
         (v.is_object() && v.obj()->type_name() == "LoopContext");
}
bool cased_test(const Value& v, bool want_lower) {
  const std::string s = to_str(v);
  bool cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = uni::next_cp(s, pos);
    if (want_lower ? uni::is_upper(c) : uni::is_lower(c)) return false;
    if (uni::is_upper(c) || uni::is_lower(c)) cased = true;
  }
  return cased;
}
bool t_lower(Interp&, const Value& v, CallArgs&) { return cased_test(v, true); }
bool t_upper(Interp&, const Value& v, CallArgs&) { return cased_test(v, false); }
bool t_mapping(Interp&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_none(Interp&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_number(Interp&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_sameas(Interp&, const Value& v, CallArgs& a) {
  const Value& o = test_arg(a, "sameas");
  if (v.type() != o.type()) return false;
  switch (v.type()) {
    case VType::Undefined: return false;
    case VType::None: return true;
    case VType::Bool: return v.as_bool() == o.as_bool();
    case VType::Int: return v.as_int() == o.as_int() && v.as_int() >= -5 && v.as_int() <= 256;  // small-int cache
    case VType::Float: return false;
    default: return v.identity() == o.identity();
  }
}
bool t_sequence(Interp&, const Value& v, CallArgs&) {
  if (v.is_undefined() || v.is_str() || v.is_dict()) return true;
  if (v.is_seq()) {
    const SeqKind k = v.seq().kind;
    return k == SeqKind::List || k == SeqKind::Tuple || k == SeqKind::Range;
  }
  return false;
}
bool t_string(Interp&, const Value& v, CallArgs&) { return v.is_str(); }

const std::unordered_map<std::string_view, TestFn>& tests() {
  static const std::unordered_map<std::string_view, TestFn> kTests = {
      {"boolean", t_boolean},   {"callable", t_callable}, {"defined", t_defined},
      {"divisibleby", t_divisibleby}, {"==", t_eq},        {"eq", t_eq},
      {"equalto", t_eq},        {"escaped", t_escaped},   {"even", t_even},
      {"false", t_false},       {"filter", t_filter},     {"float", t_float},
      {">=", t_ge},             {"ge", t_ge},             {">", t_gt},
      {"greaterthan", t_gt},    {"gt", t_gt},             {"in", t_in},
      {"integer", t_integer},   {"iterable", t_iterable}, {"<=", t_le},
      {"le", t_le},             {"lower", t_lower},       {"<", t_lt},
      {"lessthan", t_lt},       {"lt", t_lt},             {"mapping", t_mapping},
      {"!=", t_ne},             {"ne", t_ne},             {"none", t_none},
      {"number", t_number},     {"odd", t_odd},           {"sameas", t_sameas},
      {"sequence", t_sequence}, {"string", t_string},     {"test", t_test},
      {"true", t_true},         {"undefined", t_undefined}, {"upper", t_upper},
  };
  return kTests;
}

// ------------------------------------------------------------------ globals

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Value g_range(Interp&, CallArgs& a) {
  if (!a.kw.empty()) type_error("range() takes no keyword arguments");
  if (a.pos.empty() || a.pos.size() > 3) {
    type_error("range expected at most 3 arguments, got " + std::to_string(a.pos.size()));
  }
  auto arg = [](const Value& v) -> int64_t {
    if (v.is_undefined()) v.fail_undefined();
    if (!v.is_integral()) type_error("'" + type_name(v) + "' object cannot be interpreted as an integer");
    return v.as_int();
  };
  int64_t start = 0, stop, step = 1;
  if (a.pos.size() == 1) {
    stop = arg(a.pos[0]);
  } else {
    start = arg(a.pos[0]);
    stop = arg(a.pos[1]);
    if (a.pos.size() == 3) step = arg(a.pos[2]);
  }
  if (step == 0) throw TemplateError(ErrorKind::Value, "range() arg 3 must not be zero");
  // Length computed in floating point: the bounds may be near INT64 limits.
  const long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  const long double len = span <= 0 ? 0 : std::ceil(span / std::fabs(static_cast<long double>(step)));
  if (len > kMaxRange) {
    throw TemplateError(ErrorKind::Value,
                        "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  return Value::range(start, stop, step);
}

Value g_dict(Interp& in, CallArgs& a) {
  auto d = std::make_shared<DictData>();
  if (a.pos.size() > 1) type_error("dict expected at most 1 argument, got " + std::to_string(a.pos.size()));
  if (a.pos.size() == 1) {
    const Value& src = a.pos[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.map().items()) d->set(k, v);
    } else {
      for (const Value& item : in.to_list(src)) {
        auto kv = in.to_list(item);
        if (kv.size() != 2) {
          throw TemplateError(ErrorKind::Value, "dictionary update sequence element has length " +
                                                    std::to_string(kv.size()) + "; 2 is required");
        }
        d->set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.kw) d->set(Value::string(k), v);
  return Value::dict(std::move(d));
}

Value g_namespace(Interp& in, CallArgs& a) {
  auto ns = in.new_namespace();
  const Value d = g_dict(in, a);
  for (const auto& [k, v] : d.map().items()) {
    if (!k.is_str()) type_error("keywords must be strings");
    ns->set(k.str(), v);
  }
  return Value::object(ns);
}

Value g_joiner(Interp&, CallArgs& a) {
  Args args("joiner", a, {"sep"});
  const std::string sep = to_str(args.get(0, Value::string(", ")));
  auto used = std::make_shared<bool>(false);
  return Value::object(std::make_shared<Builtin>("joiner", [sep, used](Interp&, CallArgs&) -> Value {
    if (!*used) {
      *used = true;
      return Value::string("");
    }
    return Value::string(sep);
  }));
}

Value g_raise_exception(Interp&, CallArgs& a) {
  const Value msg = a.pos.empty() ? (a.kw.empty() ? Value::string("") : a.kw.front().second) : a.pos[0];
  throw TemplateError(ErrorKind::Raised, to_str(msg));
}

Value g_strftime_now(Interp& in, CallArgs& a) {
  Args args("strftime_now", a, {"format"});
  const Value& fmt = args.need(0);
  if (!fmt.is_str()) type_error("strftime() argument 1 must be str, not " + type_name(fmt));
  const std::tm now = in.now();
  return in.make_str(py_strftime(fmt.str(), now));
}

}  // namespace

void install_globals(Interp&, std::unordered_map<std::string, Value>& vars) {
  auto add = [&](const char* name, Builtin::Fn fn) {
    vars[name] = Value::object(std::make_shared<Builtin>(name, std::move(fn)));
  };
  add("range", g_range);
  add("dict", g_dict);
  add("namespace", g_namespace);
  add("joiner", g_joiner);
  add("raise_exception", g_raise_exception);
  add("strftime_now", g_strftime_now);
}

bool has_test(std::string_view name) { return tests().count(name) != 0; }

bool apply_test(Interp& in, std::string_view name, const Value& subject, CallArgs& args) {
  const auto& t = tests();
  const auto it = t.find(name);
  if (it == t.end()) throw TemplateError(ErrorKind::Runtime, "No test named '" + std::string(name) + "' found.");
  // Tests are plain Python functions of fixed arity (`x is string [1]` passes
  // an argument to a test that takes none, which Python refuses).
  static const std::unordered_set<std::string_view> kOneArg = {
      "divisibleby", "==", "eq", "equalto", "!=", "ne", "<", "lt", "lessthan", "<=", "le",
      ">", "gt", "greaterthan", ">=", "ge", "in", "sameas"};
  const size_t want = kOneArg.count(name) ? 1 : 0;
  const size_t got = args.pos.size() + args.kw.size();
  if (got != want) {
    type_error("test_" + std::string(name) + "() takes " + std::to_string(want + 1) + " positional argument" +
               (want ? "s" : "") + " but " + std::to_string(got + 1) + " were given");
  }
  in.step();
  return it->second(in, subject, args);
}

}  // namespace hearth::chat::jinja
