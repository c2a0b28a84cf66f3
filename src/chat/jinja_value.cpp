#include "chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }

[[noreturn]] void too_deep() {
  throw TemplateError(ErrorKind::Limit, "value nested too deeply (limit " +
                                            std::to_string(kMaxValueDepth) + " levels)");
}

// Recursive walks (repr, equality, tojson) stop here even through namespaces,
// whose contents may refer back to themselves.
constexpr int kMaxWalkDepth = kMaxValueDepth + 50;

void check_walk(int depth) {
  if (depth > kMaxWalkDepth) too_deep();
}

thread_local size_t t_string_limit = SIZE_MAX;

void check_length(const std::string& s) {
  if (s.size() > t_string_limit) {
    throw TemplateError(ErrorKind::Limit,
                        "string size limit (" + std::to_string(t_string_limit) + " bytes) exceeded");
  }
}

}  // namespace

size_t string_limit() { return t_string_limit; }
StringLimitScope::StringLimitScope(size_t limit) : saved_(t_string_limit) { t_string_limit = limit; }
StringLimitScope::~StringLimitScope() { t_string_limit = saved_; }

// ---------------------------------------------------------------- Value

Value Value::none() {
  Value v;
  v.type_ = VType::None;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.type_ = VType::Bool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.type_ = VType::Int;
  v.i_ = i;
  return v;
}

Value Value::real(double d) {
  Value v;
  v.type_ = VType::Float;
  v.f_ = d;
  return v;
}

