// Jinja2's builtin filters and tests (jinja2/filters.py, jinja2/tests.py),
// the default globals, and transformers' chat-template additions (tojson as
// plain json.dumps, raise_exception, strftime_now).
#include "chat/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "chat/jinja_args.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }
[[noreturn]] void arg_error(std::string msg) { throw TemplateError(ErrorKind::Runtime, std::move(msg)); }

// Jinja2's soft_str: str() that keeps Markup.
std::string soft_str(const Value& v) { return to_str(v); }

Value like(Interp& in, std::string s, const Value& src) { return in.make_str(std::move(s), src.is_str() && src.markup()); }

int64_t int_arg(const Value& v, const char* what) {
  if (v.is_integral()) return v.as_int();
  if (v.is_undefined()) v.fail_undefined();
  type_error(std::string("'") + type_name(v) + "' object cannot be interpreted as an integer (" + what + ")");
}

const Value kNone = Value::none();
const Value kFalse = Value::boolean(false);
const Value kEmpty = Value::string("");

// make_attrgetter: "a.b.0" -> getitem chain (digit parts as integers).
std::vector<Value> attribute_parts(const Value& attr) {
  std::vector<Value> parts;
  if (attr.is_none()) return parts;
  if (!attr.is_str()) {
    parts.push_back(attr);
    return parts;
  }
  const std::string& s = attr.str();
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    const std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && part.size() < 18) {
      parts.push_back(Value::integer(std::stoll(part)));
    } else {
      parts.push_back(Value::string(part));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

Value get_attribute(Interp& in, Value item, const std::vector<Value>& parts, const Value* dflt = nullptr) {
  for (const Value& p : parts) {
    item = in.getitem(item, p);
    if (dflt && !dflt->is_none() && item.is_undefined()) item = *dflt;
  }
  return item;
}

Value ignore_case(const Value& v) { return v.is_str() ? Value::string(uni::lower(v.str())) : v; }

// sorted(values, key=keys) with Python's stable, `<`-only ordering.
std::vector<Value> sort_by_keys(Interp& in, std::vector<Value> values, const std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  in.step(values.size() * 4);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return reverse ? py_compare(keys[b], keys[a], "<") < 0 : py_compare(keys[a], keys[b], "<") < 0;
  });
  std::vector<Value> out;
  out.reserve(values.size());
  for (size_t i : order) out.push_back(std::move(values[i]));
  return out;
}

Value gen_from_list(Interp& in, std::vector<Value> items, const char* label) {
  auto data = std::make_shared<std::vector<Value>>(std::move(items));
  auto pos = std::make_shared<size_t>(0);
  return in.make_generator(
      [data, pos](Interp&) -> std::optional<Value> {
        if (*pos >= data->size()) return std::nullopt;
        return (*data)[(*pos)++];
      },
      1, label);
}

int gen_depth(const Value& v) {
  if (auto* g = v.as<Generator>()) return g->depth() + 1;
  return 1;
}

// A Python generator function's body runs only when the generator is first
// iterated, so its checks and errors are deferred until then too.
Value deferred(Interp& in, int depth, const char* fn, std::function<Generator::Next(Interp&)> start) {
  auto next = std::make_shared<Generator::Next>();
  return in.make_generator(
      [next, start](Interp& in2) -> std::optional<Value> {
        if (!*next) *next = start(in2);
        return (*next)(in2);
      },
      depth, std::string("generator object ") + fn);
}

Generator::Next list_next(std::vector<Value> items) {
  auto data = std::make_shared<std::vector<Value>>(std::move(items));
  auto pos = std::make_shared<size_t>(0);
  return [data, pos](Interp&) -> std::optional<Value> {
    if (*pos >= data->size()) return std::nullopt;
    return (*data)[(*pos)++];
  };
}

// ------------------------------------------------------------------ filters

using FilterFn = Value (*)(Interp&, const Value&, CallArgs&);

std::vector<Value> batch_rows(Interp& in, const Value& v, const CallArgs& a);
Generator::Next map_next(Interp& in, const Value& v, const CallArgs& a);
Generator::Next select_next(Interp& in, const Value& v, const CallArgs& a, bool select, bool by_attr);
Generator::Next unique_next(Interp& in, const Value& v, const CallArgs& a);
std::vector<Value> slice_columns(Interp& in, const Value& v, const CallArgs& a);

Value f_abs(Interp&, const Value& v, CallArgs& a) {
  Args args("abs", a, {});
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) throw TemplateError(ErrorKind::Value, "integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is_float()) return Value::real(std::fabs(v.as_double()));
  type_error("bad operand type for abs(): '" + type_name(v) + "'");
}

