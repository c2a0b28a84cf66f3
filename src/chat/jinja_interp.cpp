#include "chat/jinja_interp.h"

#include <chrono>
#include <cmath>
#include <cstring>

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

// ---------------------------------------------------------------- LoopContext

class LoopContext : public Callable {
 public:
  LoopContext(Interp& in, const Stmt& stmt, ScopePtr scope, const Value& iterable, int depth0)
      : stmt_(stmt), scope_(std::move(scope)), it_(in, iterable), depth0_(depth0) {}

  std::string type_name() const override { return "LoopContext"; }
  std::string repr(int) const override { return "<LoopContext " + std::to_string(index0_ + 1) + ">"; }
  Value call(Interp& in, CallArgs& args) override {
    if (!stmt_.recursive) {
      type_error("Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.");
    }
    return in.loop_again(*this, args);
  }

  // Moves to the next item; nullopt at the end.
  std::optional<Value> advance(Interp& in) {
    std::optional<Value> item;
    if (!ahead_.empty()) {
      item = std::move(ahead_.front());
      ahead_.pop_front();
    } else {
      item = pull(in);
    }
    if (!item) return std::nullopt;
    if (index0_ >= 0) prev_ = current_;
    current_ = *item;
    ++index0_;
    return item;
  }

  Value attr(Interp& in, const Value& self, std::string_view name) {
    if (name == "index0") return Value::integer(index0_);
    if (name == "index") return Value::integer(index0_ + 1);
    if (name == "first") return Value::boolean(index0_ == 0);
    if (name == "last") return Value::boolean(!peek(in));
    if (name == "length") return Value::integer(length(in));
    if (name == "revindex") return Value::integer(length(in) - index0_);
    if (name == "revindex0") return Value::integer(length(in) - index0_ - 1);
    if (name == "depth") return Value::integer(depth0_ + 1);
    if (name == "depth0") return Value::integer(depth0_);
    if (name == "previtem") {
      return index0_ > 0 ? prev_ : Value::undefined("there is no previous item");
    }
    if (name == "nextitem") {
      return peek(in) ? ahead_.front() : Value::undefined("there is no next item");
    }
    if (name == "cycle") {
      return Value::object(std::make_shared<Builtin>("cycle", [self](Interp&, CallArgs& a) -> Value {
        auto* loop = self.as<LoopContext>();
        if (a.pos.empty()) type_error("no items for cycling given");
        return a.pos[static_cast<size_t>(loop->index0_) % a.pos.size()];
      }));
    }
    if (name == "changed") {
      return Value::object(std::make_shared<Builtin>("changed", [self](Interp&, CallArgs& a) -> Value {
        auto* loop = self.as<LoopContext>();
        Value now = Value::tuple(a.pos);
        if (!loop->last_changed_ || !py_eq(*loop->last_changed_, now)) {
          loop->last_changed_ = now;
          return Value::boolean(true);
        }
        return Value::boolean(false);
      }));
    }
    return undefined_attr(self, name);
  }

  const Stmt& stmt() const { return stmt_; }
  const ScopePtr& scope() const { return scope_; }
  int depth0() const { return depth0_; }

 private:
  // Next item that passes the loop filter (`for x in y if cond`), evaluated
  // lazily as Jinja2 does: peeking for loop.last filters one item early.
  std::optional<Value> pull(Interp& in) {
    while (true) {
      std::optional<Value> v = it_.next(in);
      if (!v) return std::nullopt;
      in.step();
      if (!stmt_.test) return v;
      auto probe = std::make_shared<Scope>();
      probe->parent = scope_;
      in.assign(*stmt_.target, *v, probe);
      if (truthy(in.eval(*stmt_.test, probe))) return v;
    }
  }

  bool peek(Interp& in) {
    if (!ahead_.empty()) return true;
    auto v = pull(in);
    if (!v) return false;
    ahead_.push_back(std::move(*v));
    return true;
  }

  int64_t length(Interp& in) {
    while (auto v = pull(in)) ahead_.push_back(std::move(*v));
    return index0_ + 1 + static_cast<int64_t>(ahead_.size());
  }

