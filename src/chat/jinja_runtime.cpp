// Runtime objects and access rules: iterators and generators, macro calls,
// and attribute/item/slice access as Jinja2's sandboxed Environment.getattr
// and getitem perform them.
#include "chat/jinja_interp.h"
#include "chat/jinja_loop.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }
[[noreturn]] void value_error(std::string msg) { throw TemplateError(ErrorKind::Value, std::move(msg)); }

// Python's object_type_repr, used in undefined-attribute messages.
std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (auto* o = v.as<Object>()) {
    const std::string t = o->type_name();
    if (t == "Namespace") return "jinja2.utils.Namespace object";
    if (t == "LoopContext") return "jinja2.runtime.LoopContext object";
    if (t == "Macro") return "jinja2.runtime.Macro object";
    return t + " object";
  }
  return type_name(v) + " object";
}

Value undefined_attr(const Value& obj, std::string_view name) {
  return Value::undefined(repr_string(object_type_repr(obj)) + " has no attribute " + repr_string(name));
}

Value undefined_elem(const Value& obj, const Value& key) {
  if (key.is_str()) return undefined_attr(obj, key.str());
  return Value::undefined(object_type_repr(obj) + " has no element " + repr(key));
}

Value unsafe_undefined(const Value& obj, std::string_view name) {
  return Value::undefined("access to attribute " + repr_string(name) + " of " + repr_string(type_name(obj)) +
                              " object is unsafe.",
                          ErrorKind::Security);
}

std::optional<int64_t> as_index(const Value& v) {
  if (v.is_integral()) return v.as_int();
  return std::nullopt;
}

bool is_dunder(std::string_view name) { return name.size() >= 2 && name.substr(0, 2) == "__"; }

}  // namespace

// ---------------------------------------------------------------- Iter / Generator

std::optional<Value> Generator::next(Interp& in) {
  if (done_) return std::nullopt;
  std::optional<Value> v = next_(in);
  if (!v) {
    done_ = true;
    next_ = nullptr;  // drop the source now
  }
  return v;
}

Iter::Iter(Interp&, const Value& v) : src_(v) {
  switch (v.type()) {
    case VType::Undefined: kind_ = Kind::Empty; break;
    case VType::Str: kind_ = Kind::Str; break;
    case VType::List: kind_ = Kind::Seq; break;
    case VType::Dict: kind_ = Kind::Dict; break;
    case VType::Object:
      if (v.as<Generator>()) {
        kind_ = Kind::Gen;
        break;
      }
      [[fallthrough]];
    default: type_error("'" + type_name(v) + "' object is not iterable");
  }
}

std::optional<Value> Iter::next(Interp& in) {
  switch (kind_) {
    case Kind::Empty: return std::nullopt;
    case Kind::Seq: {
      const auto& items = src_.seq().items;
      if (pos_ >= items.size()) return std::nullopt;
      return items[pos_++];
    }
    case Kind::Dict: {
      const auto& items = src_.map().items();
      if (pos_ >= items.size()) return std::nullopt;
      return items[pos_++].first;
    }
    case Kind::Str: {
      const std::string& s = src_.str();
      if (pos_ >= s.size()) return std::nullopt;
      const size_t start = pos_;
      uni::next_cp(s, pos_);
      return Value::string(s.substr(start, pos_ - start), src_.markup());
    }
    case Kind::Gen: return src_.as<Generator>()->next(in);
  }
  return std::nullopt;
}

std::optional<size_t> Iter::remaining() const {
  switch (kind_) {
    case Kind::Empty: return 0;
    case Kind::Seq: return src_.seq().items.size() - pos_;
    case Kind::Dict: return src_.map().size() - pos_;
    default: return std::nullopt;
  }
}

// ---------------------------------------------------------------- Macro

Value Macro::call(Interp& in, CallArgs& args) { return in.call_macro(*def_, closure_, name_, args); }

// ---- attribute and item access (Environment.getattr / getitem, sandboxed)

Value Interp::getattr(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) obj.fail_undefined();
  if (is_dunder(name)) return unsafe_undefined(obj, name);
  switch (method_access(obj, name)) {
    case MethodAccess::Safe: return Value::object(std::make_shared<BoundMethod>(obj, std::string(name)));
    case MethodAccess::Unsafe: return unsafe_undefined(obj, name);
    case MethodAccess::None: break;
  }
  if (obj.is_dict()) {
    if (const Value* v = obj.map().find(name)) return *v;
    return undefined_attr(obj, name);
  }
  if (auto* ns = obj.as<Namespace>()) {
    if (const Value* v = ns->get(name)) return *v;
    return undefined_attr(obj, name);
  }
  if (auto* loop = obj.as<LoopContext>()) return loop->attr(*this, obj, name);
  if (auto* macro = obj.as<Macro>()) {
    if (name == "name") return Value::string(macro->name());
  }
  return undefined_attr(obj, name);
}

