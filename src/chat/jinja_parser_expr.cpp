// Parser, part 2: expressions, with jinja2.parser's precedence (inline if,
// or, and, not, comparisons, + -, ~, * / // %, **, unary, filters and tests,
// postfix subscripts and calls) and the checks that bound nesting depth.
#include <algorithm>
#include <optional>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_parser_impl.h"

namespace hearth::chat::jinja {

ExprPtr Parser::parse_assign_target(bool with_tuple, bool name_only, const EndTags& extra_end, bool with_namespace) {
  ExprPtr target;
  if (name_only) {
    const int line = cur().line;
    target = make(ExprKind::Name, line);
    target->name = expect_name();
  } else if (with_tuple) {
    target = parse_tuple(true, true, extra_end, false, with_namespace);
  } else {
    target = parse_primary(with_namespace);
  }
  check_assignable(*target);
  return target;
}

void Parser::check_assignable(const Expr& t) {
  switch (t.kind) {
    case ExprKind::Name:
      if (t.name == "true" || t.name == "false" || t.name == "none" || t.name == "True" ||
          t.name == "False" || t.name == "None") {
        fail("can't assign to name '" + t.name + "'", t.line);
      }
      return;
    case ExprKind::NSRef: return;
    case ExprKind::Tuple:
      for (const auto& item : t.items) check_assignable(*item);
      return;
    default:
      fail(std::string("can't assign to '") + (t.kind == ExprKind::Const ? "const" : "expression") + "'",
           t.line);
  }
}

bool Parser::is_tuple_end(const EndTags& extra_end) const {
  const TokType t = cur().type;
  if (t == TokType::VarEnd || t == TokType::BlockEnd || (t == TokType::Op && cur().value == ")")) {
    return true;
  }
  if (t == TokType::Eof) return true;
  return at_end_tag(extra_end);
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr, const EndTags& extra_end, bool explicit_parens,
                    bool with_namespace) {
  const int line = cur().line;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) expect_op(",");
    if (is_tuple_end(extra_end)) break;
    if (simplified) {
      args.push_back(parse_primary(with_namespace));
    } else {
      args.push_back(parse_expression(with_condexpr));
    }
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parens) fail("Expected an expression, got '" + describe(cur()) + "'");
  }
  auto t = make(ExprKind::Tuple, line);
  t->items = std::move(args);
  return finish(std::move(t));
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
  DepthGuard guard(*this);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
  int line = cur().line;
  const size_t first_unknown = unknown_.size();
  ExprPtr expr1 = parse_or();
  while (is_name("if")) {
    // The whole inline if is soft, including what was parsed before `if`.
    for (size_t i = first_unknown; i < unknown_.size(); ++i) unknown_[i].soft = true;
    FrameScope frame(*this, true, in_loop_);
    advance();
    ExprPtr test = parse_or();
    ExprPtr expr3;
    if (skip_name("else")) expr3 = parse_condexpr();
    auto c = make(ExprKind::CondExpr, line);
    c->node = std::move(test);
    c->items.push_back(std::move(expr1));
    c->items.push_back(std::move(expr3));
    expr1 = finish(std::move(c));
    line = cur().line;
  }
  return expr1;
}

ExprPtr Parser::binary(ExprKind kind, ExprPtr l, ExprPtr r, int line) {
  auto e = make(kind, line);
  e->items.push_back(std::move(l));
  e->items.push_back(std::move(r));
  return finish(std::move(e));
}

ExprPtr Parser::parse_or() {
  int line = cur().line;
  ExprPtr left = parse_and();
  while (skip_name("or")) {
    left = binary(ExprKind::Or, std::move(left), parse_and(), line);
    line = cur().line;
  }
  return left;
}