  const Stmt& stmt_;
  ScopePtr scope_;
  Iter it_;
  std::deque<Value> ahead_;
  int64_t index0_ = -1;
  Value current_, prev_;
  int depth0_;
  std::optional<Value> last_changed_;
};

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

// ---------------------------------------------------------------- Interp

Interp::Interp(const Program& program, const RenderOptions& options) : program_(program), options_(options) {}

Interp::~Interp() {
  // Break cycles (scope -> macro -> scope, namespace -> ... -> namespace).
  for (auto& sc : captured_) {
    auto vars = std::move(sc->vars);
    sc->vars.clear();
  }
  for (auto& ns : namespaces_) ns->clear();
}

void Interp::keep_alive(const ScopePtr& sc) { captured_.push_back(sc); }

std::shared_ptr<Namespace> Interp::new_namespace() {
  auto ns = std::make_shared<Namespace>();
  namespaces_.push_back(ns);
  return ns;
}

void Interp::limit_exceeded(const std::string& what) const {
  throw TemplateError(ErrorKind::Limit, what + " exceeded");
}

void Interp::check_size(size_t bytes) const {
  if (bytes > options_.max_output_bytes) {
    limit_exceeded("string size limit (" + std::to_string(options_.max_output_bytes) + " bytes)");
  }
}

Value Interp::make_str(std::string s, bool markup) {
  check_size(s.size());
  step(s.size() / 64);
  charge_alloc(s.size());
  return Value::string(std::move(s), markup);
}

Value Interp::make_generator(Generator::Next next, int depth, std::string label) {
  if (depth > 200) limit_exceeded("generator nesting limit");
  return Value::object(std::make_shared<Generator>(std::move(next), depth, std::move(label)));
}

std::tm Interp::now() const {
  if (options_.clock) return options_.clock();
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

void Interp::guard_stack() const {
  const char* here = static_cast<const char*>(__builtin_frame_address(0));
  if (stack_base_ && stack_base_ > here &&
      static_cast<size_t>(stack_base_ - here) > options_.max_stack_bytes) {
    limit_exceeded("recursion depth limit (native stack)");
  }
}

void Interp::append_out(std::string& out, std::string_view text) {
  if (out.size() + text.size() > options_.max_output_bytes) {
    limit_exceeded("output size limit (" + std::to_string(options_.max_output_bytes) + " bytes)");
  }
  out.append(text);
}

std::vector<Value> Interp::to_list(const Value& v) {
  if (v.is_seq()) {
    step(v.seq().items.size());
    charge_alloc(v.seq().items.size() * sizeof(Value));
    return v.seq().items;
  }
  std::vector<Value> out;
  Iter it(*this, v);
  while (auto item = it.next(*this)) {
    step();
    out.push_back(std::move(*item));
  }
  return out;
}

Value Interp::lookup(const ScopePtr& sc, const std::string& name) const {
  for (const Scope* s = sc.get(); s; s = s->parent.get()) {
    const auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined_name(name);
}

std::string Interp::render(const Value& context) {
  stack_base_ = static_cast<const char*>(__builtin_frame_address(0));
  StringLimitScope string_limit(options_.max_output_bytes);
  globals_ = std::make_shared<Scope>();
  install_globals(*this, globals_->vars);
  auto top = std::make_shared<Scope>();
  top->parent = globals_;
  if (context.is_dict()) {
    for (const auto& [k, v] : context.map().items()) {
      if (k.is_str()) top->vars[k.str()] = v;
    }
  }
  std::string out;
  exec_body(program_.body, top, out);
  return out;
}

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
    type_error("'" + type_name(obj) + "' object is not subscriptable");
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

Value Interp::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) fn.fail_undefined();
  if (auto* c = fn.as<Callable>()) {
    step();
    return c->call(*this, args);
  }
  type_error("'" + type_name(fn) + "' object is not callable");
}

