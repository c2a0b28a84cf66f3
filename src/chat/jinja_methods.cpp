// Python methods reachable from templates (str, dict, list/tuple), Python's
// `%` formatting, str.format and strftime - with the immutable sandbox's rule
// that methods mutating a list or dict are refused.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

#include "chat/jinja_args.h"
#include "chat/jinja_builtins.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }
[[noreturn]] void value_error(std::string msg) { throw TemplateError(ErrorKind::Value, std::move(msg)); }

const std::set<std::string_view>& str_methods() {
  static const std::set<std::string_view> k = {
      "capitalize", "casefold",  "center",     "count",       "endswith",     "expandtabs", "find",
      "format",     "index",     "isalnum",    "isalpha",     "isascii",      "isdecimal",  "isdigit",
      "isidentifier", "islower", "isnumeric",  "isprintable", "isspace",      "istitle",    "isupper",
      "join",       "ljust",     "lower",      "lstrip",      "partition",    "removeprefix", "removesuffix",
      "replace",    "rfind",     "rindex",     "rjust",       "rpartition",   "rsplit",     "rstrip",
      "split",      "splitlines", "startswith", "strip",      "swapcase",     "title",      "upper",
      "zfill"};
  return k;
}

// ---------------------------------------------------------------- helpers

const std::string& str_arg(const Value& v, const char* method) {
  if (!v.is_str()) {
    type_error(std::string(method) + "() argument must be str, not " + type_name(v));
  }
  return v.str();
}

int64_t int_arg(const Value& v) {
  if (v.is_integral()) return v.as_int();
  type_error("'" + type_name(v) + "' object cannot be interpreted as an integer");
}

// Code-point bounds [start, end) from optional Python slice-style arguments.
std::pair<size_t, size_t> sub_bounds(const Args& args, size_t first, size_t len) {
  auto adjust = [&](const Value& v, int64_t dflt) -> int64_t {
    if (v.is_none()) return dflt;
    int64_t x = int_arg(v);
    const auto n = static_cast<int64_t>(len);
    if (x < 0) x = std::max<int64_t>(0, x + n);
    return std::min(x, n);
  };
  static const Value kNone = Value::none();
  const int64_t s = adjust(args.get(first, kNone), 0);
  const int64_t e = adjust(args.get(first + 1, kNone), static_cast<int64_t>(len));
  return {static_cast<size_t>(s), static_cast<size_t>(std::max(s, e))};
}

Value str_value(Interp& in, std::string s, const Value& self) { return in.make_str(std::move(s), self.markup()); }

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
  const std::u32string cps = uni::decode(s);
  std::vector<std::string> out;
  if (!from_right) {
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && uni::is_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        out.push_back(uni::encode(cps.substr(i)));
        return out;
      }
      size_t j = i;
      while (j < cps.size() && !uni::is_space(cps[j])) ++j;
      out.push_back(uni::encode(cps.substr(i, j - i)));
      i = j;
    }
    return out;
  }
  size_t i = cps.size();
  while (i > 0) {
    while (i > 0 && uni::is_space(cps[i - 1])) --i;
    if (i == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      out.push_back(uni::encode(cps.substr(0, i)));
      break;
    }
    size_t j = i;
    while (j > 0 && !uni::is_space(cps[j - 1])) --j;
    out.push_back(uni::encode(cps.substr(j, i - j)));
    i = j;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> split_sep(const std::string& s, const std::string& sep, int64_t maxsplit, bool from_right) {
  if (sep.empty()) value_error("empty separator");
  std::vector<std::string> out;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t p = s.find(sep, start);
      if (p == std::string::npos) break;
      out.push_back(s.substr(start, p - start));
      start = p + sep.size();
    }
    out.push_back(s.substr(start));
    return out;
  }
  size_t end = s.size();
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    if (end < sep.size()) break;
    const size_t p = s.rfind(sep, end - sep.size());
    if (p == std::string::npos) break;
    out.push_back(s.substr(p + sep.size(), end - p - sep.size()));
    end = p;
  }
  out.push_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

