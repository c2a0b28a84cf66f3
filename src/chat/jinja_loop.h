// jinja2.runtime.LoopContext: the `loop` variable of a {% for %}. Items are
// pulled lazily through the loop filter (`for x in y if cond`), with one item
// of lookahead for loop.last/nextitem and a full drain for loop.length -
// exactly when Jinja2 evaluates the filter.
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "chat/jinja_interp.h"

namespace hearth::chat::jinja {

class LoopContext : public Callable {
 public:
  LoopContext(Interp& in, const Stmt& stmt, ScopePtr scope, const Value& iterable, int depth0)
      : stmt_(stmt), scope_(std::move(scope)), it_(in, iterable), depth0_(depth0) {}

  std::string type_name() const override { return "LoopContext"; }
  std::string repr(int) const override { return "<LoopContext " + std::to_string(index0_ + 1) + ">"; }
  Value call(Interp& in, CallArgs& args) override {
    if (!stmt_.recursive) {
      throw TemplateError(ErrorKind::Type, "Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.");
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
        if (a.pos.empty()) throw TemplateError(ErrorKind::Type, "no items for cycling given");
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
    return Value::undefined("'jinja2.runtime.LoopContext object' has no attribute " + repr_string(name));
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

}  // namespace hearth::chat::jinja
