// Python's string formatting as templates reach it: `fmt % args`
// (printf-style), str.format (through jinja2's SandboxedFormatter) and
// datetime.strftime for strftime_now.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "chat/jinja_builtins.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }
[[noreturn]] void value_error(std::string msg) { throw TemplateError(ErrorKind::Value, std::move(msg)); }

}  // namespace

// ---------------------------------------------------------------- number formatting

namespace {

struct Spec {
  char32_t fill = ' ';
  char align = 0;  // < > ^ =
  char sign = '-';
  bool alt = false;
  bool zero = false;
  int64_t width = -1;
  char grouping = 0;
  int64_t precision = -1;
  char type = 0;
};

std::string group_digits(const std::string& digits, char sep) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i && (n - i) % 3 == 0) out += sep;
    out += digits[i];
  }
  return out;
}

std::string c_format_double(double v, char type, int64_t precision, bool alt) {
  std::string f = "%";
  if (alt) f += '#';
  f += ".*";
  f += type;
  const int prec = static_cast<int>(std::min<int64_t>(precision, 400));
  const int n = std::snprintf(nullptr, 0, f.c_str(), prec, v);
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), f.c_str(), prec, v);
  out.resize(static_cast<size_t>(n));
  return out;
}

// Formats |v| (sign handled by the caller) for a float presentation type.
std::string float_body(double v, const Spec& sp) {
  char type = sp.type;
  int64_t prec = sp.precision;
  if (std::isnan(v)) return type >= 'A' && type <= 'Z' ? "NAN" : "nan";
  if (std::isinf(v)) return type >= 'A' && type <= 'Z' ? "INF" : "inf";
  if (type == 0) {
    if (prec < 0) return float_repr(v);
    // General format that keeps at least one digit after the point.
    std::string g = c_format_double(v, 'g', prec == 0 ? 1 : prec, sp.alt);
    if (g.find_first_of(".e") == std::string::npos) g += ".0";
    return g;
  }
  if (type == '%') return c_format_double(v * 100, 'f', prec < 0 ? 6 : prec, sp.alt) + "%";
  if (type == 'n') type = 'g';
  return c_format_double(v, type, prec < 0 ? 6 : prec, sp.alt);
}

std::string apply_sign_and_width(bool negative, std::string body, const Spec& sp, bool numeric) {
  std::string sign;
  if (numeric) {
    if (negative) {
      sign = "-";
    } else if (sp.sign == '+') {
      sign = "+";
    } else if (sp.sign == ' ') {
      sign = " ";
    }
  }
  char align = sp.align ? sp.align : (numeric ? '>' : '<');
  char32_t fill = sp.fill;
  if (sp.zero && !sp.align) {
    align = '=';
    fill = '0';
  }
  const int64_t len = static_cast<int64_t>(uni::length(sign) + uni::length(body));
  if (sp.width <= len) return sign + body;
  const int64_t marg = sp.width - len;
  std::string padding;
  auto fill_n = [&](int64_t n) {
    std::string p;
    for (int64_t i = 0; i < n; ++i) uni::append_utf8(p, fill);
    return p;
  };
  if (align == '=') return sign + fill_n(marg) + body;
  if (align == '>') return fill_n(marg) + sign + body;
  if (align == '^') return fill_n(marg / 2) + sign + body + fill_n(marg - marg / 2);
  return sign + body + fill_n(marg);
}