ExprPtr Parser::parse_and() {
  int line = cur().line;
  ExprPtr left = parse_not();
  while (skip_name("and")) {
    left = binary(ExprKind::And, std::move(left), parse_not(), line);
    line = cur().line;
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    DepthGuard guard(*this);
    const int line = cur().line;
    advance();
    auto e = make(ExprKind::Not, line);
    e->node = parse_not();
    return finish(std::move(e));
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  int line = cur().line;
  ExprPtr expr = parse_math1();
  std::vector<CmpOp> ops;
  std::vector<ExprPtr> operands;
  while (true) {
    std::optional<CmpOp> op;
    if (cur().type == TokType::Op) {
      const std::string& v = cur().value;
      if (v == "==") op = CmpOp::Eq;
      else if (v == "!=") op = CmpOp::Ne;
      else if (v == "<") op = CmpOp::Lt;
      else if (v == "<=") op = CmpOp::Le;
      else if (v == ">") op = CmpOp::Gt;
      else if (v == ">=") op = CmpOp::Ge;
      if (op) advance();
    } else if (is_name("in")) {
      op = CmpOp::In;
      advance();
    } else if (is_name("not") && look().type == TokType::Name && look().value == "in") {
      op = CmpOp::NotIn;
      advance();
      advance();
    }
    if (!op) break;
    ops.push_back(*op);
    operands.push_back(parse_math1());
    line = cur().line;
  }
  if (ops.empty()) return expr;
  auto c = make(ExprKind::Compare, line);
  c->items.push_back(std::move(expr));
  for (auto& o : operands) c->items.push_back(std::move(o));
  c->ops = std::move(ops);
  return finish(std::move(c));
}

ExprPtr Parser::bin_op(BinOp op, ExprPtr l, ExprPtr r, int line) {
  auto e = binary(ExprKind::Binary, std::move(l), std::move(r), line);
  e->op = op;
  return e;
}

ExprPtr Parser::parse_math1() {
  int line = cur().line;
  ExprPtr left = parse_concat();
  while (is_op("+") || is_op("-")) {
    const BinOp op = cur().value == "+" ? BinOp::Add : BinOp::Sub;
    advance();
    left = bin_op(op, std::move(left), parse_concat(), line);
    line = cur().line;
  }
  return left;
}

ExprPtr Parser::parse_concat() {
  const int line = cur().line;
  ExprPtr first = parse_math2();
  if (!is_op("~")) return first;
  auto c = make(ExprKind::Concat, line);
  c->items.push_back(std::move(first));
  while (skip_op("~")) c->items.push_back(parse_math2());
  return finish(std::move(c));
}

ExprPtr Parser::parse_math2() {
  int line = cur().line;
  ExprPtr left = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const std::string& v = cur().value;
    const BinOp op = v == "*" ? BinOp::Mul : v == "/" ? BinOp::Div : v == "//" ? BinOp::FloorDiv : BinOp::Mod;
    advance();
    left = bin_op(op, std::move(left), parse_pow(), line);
    line = cur().line;
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  int line = cur().line;
  ExprPtr left = parse_unary(true);
  while (skip_op("**")) {
    left = bin_op(BinOp::Pow, std::move(left), parse_unary(true), line);
    line = cur().line;
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard guard(*this);
  const int line = cur().line;
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    const ExprKind kind = cur().value == "-" ? ExprKind::Neg : ExprKind::Pos;
    advance();
    node = make(kind, line);
    node->node = parse_unary(false);
    node = finish(std::move(node));
  } else {
    node = parse_primary(false);
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary(bool with_namespace) {
  DepthGuard guard(*this);
  const Token& t = cur();
  const int line = t.line;
  ExprPtr node;
  switch (t.type) {
    case TokType::Name: {
      const std::string v = t.value;
      advance();
      if (v == "true" || v == "True" || v == "false" || v == "False") {
        node = make(ExprKind::Const, line);
        node->value = Value::boolean(v == "true" || v == "True");
      } else if (v == "none" || v == "None") {
        node = make(ExprKind::Const, line);
        node->value = Value::none();
      } else if (with_namespace && is_op(".")) {
        advance();
        node = make(ExprKind::NSRef, line);
        node->name = v;
        node->attr = expect_name();
      } else {
        node = make(ExprKind::Name, line);
        node->name = v;
        note_name(v);
      }
      return node;
    }
    case TokType::String: {
      std::string buf;
      while (cur().type == TokType::String) {
        buf += cur().value;
        advance();
      }
      node = make(ExprKind::Const, line);
      node->value = Value::string(std::move(buf));
      return node;
    }
    case TokType::Integer:
      node = make(ExprKind::Const, line);
      node->value = Value::integer(t.ival);
      advance();
      return node;
    case TokType::Float:
      node = make(ExprKind::Const, line);
      node->value = Value::real(t.fval);
      advance();
      return node;
    case TokType::Op:
      if (t.value == "(") {
        advance();
        node = parse_tuple(false, true, {}, true);
        expect_op(")");
        return node;
      }
      if (t.value == "[") return parse_list();
      if (t.value == "{") return parse_dict();
      break;
    default: break;
  }
  fail("unexpected '" + describe(t) + "'");
}

ExprPtr Parser::parse_list() {
  const int line = cur().line;
  expect_op("[");
  auto l = make(ExprKind::List, line);
  while (!is_op("]")) {
    if (!l->items.empty()) expect_op(",");
    if (is_op("]")) break;
    l->items.push_back(parse_expression(true));
  }
  expect_op("]");
  return finish(std::move(l));
}

ExprPtr Parser::parse_dict() {
  const int line = cur().line;
  expect_op("{");
  auto d = make(ExprKind::Dict, line);
  while (!is_op("}")) {
    if (!d->items.empty()) expect_op(",");
    if (is_op("}")) break;
    d->items.push_back(parse_expression(true));
    expect_op(":");
    d->items.push_back(parse_expression(true));
  }
  expect_op("}");
  return finish(std::move(d));
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      node = parse_subscript(std::move(node));
    } else if (is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|")) {
      node = parse_filter(std::move(node), false);
    } else if (is_name("is")) {
      node = parse_test(std::move(node));
    } else if (is_op("(")) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
  const Token tok = cur();
  advance();
  if (tok.value == ".") {
    const Token& attr = cur();
    if (attr.type == TokType::Name) {
      auto g = make(ExprKind::Getattr, tok.line);
      g->node = std::move(node);
      g->name = attr.value;
      advance();
      return finish(std::move(g));
    }
    if (attr.type != TokType::Integer) fail("expected name or number", attr.line);
    auto g = make(ExprKind::Getitem, tok.line);
    g->node = std::move(node);
    auto idx = make(ExprKind::Const, attr.line);
    idx->value = Value::integer(attr.ival);
    g->items.push_back(std::move(idx));
    advance();
    return finish(std::move(g));
  }
  std::vector<ExprPtr> args;
  while (!is_op("]")) {
    if (!args.empty()) expect_op(",");
    args.push_back(parse_subscribed());
  }
  expect_op("]");
  auto g = make(ExprKind::Getitem, tok.line);
  g->node = std::move(node);
  if (args.size() == 1) {
    g->items.push_back(std::move(args[0]));
  } else {
    auto t = make(ExprKind::Tuple, tok.line);
    t->items = std::move(args);
    g->items.push_back(finish(std::move(t)));
  }
  return finish(std::move(g));
}

ExprPtr Parser::parse_subscribed() {
  const int line = cur().line;
  std::vector<ExprPtr> parts;
  if (is_op(":")) {
    advance();
    parts.push_back(nullptr);
  } else {
    ExprPtr e = parse_expression(true);
    if (!is_op(":")) return e;
    advance();
    parts.push_back(std::move(e));
  }
  if (is_op(":")) {
    parts.push_back(nullptr);
  } else if (!is_op("]") && !is_op(",")) {
    parts.push_back(parse_expression(true));
  } else {
    parts.push_back(nullptr);
  }
  if (skip_op(":")) {
    if (!is_op("]") && !is_op(",")) {
      parts.push_back(parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
  } else {
    parts.push_back(nullptr);
  }
  auto s = make(ExprKind::Slice, line);
  s->items = std::move(parts);
  return finish(std::move(s));
}

void Parser::parse_call_args(Expr& e) {
  const int line = cur().line;
  expect_op("(");
  bool require_comma = false;
  auto ensure = [&](bool ok) {
    if (!ok) fail("invalid syntax for function call expression", line);
  };
  while (!is_op(")")) {
    if (require_comma) {
      expect_op(",");
      if (is_op(")")) break;
    }
    if (is_op("*")) {
      ensure(!e.dyn_args && !e.dyn_kwargs);
      advance();
      e.dyn_args = parse_expression(true);
    } else if (is_op("**")) {
      ensure(!e.dyn_kwargs);
      advance();
      e.dyn_kwargs = parse_expression(true);
    } else if (cur().type == TokType::Name && look().type == TokType::Op && look().value == "=") {
      ensure(!e.dyn_kwargs);
      std::string key = cur().value;
      advance();
      advance();
      e.kwargs.emplace_back(std::move(key), parse_expression(true));
    } else {
      ensure(!e.dyn_args && !e.dyn_kwargs && e.kwargs.empty());
      e.items.push_back(parse_expression(true));
    }
    require_comma = true;
  }
  expect_op(")");
}

ExprPtr Parser::parse_call(ExprPtr node) {
  auto c = make(ExprKind::Call, cur().line);
  c->node = std::move(node);
  parse_call_args(*c);
  return finish(std::move(c));
}

ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
  while (is_op("|") || start_inline) {
    if (!start_inline) advance();
    const int line = cur().line;
    std::string name = expect_name();
    while (skip_op(".")) name.append(".").append(expect_name());
    auto f = make(ExprKind::Filter, line);
    f->node = std::move(node);
    f->name = name;
    f->known = has_filter(name);
    if (!f->known) unknown_.push_back({line, "No filter named '" + name + "'.", soft_});
    if (is_op("(")) parse_call_args(*f);
    node = finish(std::move(f));
    start_inline = false;
  }
  return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  const int line = cur().line;
  advance();  // 'is'
  const bool negated = skip_name("not");
  std::string name = expect_name();
  while (skip_op(".")) name.append(".").append(expect_name());
  auto t = make(ExprKind::Test, line);
  t->node = std::move(node);
  t->name = name;
  t->known = has_test(name);
  if (!t->known) unknown_.push_back({line, "No test named '" + name + "'.", soft_});
  if (is_op("(")) {
    parse_call_args(*t);
  } else if ((cur().type == TokType::Name || cur().type == TokType::String || cur().type == TokType::Integer ||
              cur().type == TokType::Float || is_op("[") || is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) fail("You cannot chain multiple tests with is");
    ExprPtr arg = parse_primary(false);
    t->items.push_back(parse_postfix(std::move(arg)));
  }
  ExprPtr result = finish(std::move(t));
  if (negated) {
    auto n = make(ExprKind::Not, line);
    n->node = std::move(result);
    result = finish(std::move(n));
  }
  return result;
}

void Parser::note_name(const std::string& name) {
  if (macro_stack_.empty()) return;
  for (Stmt* m : macro_stack_) {
    if (name == "caller") m->uses_caller = true;
    if (name == "varargs") m->uses_varargs = true;
    if (name == "kwargs") m->uses_kwargs = true;
  }
}

}  // namespace hearth::chat::jinja
