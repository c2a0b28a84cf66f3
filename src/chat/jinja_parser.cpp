// Parser, part 1: the token stream, template structure and statements
// ({% for %}, {% if %}, {% set %}, {% macro %}, ...). Expressions are in
// jinja_parser_expr.cpp.
#include "chat/jinja_parser.h"

#include <algorithm>
#include <optional>
#include <set>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser_impl.h"

namespace hearth::chat::jinja {

Program Parser::parse() {
  Program p;
  p.body = subparse({});
  // Jinja2 reports unknown filters/tests when compiling, after the whole
  // template parsed, and not at all in "soft" code (if-branches, inline ifs)
  // where they fail only if evaluated.
  for (const Unknown& u : unknown_) {
    if (!u.soft) fail(u.message, u.line);
  }
  return p;
}

void Parser::fail(const std::string& msg, int line) {
  throw TemplateError(ErrorKind::Syntax, msg, line ? line : cur().line);
}

std::string Parser::describe(const Token& t) {
  switch (t.type) {
    case TokType::Data: return "template data / text";
    case TokType::VarBegin: return "begin of print statement";
    case TokType::VarEnd: return "end of print statement";
    case TokType::BlockBegin: return "begin of statement block";
    case TokType::BlockEnd: return "end of statement block";
    case TokType::Name: return t.value;
    case TokType::String: return "string";
    case TokType::Integer: return "integer";
    case TokType::Float: return "float";
    case TokType::Op: return t.value;
    case TokType::Eof: return "end of template";
  }
  return "token";
}

void Parser::expect_op(std::string_view op) {
  if (!skip_op(op)) {
    fail("expected token '" + std::string(op) + "', got '" + describe(cur()) + "'");
  }
}

std::string Parser::expect_name() {
  if (cur().type != TokType::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
  std::string v = cur().value;
  advance();
  return v;
}

void Parser::expect_type(TokType type, const char* what) {
  if (cur().type != type) {
    fail(std::string("expected token '") + what + "', got '" + describe(cur()) + "'");
  }
  advance();
}

ExprPtr Parser::make(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  e->constant = kind == ExprKind::Const;
  return e;
}

ExprPtr Parser::finish(ExprPtr e) {
  int d = 0;
  auto take = [&](const ExprPtr& c) {
    if (c) d = std::max(d, c->depth);
  };
  take(e->node);
  for (const auto& c : e->items) take(c);
  for (const auto& kv : e->kwargs) take(kv.second);
  take(e->dyn_args);
  take(e->dyn_kwargs);
  e->depth = d + 1;
  switch (e->kind) {
    case ExprKind::Name:
    case ExprKind::Call:
    case ExprKind::NSRef: e->constant = false; break;
    case ExprKind::Const: e->constant = true; break;
    default: {
      bool c = !e->dyn_args && !e->dyn_kwargs && (!e->node || e->node->constant);
      for (const auto& x : e->items) c = c && (!x || x->constant);
      for (const auto& kv : e->kwargs) c = c && kv.second->constant;
      e->constant = c;
    }
  }
  if (e->constant && e->kind != ExprKind::Const) {
    // Only the outermost constant node is a folding root.
    if (e->node) e->node->fold_root = false;
    for (auto& x : e->items) {
      if (x) x->fold_root = false;
    }
    for (auto& kv : e->kwargs) kv.second->fold_root = false;
    e->fold_root = true;
  }
  if (e->depth > kMaxParseDepth) {
    fail("expression nested too deeply (limit " + std::to_string(kMaxParseDepth) + " levels)", e->line);
  }
  return e;
}

bool Parser::at_end_tag(const EndTags& ends) const {
  if (cur().type != TokType::Name) return false;
  return std::find(ends.begin(), ends.end(), cur().value) != ends.end();
}

Body Parser::subparse(const EndTags& ends) {
  DepthGuard guard(*this);
  end_stack_.push_back(ends);
  Body body;
  Stmt* output = nullptr;  // current Output node collecting data and {{ }}
  auto out_node = [&]() -> Stmt& {
    if (!output) {
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::Output;
      s->line = cur().line;
      output = s.get();
      body.push_back(std::move(s));
    }
    return *output;
  };
  while (cur().type != TokType::Eof) {
    const Token& t = cur();
    if (t.type == TokType::Data) {
      OutputPart part;
      part.data = t.value;
      out_node().parts.push_back(std::move(part));
      advance();
    } else if (t.type == TokType::VarBegin) {
      advance();
      OutputPart part;
      part.expr = parse_tuple(false, true, {}, false);
      out_node().parts.push_back(std::move(part));
      expect_type(TokType::VarEnd, "end of print statement");
    } else if (t.type == TokType::BlockBegin) {
      output = nullptr;
      advance();
      if (!ends.empty() && at_end_tag(ends)) {
        end_stack_.pop_back();
        return body;
      }
      auto stmt = parse_statement();
      if (stmt) body.push_back(std::move(stmt));
      expect_type(TokType::BlockEnd, "end of statement block");
    } else {
      fail("unexpected '" + describe(t) + "'");
    }
  }
  if (!ends.empty()) fail_unknown_tag(nullptr);
  end_stack_.pop_back();
  return body;
}

void Parser::fail_unknown_tag(const std::string* name) {
  std::set<std::string> expected;
  for (const auto& ends : end_stack_) {
    for (auto e : ends) expected.insert(std::string(e));
  }
  std::string looking;
  if (!end_stack_.empty() && !end_stack_.back().empty()) {
    const auto& last = end_stack_.back();
    for (size_t i = 0; i < last.size(); ++i) {
      if (i) looking += " or ";
      looking += '\'';
      looking += last[i];
      looking += '\'';
    }
  }
  std::string msg = name ? "Encountered unknown tag '" + *name + "'." : "Unexpected end of template.";
  if (!looking.empty()) {
    if (name && expected.count(*name)) {
      msg += " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for " +
             looking + ".";
    } else {
      msg += " Jinja was looking for the following tags: " + looking + ".";
    }
  }
  if (!tag_stack_.empty()) {
    msg += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
  }
  fail(msg);
}

Body Parser::parse_statements(const EndTags& ends, bool drop_needle) {
  skip_op(":");
  expect_type(TokType::BlockEnd, "end of statement block");
  Body body = subparse(ends);
  if (cur().type == TokType::Eof) fail_unknown_tag(nullptr);
  if (drop_needle) advance();
  return body;
}

StmtPtr Parser::new_stmt(StmtKind kind, int line) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->line = line;
  return s;
}

StmtPtr Parser::parse_statement() {
  DepthGuard guard(*this);
  if (cur().type != TokType::Name) fail("tag name expected");
  const std::string tag = cur().value;
  static const std::set<std::string_view> kKnown = {
      "for", "if", "set", "macro", "call", "filter", "with", "block", "print", "autoescape",
      "generation", "break", "continue", "raw", "extends", "include", "import", "from"};
  if (!kKnown.count(tag)) fail_unknown_tag(&tag);
  tag_stack_.push_back(tag);
  StmtPtr s;
  if (tag == "for") {
    s = parse_for();
  } else if (tag == "if") {
    s = parse_if();
  } else if (tag == "set") {
    s = parse_set();
  } else if (tag == "macro") {
    s = parse_macro();
  } else if (tag == "call") {
    s = parse_call_block();
  } else if (tag == "filter") {
    s = parse_filter_block();
  } else if (tag == "with") {
    s = parse_with();
  } else if (tag == "block") {
    s = parse_block();
  } else if (tag == "print") {
    s = parse_print();
  } else if (tag == "autoescape") {
    s = parse_autoescape();
  } else if (tag == "generation") {
    s = parse_generation();
  } else if (tag == "break" || tag == "continue") {
    if (!in_loop_) fail("'" + tag + "' outside loop");
    s = new_stmt(tag == "break" ? StmtKind::Break : StmtKind::Continue, cur().line);
    advance();
  } else {
    fail("the '" + tag + "' tag is not supported in chat templates (no template loader)");
  }
  tag_stack_.pop_back();
  return s;
}

StmtPtr Parser::parse_for() {
  auto s = new_stmt(StmtKind::For, cur().line);
  advance();
  s->target = parse_assign_target(true, false, {"in"}, false);
  if (!skip_name("in")) fail("expected token 'in', got '" + describe(cur()) + "'");
  s->value = parse_tuple(false, false, {"recursive"}, false);
  {
    FrameScope frame(*this, false, true);
    if (skip_name("if")) s->test = parse_expression(true);
    s->recursive = skip_name("recursive");
    s->body = parse_statements({"endfor", "else"}, false);
  }
  const bool is_else = cur().value == "else";
  advance();
  if (is_else) s->else_body = parse_statements({"endfor"}, true);
  return s;
}

StmtPtr Parser::parse_if() {
  auto s = new_stmt(StmtKind::If, cur().line);
  advance();
  FrameScope frame(*this, true, in_loop_);
  while (true) {
    ExprPtr test = parse_tuple(false, false, {}, false);
    Body body = parse_statements({"elif", "else", "endif"}, false);
    s->branches.emplace_back(std::move(test), std::move(body));
    const std::string which = cur().value;
    advance();
    if (which == "elif") continue;
    if (which == "else") s->else_body = parse_statements({"endif"}, true);
    break;
  }
  return s;
}

StmtPtr Parser::parse_set() {
  const int line = cur().line;
  advance();
  ExprPtr target = parse_assign_target(true, false, {}, true);
  if (skip_op("=")) {
    auto s = new_stmt(StmtKind::Set, line);
    s->target = std::move(target);
    s->value = parse_tuple(false, true, {}, false);
    return s;
  }
  auto s = new_stmt(StmtKind::SetBlock, line);
  s->target = std::move(target);
  FrameScope frame(*this, false, in_loop_);
  s->filter = parse_filter(nullptr, false);
  s->body = parse_statements({"endset"}, true);
  return s;
}

void Parser::parse_signature(Stmt& s) {
  expect_op("(");
  while (!is_op(")")) {
    if (!s.params.empty()) expect_op(",");
    if (cur().type != TokType::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
    s.params.push_back(expect_name());
    if (skip_op("=")) {
      s.defaults.push_back(parse_expression(true));
    } else if (!s.defaults.empty()) {
      fail("non-default argument follows default argument");
    }
  }
  expect_op(")");
}

StmtPtr Parser::parse_macro() {
  auto s = new_stmt(StmtKind::Macro, cur().line);
  advance();
  s->name = expect_name();
  macro_stack_.push_back(s.get());
  {
    FrameScope frame(*this, false, false);
    parse_signature(*s);
    s->body = parse_statements({"endmacro"}, true);
  }
  macro_stack_.pop_back();
  return s;
}

StmtPtr Parser::parse_call_block() {
  auto s = new_stmt(StmtKind::CallBlock, cur().line);
  advance();
  macro_stack_.push_back(s.get());
  {
    FrameScope frame(*this, false, false);
    if (is_op("(")) parse_signature(*s);
    macro_stack_.pop_back();  // the call expression belongs to the outer frame
    s->value = parse_expression(true);
    if (s->value->kind != ExprKind::Call) fail("expected call", s->line);
    macro_stack_.push_back(s.get());
    s->body = parse_statements({"endcall"}, true);
  }
  macro_stack_.pop_back();
  return s;
}

StmtPtr Parser::parse_filter_block() {
  auto s = new_stmt(StmtKind::FilterBlock, cur().line);
  advance();
  FrameScope frame(*this, false, in_loop_);
  s->filter = parse_filter(nullptr, true);
  s->body = parse_statements({"endfilter"}, true);
  return s;
}

StmtPtr Parser::parse_with() {
  auto s = new_stmt(StmtKind::With, cur().line);
  advance();
  while (cur().type != TokType::BlockEnd) {
    if (!s->targets.empty()) expect_op(",");
    s->targets.push_back(parse_assign_target(true, false, {}, false));
    expect_op("=");
    s->values.push_back(parse_expression(true));
  }
  FrameScope frame(*this, false, in_loop_);
  s->body = parse_statements({"endwith"}, true);
  return s;
}

StmtPtr Parser::parse_block() {
  auto s = new_stmt(StmtKind::Scope, cur().line);
  advance();
  const std::string name = expect_name();
  skip_name("scoped");
  skip_name("required");
  FrameScope frame(*this, false, false);
  s->body = parse_statements({"endblock"}, true);
  skip_name(name);
  return s;
}

StmtPtr Parser::parse_print() {
  auto s = new_stmt(StmtKind::Output, cur().line);
  advance();
  while (cur().type != TokType::BlockEnd) {
    if (!s->parts.empty()) expect_op(",");
    OutputPart part;
    part.expr = parse_expression(true);
    s->parts.push_back(std::move(part));
  }
  return s;
}

StmtPtr Parser::parse_autoescape() {
  auto s = new_stmt(StmtKind::Scope, cur().line);
  advance();
  parse_expression(true);  // autoescape stays off for chat templates
  s->body = parse_statements({"endautoescape"}, true);
  return s;
}

StmtPtr Parser::parse_generation() {
  // transformers' {% generation %}: a call block whose caller returns the
  // body unchanged, so the body runs in its own scope.
  auto s = new_stmt(StmtKind::Scope, cur().line);
  advance();
  FrameScope frame(*this, false, false);
  s->body = parse_statements({"endgeneration"}, true);
  return s;
}

Program parse_template(std::string_view source) {
  const std::string normalized = normalize_source(source);
  Parser p(tokenize(normalized));
  return p.parse();
}

}  // namespace hearth::chat::jinja
