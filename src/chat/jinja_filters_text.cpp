// Jinja2's builtin filters on strings and numbers (jinja2/filters.py), and
// transformers' tojson: plain json.dumps with its keyword order.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/jinja_args.h"
#include "chat/jinja_filters_impl.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja::detail {

Value f_abs(Interp&, const Value& v, CallArgs& a) {
  Args args("abs", a, {});
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) throw TemplateError(ErrorKind::Value, "integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is_float()) return Value::real(std::fabs(v.as_double()));
  type_error("bad operand type for abs(): '" + type_name(v) + "'");
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

Value f_lower(Interp& in, const Value& v, CallArgs& a) {
  Args args("lower", a, {});
  return like(in, uni::lower(soft_str(v)), v);
}

Value f_upper(Interp& in, const Value& v, CallArgs& a) {
  Args args("upper", a, {});
  return like(in, uni::upper(soft_str(v)), v);
}

Value f_pprint(Interp& in, const Value& v, CallArgs& a) {
  Args args("pprint", a, {});
  return in.make_str(repr(v));
}

Value f_replace(Interp& in, const Value& v, CallArgs& a) {
  Args args("replace", a, {"old", "new", "count"});
  CallArgs m;
  m.pos.push_back(Value::string(to_str(args.need(0))));
  m.pos.push_back(Value::string(to_str(args.need(1))));
  if (args.has(2) && !args.get(2, kNone).is_none()) m.pos.push_back(args.get(2, kNone));
  // Without autoescape the result is a plain str even for Markup input.
  return call_method(in, Value::string(to_str(v)), "replace", m);
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


}  // namespace hearth::chat::jinja::detail