Spec parse_spec(std::string_view spec) {
  Spec sp;
  const std::u32string s = uni::decode(spec);
  size_t i = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (s.size() >= 2 && is_align(s[1])) {
    sp.fill = s[0];
    sp.align = static_cast<char>(s[1]);
    i = 2;
  } else if (!s.empty() && is_align(s[0])) {
    sp.align = static_cast<char>(s[0]);
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) sp.sign = static_cast<char>(s[i++]);
  if (i < s.size() && s[i] == 'z') ++i;
  if (i < s.size() && s[i] == '#') {
    sp.alt = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    sp.zero = true;
    ++i;
  }
  auto digits = [&]() -> int64_t {
    int64_t v = -1;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = (v < 0 ? 0 : v) * 10 + (s[i] - '0');
      if (v > 100'000'000) value_error("Too many decimal digits in format string");
      ++i;
    }
    return v;
  };
  sp.width = digits();
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) sp.grouping = static_cast<char>(s[i++]);
  if (i < s.size() && s[i] == '.') {
    ++i;
    sp.precision = digits();
    if (sp.precision < 0) value_error("Format specifier missing precision");
  }
  if (i < s.size()) sp.type = static_cast<char>(s[i++]);
  if (i < s.size()) value_error("Invalid format specifier");
  return sp;
}

// format(value, spec) for str, int, float, bool and None.
std::string format_value(Interp& in, const Value& v, std::string_view spec_text) {
  if (spec_text.empty()) return to_str(v);
  const Spec sp = parse_spec(spec_text);
  if (sp.width > 0) in.check_size(static_cast<size_t>(sp.width) * 4);
  if (v.is_str()) {
    if (sp.type != 0 && sp.type != 's') {
      value_error(std::string("Unknown format code '") + sp.type + "' for object of type 'str'");
    }
    std::u32string cps = uni::decode(v.str());
    if (sp.precision >= 0 && static_cast<int64_t>(cps.size()) > sp.precision) {
      cps.resize(static_cast<size_t>(sp.precision));
    }
    return apply_sign_and_width(false, uni::encode(cps), sp, false);
  }
  if (v.is_integral() && (sp.type == 0 || std::string_view("bcdoxXn").find(sp.type) != std::string_view::npos)) {
    if (v.is_bool() && sp.type == 0) return apply_sign_and_width(false, to_str(v), sp, false);
    const int64_t x = v.as_int();
    const uint64_t mag = x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    std::string body;
    switch (sp.type) {
      case 'b': {
        char bits[64];
        size_t n = 0;
        uint64_t m = mag;
        do {
          bits[n++] = static_cast<char>('0' + (m & 1));
          m >>= 1;
        } while (m);
        if (sp.alt) body.append("0b");
        for (size_t k = n; k > 0; --k) body.push_back(bits[k - 1]);
        break;
      }
      case 'o': {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%llo", static_cast<unsigned long long>(mag));
        body = sp.alt ? std::string("0o") + buf : buf;
        break;
      }
      case 'x':
      case 'X': {
        char buf[32];
        std::snprintf(buf, sizeof(buf), sp.type == 'x' ? "%llx" : "%llX", static_cast<unsigned long long>(mag));
        body = sp.alt ? std::string(sp.type == 'x' ? "0x" : "0X") + buf : buf;
        break;
      }
      case 'c': {
        body.clear();
        uni::append_utf8(body, static_cast<char32_t>(mag));
        return apply_sign_and_width(false, body, sp, false);
      }
      default:
        body = std::to_string(mag);
        if (sp.grouping) body = group_digits(body, sp.grouping);
    }
    return apply_sign_and_width(x < 0, body, sp, true);
  }
  if (v.is_number()) {
    if (sp.type != 0 && std::string_view("eEfFgGn%").find(sp.type) == std::string_view::npos) {
      value_error(std::string("Unknown format code '") + sp.type + "' for object of type '" + type_name(v) + "'");
    }
    const double d = v.as_double();
    std::string body = float_body(std::fabs(d), sp);
    if (sp.grouping) {
      const size_t end = body.find_first_not_of("0123456789");
      body = group_digits(body.substr(0, end), sp.grouping) + (end == std::string::npos ? "" : body.substr(end));
    }
    return apply_sign_and_width(std::signbit(d) && !std::isnan(d), body, sp, true);
  }
  type_error("unsupported format string passed to " + type_name(v) + ".__format__");
}

}  // namespace

