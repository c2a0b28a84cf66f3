#include "chat/jinja_parser.h"

#include <algorithm>
#include <optional>
#include <set>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_lexer.h"

namespace hearth::chat::jinja {

namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Program parse() {
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

 private:
  // ------------------------------------------------------------ token stream
  const Token& cur() const { return toks_[pos_]; }
  const Token& look() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(std::string_view op) const { return cur().type == TokType::Op && cur().value == op; }
  bool is_name(std::string_view n) const { return cur().type == TokType::Name && cur().value == n; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail(const std::string& msg, int line = 0) {
    throw TemplateError(ErrorKind::Syntax, msg, line ? line : cur().line);
  }

  static std::string describe(const Token& t) {
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

  void expect_op(std::string_view op) {
    if (!skip_op(op)) {
      fail("expected token '" + std::string(op) + "', got '" + describe(cur()) + "'");
    }
  }
  std::string expect_name() {
    if (cur().type != TokType::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
    std::string v = cur().value;
    advance();
    return v;
  }
  void expect_type(TokType type, const char* what) {
    if (cur().type != type) {
      fail(std::string("expected token '") + what + "', got '" + describe(cur()) + "'");
    }
    advance();
  }

  // ------------------------------------------------------------ depth guard
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxParseDepth) {
        p_.fail("template nested too deeply (limit " + std::to_string(kMaxParseDepth) + " levels)");
      }
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  // Frame flags that follow Jinja2's compiler: "soft" frames (if-branches and
  // inline ifs) defer unknown-filter errors to run time; loops track where
  // {% break %} is legal.
  struct FrameState {
    bool soft;
    bool in_loop;
  };
  struct FrameScope {
    FrameScope(Parser& p, bool soft, bool in_loop) : p_(p), saved_{p.soft_, p.in_loop_} {
      p.soft_ = soft;
      p.in_loop_ = in_loop;
    }
    ~FrameScope() {
      p_.soft_ = saved_.soft;
      p_.in_loop_ = saved_.in_loop;
    }
    Parser& p_;
    FrameState saved_;
  };

  // ------------------------------------------------------------ node helpers
  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    e->constant = kind == ExprKind::Const;
    return e;
  }

  // Computes the subtree height and enforces the limit: left-deep chains
  // (a + b + c ..., x|f|g|h ...) are parsed iteratively but evaluated and
  // destroyed recursively.
  ExprPtr finish(ExprPtr e) {
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

  // ------------------------------------------------------------ statements
  using EndTags = std::vector<std::string_view>;

  bool at_end_tag(const EndTags& ends) const {
    if (cur().type != TokType::Name) return false;
    return std::find(ends.begin(), ends.end(), cur().value) != ends.end();
  }

  Body subparse(const EndTags& ends) {
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

  [[noreturn]] void fail_unknown_tag(const std::string* name) {
    std::set<std::string> expected;
    for (const auto& ends : end_stack_) {
      for (auto e : ends) expected.insert(std::string(e));
    }
    std::string looking;
    if (!end_stack_.empty() && !end_stack_.back().empty()) {
      const auto& last = end_stack_.back();
      for (size_t i = 0; i < last.size(); ++i) {
        if (i) looking += " or ";
        looking += "'" + std::string(last[i]) + "'";
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

  // Parses `{% ... %}` body tags after a statement header up to one of `ends`
  // (the end tag is left current unless drop_needle).
  Body parse_statements(const EndTags& ends, bool drop_needle) {
    skip_op(":");
    expect_type(TokType::BlockEnd, "end of statement block");
    Body body = subparse(ends);
    if (cur().type == TokType::Eof) fail_unknown_tag(nullptr);
    if (drop_needle) advance();
    return body;
  }

  StmtPtr new_stmt(StmtKind kind, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = line;
    return s;
  }

  StmtPtr parse_statement() {
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

  StmtPtr parse_for() {
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

  StmtPtr parse_if() {
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

  StmtPtr parse_set() {
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

  void parse_signature(Stmt& s) {
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

  StmtPtr parse_macro() {
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

  StmtPtr parse_call_block() {
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

  StmtPtr parse_filter_block() {
    auto s = new_stmt(StmtKind::FilterBlock, cur().line);
    advance();
    FrameScope frame(*this, false, in_loop_);
    s->filter = parse_filter(nullptr, true);
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
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

  StmtPtr parse_block() {
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

  StmtPtr parse_print() {
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

  StmtPtr parse_autoescape() {
    auto s = new_stmt(StmtKind::Scope, cur().line);
    advance();
    parse_expression(true);  // autoescape stays off for chat templates
    s->body = parse_statements({"endautoescape"}, true);
    return s;
  }

  StmtPtr parse_generation() {
    // transformers' {% generation %}: a call block whose caller returns the
    // body unchanged, so the body runs in its own scope.
    auto s = new_stmt(StmtKind::Scope, cur().line);
    advance();
    FrameScope frame(*this, false, false);
    s->body = parse_statements({"endgeneration"}, true);
    return s;
  }

  // ------------------------------------------------------------ assignment
  ExprPtr parse_assign_target(bool with_tuple, bool name_only, const EndTags& extra_end, bool with_namespace) {
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

  void check_assignable(const Expr& t) {
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

  // ------------------------------------------------------------ expressions
  bool is_tuple_end(const EndTags& extra_end) const {
    const TokType t = cur().type;
    if (t == TokType::VarEnd || t == TokType::BlockEnd || (t == TokType::Op && cur().value == ")")) {
      return true;
    }
    if (t == TokType::Eof) return true;
    return at_end_tag(extra_end);
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const EndTags& extra_end, bool explicit_parens,
                      bool with_namespace = false) {
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

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
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

  ExprPtr binary(ExprKind kind, ExprPtr l, ExprPtr r, int line) {
    auto e = make(kind, line);
    e->items.push_back(std::move(l));
    e->items.push_back(std::move(r));
    return finish(std::move(e));
  }

  ExprPtr parse_or() {
    int line = cur().line;
    ExprPtr left = parse_and();
    while (skip_name("or")) {
      left = binary(ExprKind::Or, std::move(left), parse_and(), line);
      line = cur().line;
    }
    return left;
  }

  ExprPtr parse_and() {
    int line = cur().line;
    ExprPtr left = parse_not();
    while (skip_name("and")) {
      left = binary(ExprKind::And, std::move(left), parse_not(), line);
      line = cur().line;
    }
    return left;
  }

  ExprPtr parse_not() {
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

  ExprPtr parse_compare() {
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

  ExprPtr bin_op(BinOp op, ExprPtr l, ExprPtr r, int line) {
    auto e = binary(ExprKind::Binary, std::move(l), std::move(r), line);
    e->op = op;
    return e;
  }

  ExprPtr parse_math1() {
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

  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto c = make(ExprKind::Concat, line);
    c->items.push_back(std::move(first));
    while (skip_op("~")) c->items.push_back(parse_math2());
    return finish(std::move(c));
  }

  ExprPtr parse_math2() {
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

  ExprPtr parse_pow() {
    int line = cur().line;
    ExprPtr left = parse_unary(true);
    while (skip_op("**")) {
      left = bin_op(BinOp::Pow, std::move(left), parse_unary(true), line);
      line = cur().line;
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary(bool with_namespace) {
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

  ExprPtr parse_list() {
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

  ExprPtr parse_dict() {
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

  ExprPtr parse_postfix(ExprPtr node) {
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

  ExprPtr parse_filter_expr(ExprPtr node) {
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

  ExprPtr parse_subscript(ExprPtr node) {
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

  ExprPtr parse_subscribed() {
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

  void parse_call_args(Expr& e) {
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

  ExprPtr parse_call(ExprPtr node) {
    auto c = make(ExprKind::Call, cur().line);
    c->node = std::move(node);
    parse_call_args(*c);
    return finish(std::move(c));
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) advance();
      const int line = cur().line;
      std::string name = expect_name();
      while (skip_op(".")) name += "." + expect_name();
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

  ExprPtr parse_test(ExprPtr node) {
    const int line = cur().line;
    advance();  // 'is'
    const bool negated = skip_name("not");
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
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

  // A macro whose body mentions caller/varargs/kwargs accepts them (Jinja2
  // decides this by scanning the body for those names).
  void note_name(const std::string& name) {
    if (macro_stack_.empty()) return;
    for (Stmt* m : macro_stack_) {
      if (name == "caller") m->uses_caller = true;
      if (name == "varargs") m->uses_varargs = true;
      if (name == "kwargs") m->uses_kwargs = true;
    }
  }

  struct Unknown {
    int line;
    std::string message;
    bool soft;
  };

  std::vector<Token> toks_;
  std::vector<Unknown> unknown_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool soft_ = false;
  bool in_loop_ = false;
  std::vector<EndTags> end_stack_;
  std::vector<std::string> tag_stack_;
  std::vector<Stmt*> macro_stack_;
};

}  // namespace

Program parse_template(std::string_view source) {
  const std::string normalized = normalize_source(source);
  Parser p(tokenize(normalized));
  return p.parse();
}

}  // namespace hearth::chat::jinja