Value Value::string(std::string s, bool markup) {
  Value v;
  v.type_ = VType::Str;
  v.markup_ = markup;
  v.ptr_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::list(std::vector<Value> items, SeqKind kind) {
  auto data = std::make_shared<ListData>();
  data->kind = kind;
  int depth = 1;
  for (const Value& item : items) depth = std::max(depth, item.depth() + 1);
  if (depth > kMaxValueDepth) too_deep();
  data->depth = depth;
  data->items = std::move(items);
  Value v;
  v.type_ = VType::List;
  v.ptr_ = std::shared_ptr<const ListData>(std::move(data));
  return v;
}

Value Value::range(int64_t start, int64_t stop, int64_t step) {
  std::vector<Value> items;
  if (step > 0) {
    for (int64_t i = start; i < stop; i += step) {
      items.push_back(integer(i));
      if (stop - i <= step) break;  // avoid overflow of i + step
    }
  } else if (step < 0) {
    for (int64_t i = start; i > stop; i += step) {
      items.push_back(integer(i));
      if (i - stop <= -step) break;
    }
  }
  Value v = list(std::move(items), SeqKind::Range);
  auto* data = static_cast<ListData*>(const_cast<void*>(v.ptr_.get()));
  data->r_start = start;
  data->r_stop = stop;
  data->r_step = step;
  return v;
}

Value Value::dict(std::shared_ptr<DictData> d) {
  Value v;
  v.type_ = VType::Dict;
  v.ptr_ = std::shared_ptr<const DictData>(std::move(d));
  return v;
}

Value Value::object(std::shared_ptr<Object> o) {
  Value v;
  v.type_ = VType::Object;
  v.ptr_ = std::shared_ptr<const void>(std::shared_ptr<Object>(std::move(o)));
  return v;
}

Value Value::undefined(std::string message, ErrorKind kind) {
  Value v;
  v.type_ = VType::Undefined;
  v.ptr_ = std::make_shared<const UndefinedData>(UndefinedData{std::move(message), kind});
  return v;
}

Value Value::undefined_name(std::string_view name) {
  return undefined(repr_string(name) + " is undefined");
}

bool Value::is_list_kind(SeqKind k) const { return type_ == VType::List && seq().kind == k; }

double Value::as_double() const {
  switch (type_) {
    case VType::Bool: return b_ ? 1.0 : 0.0;
    case VType::Int: return static_cast<double>(i_);
    case VType::Float: return f_;
    default: return 0.0;
  }
}

const std::string& Value::undefined_message() const {
  static const std::string kDefault = "undefined value";
  if (type_ != VType::Undefined || !ptr_) return kDefault;
  return static_cast<const UndefinedData*>(ptr_.get())->message;
}

ErrorKind Value::undefined_kind() const {
  if (type_ != VType::Undefined || !ptr_) return ErrorKind::Undefined;
  return static_cast<const UndefinedData*>(ptr_.get())->kind;
}

void Value::fail_undefined() const { throw TemplateError(undefined_kind(), undefined_message()); }

int Value::depth() const {
  if (type_ == VType::List) return seq().depth;
  if (type_ == VType::Dict) return map().depth();
  return 0;
}

// ---------------------------------------------------------------- DictData

const Value* DictData::find(const Value& key) const {
  const auto h = hash_key(key);
  if (!h) return nullptr;
  const auto it = index_.find(*h);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

const Value* DictData::find(std::string_view key) const {
  std::string h;
  h.reserve(key.size() + 1);
  h += 's';
  h += key;
  const auto it = index_.find(h);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

void DictData::set(const Value& key, Value value) {
  auto h = hash_key(key);
  if (!h) type_error("unhashable type: '" + type_name(key) + "'");
  const int d = std::max(value.depth(), key.depth()) + 1;
  if (d > kMaxValueDepth) too_deep();
  depth_ = std::max(depth_, d);
  const auto it = index_.find(*h);
  if (it != index_.end()) {
    items_[it->second].second = std::move(value);  // Python keeps the first key object
    return;
  }
  index_.emplace(std::move(*h), items_.size());
  items_.emplace_back(key, std::move(value));
}

// ---------------------------------------------------------------- Namespace

const Value* Namespace::get(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &attrs_[it->second].second;
}

void Namespace::set(const std::string& name, Value value) {
  const auto it = index_.find(name);
  if (it != index_.end()) {
    attrs_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(name, attrs_.size());
  attrs_.emplace_back(name, std::move(value));
}

void Namespace::clear() {
  // Move out first: destroying the values may re-enter this object.
  auto attrs = std::move(attrs_);
  attrs_.clear();
  index_.clear();
}

std::string Namespace::repr(int depth) const {
  check_walk(depth);
  std::string out = "<Namespace {";
  bool first = true;
  for (const auto& [k, v] : attrs_) {
    if (!first) out += ", ";
    first = false;
    out += repr_string(k);
    out += ": ";
    out += jinja::repr(v, depth + 1);
    check_length(out);
  }
  return out + "}>";
}

std::string Object::repr(int) const { return std::string("<").append(type_name()).append(" object>"); }

// ---------------------------------------------------------------- basics

std::string type_name(const Value& v) {
  switch (v.type()) {
    case VType::Undefined: return "Undefined";
    case VType::None: return "NoneType";
    case VType::Bool: return "bool";
    case VType::Int: return "int";
    case VType::Float: return "float";
    case VType::Str: return v.markup() ? "Markup" : "str";
    case VType::List:
      switch (v.seq().kind) {
        case SeqKind::List: return "list";
        case SeqKind::Tuple: return "tuple";
        case SeqKind::DictItems: return "dict_items";
        case SeqKind::DictKeys: return "dict_keys";
        case SeqKind::DictValues: return "dict_values";
        case SeqKind::Range: return "range";
      }
      return "list";
    case VType::Dict: return "dict";
    case VType::Object: return v.obj()->type_name();
  }
  return "object";
}

bool truthy(const Value& v) {
  switch (v.type()) {
    case VType::Undefined:
    case VType::None: return false;
    case VType::Bool: return v.as_bool();
    case VType::Int: return v.as_int() != 0;
    case VType::Float: return v.as_double() != 0.0;
    case VType::Str: return !v.str().empty();
    case VType::List: return !v.seq().items.empty();
    case VType::Dict: return v.map().size() != 0;
    case VType::Object: return true;  // generators, namespaces, callables
  }
  return false;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos)) {
    if (c != '.') digits += c;
  }
  int exp = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  const int decpt = exp + 1;  // digits d1d2... times 10^(decpt - ndigits)
  const int nd = static_cast<int>(digits.size());
  if (decpt > 16 || decpt < -3) {
    out += digits[0];
    if (nd > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += 'e';
    out += exp < 0 ? '-' : '+';
    const int ae = exp < 0 ? -exp : exp;
    if (ae < 10) out += '0';
    out += std::to_string(ae);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= nd) {
    out += digits;
    out.append(static_cast<size_t>(decpt - nd), '0');
    out += ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt));
    out += '.';
    out += digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out;
  out.reserve(s.size() + 2);
  out += quote;
  size_t pos = 0;
  char buf[16];
  while (pos < s.size()) {
    const char32_t c = uni::next_cp(s, pos);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else if (c < 0x7F) {
      out += static_cast<char>(c);
    } else if (!uni::is_printable(c)) {
      if (c <= 0xFF) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      } else if (c <= 0xFFFF) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      uni::append_utf8(out, c);
    }
  }
  out += quote;
  return out;
}

std::string to_str(const Value& v) {
  switch (v.type()) {
    case VType::Undefined: return "";
    case VType::None: return "None";
    case VType::Bool: return v.as_bool() ? "True" : "False";
    case VType::Int: return std::to_string(v.as_int());
    case VType::Float: return float_repr(v.as_double());
    case VType::Str: return v.str();
    default: return repr(v, 0);
  }
}

std::string repr(const Value& v, int depth) {
  check_walk(depth);
  switch (v.type()) {
    case VType::Undefined: return "Undefined";
    case VType::Str:
      return v.markup() ? "Markup(" + repr_string(v.str()) + ")" : repr_string(v.str());
    case VType::List: {
      const ListData& l = v.seq();
      if (l.kind == SeqKind::Range) {
        std::string out = "range(" + std::to_string(l.r_start) + ", " + std::to_string(l.r_stop);
        if (l.r_step != 1) out += ", " + std::to_string(l.r_step);
        return out + ")";
      }
      std::string inner;
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) inner += ", ";
        inner += repr(l.items[i], depth + 1);
        check_length(inner);
      }
      switch (l.kind) {
        case SeqKind::Tuple: return "(" + inner + (l.items.size() == 1 ? ",)" : ")");
        case SeqKind::DictItems: return "dict_items([" + inner + "])";
        case SeqKind::DictKeys: return "dict_keys([" + inner + "])";
        case SeqKind::DictValues: return "dict_values([" + inner + "])";
        default: return "[" + inner + "]";
      }
    }
    case VType::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : v.map().items()) {
        if (!first) out += ", ";
        first = false;
        out += repr(k, depth + 1);
        out += ": ";
        out += repr(val, depth + 1);
        check_length(out);
      }
      return out + "}";
    }
    case VType::Object: return v.obj()->repr(depth + 1);
    default: return to_str(v);
  }
}

