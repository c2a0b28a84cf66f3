// Syntax tree of a parsed template; mirrors jinja2.nodes closely enough that
// the interpreter can follow Jinja2's compiler rule by rule.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace hearth::chat::jinja {

enum class ExprKind {
  Const, Name, Getattr, Getitem, Slice, Call, Filter, Test,
  Neg, Pos, Not, And, Or, Binary, Concat, Compare, CondExpr,
  List, Tuple, Dict, NSRef,
};
enum class BinOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
enum class CmpOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::Const;
  int line = 0;
  int depth = 1;        // height of this subtree (bounded by the parser)
  Value value;          // Const
  std::string name;     // Name, Getattr attribute, Filter/Test name, NSRef variable
  std::string attr;     // NSRef attribute
  BinOp op = BinOp::Add;
  ExprPtr node;         // subject of Getattr/Getitem/Call/Filter/Test/Neg/Pos/Not; CondExpr test
  // Operands: And/Or/Binary (2), Concat (n), Compare (first operand, then one
  // per op), List/Tuple items, Dict (key, value, key, value...), call/filter/
  // test positional arguments, Slice (start, stop, step; null when omitted),
  // CondExpr (then, else-or-null), Getitem (index).
  std::vector<ExprPtr> items;
  std::vector<CmpOp> ops;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args, dyn_kwargs;
  // Filter/Test: the name was known at parse time. Unknown names in
  // conditional code fail only when evaluated, as in Jinja2.
  bool known = true;
  // Built only from literals and operators: Jinja2 folds such expressions at
  // compile time (nodes.*.as_const), which routes a slice through the
  // sandbox's getitem (Undefined on failure) instead of a Python subscript.
  bool constant = false;
  // The root of a maximal constant subtree (a non-literal one): what Jinja2's
  // optimizer tries to fold. Folding sticks only when the value has a "safe
  // repr" (nodes.Const.from_untrusted), or when it is printed directly.
  bool fold_root = false;
};

enum class StmtKind {
  Output, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, With, Scope, Break, Continue,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct OutputPart {
  std::string data;  // template text, when expr is null
  ExprPtr expr;
};

struct Stmt {
  StmtKind kind = StmtKind::Output;
  int line = 0;
  std::vector<OutputPart> parts;                   // Output
  std::vector<std::pair<ExprPtr, Body>> branches;  // If / elif chain
  Body body;                                       // For/SetBlock/Macro/CallBlock/FilterBlock/With/Scope
  Body else_body;                                  // If/For
  ExprPtr target;                                  // For/Set/SetBlock
  ExprPtr value;                                   // For iterable, Set value, CallBlock call
  ExprPtr test;                                    // For filter condition
  ExprPtr filter;                                  // SetBlock/FilterBlock filter chain (innermost subject null)
  bool recursive = false;                          // For
  std::string name;                                // Macro
  std::vector<std::string> params;                 // Macro/CallBlock signature
  std::vector<ExprPtr> defaults;                   // defaults of the last params
  bool uses_caller = false, uses_varargs = false, uses_kwargs = false;
  std::vector<ExprPtr> targets, values;            // With
};

struct Program {
  Body body;
};

}  // namespace hearth::chat::jinja