// Python's `fmt % args` (printf-style).
Value percent_format(Interp& in, const Value& fmt_value, const Value& args) {
  const std::string& fmt = fmt_value.str();
  std::vector<Value> positional;
  const Value* mapping = nullptr;
  // CPython treats any non-tuple argument that supports subscripting (dict,
  // list, range) as a mapping: no "not all arguments converted" check.
  bool mapping_like = false;
  if (args.is_list_kind(SeqKind::Tuple)) {
    positional = args.seq().items;
  } else {
    positional.push_back(args);
    if (args.is_dict()) mapping = &args;
    mapping_like = args.is_dict() || args.is_list_kind(SeqKind::List) || args.is_list_kind(SeqKind::Range) ||
                   args.is_undefined();
  }
  size_t next = 0;
  auto take = [&]() -> const Value& {
    if (next >= positional.size()) type_error("not enough arguments for format string");
    return positional[next++];
  };
  std::string out;
  bool used_mapping = false;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    const size_t start = i;
    if (++i >= fmt.size()) value_error("incomplete format");
    const Value* value = nullptr;
    Value keyed;
    if (fmt[i] == '(') {
      if (!mapping) {
        if (mapping_like) type_error("list indices must be integers or slices, not str");
        type_error("format requires a mapping");
      }
      int depth = 1;
      const size_t kstart = ++i;
      while (i < fmt.size() && depth) {
        if (fmt[i] == '(') ++depth;
        if (fmt[i] == ')') --depth;
        if (depth) ++i;
      }
      if (i >= fmt.size()) value_error("incomplete format key");
      const Value* found = mapping->map().find(std::string_view(fmt).substr(kstart, i - kstart));
      if (!found) throw TemplateError(ErrorKind::Type, repr_string(fmt.substr(kstart, i - kstart)));
      keyed = *found;
      value = &keyed;
      used_mapping = true;
      ++i;
    }
    Spec sp;
    while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos) {
      switch (fmt[i]) {
        case '-': sp.align = '<'; break;
        case '+': sp.sign = '+'; break;
        case ' ': if (sp.sign != '+') sp.sign = ' '; break;
        case '#': sp.alt = true; break;
        case '0': sp.zero = true; break;
      }
      ++i;
    }
    auto number = [&]() -> int64_t {
      if (i < fmt.size() && fmt[i] == '*') {
        ++i;
        const Value& w = take();
        if (!w.is_integral()) type_error("* wants int");
        return w.as_int();
      }
      int64_t v = -1;
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        v = (v < 0 ? 0 : v) * 10 + (fmt[i] - '0');
        if (v > 100'000'000) value_error("width too big");
        ++i;
      }
      return v;
    };
    sp.width = number();
    if (sp.width < -1) {
      sp.align = '<';
      sp.width = -sp.width;
    }
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      sp.precision = number();
      if (sp.precision < 0) sp.precision = 0;
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) value_error("incomplete format");
    const char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!value) value = &take();
    if (sp.width > 0) in.check_size(static_cast<size_t>(sp.width) * 4);
    if (sp.align == '<') sp.zero = false;
    if (!sp.align && !sp.zero) sp.align = '>';  // printf pads on the left
    std::string piece;
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::u32string cps = uni::decode(conv == 's' ? to_str(*value) : repr(*value));
        if (sp.precision >= 0 && static_cast<int64_t>(cps.size()) > sp.precision) {
          cps.resize(static_cast<size_t>(sp.precision));
        }
        Spec s2 = sp;
        s2.zero = false;
        if (!s2.align) s2.align = '>';
        piece = apply_sign_and_width(false, uni::encode(cps), s2, false);
        break;
      }
      case 'd':
      case 'i':
      case 'u': {
        if (!value->is_number()) {
          type_error(std::string("%") + conv + " format: a real number is required, not " + type_name(*value));
        }
        double d = value->as_double();
        int64_t x = value->is_integral() ? value->as_int() : static_cast<int64_t>(std::trunc(d));
        if (value->is_float() && (!std::isfinite(d) || std::fabs(d) >= 9.2e18)) {
          throw TemplateError(ErrorKind::Value, "cannot convert float to integer");
        }
        const uint64_t mag = x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
        std::string body = std::to_string(mag);
        if (sp.precision > static_cast<int64_t>(body.size())) {
          body.insert(0, static_cast<size_t>(sp.precision - static_cast<int64_t>(body.size())), '0');
        }
        piece = apply_sign_and_width(x < 0, body, sp, true);
        break;
      }
      case 'x':
      case 'X':
      case 'o': {
        if (!value->is_integral()) {
          type_error(std::string("%") + conv + " format: an integer is required, not " + type_name(*value));
        }
        const int64_t x = value->as_int();
        if (x == INT64_MIN) throw TemplateError(ErrorKind::Value, "integer overflow");
        const bool neg = x < 0;
        const std::string body = format_value(in, Value::integer(neg ? -x : x), std::string(sp.alt ? "#" : "") + conv);
        piece = apply_sign_and_width(neg, body, sp, true);
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!value->is_number()) {
          type_error(std::string("must be real number, not ") + type_name(*value));
        }
        Spec s2 = sp;
        s2.type = conv;
        if (s2.precision < 0) s2.precision = 6;
        const double d = value->as_double();
        piece = apply_sign_and_width(std::signbit(d) && !std::isnan(d), float_body(std::fabs(d), s2), sp, true);
        break;
      }
      case 'c': {
        std::string body;
        if (value->is_integral()) {
          uni::append_utf8(body, static_cast<char32_t>(value->as_int()));
        } else if (value->is_str() && uni::length(value->str()) == 1) {
          body = value->str();
        } else {
          type_error("%c requires int or char");
        }
        Spec s2 = sp;
        s2.zero = false;
        if (!s2.align) s2.align = '>';
        piece = apply_sign_and_width(false, body, s2, false);
        break;
      }
      default: {
        char buf[96];
        std::snprintf(buf, sizeof(buf), "unsupported format character '%c' (0x%x) at index %zu", conv,
                      static_cast<unsigned>(static_cast<unsigned char>(conv)), i);
        (void)start;
        value_error(buf);
      }
    }
    out += piece;
    in.check_size(out.size());
  }
  if (!mapping_like && next < positional.size()) type_error("not all arguments converted during string formatting");
  (void)used_mapping;
  return in.make_str(std::move(out), fmt_value.markup());
}