std::optional<std::string> hash_key(const Value& v) {
  switch (v.type()) {
    case VType::Undefined: return std::string("U");
    case VType::None: return std::string("N");
    case VType::Bool:
    case VType::Int: return "i" + std::to_string(v.as_int());
    case VType::Float: {
      const double d = v.as_double();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
        return "i" + std::to_string(static_cast<int64_t>(d));
      }
      return "f" + float_repr(d);
    }
    case VType::Str: return "s" + v.str();
    case VType::List: {
      const ListData& l = v.seq();
      if (l.kind != SeqKind::Tuple) return std::nullopt;
      std::string out = "t";
      for (const Value& item : l.items) {
        auto h = hash_key(item);
        if (!h) return std::nullopt;
        out += std::to_string(h->size());
        out += ':';
        out += *h;
      }
      return out;
    }
    case VType::Dict: return std::nullopt;
    case VType::Object: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "o%p", v.identity());
      return std::string(buf);
    }
  }
  return std::nullopt;
}

bool py_eq(const Value& a, const Value& b, int depth) {
  check_walk(depth);
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case VType::None: return true;
    case VType::Str: return a.str() == b.str();
    case VType::List: {
      const ListData& x = a.seq();
      const ListData& y = b.seq();
      if (x.kind != y.kind) return false;
      if (x.kind == SeqKind::DictValues) return a.identity() == b.identity();
      if (x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!py_eq(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case VType::Dict: {
      const DictData& x = a.map();
      const DictData& y = b.map();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.items()) {
        const Value* other = y.find(k);
        if (!other || !py_eq(v, *other, depth + 1)) return false;
      }
      return true;
    }
    case VType::Object: return a.identity() == b.identity();
    default: return false;
  }
}

int py_compare(const Value& a, const Value& b, std::string_view op, int depth) {
  check_walk(depth);
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) {
      const int64_t x = a.as_int(), y = b.as_int();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_str() && b.is_str()) {
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_seq() && b.is_seq() && a.seq().kind == b.seq().kind &&
      (a.seq().kind == SeqKind::List || a.seq().kind == SeqKind::Tuple)) {
    const auto& x = a.seq().items;
    const auto& y = b.seq().items;
    const size_t n = std::min(x.size(), y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!py_eq(x[i], y[i], depth + 1)) return py_compare(x[i], y[i], op, depth + 1);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  type_error("'" + std::string(op) + "' not supported between instances of '" + type_name(a) +
             "' and '" + type_name(b) + "'");
}

// ---------------------------------------------------------------- JSON

Value from_json(const nlohmann::ordered_json& j) {
  using VT = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case VT::null: return Value::none();
    case VT::boolean: return Value::boolean(j.get<bool>());
    case VT::number_integer: return Value::integer(j.get<int64_t>());
    case VT::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::integer(static_cast<int64_t>(u));
      return Value::real(static_cast<double>(u));
    }
    case VT::number_float: return Value::real(j.get<double>());
    case VT::string: return Value::string(j.get<std::string>());
    case VT::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return Value::list(std::move(items));
    }
    case VT::object: {
      auto d = std::make_shared<DictData>();
      for (const auto& [k, v] : j.items()) d->set(Value::string(k), from_json(v));
      return Value::dict(std::move(d));
    }
    default: return Value::none();
  }
}

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  size_t pos = 0;
  char buf[16];
  while (pos < s.size()) {
    const auto byte = static_cast<unsigned char>(s[pos]);
    if (byte >= 0x20 && byte < 0x7F && byte != '"' && byte != '\\') {
      out += static_cast<char>(byte);
      ++pos;
      continue;
    }
    const char32_t c = uni::next_cp(s, pos);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 | (v >> 10)),
                      static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      uni::append_utf8(out, c);
    }
  }
  out += '"';
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

