// Jinja2's builtin filters (jinja2/filters.py): the collection filters, the
// shared helpers and the registry. Filters that are Python generator
// functions (map, select, items, unique, batch, ...) return lazy generators
// whose checks run only when first iterated, as in Python.
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "chat/jinja_args.h"
#include "chat/jinja_filters_impl.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {
namespace detail {

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

Value get_attribute(Interp& in, Value item, const std::vector<Value>& parts, const Value* dflt) {
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

}  // namespace detail

namespace {

using namespace detail;

std::vector<Value> batch_rows(Interp& in, const Value& v, const CallArgs& a);
std::vector<Value> slice_columns(Interp& in, const Value& v, const CallArgs& a);
Generator::Next map_next(Interp& in, const Value& v, const CallArgs& a);
Generator::Next select_next(Interp& in, const Value& v, const CallArgs& a, bool select, bool by_attr);
Generator::Next unique_next(Interp& in, const Value& v, const CallArgs& a);



std::vector<Value> batch_rows(Interp& in, const Value& v, const CallArgs& a);
Generator::Next map_next(Interp& in, const Value& v, const CallArgs& a);
Generator::Next select_next(Interp& in, const Value& v, const CallArgs& a, bool select, bool by_attr);
Generator::Next unique_next(Interp& in, const Value& v, const CallArgs& a);
std::vector<Value> slice_columns(Interp& in, const Value& v, const CallArgs& a);

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

Value f_first(Interp& in, const Value& v, CallArgs& a) {
  Args args("first", a, {});
  Iter it(in, v);
  if (auto item = it.next(in)) return *item;
  return Value::undefined("No first item, sequence was empty.");
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


}  // namespace


bool has_filter(std::string_view name) { return filters().count(name) != 0; }
Value apply_filter(Interp& in, std::string_view name, const Value& subject, CallArgs& args) {
  const auto& f = filters();
  const auto it = f.find(name);
  if (it == f.end()) throw TemplateError(ErrorKind::Runtime, "No filter named '" + std::string(name) + "' found.");
  in.step();
  return it->second(in, subject, args);
}

}  // namespace hearth::chat::jinja