// str.format through jinja2's SandboxedFormatter (attribute lookups go
// through the sandboxed getattr/getitem).
std::string str_format(Interp& in, std::string_view fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool manual = false, automatic = false;
  auto resolve = [&](std::string_view field) -> Value {
    size_t i = 0;
    while (i < field.size() && field[i] != '.' && field[i] != '[') ++i;
    const std::string_view first = field.substr(0, i);
    Value obj;
    if (first.empty()) {
      if (manual) value_error("cannot switch from manual field specification to automatic field numbering");
      automatic = true;
      if (auto_index >= args.pos.size()) {
        throw TemplateError(ErrorKind::Value, "Replacement index " + std::to_string(auto_index) +
                                                  " out of range for positional args tuple");
      }
      obj = args.pos[auto_index++];
    } else if (std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (automatic) value_error("cannot switch from automatic field numbering to manual field specification");
      manual = true;
      const size_t idx = first.size() > 9 ? SIZE_MAX : std::stoul(std::string(first));
      if (idx >= args.pos.size()) {
        throw TemplateError(ErrorKind::Value,
                            "Replacement index " + std::string(first) + " out of range for positional args tuple");
      }
      obj = args.pos[idx];
    } else {
      auto it = std::find_if(args.kw.begin(), args.kw.end(), [&](const auto& kv) { return kv.first == first; });
      if (it == args.kw.end()) throw TemplateError(ErrorKind::Value, repr_string(first));
      obj = it->second;
    }
    while (i < field.size()) {
      if (field[i] == '.') {
        size_t j = ++i;
        while (j < field.size() && field[j] != '.' && field[j] != '[') ++j;
        obj = in.getattr(obj, field.substr(i, j - i));
        i = j;
      } else {
        const size_t close = field.find(']', i);
        if (close == std::string_view::npos) value_error("Missing ']' in format string");
        const std::string key(field.substr(i + 1, close - i - 1));
        const bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
        obj = in.getitem(obj, digits && key.size() < 18 ? Value::integer(std::stoll(key)) : Value::string(key));
        i = close + 1;
      }
    }
    return obj;
  };
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      value_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    // Find the matching close brace (the spec may hold nested fields).
    size_t depth = 1, j = i + 1;
    for (; j < fmt.size() && depth; ++j) {
      if (fmt[j] == '{') ++depth;
      if (fmt[j] == '}') --depth;
    }
    if (depth) value_error("expected '}' before end of string");
    const std::string_view inner = fmt.substr(i + 1, j - i - 2);
    size_t k = 0;
    while (k < inner.size() && inner[k] != '!' && inner[k] != ':') {
      if (inner[k] == '[') {
        const size_t close = inner.find(']', k);
        k = close == std::string_view::npos ? inner.size() : close + 1;
      } else {
        ++k;
      }
    }
    const std::string_view field = inner.substr(0, k);
    char conv = 0;
    std::string spec;
    if (k < inner.size() && inner[k] == '!') {
      if (k + 1 >= inner.size()) value_error("end of string while looking for conversion specifier");
      conv = inner[k + 1];
      k += 2;
      if (k < inner.size() && inner[k] != ':') value_error("expected ':' after conversion specifier");
    }
    if (k < inner.size() && inner[k] == ':') {
      // Nested replacement fields inside the spec.
      const std::string raw(inner.substr(k + 1));
      CallArgs sub = args;
      spec = raw.find('{') != std::string::npos ? str_format(in, raw, sub) : raw;
    }
    Value v = resolve(field);
    if (conv == 'r' || conv == 'a') {
      v = Value::string(repr(v));
    } else if (conv == 's') {
      v = Value::string(to_str(v));
    } else if (conv != 0) {
      value_error(std::string("Unknown conversion specifier ") + conv);
    }
    out += format_value(in, v, spec);
    in.check_size(out.size());
    i = j - 1;
  }
  return out;
}