Value string_list(Interp& in, const std::vector<std::string>& parts, const Value& self) {
  std::vector<Value> items;
  items.reserve(parts.size());
  in.step(parts.size());
  for (const auto& p : parts) items.push_back(Value::string(p, self.markup()));
  return Value::list(std::move(items));
}

bool matches_affix(const std::u32string& s, const Value& affix, size_t start, size_t end, bool prefix,
                   const char* method) {
  auto one = [&](const std::string& a) {
    const std::u32string x = uni::decode(a);
    if (end < start || end - start < x.size()) return false;
    return prefix ? s.compare(start, x.size(), x) == 0 : s.compare(end - x.size(), x.size(), x) == 0;
  };
  if (affix.is_str()) return one(affix.str());
  if (affix.is_list_kind(SeqKind::Tuple)) {
    for (const Value& v : affix.seq().items) {
      if (!v.is_str()) type_error(std::string("tuple for ") + method + " must only contain str, not " + type_name(v));
      if (one(v.str())) return true;
    }
    return false;
  }
  type_error(std::string(method) + " first arg must be str or a tuple of str, not " + type_name(affix));
}

std::string pad(const std::u32string& s, int64_t width, char32_t fill, char align) {
  const auto len = static_cast<int64_t>(s.size());
  if (width <= len) return uni::encode(s);
  const int64_t marg = width - len;
  int64_t left = 0;
  if (align == '>') {
    left = marg;
  } else if (align == '^') {
    left = marg / 2 + (marg & width & 1);
  }
  std::u32string out(static_cast<size_t>(left), fill);
  out += s;
  out.append(static_cast<size_t>(marg - left), fill);
  return uni::encode(out);
}

char32_t fill_arg(const Args& args, size_t i) {
  static const Value kSpace = Value::string(" ");
  const Value& f = args.get(i, kSpace);
  if (!f.is_str() || uni::length(f.str()) != 1) {
    type_error("The fill character must be exactly one character long");
  }
  size_t pos = 0;
  return uni::next_cp(f.str(), pos);
}