Value f_attr(Interp& in, const Value& v, CallArgs& a) {
  Args args("attr", a, {"name"});
  const Value& name = args.need(0);
  if (!name.is_str()) type_error("attribute name must be string");
  if (v.is_dict()) {
    // Unlike getattr, |attr never falls back to dict keys.
    if (method_access(v, name.str()) != MethodAccess::None) return in.getattr(v, name.str());
    return Value::undefined("'dict object' has no attribute " + repr_string(name.str()));
  }
  return in.getattr(v, name.str());
}

Value f_batch(Interp& in, const Value& v, CallArgs& a) {
  return deferred(in, gen_depth(v), "do_batch", [v, a](Interp& in2) { return list_next(batch_rows(in2, v, a)); });
}

std::vector<Value> batch_rows(Interp& in, const Value& v, const CallArgs& a) {
  Args args("batch", a, {"linecount", "fill_with"});
  const int64_t n = int_arg(args.need(0), "linecount");
  const Value fill = args.get(1, kNone);
  std::vector<Value> rows, tmp;
  for (Value& item : in.to_list(v)) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      rows.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(std::move(item));
  }
  if (!tmp.empty()) {
    if (!fill.is_none() && static_cast<int64_t>(tmp.size()) < n) {
      if (n > 10'000'000) in.limit_exceeded("list size limit");
      in.step(static_cast<uint64_t>(n));
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(fill);
    }
    rows.push_back(Value::list(std::move(tmp)));
  }
  return rows;
}

Value f_capitalize(Interp& in, const Value& v, CallArgs& a) {
  Args args("capitalize", a, {});
  return like(in, uni::capitalize(soft_str(v)), v);
}

Value f_center(Interp& in, const Value& v, CallArgs& a) {
  Args args("center", a, {"width"});
  CallArgs m;
  m.pos.push_back(args.get(0, Value::integer(80)));
  return call_method(in, Value::string(soft_str(v), v.is_str() && v.markup()), "center", m);
}

Value f_length(Interp& in, const Value& v, CallArgs& a) {
  Args args("length", a, {});
  switch (v.type()) {
    case VType::Undefined: return Value::integer(0);
    case VType::Str: in.step(v.str().size() / 64); return Value::integer(static_cast<int64_t>(uni::length(v.str())));
    case VType::List: return Value::integer(static_cast<int64_t>(v.seq().items.size()));
    case VType::Dict: return Value::integer(static_cast<int64_t>(v.map().size()));
    case VType::Object:
      if (auto* ns = v.as<Namespace>()) {
        (void)ns;
        type_error("object of type 'Namespace' has no len()");
      }
      [[fallthrough]];
    default: type_error("object of type '" + type_name(v) + "' has no len()");
  }
}

Value f_default(Interp&, const Value& v, CallArgs& a) {
  Args args("default", a, {"default_value", "boolean"});
  if (v.is_undefined() || (truthy(args.get(1, kFalse)) && !truthy(v))) return args.get(0, kEmpty);
  return v;
}

Value f_dictsort(Interp& in, const Value& v, CallArgs& a) {
  Args args("dictsort", a, {"case_sensitive", "by", "reverse"});
  const bool case_sensitive = truthy(args.get(0, kFalse));
  const Value by = args.get(1, Value::string("key"));
  const bool reverse = truthy(args.get(2, kFalse));
  size_t pos;
  if (by.is_str() && by.str() == "key") {
    pos = 0;
  } else if (by.is_str() && by.str() == "value") {
    pos = 1;
  } else {
    arg_error("You can only sort by either \"key\" or \"value\"");
  }
  if (v.is_undefined()) v.fail_undefined();
  if (!v.is_dict()) type_error("'" + type_name(v) + "' object has no attribute 'items'");
  std::vector<Value> items, keys;
  for (const auto& [k, val] : v.map().items()) {
    items.push_back(Value::tuple({k, val}));
    const Value& key = pos == 0 ? k : val;
    keys.push_back(case_sensitive ? key : ignore_case(key));
  }
  return Value::list(sort_by_keys(in, std::move(items), keys, reverse));
}

Value f_escape(Interp& in, const Value& v, CallArgs& a) {
  Args args("escape", a, {});
  if (v.is_str() && v.markup()) return v;
  return in.make_str(html_escape(soft_str(v)), true);
}

Value f_forceescape(Interp& in, const Value& v, CallArgs& a) {
  Args args("forceescape", a, {});
  return in.make_str(html_escape(soft_str(v)), true);
}

