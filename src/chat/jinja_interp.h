// The tree-walking interpreter: Jinja2's runtime semantics (scoping, loops,
// macros, undefined handling, the immutable sandbox's attribute rules) over
// the AST from jinja_parser.h.
//
// Scoping follows the code Jinja2's compiler generates: a template has one
// top-level scope; each loop iteration, macro call, call/filter/set block and
// {% with %} body gets a child scope, so {% set %} inside them never leaks
// out, while {% if %} shares its enclosing scope. Macros see their defining
// scope at call time (Python closures are late-binding).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_builtins.h"
#include "chat/jinja_value.h"
#include "chat/render_options.h"

namespace hearth::chat::jinja {

class Interp;

struct Scope {
  std::shared_ptr<Scope> parent;
  std::unordered_map<std::string, Value> vars;
};
using ScopePtr = std::shared_ptr<Scope>;

class Callable : public Object {
 public:
  virtual Value call(Interp& in, CallArgs& args) = 0;
};

// A builtin function (range, namespace, raise_exception, ...).
class Builtin : public Callable {
 public:
  using Fn = std::function<Value(Interp&, CallArgs&)>;
  Builtin(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr(int) const override { return "<built-in function " + name_ + ">"; }
  Value call(Interp& in, CallArgs& args) override { return fn_(in, args); }

 private:
  std::string name_;
  Fn fn_;
};

// `obj.method` looked up but not yet called.
class BoundMethod : public Callable {
 public:
  BoundMethod(Value self, std::string name) : self_(std::move(self)), name_(std::move(name)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr(int) const override {
    return "<built-in method " + name_ + " of " + jinja::type_name(self_) + " object>";
  }
  Value call(Interp& in, CallArgs& args) override { return call_method(in, self_, name_, args); }

 private:
  Value self_;
  std::string name_;
};

// A {% macro %} or the `caller` of a {% call %} block.
class Macro : public Callable {
 public:
  Macro(const Stmt* def, ScopePtr closure, std::string name)
      : def_(def), closure_(std::move(closure)), name_(std::move(name)) {}
  std::string type_name() const override { return "Macro"; }
  std::string repr(int) const override { return "<Macro " + repr_string(name_) + ">"; }
  Value call(Interp& in, CallArgs& args) override;
  const std::string& name() const { return name_; }

 private:
  const Stmt* def_;
  ScopePtr closure_;
  std::string name_;
};

// A lazily evaluated Python generator (what map/select/... return). Iterating
// it consumes it, as in Python.
class Generator : public Object {
 public:
  using Next = std::function<std::optional<Value>(Interp&)>;
  // `label`: "generator object sync_do_map" or "list_reverseiterator object";
  // the Python type name is its first word.
  Generator(Next next, int depth, std::string label = "generator object")
      : next_(std::move(next)), depth_(depth), label_(std::move(label)) {}
  std::string type_name() const override { return label_.substr(0, label_.find(' ')); }
  // Python prints an address here; any fixed one keeps renders deterministic.
  std::string repr(int) const override { return "<" + label_ + " at 0x7f0000000000>"; }
  std::optional<Value> next(Interp& in);
  int depth() const { return depth_; }

 private:
  Next next_;
  int depth_;
  std::string label_;
  bool done_ = false;
};

// Pull iterator over any iterable value (list, tuple, dict keys, string code
// points, generator).
class Iter {
 public:
  Iter() = default;
  Iter(Interp& in, const Value& v);  // throws TypeError when not iterable
  std::optional<Value> next(Interp& in);
  // Number of items left when known without consuming (not for generators).
  std::optional<size_t> remaining() const;

 private:
  enum class Kind { Empty, Seq, Dict, Str, Gen } kind_ = Kind::Empty;
  Value src_;
  size_t pos_ = 0;
};

class LoopContext;

class Interp {
 public:
  Interp(const Program& program, const RenderOptions& options);
  ~Interp();
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  // Renders the template with `context` (a dict value) as its variables.
  std::string render(const Value& context);

  // ---- services for builtins
  Value getattr(const Value& obj, std::string_view name);
  Value getitem(const Value& obj, const Value& key);
  Value call(const Value& fn, CallArgs& args);
  std::vector<Value> to_list(const Value& v);
  // Charges `n` units of work against max_steps.
  void step(uint64_t n = 1) {
    steps_ += n;
    if (steps_ > options_.max_steps) limit_exceeded("evaluation step limit");
  }
  // Counts `bytes` of newly built data against max_alloc_bytes.
  void charge_alloc(size_t bytes) {
    alloc_bytes_ += bytes;
    if (alloc_bytes_ > options_.max_alloc_bytes) limit_exceeded("allocation budget");
  }
  // Throws when a string of `bytes` would exceed the size limit.
  void check_size(size_t bytes) const;
  Value make_str(std::string s, bool markup = false);
  // `depth`: how many generators this one pulls through (bounded).
  Value make_generator(Generator::Next next, int depth, std::string label = "generator object");
  std::shared_ptr<Namespace> new_namespace();
  std::tm now() const;
  [[noreturn]] void limit_exceeded(const std::string& what) const;

  // ---- used by Macro / LoopContext
  Value call_macro(const Stmt& def, const ScopePtr& closure, const std::string& name, CallArgs& args);
  Value loop_again(LoopContext& loop, CallArgs& args);

 private:
  enum class Flow { Normal, Break, Continue };
  friend class LoopContext;

  Flow exec_body(const Body& body, const ScopePtr& sc, std::string& out);
  Flow exec(const Stmt& s, const ScopePtr& sc, std::string& out);
  Flow exec_for(const Stmt& s, const ScopePtr& sc, std::string& out);
  Flow run_loop(const Stmt& s, const ScopePtr& sc, const Value& iterable, int depth0, std::string& out);
  Value eval(const Expr& e, const ScopePtr& sc);
  Value eval_inner(const Expr& e, const ScopePtr& sc);
  Value eval_call(const Expr& e, const ScopePtr& sc, const Value* caller);
  void eval_args(const Expr& e, const ScopePtr& sc, CallArgs& args);
  Value eval_filter(const Expr& e, const ScopePtr& sc, const Value* block_subject);
  Value eval_compare(const Expr& e, const ScopePtr& sc);
  Value lookup(const ScopePtr& sc, const std::string& name) const;
  void assign(const Expr& target, const Value& value, const ScopePtr& sc);
  Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
  // Evaluates a folding root as Jinja2's compile-time folding would; nullopt
  // when Jinja2 would not fold it (the caller evaluates it normally).
  std::optional<Value> eval_folded(const Expr& e, const ScopePtr& sc, bool printed);
  void append_out(std::string& out, std::string_view text);
  void guard_stack() const;
  void keep_alive(const ScopePtr& sc);

  const Program& program_;
  const RenderOptions& options_;
  uint64_t steps_ = 0;
  uint64_t iterations_ = 0;
  size_t alloc_bytes_ = 0;
  int call_depth_ = 0;
  bool folding_ = false;  // inside eval_folded: slices go through getitem
  const char* stack_base_ = nullptr;
  ScopePtr globals_;
  // Scopes captured by macros/recursive loops and all namespaces: cleared when
  // the render ends to break the reference cycles they can form.
  std::vector<ScopePtr> captured_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
};

// Python arithmetic and comparison on values (shared with filters).
Value binary_op(Interp& in, BinOp op, const Value& a, const Value& b);
bool contains(Interp& in, const Value& container, const Value& item);

}  // namespace hearth::chat::jinja
