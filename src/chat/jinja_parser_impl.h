// The parser's class (internal to jinja_parser*.cpp): a recursive-descent
// parser that mirrors jinja2.parser.Parser method by method.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"

namespace hearth::chat::jinja {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Program parse();

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

  [[noreturn]] void fail(const std::string& msg, int line = 0);

  static std::string describe(const Token& t);

  void expect_op(std::string_view op);
  std::string expect_name();
  void expect_type(TokType type, const char* what);

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
  ExprPtr make(ExprKind kind, int line);

  // Computes the subtree height and enforces the limit: left-deep chains
  // (a + b + c ..., x|f|g|h ...) are parsed iteratively but evaluated and
  // destroyed recursively.
  ExprPtr finish(ExprPtr e);

  // ------------------------------------------------------------ statements
  using EndTags = std::vector<std::string_view>;

  bool at_end_tag(const EndTags& ends) const;

  Body subparse(const EndTags& ends);

  [[noreturn]] void fail_unknown_tag(const std::string* name);

  // Parses `{% ... %}` body tags after a statement header up to one of `ends`
  // (the end tag is left current unless drop_needle).
  Body parse_statements(const EndTags& ends, bool drop_needle);

  StmtPtr new_stmt(StmtKind kind, int line);

  StmtPtr parse_statement();

  StmtPtr parse_for();

  StmtPtr parse_if();

  StmtPtr parse_set();

  void parse_signature(Stmt& s);

  StmtPtr parse_macro();

  StmtPtr parse_call_block();

  StmtPtr parse_filter_block();

  StmtPtr parse_with();

  StmtPtr parse_block();

  StmtPtr parse_print();

  StmtPtr parse_autoescape();

  StmtPtr parse_generation();

  // ------------------------------------------------------------ assignment
  ExprPtr parse_assign_target(bool with_tuple, bool name_only, const EndTags& extra_end, bool with_namespace);

  void check_assignable(const Expr& t);

  // ------------------------------------------------------------ expressions
  bool is_tuple_end(const EndTags& extra_end) const;

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const EndTags& extra_end, bool explicit_parens,
                      bool with_namespace = false);

  ExprPtr parse_expression(bool with_condexpr);

  ExprPtr parse_condexpr();

  ExprPtr binary(ExprKind kind, ExprPtr l, ExprPtr r, int line);

  ExprPtr parse_or();

  ExprPtr parse_and();

  ExprPtr parse_not();

  ExprPtr parse_compare();

  ExprPtr bin_op(BinOp op, ExprPtr l, ExprPtr r, int line);

  ExprPtr parse_math1();

  ExprPtr parse_concat();

  ExprPtr parse_math2();

  ExprPtr parse_pow();

  ExprPtr parse_unary(bool with_filter);

  ExprPtr parse_primary(bool with_namespace);

  ExprPtr parse_list();

  ExprPtr parse_dict();

  ExprPtr parse_postfix(ExprPtr node);

  ExprPtr parse_filter_expr(ExprPtr node);

  ExprPtr parse_subscript(ExprPtr node);

  ExprPtr parse_subscribed();

  void parse_call_args(Expr& e);

  ExprPtr parse_call(ExprPtr node);

  ExprPtr parse_filter(ExprPtr node, bool start_inline);

  ExprPtr parse_test(ExprPtr node);

  // A macro whose body mentions caller/varargs/kwargs accepts them (Jinja2
  // decides this by scanning the body for those names).
  void note_name(const std::string& name);

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

}  // namespace hearth::chat::jinja