Value f_filesizeformat(Interp& in, const Value& v, CallArgs& a) {
  Args args("filesizeformat", a, {"binary"});
  const bool binary = truthy(args.get(0, kFalse));
  if (!v.is_number() && !v.is_str()) type_error("float() argument must be a string or a real number");
  const double bytes = v.is_number() ? v.as_double() : std::strtod(v.str().c_str(), nullptr);
  const double base = binary ? 1024 : 1000;
  static const char* kDec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* kBin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  char buf[64];
  if (bytes == 1) return in.make_str("1 Byte");
  if (bytes < base) {
    std::snprintf(buf, sizeof(buf), "%d Bytes", static_cast<int>(bytes));
    return in.make_str(buf);
  }
  for (int i = 0; i < 8; ++i) {
    const double unit = std::pow(base, i + 2);
    if (bytes < unit || i == 7) {
      std::snprintf(buf, sizeof(buf), "%.1f %s", base * bytes / unit, binary ? kBin[i] : kDec[i]);
      return in.make_str(buf);
    }
  }
  return in.make_str(buf);
}

Value f_first(Interp& in, const Value& v, CallArgs& a) {
  Args args("first", a, {});
  Iter it(in, v);
  if (auto item = it.next(in)) return *item;
  return Value::undefined("No first item, sequence was empty.");
}

