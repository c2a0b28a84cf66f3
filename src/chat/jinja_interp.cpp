#include "chat/jinja_interp.h"

#include <cmath>
#include <ctime>

#include "chat/jinja_loop.h"
#include "chat/jinja_unicode.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }
[[noreturn]] void value_error(std::string msg) { throw TemplateError(ErrorKind::Value, std::move(msg)); }

}  // namespace

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

}  // namespace hearth::chat::jinja