Value str_method(Interp& in, const Value& self, std::string_view name, CallArgs& a) {
  static const Value kNone = Value::none();
  const std::string& s = self.str();
  in.step(s.size() / 64 + 1);
  const std::string fn(name);
  if (name == "split" || name == "rsplit") {
    Args args(fn, a, {"sep", "maxsplit"});
    const Value& sep = args.get(0, kNone);
    const int64_t maxsplit = int_arg(args.get(1, Value::integer(-1)));
    const bool right = name == "rsplit";
    if (sep.is_none()) return string_list(in, split_whitespace(s, maxsplit, right), self);
    return string_list(in, split_sep(s, str_arg(sep, fn.c_str()), maxsplit, right), self);
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    Args args(fn, a, {"chars"});
    const Value& chars = args.get(0, kNone);
    if (!chars.is_none() && !chars.is_str()) type_error(fn + " arg must be None or str");
    return str_value(in, uni::strip(s, chars.is_none() ? nullptr : &chars.str(), name != "rstrip", name != "lstrip"),
                     self);
  }
  if (name == "startswith" || name == "endswith") {
    Args args(fn, a, {"prefix", "start", "end"});
    const std::u32string cps = uni::decode(s);
    const auto [b, e] = sub_bounds(args, 1, cps.size());
    if (args.has(1) && static_cast<size_t>(std::max<int64_t>(0, 0)) > cps.size()) return Value::boolean(false);
    return Value::boolean(matches_affix(cps, args.need(0), b, e, name == "startswith", fn.c_str()));
  }
  if (name == "upper") return str_value(in, uni::upper(s), self);
  if (name == "lower" || name == "casefold") return str_value(in, uni::lower(s), self);
  if (name == "title") return str_value(in, uni::py_title(s), self);
  if (name == "capitalize") return str_value(in, uni::capitalize(s), self);
  if (name == "swapcase") return str_value(in, uni::swapcase(s), self);
  if (name == "replace") {
    Args args(fn, a, {"old", "new", "count"});
    const std::string& from = str_arg(args.need(0), "replace");
    const std::string& to = str_arg(args.need(1), "replace");
    int64_t count = int_arg(args.get(2, Value::integer(-1)));
    if (from.empty()) {
      // Python inserts `to` before every code point and at the end.
      const std::u32string cps = uni::decode(s);
      const uint64_t slots = cps.size() + 1;
      const uint64_t n = count < 0 ? slots : std::min<uint64_t>(slots, static_cast<uint64_t>(count));
      if (!to.empty() && n > (uint64_t{1} << 40) / to.size()) in.check_size(SIZE_MAX);
      in.check_size(s.size() + n * to.size());
      std::string out;
      uint64_t done = 0;
      for (char32_t c : cps) {
        if (done < n) {
          out += to;
          ++done;
        }
        uni::append_utf8(out, c);
      }
      if (done < n) out += to;
      return str_value(in, std::move(out), self);
    }
    // Size check first: the result may be much larger than the input.
    uint64_t occurrences = 0;
    for (size_t p = s.find(from); p != std::string::npos && (count < 0 || static_cast<int64_t>(occurrences) < count);
         p = s.find(from, p + from.size())) {
      ++occurrences;
    }
    if (to.size() > from.size()) {
      const uint64_t growth = to.size() - from.size();
      if (occurrences > 0 && growth > (uint64_t{1} << 40) / occurrences) in.check_size(SIZE_MAX);
      in.check_size(s.size() + occurrences * growth);
    }
    std::string out;
    size_t start = 0;
    for (uint64_t i = 0; i < occurrences; ++i) {
      const size_t p = s.find(from, start);
      out.append(s, start, p - start);
      out += to;
      start = p + from.size();
    }
    out.append(s, start, std::string::npos);
    return str_value(in, std::move(out), self);
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    Args args(fn, a, {"sub", "start", "end"});
    const std::u32string cps = uni::decode(s);
    const std::u32string sub = uni::decode(str_arg(args.need(0), fn.c_str()));
    const auto [b, e] = sub_bounds(args, 1, cps.size());
    const std::u32string hay = cps.substr(b, e - b);
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(hay.size() + 1));
      int64_t n = 0;
      for (size_t p = hay.find(sub); p != std::u32string::npos; p = hay.find(sub, p + sub.size())) ++n;
      return Value::integer(n);
    }
    const bool right = name == "rfind" || name == "rindex";
    const size_t p = right ? hay.rfind(sub) : hay.find(sub);
    if (p == std::u32string::npos) {
      if (name == "index" || name == "rindex") value_error("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(static_cast<int64_t>(p + b));
  }
  if (name == "join") {
    Args args(fn, a, {"iterable"});
    std::string out;
    size_t i = 0;
    for (const Value& item : in.to_list(args.need(0))) {
      if (!item.is_str()) {
        type_error("sequence item " + std::to_string(i) + ": expected str instance, " + type_name(item) + " found");
      }
      if (i++) out += s;
      out += item.str();
      in.check_size(out.size());
    }
    return str_value(in, std::move(out), self);
  }
  if (name == "format") return str_value(in, str_format(in, s, a), self);
  if (name == "center" || name == "ljust" || name == "rjust") {
    Args args(fn, a, {"width", "fillchar"});
    const int64_t width = int_arg(args.need(0));
    if (width > 0) in.check_size(static_cast<size_t>(width) * 4);
    const char align = name == "center" ? '^' : (name == "ljust" ? '<' : '>');
    return str_value(in, pad(uni::decode(s), width, fill_arg(args, 1), align), self);
  }
  if (name == "zfill") {
    Args args(fn, a, {"width"});
    const int64_t width = int_arg(args.need(0));
    if (width > 0) in.check_size(static_cast<size_t>(width));
    std::u32string cps = uni::decode(s);
    const auto len = static_cast<int64_t>(cps.size());
    if (width <= len) return self;
    std::u32string zeros(static_cast<size_t>(width - len), U'0');
    if (!cps.empty() && (cps[0] == '+' || cps[0] == '-')) {
      cps.insert(1, zeros);
    } else {
      cps.insert(0, zeros);
    }
    return str_value(in, uni::encode(cps), self);
  }
  if (name == "partition" || name == "rpartition") {
    Args args(fn, a, {"sep"});
    const std::string& sep = str_arg(args.need(0), fn.c_str());
    if (sep.empty()) value_error("empty separator");
    const size_t p = name == "partition" ? s.find(sep) : s.rfind(sep);
    std::vector<Value> parts;
    if (p == std::string::npos) {
      if (name == "partition") {
        parts = {Value::string(s, self.markup()), Value::string(""), Value::string("")};
      } else {
        parts = {Value::string(""), Value::string(""), Value::string(s, self.markup())};
      }
    } else {
      parts = {Value::string(s.substr(0, p), self.markup()), Value::string(sep, self.markup()),
               Value::string(s.substr(p + sep.size()), self.markup())};
    }
    return Value::tuple(std::move(parts));
  }
  if (name == "splitlines") {
    Args args(fn, a, {"keepends"});
    return string_list(in, uni::splitlines(s, truthy(args.get(0, Value::boolean(false)))), self);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    Args args(fn, a, {"affix"});
    const std::string& x = str_arg(args.need(0), fn.c_str());
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return str_value(in, s.substr(x.size()), self);
    if (name == "removesuffix" && !x.empty() && s.size() >= x.size() &&
        s.compare(s.size() - x.size(), x.size(), x) == 0) {
      return str_value(in, s.substr(0, s.size() - x.size()), self);
    }
    return self;
  }
  if (name == "expandtabs") {
    Args args(fn, a, {"tabsize"});
    const int64_t tab = int_arg(args.get(0, Value::integer(8)));
    std::u32string out;
    int64_t col = 0;
    for (char32_t c : uni::decode(s)) {
      if (c == '\t') {
        if (tab > 0) {
          const int64_t n = tab - col % tab;
          in.check_size(out.size() + static_cast<size_t>(n));
          out.append(static_cast<size_t>(n), U' ');
          col += n;
        }
      } else {
        out += c;
        col = (c == '\n' || c == '\r') ? 0 : col + 1;
      }
    }
    return str_value(in, uni::encode(out), self);
  }
  // Predicates.
  Args args(fn, a, {});
  const std::u32string cps = uni::decode(s);
  auto all = [&](auto pred) {
    return !cps.empty() && std::all_of(cps.begin(), cps.end(), pred);
  };
  if (name == "isalnum") return Value::boolean(all(uni::is_alnum));
  if (name == "isalpha") return Value::boolean(all(uni::is_alpha));
  if (name == "isdecimal") return Value::boolean(all(uni::is_decimal));
  if (name == "isdigit" || name == "isnumeric") return Value::boolean(all(uni::is_digit));
  if (name == "isspace") return Value::boolean(all(uni::is_space));
  if (name == "isascii") {
    return Value::boolean(std::all_of(cps.begin(), cps.end(), [](char32_t c) { return c < 0x80; }));
  }
  if (name == "isprintable") {
    return Value::boolean(std::all_of(cps.begin(), cps.end(), [](char32_t c) { return uni::is_printable(c); }));
  }
  if (name == "isidentifier") {
    if (cps.empty() || uni::is_digit(cps[0])) return Value::boolean(false);
    return Value::boolean(all(uni::is_word));
  }
  if (name == "islower" || name == "isupper") {
    const bool want_lower = name == "islower";
    bool cased = false;
    for (char32_t c : cps) {
      if (want_lower ? uni::is_upper(c) : uni::is_lower(c)) return Value::boolean(false);
      if (uni::is_upper(c) || uni::is_lower(c)) cased = true;
    }
    return Value::boolean(cased);
  }
  if (name == "istitle") {
    bool prev_cased = false, any = false;
    for (char32_t c : cps) {
      if (uni::is_upper(c)) {
        if (prev_cased) return Value::boolean(false);
        prev_cased = any = true;
      } else if (uni::is_lower(c)) {
        if (!prev_cased) return Value::boolean(false);
        prev_cased = any = true;
      } else {
        prev_cased = false;
      }
    }
    return Value::boolean(any);
  }
  type_error("'str' object has no attribute '" + fn + "'");
}

}  // namespace