// Argument binding follows jinja2.runtime.Macro.__call__ (including its
// quirk that keyword arguments are only matched to parameters the positional
// arguments left open).
Value Interp::call_macro(const Stmt& def, const ScopePtr& closure, const std::string& name, CallArgs& args) {
  if (call_depth_ >= options_.max_call_depth) {
    limit_exceeded("macro recursion limit (" + std::to_string(options_.max_call_depth) + " nested calls)");
  }
  guard_stack();
  auto scope = std::make_shared<Scope>();
  scope->parent = closure;
  const size_t n = def.params.size();
  std::vector<std::optional<Value>> bound(n);
  for (size_t i = 0; i < n && i < args.pos.size(); ++i) bound[i] = args.pos[i];
  std::vector<std::pair<std::string, Value>> kwargs = args.kw;
  bool found_caller = false;
  if (args.pos.size() < n) {
    for (size_t i = args.pos.size(); i < n; ++i) {
      for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
        if (it->first == def.params[i]) {
          bound[i] = std::move(it->second);
          kwargs.erase(it);
          break;
        }
      }
      if (def.params[i] == "caller") found_caller = true;
    }
  } else {
    for (const auto& p : def.params) {
      if (p == "caller") found_caller = true;
    }
  }
  if (def.uses_caller && !found_caller) {
    Value caller = Value::undefined("No caller defined");
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
      if (it->first == "caller") {
        caller = std::move(it->second);
        kwargs.erase(it);
        break;
      }
    }
    scope->vars["caller"] = std::move(caller);
  }
  if (def.uses_kwargs) {
    auto d = std::make_shared<DictData>();
    for (auto& [k, v] : kwargs) d->set(Value::string(k), std::move(v));
    scope->vars["kwargs"] = Value::dict(std::move(d));
  } else if (!kwargs.empty()) {
    for (const auto& kv : kwargs) {
      if (kv.first == "caller") {
        type_error("macro " + repr_string(name) +
                   " was invoked with two values for the special caller argument. This is most likely a bug.");
      }
    }
    type_error("macro " + repr_string(name) + " takes no keyword argument " + repr_string(kwargs.front().first));
  }
  if (def.uses_varargs) {
    std::vector<Value> rest;
    for (size_t i = n; i < args.pos.size(); ++i) rest.push_back(args.pos[i]);
    scope->vars["varargs"] = Value::tuple(std::move(rest));
  } else if (args.pos.size() > n) {
    type_error("macro " + repr_string(name) + " takes not more than " + std::to_string(n) + " argument(s)");
  }
  // Bind in order so defaults can refer to earlier parameters.
  const size_t first_default = n - def.defaults.size();
  for (size_t i = 0; i < n; ++i) {
    if (bound[i]) {
      scope->vars[def.params[i]] = std::move(*bound[i]);
    } else if (i >= first_default) {
      scope->vars[def.params[i]] = eval(*def.defaults[i - first_default], scope);
    } else {
      scope->vars[def.params[i]] = Value::undefined("parameter " + repr_string(def.params[i]) + " was not provided");
    }
  }
  ++call_depth_;
  struct Restore {
    int& d;
    ~Restore() { --d; }
  } restore{call_depth_};
  std::string out;
  exec_body(def.body, scope, out);
  return make_str(std::move(out));
}

Value Interp::loop_again(LoopContext& loop, CallArgs& args) {
  if (args.pos.size() != 1 || !args.kw.empty()) type_error("loop() takes exactly one argument");
  if (call_depth_ >= options_.max_call_depth) {
    limit_exceeded("recursive loop limit (" + std::to_string(options_.max_call_depth) + " levels)");
  }
  ++call_depth_;
  struct Restore {
    int& d;
    ~Restore() { --d; }
  } restore{call_depth_};
  std::string out;
  run_loop(loop.stmt(), loop.scope(), args.pos[0], loop.depth0() + 1, out);
  return make_str(std::move(out));
}

// ---- statements