std::string py_strftime(std::string_view fmt, const std::tm& tm) {
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%' || i + 1 >= fmt.size()) {
      out += fmt[i];
      continue;
    }
    // One directive: %[flags][width][E|O]conv, handed to the C library as
    // Python does on Linux, except the ones datetime handles itself.
    size_t j = i + 1;
    while (j < fmt.size() && std::string_view("-_0^#").find(fmt[j]) != std::string_view::npos) ++j;
    while (j < fmt.size() && fmt[j] >= '0' && fmt[j] <= '9' && j - i < 6) ++j;
    if (j < fmt.size() && (fmt[j] == 'E' || fmt[j] == 'O')) ++j;
    if (j >= fmt.size()) {
      out.append(fmt.substr(i));
      break;
    }
    const char conv = fmt[j];
    if (conv == 'f') {
      out += "000000";
    } else if (conv == 'z' || conv == 'Z') {
      // naive datetime: empty
    } else if (conv == '%') {
      out += '%';
    } else {
      const std::string directive(fmt.substr(i, j - i + 1));
      char buf[256];
      const size_t n = std::strftime(buf, sizeof(buf), directive.c_str(), &tm);
      if (n > 0) {
        out.append(buf, n);
      } else if (!(conv == 'p' || conv == 'P')) {
        // An empty expansion (or an unknown directive) copies nothing,
        // except that glibc keeps unknown directives verbatim.
        if (std::string_view("aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYZ+").find(conv) == std::string_view::npos) {
          out += directive;
        }
      }
    }
    i = j;
  }
  return out;
}

}  // namespace hearth::chat::jinja
