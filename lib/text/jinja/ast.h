// The parsed template: expression and statement trees, as Jinja2's parser builds them
// (jinja2/nodes.py), reduced to the nodes this engine renders.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace smoe::text::jinja {

enum class ExprKind {
  kConst,    // constant
  kName,     // name
  kList,     // args: items
  kTuple,    // args: items
  kDict,     // args: key, value, key, value, ...
  kAttr,     // args[0].name
  kItem,     // args[0][args[1]]
  kSlice,    // args: start, stop, step (each may be null)
  kCall,     // args[0](args[1:], kwargs)
  kFilter,   // args[0] | name(args[1:], kwargs); args[0] null inside {% filter %} and {% set %} blocks
  kTest,     // args[0] is name(args[1:], kwargs)
  kNot,      // not args[0]
  kNeg,      // -args[0]
  kPos,      // +args[0]
  kBinary,   // args[0] name args[1]: + - * / // % **
  kAnd,      // args[0] and args[1]
  kOr,       // args[0] or args[1]
  kConcat,   // args joined by ~
  kCompare,  // args[0] ops[0] args[1] ops[1] args[2] ...
  kCond,     // args[1] if args[0] else args[2] (args[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  int line = 0;
  std::string name;
  Value constant;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
};

enum class StmtKind {
  kText,         // text
  kPrint,        // {{ exprs[0] }}
  kIf,           // exprs: conditions; bodies: one per condition, then the else body
  kFor,          // targets in exprs[0] (if exprs[1]); bodies: loop body, else body
  kSet,          // targets = exprs[0]; or namespace attribute targets[0].attribute
  kSetBlock,     // targets[0] = bodies[0] rendered, through filter when set
  kMacro,        // name(targets = exprs defaults for the last params) bodies[0]
  kBreak,
  kContinue,
  kFilterBlock,  // bodies[0] rendered, through filter
  kWith,         // targets = exprs, scoped to bodies[0]
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  std::string name;
  std::string attribute;
  std::vector<std::string> targets;
  bool tuple_target = false;
  std::vector<ExprPtr> exprs;
  std::vector<Body> bodies;
  ExprPtr filter;
};

}  // namespace smoe::text::jinja