// Python float(str): optional whitespace, sign, digits with underscores,
// inf/nan spellings.
std::optional<double> parse_py_float(std::string_view s) {
  std::string t = uni::strip(s, nullptr, true, true);
  std::string clean;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (i == 0 || i + 1 >= t.size() || !isdigit(static_cast<unsigned char>(t[i - 1])) ||
          !isdigit(static_cast<unsigned char>(t[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    clean += t[i];
  }
  if (clean.empty()) return std::nullopt;
  std::string lower = uni::lower(clean);
  std::string body = lower;
  double sign = 1;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    if (body[0] == '-') sign = -1;
    body = body.substr(1);
  }
  if (body == "inf" || body == "infinity") return sign * HUGE_VAL;
  if (body == "nan") return std::nan("");
  for (char c : body) {
    if (!(isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' || c == '-')) return std::nullopt;
  }
  char* end = nullptr;
  const double d = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return d;
}

Value f_float(Interp&, const Value& v, CallArgs& a) {
  Args args("float", a, {"default"});
  const Value dflt = args.get(0, Value::real(0.0));
  if (v.is_undefined()) v.fail_undefined();
  if (v.is_number()) return Value::real(v.as_double());
  if (v.is_str()) {
    if (auto d = parse_py_float(v.str())) return Value::real(*d);
  }
  return dflt;
}

Value f_format(Interp& in, const Value& v, CallArgs& a) {
  if (!a.pos.empty() && !a.kw.empty()) arg_error("can't handle positional and keyword arguments at the same time");
  Value args;
  if (!a.kw.empty()) {
    auto d = std::make_shared<DictData>();
    for (const auto& [k, val] : a.kw) d->set(Value::string(k), val);
    args = Value::dict(std::move(d));
  } else {
    args = Value::tuple(a.pos);
  }
  return percent_format(in, Value::string(soft_str(v), v.is_str() && v.markup()), args);
}

Value f_groupby(Interp& in, const Value& v, CallArgs& a) {
  Args args("groupby", a, {"attribute", "default", "case_sensitive"});
  const auto parts = attribute_parts(args.need(0));
  const Value dflt = args.get(1, kNone);
  const bool case_sensitive = truthy(args.get(2, kFalse));
  std::vector<Value> items = in.to_list(v);
  std::vector<Value> keys;
  for (const Value& item : items) {
    Value k = get_attribute(in, item, parts, &dflt);
    keys.push_back(case_sensitive ? k : ignore_case(k));
  }
  // Sort (item, key) pairs together.
  std::vector<Value> pairs;
  for (size_t i = 0; i < items.size(); ++i) pairs.push_back(Value::tuple({items[i], keys[i]}));
  std::vector<Value> sorted = sort_by_keys(in, pairs, keys, false);
  std::vector<Value> groups;
  size_t i = 0;
  while (i < sorted.size()) {
    const Value& key = sorted[i].seq().items[1];
    std::vector<Value> members;
    size_t j = i;
    while (j < sorted.size() && py_eq(sorted[j].seq().items[1], key)) {
      members.push_back(sorted[j].seq().items[0]);
      ++j;
    }
    const Value grouper = case_sensitive ? key : get_attribute(in, members.front(), parts, &dflt);
    groups.push_back(Value::tuple({grouper, Value::list(std::move(members))}));
    i = j;
  }
  return Value::list(std::move(groups));
}

Value f_indent(Interp& in, const Value& v, CallArgs& a) {
  Args args("indent", a, {"width", "first", "blank"});
  const Value width = args.get(0, Value::integer(4));
  const bool first = truthy(args.get(1, kFalse));
  const bool blank = truthy(args.get(2, kFalse));
  std::string indention;
  if (width.is_str()) {
    indention = width.str();
  } else {
    const int64_t n = int_arg(width, "width");
    if (n > 0) {
      in.check_size(static_cast<size_t>(n));
      indention.assign(static_cast<size_t>(n), ' ');
    }
  }
  if (v.is_undefined()) v.fail_undefined();  // `s += newline` on Undefined fails
  if (!v.is_str()) type_error("unsupported operand type(s) for +=: '" + type_name(v) + "' and 'str'");
  const std::string s = v.str() + "\n";
  const auto lines = uni::splitlines(s);
  in.check_size(s.size() + lines.size() * indention.size());
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    if (lines.size() > 1) {
      rv += "\n";
      for (size_t i = 1; i < lines.size(); ++i) {
        if (i > 1) rv += "\n";
        if (!lines[i].empty()) rv += indention;
        rv += lines[i];
      }
    }
  }
  if (first) rv = indention + rv;
  return like(in, std::move(rv), v);
}

// Python int(str, base) for the |int filter.
std::optional<int64_t> parse_py_int(std::string_view text, int base) {
  std::string t = uni::strip(text, nullptr, true, true);
  bool neg = false;
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (i + 1 < t.size() && t[i] == '0') {
      const char p = static_cast<char>(t[i + 1] | 0x20);
      if ((p == 'x' && (base == 0 || base == 16)) || (p == 'o' && (base == 0 || base == 8)) ||
          (p == 'b' && (base == 0 || base == 2))) {
        base = p == 'x' ? 16 : (p == 'o' ? 8 : 2);
        i += 2;
        if (i < t.size() && t[i] == '_') ++i;
      }
    }
    if (base == 0) base = 10;
  }
  if (base < 2 || base > 36 || i >= t.size()) return std::nullopt;
  int64_t value = 0;
  bool any = false;
  for (; i < t.size(); ++i) {
    char c = t[i];
    if (c == '_' && any && i + 1 < t.size() && t[i + 1] != '_') continue;
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
      d = (c | 0x20) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (__builtin_mul_overflow(value, base, &value) || __builtin_add_overflow(value, d, &value)) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  return neg ? -value : value;
}

Value f_int(Interp&, const Value& v, CallArgs& a) {
  Args args("int", a, {"default", "base"});
  const Value dflt = args.get(0, Value::integer(0));
  const Value base = args.get(1, Value::integer(10));
  if (v.is_undefined()) v.fail_undefined();
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_str()) {
    if (auto i = parse_py_int(v.str(), static_cast<int>(int_arg(base, "base")))) return Value::integer(*i);
    if (auto d = parse_py_float(v.str())) {
      if (std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value::integer(static_cast<int64_t>(*d));
    }
  }
  return dflt;
}

Value f_items(Interp& in, const Value& v, CallArgs& a) {
  Args args("items", a, {});
  return deferred(in, 1, "do_items", [v](Interp& in2) -> Generator::Next {
    if (v.is_undefined()) return list_next({});
    if (!v.is_dict()) type_error("Can only get item pairs from a mapping.");
    std::vector<Value> items;
    for (const auto& [k, val] : v.map().items()) items.push_back(Value::tuple({k, val}));
    in2.step(items.size());
    return list_next(std::move(items));
  });
}

Value f_join(Interp& in, const Value& v, CallArgs& a) {
  Args args("join", a, {"d", "attribute"});
  const std::string sep = to_str(args.get(0, kEmpty));
  const auto parts = attribute_parts(args.get(1, kNone));
  std::string out;
  Iter it(in, v);
  bool first = true;
  while (auto item = it.next(in)) {
    in.step();
    if (!first) out += sep;
    first = false;
    out += to_str(parts.empty() ? *item : get_attribute(in, *item, parts));
    in.check_size(out.size());
  }
  return in.make_str(std::move(out));
}

Value f_last(Interp& in, const Value& v, CallArgs& a) {
  Args args("last", a, {});
  switch (v.type()) {
    case VType::Undefined: return Value::undefined("No last item, sequence was empty.");
    case VType::List:
      if (v.seq().items.empty()) return Value::undefined("No last item, sequence was empty.");
      return v.seq().items.back();
    case VType::Dict:
      if (v.map().size() == 0) return Value::undefined("No last item, sequence was empty.");
      return v.map().items().back().first;
    case VType::Str: {
      if (v.str().empty()) return Value::undefined("No last item, sequence was empty.");
      const std::u32string cps = uni::decode(v.str());
      std::string last;
      uni::append_utf8(last, cps.back());
      return in.make_str(std::move(last), v.markup());
    }
    default: type_error("'" + type_name(v) + "' object is not reversible");
  }
}

Value f_list(Interp& in, const Value& v, CallArgs& a) {
  Args args("list", a, {});
  return Value::list(in.to_list(v));
}

Value f_lower(Interp& in, const Value& v, CallArgs& a) {
  Args args("lower", a, {});
  return like(in, uni::lower(soft_str(v)), v);
}

Value f_upper(Interp& in, const Value& v, CallArgs& a) {
  Args args("upper", a, {});
  return like(in, uni::upper(soft_str(v)), v);
}

// map(attribute=...) or map('filter', args...): a lazy generator.
Value f_map(Interp& in, const Value& v, CallArgs& a) {
  return deferred(in, gen_depth(v), "sync_do_map", [v, a](Interp& in2) { return map_next(in2, v, a); });
}

Generator::Next map_next(Interp& in, const Value& v, const CallArgs& a) {
  if (!truthy(v)) return list_next({});
  auto it = std::make_shared<Iter>(in, v);
  const bool by_attribute = a.pos.empty() && std::any_of(a.kw.begin(), a.kw.end(), [](const auto& kv) {
    return kv.first == "attribute";
  });
  if (by_attribute) {
    Value attribute, dflt = Value::none();
    for (const auto& [k, val] : a.kw) {
      if (k == "attribute") {
        attribute = val;
      } else if (k == "default") {
        dflt = val;
      } else {
        arg_error("Unexpected keyword argument '" + k + "'");
      }
    }
    auto parts = attribute_parts(attribute);
    return [it, parts, dflt](Interp& in2) -> std::optional<Value> {
      auto item = it->next(in2);
      if (!item) return std::nullopt;
      return get_attribute(in2, *item, parts, &dflt);
    };
  }
  if (a.pos.empty()) arg_error("map requires a filter argument");
  const Value name = a.pos[0];
  auto rest = std::make_shared<CallArgs>();
  rest->pos.assign(a.pos.begin() + 1, a.pos.end());
  rest->kw = a.kw;
  return [it, name, rest](Interp& in2) -> std::optional<Value> {
    auto item = it->next(in2);
    if (!item) return std::nullopt;
    CallArgs call = *rest;
    return apply_filter(in2, to_str(name), *item, call);
  };
}

Value min_max(Interp& in, const Value& v, CallArgs& a, bool is_max, const char* fn) {
  Args args(fn, a, {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(args.get(0, kFalse));
  const auto parts = attribute_parts(args.get(1, kNone));
  std::vector<Value> items = in.to_list(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& item) {
    Value k = parts.empty() ? item : get_attribute(in, item, parts);
    return case_sensitive ? k : ignore_case(k);
  };
  size_t best = 0;
  Value best_key = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    const bool better = is_max ? py_compare(best_key, k, "<") < 0 : py_compare(k, best_key, "<") < 0;
    if (better) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value f_max(Interp& in, const Value& v, CallArgs& a) { return min_max(in, v, a, true, "max"); }
Value f_min(Interp& in, const Value& v, CallArgs& a) { return min_max(in, v, a, false, "min"); }

Value f_pprint(Interp& in, const Value& v, CallArgs& a) {
  Args args("pprint", a, {});
  return in.make_str(repr(v));
}

Value select_reject(Interp& in, const Value& v, CallArgs& a, bool select, bool by_attr) {
  return deferred(in, gen_depth(v), "select_or_reject",
                  [v, a, select, by_attr](Interp& in2) { return select_next(in2, v, a, select, by_attr); });
}

Generator::Next select_next(Interp& in, const Value& v, const CallArgs& a, bool select, bool by_attr) {
  if (!truthy(v)) return list_next({});
  std::vector<Value> attr_parts;
  size_t off = 0;
  if (by_attr) {
    if (a.pos.empty()) arg_error("Missing parameter for attribute name");
    attr_parts = attribute_parts(a.pos[0]);
    off = 1;
  }
  std::optional<std::string> test;
  auto rest = std::make_shared<CallArgs>();
  if (a.pos.size() > off) {
    test = to_str(a.pos[off]);
    rest->pos.assign(a.pos.begin() + static_cast<long>(off) + 1, a.pos.end());
  }
  rest->kw = a.kw;
  auto it = std::make_shared<Iter>(in, v);
  return [it, attr_parts, test, rest, select, by_attr](Interp& in2) -> std::optional<Value> {
    while (auto item = it->next(in2)) {
      in2.step();
      const Value subject = by_attr ? get_attribute(in2, *item, attr_parts) : *item;
      bool ok;
      if (test) {
        CallArgs call = *rest;
        ok = apply_test(in2, *test, subject, call);
      } else {
        ok = truthy(subject);
      }
      if (ok == select) return item;
    }
    return std::nullopt;
  };
}

Value f_select(Interp& in, const Value& v, CallArgs& a) { return select_reject(in, v, a, true, false); }
Value f_reject(Interp& in, const Value& v, CallArgs& a) { return select_reject(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, CallArgs& a) { return select_reject(in, v, a, true, true); }
Value f_rejectattr(Interp& in, const Value& v, CallArgs& a) { return select_reject(in, v, a, false, true); }

Value f_replace(Interp& in, const Value& v, CallArgs& a) {
  Args args("replace", a, {"old", "new", "count"});
  CallArgs m;
  m.pos.push_back(Value::string(to_str(args.need(0))));
  m.pos.push_back(Value::string(to_str(args.need(1))));
  if (args.has(2) && !args.get(2, kNone).is_none()) m.pos.push_back(args.get(2, kNone));
  // Without autoescape the result is a plain str even for Markup input.
  return call_method(in, Value::string(to_str(v)), "replace", m);
}

Value f_reverse(Interp& in, const Value& v, CallArgs& a) {
  Args args("reverse", a, {});
  if (v.is_str()) {
    std::u32string cps = uni::decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return like(in, uni::encode(cps), v);
  }
  if (v.is_undefined()) return gen_from_list(in, {}, "reversed object");
  if (v.is_seq()) {
    std::vector<Value> items(v.seq().items.rbegin(), v.seq().items.rend());
    in.step(items.size());
    const SeqKind k = v.seq().kind;
    return gen_from_list(in, std::move(items),
                         k == SeqKind::List ? "list_reverseiterator object"
                                            : (k == SeqKind::Range ? "range_iterator object" : "reversed object"));
  }
  if (v.is_dict()) {
    std::vector<Value> keys;
    for (auto it = v.map().items().rbegin(); it != v.map().items().rend(); ++it) keys.push_back(it->first);
    return gen_from_list(in, std::move(keys), "dict_reversekeyiterator object");
  }
  if (v.as<Generator>()) {
    std::vector<Value> items = in.to_list(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  arg_error("argument must be iterable");
}

// Python's round(x, n): correctly rounded, ties to even on the exact binary value.
double py_round(double x, int64_t n) {
  if (!std::isfinite(x) || x == 0) return x;
  if (n > 300) return x;
  if (n >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(n), x);
    return std::strtod(buf, nullptr);
  }
  if (n < -308) return std::copysign(0.0, x);
  const double p = std::pow(10.0, static_cast<double>(-n));
  const double y = std::nearbyint(x / p);  // FE_TONEAREST: ties to even
  return y * p;
}

Value f_round(Interp&, const Value& v, CallArgs& a) {
  Args args("round", a, {"precision", "method"});
  const int64_t precision = int_arg(args.get(0, Value::integer(0)), "precision");
  const Value method = args.get(1, Value::string("common"));
  const std::string m = method.is_str() ? method.str() : "";
  if (m != "common" && m != "ceil" && m != "floor") arg_error("method must be common, ceil or floor");
  if (!v.is_number()) type_error("type " + type_name(v) + " doesn't define __round__ method");
  if (m == "common") {
    if (v.is_integral()) {
      const int64_t x = v.as_int();
      if (precision >= 0) return Value::integer(x);
      if (precision < -18) return Value::integer(0);
      int64_t p = 1;
      for (int64_t i = 0; i < -precision; ++i) p *= 10;
      int64_t q = x / p, r = x % p;
      if (r < 0) {
        r += p;
        --q;
      }
      if (2 * r > p || (2 * r == p && (q & 1))) ++q;
      return Value::integer(q * p);
    }
    return Value::real(py_round(v.as_double(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  return Value::real((m == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_safe(Interp& in, const Value& v, CallArgs& a) {
  Args args("safe", a, {});
  if (v.is_str() && v.markup()) return v;
  return in.make_str(to_str(v), true);
}

Value f_slice(Interp& in, const Value& v, CallArgs& a) {
  return deferred(in, gen_depth(v), "sync_do_slice",
                  [v, a](Interp& in2) { return list_next(slice_columns(in2, v, a)); });
}

std::vector<Value> slice_columns(Interp& in, const Value& v, const CallArgs& a) {
  Args args("slice", a, {"slices", "fill_with"});
  const int64_t slices = int_arg(args.need(0), "slices");
  const Value fill = args.get(1, kNone);
  if (slices <= 0) throw TemplateError(ErrorKind::Value, "integer division or modulo by zero");
  if (slices > 1'000'000) in.limit_exceeded("slice count limit");
  std::vector<Value> seq = in.to_list(v);
  const auto length = static_cast<int64_t>(seq.size());
  const int64_t per = length / slices;
  const int64_t extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t i = 0; i < slices; ++i) {
    in.step();
    const int64_t start = offset + i * per;
    if (i < extra) ++offset;
    const int64_t end = offset + (i + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (!fill.is_none() && i >= extra) tmp.push_back(fill);
    out.push_back(Value::list(std::move(tmp)));
  }
  return out;
}

Value f_sort(Interp& in, const Value& v, CallArgs& a) {
  Args args("sort", a, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = truthy(args.get(0, kFalse));
  const bool case_sensitive = truthy(args.get(1, kFalse));
  const Value attribute = args.get(2, kNone);
  std::vector<std::vector<Value>> getters;
  if (attribute.is_str()) {
    const std::string& s = attribute.str();
    size_t start = 0;
    while (true) {
      const size_t comma = s.find(',', start);
      getters.push_back(attribute_parts(Value::string(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start))));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    getters.push_back(attribute_parts(attribute));
  }
  std::vector<Value> items = in.to_list(v);
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const Value& item : items) {
    std::vector<Value> k;
    for (const auto& parts : getters) {
      Value x = get_attribute(in, item, parts);
      k.push_back(case_sensitive ? x : ignore_case(x));
    }
    keys.push_back(Value::list(std::move(k)));
  }
  return Value::list(sort_by_keys(in, std::move(items), keys, reverse));
}

Value f_string(Interp& in, const Value& v, CallArgs& a) {
  Args args("string", a, {});
  if (v.is_str()) return v;
  return in.make_str(to_str(v));
}

Value f_striptags(Interp& in, const Value& v, CallArgs& a) {
  Args args("striptags", a, {});
  const std::string s = to_str(v);
  std::string text;
  bool in_tag = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!in_tag && s[i] == '<') {
      in_tag = true;
    } else if (in_tag && s[i] == '>') {
      in_tag = false;
    } else if (!in_tag) {
      text += s[i];
    }
  }
  // Collapse whitespace runs, then unescape the basic entities.
  std::string collapsed;
  size_t pos = 0;
  bool pending_space = false;
  while (pos < text.size()) {
    const size_t here = pos;
    const char32_t c = uni::next_cp(text, pos);
    if (uni::is_space(c)) {
      pending_space = !collapsed.empty();
      continue;
    }
    if (pending_space) collapsed += ' ';
    pending_space = false;
    collapsed.append(text, here, pos - here);
  }
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#34;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    size_t p = 0;
    const std::string f = from;
    while ((p = collapsed.find(f, p)) != std::string::npos) {
      collapsed.replace(p, f.size(), to);
      p += std::string(to).size();
    }
  }
  return in.make_str(std::move(collapsed));
}

Value f_sum(Interp& in, const Value& v, CallArgs& a) {
  Args args("sum", a, {"attribute", "start"});
  const auto parts = attribute_parts(args.get(0, kNone));
  Value total = args.get(1, Value::integer(0));
  Iter it(in, v);
  while (auto item = it.next(in)) {
    in.step();
    total = binary_op(in, BinOp::Add, total, parts.empty() ? *item : get_attribute(in, *item, parts));
  }
  return total;
}

Value f_title(Interp& in, const Value& v, CallArgs& a) {
  Args args("title", a, {});
  // Jinja2's own title(): words start after '-', whitespace, '(', '{', '[' or '<'.
  const std::u32string s = uni::decode(soft_str(v));
  std::u32string out;
  bool at_start = true;
  for (char32_t c : s) {
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || uni::is_space(c);
    if (sep) {
      out += c;
      at_start = true;
    } else if (at_start) {
      out += uni::to_upper(c);
      at_start = false;
    } else {
      out += uni::to_lower(c);
    }
  }
  return like(in, uni::encode(out), v);
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False) - note the positional order.
Value f_tojson(Interp& in, const Value& v, CallArgs& a) {
  Args args("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions o;
  o.ensure_ascii = truthy(args.get(0, kFalse));
  const Value indent = args.get(1, kNone);
  if (!indent.is_none()) {
    if (indent.is_str()) {
      o.indent = indent.str();
    } else if (indent.is_integral()) {
      const int64_t n = indent.as_int();
      if (n > 1'000'000) in.limit_exceeded("tojson indent limit");
      o.indent = std::string(n > 0 ? static_cast<size_t>(n) : 0, ' ');
    } else {
      type_error("can't multiply sequence by non-int of type '" + type_name(indent) + "'");
    }
    o.item_sep = ",";
  }
  const Value seps = args.get(2, kNone);
  if (!seps.is_none()) {
    std::vector<Value> parts = in.to_list(seps);
    if (parts.size() != 2) {
      throw TemplateError(ErrorKind::Value, "separators must be a pair (item_separator, key_separator)");
    }
    if (!parts[0].is_str() || !parts[1].is_str()) type_error("separators must be strings");
    o.item_sep = parts[0].str();
    o.key_sep = parts[1].str();
  }
  o.sort_keys = truthy(args.get(3, kFalse));
  return in.make_str(to_json(v, o));
}

Value f_trim(Interp& in, const Value& v, CallArgs& a) {
  Args args("trim", a, {"chars"});
  const Value chars = args.get(0, kNone);
  if (!chars.is_none() && !chars.is_str()) type_error("strip arg must be None or str");
  const std::string s = soft_str(v);
  return like(in, uni::strip(s, chars.is_none() ? nullptr : &chars.str(), true, true), v);
}

Value f_truncate(Interp& in, const Value& v, CallArgs& a) {
  Args args("truncate", a, {"length", "killwords", "end", "leeway"});
  const int64_t length = int_arg(args.get(0, Value::integer(255)), "length");
  const bool killwords = truthy(args.get(1, kFalse));
  const std::string end = to_str(args.get(2, Value::string("...")));
  const int64_t leeway = args.has(3) && !args.get(3, kNone).is_none() ? int_arg(args.get(3, kNone), "leeway") : 5;
  if (!v.is_str()) {
    // do_truncate takes len(s) first and slices only when too long.
    CallArgs none;
    const int64_t n = f_length(in, v, none).as_int();
    if (n <= length + leeway) return v;
    type_error("'" + type_name(v) + "' object has no attribute 'rsplit'");
  }
  const std::u32string s = uni::decode(v.str());
  const auto end_len = static_cast<int64_t>(uni::length(end));
  if (length < end_len) arg_error("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
  if (leeway < 0) arg_error("expected leeway >= 0, got " + std::to_string(leeway));
  if (static_cast<int64_t>(s.size()) <= length + leeway) return v;
  std::u32string head = s.substr(0, static_cast<size_t>(length - end_len));
  if (!killwords) {
    const size_t sp = head.rfind(U' ');
    if (sp != std::u32string::npos) head = head.substr(0, sp);
  }
  return in.make_str(uni::encode(head) + end);
}

Value f_unique(Interp& in, const Value& v, CallArgs& a) {
  return deferred(in, gen_depth(v), "sync_do_unique", [v, a](Interp& in2) { return unique_next(in2, v, a); });
}

Generator::Next unique_next(Interp& in, const Value& v, const CallArgs& a) {
  Args args("unique", a, {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(args.get(0, kFalse));
  const auto parts = attribute_parts(args.get(1, kNone));
  auto it = std::make_shared<Iter>(in, v);
  auto seen = std::make_shared<std::unordered_set<std::string>>();
  return [it, seen, parts, case_sensitive](Interp& in2) -> std::optional<Value> {
    while (auto item = it->next(in2)) {
      in2.step();
      Value key = parts.empty() ? *item : get_attribute(in2, *item, parts);
      if (!case_sensitive) key = ignore_case(key);
      auto h = hash_key(key);
      if (!h) type_error("unhashable type: '" + type_name(key) + "'");
      if (seen->insert(*h).second) return item;
    }
    return std::nullopt;
  };
}

Value f_urlencode(Interp& in, const Value& v, CallArgs& a) {
  Args args("urlencode", a, {});
  auto quote = [](const std::string& s, bool for_qs) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
      if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/')) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  };
  if (v.is_str()) return in.make_str(quote(v.str(), false));
  std::vector<std::pair<Value, Value>> pairs;
  if (v.is_dict()) {
    pairs = v.map().items();
  } else {
    for (const Value& item : in.to_list(v)) {
      auto kv = in.to_list(item);
      if (kv.size() != 2) type_error("urlencode expects pairs");
      pairs.emplace_back(kv[0], kv[1]);
    }
  }
  std::string out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += '&';
    out += quote(to_str(pairs[i].first), true) + "=" + quote(to_str(pairs[i].second), true);
  }
  return in.make_str(std::move(out));
}

Value f_wordcount(Interp& in, const Value& v, CallArgs& a) {
  Args args("wordcount", a, {});
  const std::string s = soft_str(v);
  in.step(s.size() / 64);
  int64_t n = 0;
  bool in_word = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const bool w = uni::is_word(uni::next_cp(s, pos));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> kFilters = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"batch", f_batch},
      {"capitalize", f_capitalize},
      {"center", f_center},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"filesizeformat", f_filesizeformat},
      {"first", f_first},
      {"float", f_float},
      {"forceescape", f_forceescape},
      {"format", f_format},
      {"groupby", f_groupby},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"pprint", f_pprint},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"slice", f_slice},
      {"sort", f_sort},
      {"string", f_string},
      {"striptags", f_striptags},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"truncate", f_truncate},
      {"unique", f_unique},
      {"upper", f_upper},
      {"urlencode", f_urlencode},
      {"wordcount", f_wordcount},
  };
  return kFilters;
}

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

bool has_filter(std::string_view name) { return filters().count(name) != 0; }
bool has_test(std::string_view name) { return tests().count(name) != 0; }

Value apply_filter(Interp& in, std::string_view name, const Value& subject, CallArgs& args) {
  const auto& f = filters();
  const auto it = f.find(name);
  if (it == f.end()) throw TemplateError(ErrorKind::Runtime, "No filter named '" + std::string(name) + "' found.");
  in.step();
  return it->second(in, subject, args);
}

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