Interp::Flow Interp::exec_body(const Body& body, const ScopePtr& sc, std::string& out) {
  for (const auto& s : body) {
    const Flow f = exec(*s, sc, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interp::Flow Interp::exec(const Stmt& s, const ScopePtr& sc, std::string& out) {
  step();
  guard_stack();
  try {
    switch (s.kind) {
      case StmtKind::Output:
        for (const auto& part : s.parts) {
          if (!part.expr) {
            append_out(out, part.data);
          } else if (part.expr->fold_root) {
            // visit_Output folds a constant child whatever its value.
            step();
            std::optional<Value> v = eval_folded(*part.expr, sc, true);
            append_out(out, to_str(v ? *v : eval(*part.expr, sc)));
          } else {
            append_out(out, to_str(eval(*part.expr, sc)));
          }
        }
        return Flow::Normal;
      case StmtKind::If:
        for (const auto& [test, body] : s.branches) {
          if (truthy(eval(*test, sc))) return exec_body(body, sc, out);
        }
        return exec_body(s.else_body, sc, out);
      case StmtKind::For: return exec_for(s, sc, out);
      case StmtKind::Set: assign(*s.target, eval(*s.value, sc), sc); return Flow::Normal;
      case StmtKind::SetBlock: {
        auto child = std::make_shared<Scope>();
        child->parent = sc;
        std::string buf;
        const Flow f = exec_body(s.body, child, buf);
        if (f != Flow::Normal) return f;
        Value v = make_str(std::move(buf));
        if (s.filter) v = eval_filter(*s.filter, child, &v);
        assign(*s.target, v, sc);
        return Flow::Normal;
      }
      case StmtKind::Macro: {
        keep_alive(sc);
        sc->vars[s.name] = Value::object(std::make_shared<Macro>(&s, sc, s.name));
        return Flow::Normal;
      }
      case StmtKind::CallBlock: {
        keep_alive(sc);
        const Value caller = Value::object(std::make_shared<Macro>(&s, sc, "caller"));
        append_out(out, to_str(eval_call(*s.value, sc, &caller)));
        return Flow::Normal;
      }
      case StmtKind::FilterBlock: {
        auto child = std::make_shared<Scope>();
        child->parent = sc;
        std::string buf;
        const Flow f = exec_body(s.body, child, buf);
        if (f != Flow::Normal) return f;
        const Value body = make_str(std::move(buf));
        append_out(out, to_str(eval_filter(*s.filter, child, &body)));
        return Flow::Normal;
      }
      case StmtKind::With: {
        auto child = std::make_shared<Scope>();
        child->parent = sc;
        for (size_t i = 0; i < s.targets.size(); ++i) assign(*s.targets[i], eval(*s.values[i], sc), child);
        return exec_body(s.body, child, out);
      }
      case StmtKind::Scope: {
        auto child = std::make_shared<Scope>();
        child->parent = sc;
        exec_body(s.body, child, out);
        return Flow::Normal;
      }
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
    }
  } catch (TemplateError& e) {
    if (e.line() == 0) e.set_line(s.line);
    throw;
  }
  return Flow::Normal;
}

Interp::Flow Interp::exec_for(const Stmt& s, const ScopePtr& sc, std::string& out) {
  const Value iterable = eval(*s.value, sc);
  return run_loop(s, sc, iterable, 0, out);
}

Interp::Flow Interp::run_loop(const Stmt& s, const ScopePtr& sc, const Value& iterable, int depth0,
                              std::string& out) {
  auto loop = std::make_shared<LoopContext>(*this, s, sc, iterable, depth0);
  const Value loop_value = Value::object(loop);
  // Jinja2 clears its "run the else block" flag at the *end* of the body, so
  // an iteration left by {% break %} or {% continue %} does not count.
  bool completed = false;
  while (true) {
    std::optional<Value> item = loop->advance(*this);
    if (!item) break;
    if (++iterations_ > options_.max_loop_iterations) {
      limit_exceeded("loop iteration limit (" + std::to_string(options_.max_loop_iterations) + ")");
    }
    auto scope = std::make_shared<Scope>();
    scope->parent = sc;
    assign(*s.target, *item, scope);
    scope->vars["loop"] = loop_value;
    const Flow f = exec_body(s.body, scope, out);
    if (f == Flow::Normal) completed = true;
    if (f == Flow::Break) break;
  }
  if (!completed) return exec_body(s.else_body, sc, out);
  return Flow::Normal;
}

void Interp::assign(const Expr& target, const Value& value, const ScopePtr& sc) {
  switch (target.kind) {
    case ExprKind::Name: sc->vars[target.name] = value; return;
    case ExprKind::NSRef: {
      const Value ns = lookup(sc, target.name);
      auto* n = ns.as<Namespace>();
      if (!n) throw TemplateError(ErrorKind::Runtime, "cannot assign attribute on non-namespace object");
      n->set(target.attr, value);
      return;
    }
    case ExprKind::Tuple: {
      if (value.is_undefined()) value.fail_undefined();
      const std::vector<Value> items = to_list(value);
      const size_t want = target.items.size();
      if (items.size() > want) {
        value_error("too many values to unpack (expected " + std::to_string(want) + ")");
      }
      if (items.size() < want) {
        value_error("not enough values to unpack (expected " + std::to_string(want) + ", got " +
                    std::to_string(items.size()) + ")");
      }
      for (size_t i = 0; i < want; ++i) assign(*target.items[i], items[i], sc);
      return;
    }
    default: throw TemplateError(ErrorKind::Syntax, "can't assign to this expression");
  }
}

// ---- expressions

namespace {

// jinja2.utils / nodes: values a folded constant may hold (has_safe_repr).
bool safe_repr(const Value& v, int depth = 0) {
  if (depth > kMaxValueDepth) return false;
  switch (v.type()) {
    case VType::None:
    case VType::Bool:
    case VType::Int:
    case VType::Float:
    case VType::Str: return true;
    case VType::List: {
      const SeqKind k = v.seq().kind;
      if (k == SeqKind::Range) return true;
      if (k != SeqKind::List && k != SeqKind::Tuple) return false;
      for (const Value& x : v.seq().items) {
        if (!safe_repr(x, depth + 1)) return false;
      }
      return true;
    }
    case VType::Dict:
      for (const auto& [k, x] : v.map().items()) {
        if (!safe_repr(k, depth + 1) || !safe_repr(x, depth + 1)) return false;
      }
      return true;
    default: return false;
  }
}

}  // namespace

std::optional<Value> Interp::eval_folded(const Expr& e, const ScopePtr& sc, bool printed) {
  struct Restore {
    bool& flag;
    ~Restore() { flag = false; }
  } restore{folding_};
  folding_ = true;
  try {
    Value v = eval_inner(e, sc);
    if (printed || safe_repr(v)) return v;
  } catch (const TemplateError& err) {
    if (err.kind() == ErrorKind::Limit) throw;
  }
  return std::nullopt;  // as_const failed: Jinja2 evaluates it at run time
}

Value Interp::eval(const Expr& e, const ScopePtr& sc) {
  step();
  guard_stack();
  try {
    if (e.fold_root && !folding_) {
      if (auto v = eval_folded(e, sc, false)) return std::move(*v);
    }
    return eval_inner(e, sc);
  } catch (TemplateError& err) {
    if (err.line() == 0) err.set_line(e.line);
    throw;
  }
}

void Interp::eval_args(const Expr& e, const ScopePtr& sc, CallArgs& args) {
  args.pos.reserve(e.items.size());
  for (const auto& a : e.items) args.pos.push_back(eval(*a, sc));
  for (const auto& [k, v] : e.kwargs) args.kw.emplace_back(k, eval(*v, sc));
  if (e.dyn_args) {
    const Value extra = eval(*e.dyn_args, sc);
    for (auto& v : to_list(extra)) args.pos.push_back(std::move(v));
  }
  if (e.dyn_kwargs) {
    const Value extra = eval(*e.dyn_kwargs, sc);
    if (!extra.is_dict()) type_error("argument after ** must be a mapping, not " + type_name(extra));
    for (const auto& [k, v] : extra.map().items()) {
      if (!k.is_str()) type_error("keywords must be strings");
      args.kw.emplace_back(k.str(), v);
    }
  }
}

Value Interp::eval_call(const Expr& e, const ScopePtr& sc, const Value* caller) {
  const Value fn = eval(*e.node, sc);
  CallArgs args;
  eval_args(e, sc, args);
  if (caller) args.kw.emplace_back("caller", *caller);
  return call(fn, args);
}

Value Interp::eval_filter(const Expr& e, const ScopePtr& sc, const Value* block_subject) {
  Value subject;
  if (!e.node) {
    subject = *block_subject;
  } else if (block_subject) {
    subject = eval_filter(*e.node, sc, block_subject);
  } else {
    subject = eval(*e.node, sc);
  }
  CallArgs args;
  eval_args(e, sc, args);
  if (!e.known) throw TemplateError(ErrorKind::Runtime, "No filter named '" + e.name + "' found.");
  return apply_filter(*this, e.name, subject, args);
}

Value Interp::eval_compare(const Expr& e, const ScopePtr& sc) {
  Value left = eval(*e.items[0], sc);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.items[i + 1], sc);
    bool r = false;
    switch (e.ops[i]) {
      case CmpOp::Eq: r = py_eq(left, right); break;
      case CmpOp::Ne: r = !py_eq(left, right); break;
      case CmpOp::Lt: r = py_compare(left, right, "<") < 0; break;
      case CmpOp::Le: r = py_compare(left, right, "<=") <= 0; break;
      case CmpOp::Gt: r = py_compare(left, right, ">") > 0; break;
      case CmpOp::Ge: r = py_compare(left, right, ">=") >= 0; break;
      case CmpOp::In: r = contains(*this, right, left); break;
      case CmpOp::NotIn: r = !contains(*this, right, left); break;
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interp::eval_inner(const Expr& e, const ScopePtr& sc) {
  switch (e.kind) {
    case ExprKind::Const: return e.value;
    case ExprKind::Name: return lookup(sc, e.name);
    case ExprKind::Getattr: return getattr(eval(*e.node, sc), e.name);
    case ExprKind::Getitem: {
      const Value obj = eval(*e.node, sc);
      const Expr& idx = *e.items[0];
      if (idx.kind == ExprKind::Slice) {
        Value parts[3];
        for (int i = 0; i < 3; ++i) parts[i] = idx.items[i] ? eval(*idx.items[i], sc) : Value::none();
        return slice(obj, parts[0], parts[1], parts[2]);
      }
      return getitem(obj, eval(idx, sc));
    }
    case ExprKind::Slice: type_error("slice outside of a subscript");
    case ExprKind::Call: return eval_call(e, sc, nullptr);
    case ExprKind::Filter: return eval_filter(e, sc, nullptr);
    case ExprKind::Test: {
      const Value subject = eval(*e.node, sc);
      CallArgs args;
      eval_args(e, sc, args);
      if (!e.known) throw TemplateError(ErrorKind::Runtime, "No test named '" + e.name + "' found.");
      return Value::boolean(apply_test(*this, e.name, subject, args));
    }
    case ExprKind::Neg:
    case ExprKind::Pos: {
      const Value v = eval(*e.node, sc);
      if (v.is_undefined()) v.fail_undefined();
      const bool neg = e.kind == ExprKind::Neg;
      if (v.is_integral()) {
        const int64_t i = v.as_int();
        if (neg && i == INT64_MIN) throw TemplateError(ErrorKind::Value, "integer overflow");
        return Value::integer(neg ? -i : i);
      }
      if (v.is_float()) return Value::real(neg ? -v.as_double() : v.as_double());
      type_error(std::string("bad operand type for unary ") + (neg ? "-" : "+") + ": '" + type_name(v) + "'");
    }
    case ExprKind::Not: return Value::boolean(!truthy(eval(*e.node, sc)));
    case ExprKind::And: {
      Value l = eval(*e.items[0], sc);
      if (!truthy(l)) return l;
      return eval(*e.items[1], sc);
    }
    case ExprKind::Or: {
      Value l = eval(*e.items[0], sc);
      if (truthy(l)) return l;
      return eval(*e.items[1], sc);
    }
    case ExprKind::Binary: {
      const Value l = eval(*e.items[0], sc);
      const Value r = eval(*e.items[1], sc);
      return binary_op(*this, e.op, l, r);
    }
    case ExprKind::Concat: {
      // One allocation of the final size: operands may be megabytes.
      std::vector<Value> parts;
      parts.reserve(e.items.size());
      size_t total = 0;
      for (const auto& item : e.items) {
        Value v = eval(*item, sc);
        if (!v.is_str()) v = Value::string(to_str(v));
        total += v.str().size();
        check_size(total);
        parts.push_back(std::move(v));
      }
      std::string s;
      s.reserve(total);
      for (const Value& v : parts) s += v.str();
      return make_str(std::move(s));
    }
    case ExprKind::Compare: return eval_compare(e, sc);
    case ExprKind::CondExpr: {
      if (truthy(eval(*e.node, sc))) return eval(*e.items[0], sc);
      if (e.items[1]) return eval(*e.items[1], sc);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& item : e.items) items.push_back(eval(*item, sc));
      return Value::list(std::move(items), e.kind == ExprKind::Tuple ? SeqKind::Tuple : SeqKind::List);
    }
    case ExprKind::Dict: {
      auto d = std::make_shared<DictData>();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        const Value k = eval(*e.items[i], sc);
        d->set(k, eval(*e.items[i + 1], sc));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::NSRef: return getattr(lookup(sc, e.name), e.attr);
  }
  return Value();
}

// ---------------------------------------------------------------- operators

namespace {

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  type_error(std::string("unsupported operand type(s) for ") + op + ": '" + type_name(a) + "' and '" +
             type_name(b) + "'");
}
[[noreturn]] void overflow() { throw TemplateError(ErrorKind::Value, "integer overflow"); }
[[noreturn]] void zero_division(const char* msg) { throw TemplateError(ErrorKind::Value, msg); }

bool plain_seq(const Value& v) {
  return v.is_seq() && (v.seq().kind == SeqKind::List || v.seq().kind == SeqKind::Tuple);
}

Value repeat(Interp& in, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  const auto count = static_cast<uint64_t>(n);
  if (seq.is_str()) {
    const std::string& s = seq.str();
    if (!s.empty() && count > (uint64_t{1} << 40) / s.size()) in.check_size(SIZE_MAX);
    in.check_size(s.size() * count);
    std::string out;
    out.reserve(s.size() * count);
    for (uint64_t i = 0; i < count; ++i) out += s;
    return in.make_str(std::move(out), seq.markup());
  }
  const auto& items = seq.seq().items;
  if (!items.empty() && count > (uint64_t{1} << 40) / items.size()) in.limit_exceeded("list size limit");
  const uint64_t total = items.size() * count;
  if (total > 10'000'000) in.limit_exceeded("list size limit");
  in.step(total);
  in.charge_alloc(total * sizeof(Value));
  std::vector<Value> out;
  out.reserve(total);
  for (uint64_t i = 0; i < count; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.seq().kind);
}

// CPython's float floor division / modulo.
std::pair<double, double> float_divmod(double vx, double wx) {
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
  return {floordiv, mod};
}

}  // namespace

Value binary_op(Interp& in, BinOp op, const Value& a, const Value& b) {
  // str.__mod__ formats any right operand, an Undefined included (as '').
  if (op == BinOp::Mod && a.is_str()) return percent_format(in, a, b);
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  const bool num = a.is_number() && b.is_number();
  const bool ints = a.is_integral() && b.is_integral();
  switch (op) {
    case BinOp::Add: {
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (num) return Value::real(a.as_double() + b.as_double());
      if (a.is_str() && b.is_str()) {
        if (a.markup() || b.markup()) {
          // markupsafe.Markup.__add__/__radd__ escape the plain operand.
          const std::string l = a.markup() ? a.str() : html_escape(a.str());
          const std::string r = b.markup() ? b.str() : html_escape(b.str());
          in.check_size(l.size() + r.size());
          return in.make_str(l + r, true);
        }
        in.check_size(a.str().size() + b.str().size());
        return in.make_str(a.str() + b.str());
      }
      if (plain_seq(a) && plain_seq(b) && a.seq().kind == b.seq().kind) {
        in.step(a.seq().items.size() + b.seq().items.size());
        in.charge_alloc((a.seq().items.size() + b.seq().items.size()) * sizeof(Value));
        std::vector<Value> out = a.seq().items;
        out.insert(out.end(), b.seq().items.begin(), b.seq().items.end());
        return Value::list(std::move(out), a.seq().kind);
      }
      if (a.is_str()) type_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
      if (plain_seq(a)) {
        const std::string t = type_name(a);
        type_error("can only concatenate " + t + " (not \"" + type_name(b) + "\") to " + t);
      }
      unsupported("+", a, b);
    }
    case BinOp::Sub: {
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (num) return Value::real(a.as_double() - b.as_double());
      unsupported("-", a, b);
    }
    case BinOp::Mul: {
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (num) return Value::real(a.as_double() * b.as_double());
      if ((a.is_str() || plain_seq(a)) && b.is_integral()) return repeat(in, a, b.as_int());
      if ((b.is_str() || plain_seq(b)) && a.is_integral()) return repeat(in, b, a.as_int());
      if ((a.is_str() || plain_seq(a)) && b.is_float()) {
        type_error("can't multiply sequence by non-int of type 'float'");
      }
      unsupported("*", a, b);
    }
    case BinOp::Div: {
      if (num) {
        if (b.as_double() == 0) zero_division("division by zero");
        return Value::real(a.as_double() / b.as_double());
      }
      unsupported("/", a, b);
    }
    case BinOp::FloorDiv: {
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) zero_division("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow();
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      if (num) {
        if (b.as_double() == 0) zero_division("float floor division by zero");
        return Value::real(float_divmod(a.as_double(), b.as_double()).first);
      }
      unsupported("//", a, b);
    }
    case BinOp::Mod: {
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) zero_division("integer modulo by zero");
        if (y == -1) return Value::integer(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::integer(m);
      }
      if (num) {
        if (b.as_double() == 0) zero_division("float modulo");
        return Value::real(float_divmod(a.as_double(), b.as_double()).second);
      }
      if (a.is_str()) return percent_format(in, a, b);
      unsupported("%", a, b);
    }
    case BinOp::Pow: {
      if (ints) {
        int64_t base = a.as_int(), e = b.as_int();
        if (e < 0) {
          if (base == 0) zero_division("0.0 cannot be raised to a negative power");
          return Value::real(std::pow(static_cast<double>(base), static_cast<double>(e)));
        }
        int64_t r = 1;
        while (e > 0) {
          if ((e & 1) && __builtin_mul_overflow(r, base, &r)) overflow();
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
        }
        return Value::integer(r);
      }
      if (num) {
        const double x = a.as_double(), y = b.as_double();
        if (x == 0 && y < 0) zero_division("0.0 cannot be raised to a negative power");
        if (x < 0 && y != std::floor(y)) value_error("complex results are not supported");
        return Value::real(std::pow(x, y));
      }
      unsupported("** or pow()", a, b);
    }
  }
  unsupported("?", a, b);
}

bool contains(Interp& in, const Value& container, const Value& item) {
  switch (container.type()) {
    case VType::Undefined: return false;
    case VType::Str:
      if (!item.is_str()) {
        type_error("'in <string>' requires string as left operand, not " + type_name(item));
      }
      in.step(container.str().size() / 64);
      return container.str().find(item.str()) != std::string::npos;
    case VType::List:
      for (const Value& v : container.seq().items) {
        in.step();
        if (py_eq(v, item)) return true;
      }
      return false;
    case VType::Dict:
      if (!hash_key(item)) type_error("unhashable type: '" + type_name(item) + "'");
      return container.map().find(item) != nullptr;
    case VType::Object:
      if (container.as<Generator>()) {
        Iter it(in, container);
        while (auto v = it.next(in)) {
          in.step();
          if (py_eq(*v, item)) return true;
        }
        return false;
      }
      [[fallthrough]];
    default: type_error("argument of type '" + type_name(container) + "' is not iterable");
  }
}

}  // namespace hearth::chat::jinja