Value Interp::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) obj.fail_undefined();
  switch (obj.type()) {
    case VType::Dict: {
      if (const Value* v = obj.map().find(key)) return *v;
      break;
    }
    case VType::List: {
      const ListData& l = obj.seq();
      if (l.kind == SeqKind::DictItems || l.kind == SeqKind::DictKeys || l.kind == SeqKind::DictValues) break;
      if (auto idx = as_index(key)) {
        int64_t i = *idx;
        const auto n = static_cast<int64_t>(l.items.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return l.items[static_cast<size_t>(i)];
      }
      break;
    }
    case VType::Str: {
      if (auto idx = as_index(key)) {
        const std::string& s = obj.str();
        int64_t i = *idx;
        if (i < 0) i += static_cast<int64_t>(uni::length(s));
        if (i >= 0) {
          const size_t start = uni::byte_offset(s, static_cast<size_t>(i));
          if (start < s.size()) {
            size_t end = start;
            uni::next_cp(s, end);
            return Value::string(s.substr(start, end - start), obj.markup());
          }
        }
      }
      break;
    }
    default: break;
  }
  // obj[key] failed: Jinja2 falls back to getattr for string keys.
  if (key.is_str()) {
    const std::string& name = key.str();
    if (is_dunder(name)) return unsafe_undefined(obj, name);
    switch (method_access(obj, name)) {
      case MethodAccess::Safe: return Value::object(std::make_shared<BoundMethod>(obj, name));
      case MethodAccess::Unsafe: return unsafe_undefined(obj, name);
      case MethodAccess::None: break;
    }
    if (auto* ns = obj.as<Namespace>()) {
      if (const Value* v = ns->get(name)) return *v;
    }
    if (auto* loop = obj.as<LoopContext>()) return loop->attr(*this, obj, name);
  }
  return undefined_elem(obj, key);
}

Value Interp::slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  const bool folded = folding_;
  if (obj.is_undefined()) obj.fail_undefined();  // Undefined.__getitem__ fails either way
  auto index_of = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (v.is_undefined()) v.fail_undefined();
    if (!v.is_integral()) type_error("slice indices must be integers or None or have an __index__ method");
    return v.as_int();
  };
  const std::optional<int64_t> o_start = index_of(start_v), o_stop = index_of(stop_v), o_step = index_of(step_v);
  const int64_t stride = o_step.value_or(1);
  if (stride == 0) value_error("slice step cannot be zero");

  const bool is_str = obj.is_str();
  const bool is_seq = obj.is_seq() && (obj.seq().kind == SeqKind::List || obj.seq().kind == SeqKind::Tuple ||
                                       obj.seq().kind == SeqKind::Range);
  // Jinja2 compiles slices to a plain Python subscript (not the sandbox's
  // getitem), so slicing anything else is a TypeError - unless the whole
  // expression was constant-folded, which goes through getitem.
  if (!is_str && !is_seq) {
    if (folded) {
      return Value::undefined(object_type_repr(obj) + " has no element slice(" + repr(start_v) + ", " +
                              repr(stop_v) + ", " + repr(step_v) + ")");
    }
    if (obj.is_dict()) type_error("unhashable type: 'slice'");
    std::string msg = "'";  // (built stepwise: GCC 12 misreports -Wrestrict on "'" + std::string)
    msg += type_name(obj);
    msg += "' object is not subscriptable";
    type_error(std::move(msg));
  }
  std::u32string chars;
  if (is_str) chars = uni::decode(obj.str());
  const int64_t len = is_str ? static_cast<int64_t>(chars.size()) : static_cast<int64_t>(obj.seq().items.size());
  // CPython's PySlice_AdjustIndices.
  const int64_t lower = stride < 0 ? -1 : 0;
  const int64_t upper = stride < 0 ? len - 1 : len;
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x = x < -len ? lower : x + len;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  const int64_t start = adjust(o_start, stride < 0 ? upper : lower);
  const int64_t stop = adjust(o_stop, stride < 0 ? lower : upper);
  std::vector<int64_t> picks;
  if (stride > 0) {
    for (int64_t i = start; i < stop; i += stride) {
      picks.push_back(i);
      if (stop - i <= stride) break;
    }
  } else {
    for (int64_t i = start; i > stop; i += stride) {
      picks.push_back(i);
      if (i - stop <= -stride) break;
    }
  }
  step(picks.size());
  if (is_str) {
    std::u32string out;
    out.reserve(picks.size());
    for (int64_t i : picks) out += chars[static_cast<size_t>(i)];
    return Value::string(uni::encode(out), obj.markup());
  }
  std::vector<Value> out;
  out.reserve(picks.size());
  for (int64_t i : picks) out.push_back(obj.seq().items[static_cast<size_t>(i)]);
  return Value::list(std::move(out), obj.seq().kind == SeqKind::Tuple ? SeqKind::Tuple : SeqKind::List);
}

}  // namespace hearth::chat::jinja