[[noreturn]] void not_serializable(const Value& v) {
  type_error("Object of type " + type_name(v) + " is not JSON serializable");
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonOptions& o) : o_(o) {}

  void write(std::string& out, const Value& v, int level) {
    check_walk(level);
    switch (v.type()) {
      case VType::None: out += "null"; return;
      case VType::Bool: out += v.as_bool() ? "true" : "false"; return;
      case VType::Int: out += std::to_string(v.as_int()); return;
      case VType::Float: out += json_float(v.as_double()); return;
      case VType::Str: json_string(out, v.str(), o_.ensure_ascii); return;
      case VType::List: {
        const ListData& l = v.seq();
        if (l.kind != SeqKind::List && l.kind != SeqKind::Tuple) not_serializable(v);
        if (l.items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        const std::string nl = newline(level + 1);
        out += nl;
        for (size_t i = 0; i < l.items.size(); ++i) {
          if (i) {
            out += o_.item_sep;
            out += nl;
          }
          write(out, l.items[i], level + 1);
          check_length(out);
        }
        out += newline(level);
        out += ']';
        return;
      }
      case VType::Dict: {
        const DictData& d = v.map();
        if (d.size() == 0) {
          out += "{}";
          return;
        }
        std::vector<const std::pair<Value, Value>*> items;
        for (const auto& kv : d.items()) items.push_back(&kv);
        if (o_.sort_keys) {
          std::stable_sort(items.begin(), items.end(), [](const auto* a, const auto* b) {
            return py_compare(a->first, b->first, "<") < 0;
          });
        }
        out += '{';
        const std::string nl = newline(level + 1);
        out += nl;
        bool first = true;
        for (const auto* kv : items) {
          if (!first) {
            out += o_.item_sep;
            out += nl;
          }
          first = false;
          key(out, kv->first);
          out += o_.key_sep;
          write(out, kv->second, level + 1);
          check_length(out);
        }
        out += newline(level);
        out += '}';
        return;
      }
      default: not_serializable(v);
    }
  }

 private:
  std::string newline(int level) const {
    if (!o_.indent) return "";
    std::string s = "\n";
    for (int i = 0; i < level; ++i) s += *o_.indent;
    return s;
  }

  void key(std::string& out, const Value& k) {
    switch (k.type()) {
      case VType::Str: json_string(out, k.str(), o_.ensure_ascii); return;
      case VType::None: out += "\"null\""; return;
      case VType::Bool: out += k.as_bool() ? "\"true\"" : "\"false\""; return;
      case VType::Int: out += "\"" + std::to_string(k.as_int()) + "\""; return;
      case VType::Float: out += "\"" + json_float(k.as_double()) + "\""; return;
      default:
        type_error("keys must be str, int, float, bool or None, not " + type_name(k));
    }
  }

  const JsonOptions& o_;
};

}  // namespace

std::string to_json(const Value& v, const JsonOptions& opts) {
  std::string out;
  JsonWriter(opts).write(out, v, 0);
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace hearth::chat::jinja