MethodAccess method_access(const Value& self, std::string_view name) {
  switch (self.type()) {
    case VType::Str: return str_methods().count(name) ? MethodAccess::Safe : MethodAccess::None;
    case VType::Dict:
      if (name == "get" || name == "items" || name == "keys" || name == "values" || name == "copy") {
        return MethodAccess::Safe;
      }
      if (name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" || name == "update") {
        return MethodAccess::Unsafe;
      }
      return MethodAccess::None;
    case VType::List: {
      const SeqKind k = self.seq().kind;
      if (k == SeqKind::List) {
        if (name == "count" || name == "index" || name == "copy") return MethodAccess::Safe;
        if (name == "append" || name == "clear" || name == "extend" || name == "insert" || name == "pop" ||
            name == "remove" || name == "reverse" || name == "sort") {
          return MethodAccess::Unsafe;
        }
      } else if (k == SeqKind::Tuple || k == SeqKind::Range) {
        if (name == "count" || name == "index") return MethodAccess::Safe;
      }
      return MethodAccess::None;
    }
    default: return MethodAccess::None;
  }
}

Value call_method(Interp& in, const Value& self, std::string_view name, CallArgs& a) {
  static const Value kNone = Value::none();
  const std::string fn(name);
  if (self.is_str()) return str_method(in, self, name, a);
  if (self.is_dict()) {
    const DictData& d = self.map();
    if (name == "get") {
      Args args(fn, a, {"key", "default"});
      const Value& key = args.need(0);
      if (!hash_key(key)) type_error("unhashable type: '" + type_name(key) + "'");
      const Value* v = d.find(key);
      return v ? *v : args.get(1, kNone);
    }
    Args args(fn, a, {});
    in.step(d.size());
    if (name == "copy") return self;
    std::vector<Value> items;
    items.reserve(d.size());
    for (const auto& [k, v] : d.items()) {
      if (name == "items") {
        items.push_back(Value::tuple({k, v}));
      } else {
        items.push_back(name == "keys" ? k : v);
      }
    }
    const SeqKind kind = name == "items" ? SeqKind::DictItems : (name == "keys" ? SeqKind::DictKeys : SeqKind::DictValues);
    return Value::list(std::move(items), kind);
  }
  if (self.is_seq()) {
    const auto& items = self.seq().items;
    if (name == "copy") {
      Args args(fn, a, {});
      return self;
    }
    Args args(fn, a, {"value", "start", "stop"});
    const Value& x = args.need(0);
    in.step(items.size());
    if (name == "count") {
      int64_t n = 0;
      for (const Value& v : items) n += py_eq(v, x) ? 1 : 0;
      return Value::integer(n);
    }
    const auto [b, e] = sub_bounds(args, 1, items.size());
    for (size_t i = b; i < e; ++i) {
      if (py_eq(items[i], x)) return Value::integer(static_cast<int64_t>(i));
    }
    value_error(repr(x) + " is not in " + type_name(self));
  }
  type_error("'" + type_name(self) + "' object has no attribute '" + fn + "'");
}

}  // namespace hearth::chat::jinja
