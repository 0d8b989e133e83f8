// Recursive-descent parser mirroring jinja2/parser.py; each parse_* method here corresponds to
// the one of the same name there.
#include "text/jinja/parser.h"

#include "smoe/error.h"
#include "text/jinja/builtins.h"

namespace smoe::text::jinja {
namespace {

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Body parse_template() {
    Body body = subparse({});
    if (current().kind != TokenKind::kEof) fail_at(current().line, "unexpected token");
    return body;
  }

 private:
  // Counts nesting on entry and releases it on exit.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > kMaxNestingDepth) {
        parser_.fail_at(parser_.current().line, "nesting deeper than " + std::to_string(kMaxNestingDepth) + " levels");
      }
    }
    ~DepthGuard() { --parser_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& parser_;
  };

  [[noreturn]] void fail_at(int line, const std::string& message) const {
    throw Error("chat template", "line " + std::to_string(line) + ": " + message);
  }

  const Token& current() const { return tokens_[pos_]; }
  const Token& look() const { return tokens_[pos_ + 1 < tokens_.size() ? pos_ + 1 : pos_]; }
  const Token& next() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }

  static std::string describe(const Token& token) {
    switch (token.kind) {
      case TokenKind::kEof: return "end of template";
      case TokenKind::kBlockEnd: return "end of statement block";
      case TokenKind::kVariableEnd: return "end of print statement";
      case TokenKind::kBlockBegin: return "begin of statement block";
      case TokenKind::kVariableBegin: return "begin of print statement";
      case TokenKind::kData: return "template data";
      default: return "'" + token.text + "'";
    }
  }

  bool is_op(const char* op) const { return current().kind == TokenKind::kOperator && current().text == op; }
  bool is_name(const char* name) const { return current().kind == TokenKind::kName && current().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail_at(current().line, "expected token '" + std::string(op) + "', got " + describe(current()));
  }
  void expect(TokenKind kind, const char* what) {
    if (current().kind != kind) {
      if (current().kind == TokenKind::kEof) fail_at(current().line, "unexpected end of template");
      fail_at(current().line, std::string("expected ") + what + ", got " + describe(current()));
    }
    next();
  }
  std::string expect_name() {
    if (current().kind != TokenKind::kName) fail_at(current().line, "expected name, got " + describe(current()));
    return next().text;
  }

  static ExprPtr make(ExprKind kind, int line) {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->line = line;
    return expr;
  }
  static StmtPtr make_stmt(StmtKind kind, int line) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = kind;
    stmt->line = line;
    return stmt;
  }

  // Parses template data, {{ }} and statements until a block whose tag name is in `end_names`
  // (left as the current token) or the end of the template.
  Body subparse(const std::vector<const char*>& end_names) {
    DepthGuard guard(*this);
    Body body;
    while (current().kind != TokenKind::kEof) {
      const Token& token = current();
      if (token.kind == TokenKind::kData) {
        auto stmt = make_stmt(StmtKind::kText, token.line);
        stmt->text = token.text;
        body.push_back(std::move(stmt));
        next();
      } else if (token.kind == TokenKind::kVariableBegin) {
        auto stmt = make_stmt(StmtKind::kPrint, token.line);
        next();
        stmt->exprs.push_back(parse_tuple(false));
        expect(TokenKind::kVariableEnd, "end of print statement");
        body.push_back(std::move(stmt));
      } else if (token.kind == TokenKind::kBlockBegin) {
        next();
        for (const char* end_name : end_names) {
          if (is_name(end_name)) return body;
        }
        body.push_back(parse_statement());
        expect(TokenKind::kBlockEnd, "end of statement block");
      } else {
        fail_at(token.line, "unexpected " + describe(token));
      }
    }
    if (!end_names.empty()) {
      std::string expected;
      for (const char* name : end_names) expected += std::string(expected.empty() ? "" : " or ") + "'" + name + "'";
      fail_at(current().line, "unexpected end of template; expected " + expected);
    }
    return body;
  }

  // After a statement's header: `:`? `%}` then the body up to one of `end_names`.
  Body parse_statements(const std::vector<const char*>& end_names, bool drop_needle) {
    skip_op(":");
    expect(TokenKind::kBlockEnd, "end of statement block");
    Body body = subparse(end_names);
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement() {
    const Token& token = current();
    if (token.kind != TokenKind::kName) fail_at(token.line, "tag name expected");
    const std::string& tag = token.text;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "generation") {
      // Hugging Face's AssistantTracker tag marks the assistant's text (for training masks);
      // rendering, it is a call block: its body in a scope of its own.
      auto stmt = make_stmt(StmtKind::kWith, next().line);
      stmt->bodies.push_back(parse_statements({"endgeneration"}, true));
      return stmt;
    }
    if (tag == "print") {
      auto stmt = make_stmt(StmtKind::kPrint, next().line);
      std::vector<ExprPtr> items;
      while (current().kind != TokenKind::kBlockEnd) {
        if (!items.empty()) expect_op(",");
        items.push_back(parse_expression());
      }
      auto tuple = make(ExprKind::kConcat, stmt->line);
      tuple->args = std::move(items);
      stmt->exprs.push_back(std::move(tuple));
      return stmt;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail_at(token.line, "'" + tag + "' outside of a loop");
      return make_stmt(tag == "break" ? StmtKind::kBreak : StmtKind::kContinue, next().line);
    }
    fail_at(token.line, "unsupported tag: " + tag);
  }

  StmtPtr parse_if() {
    auto stmt = make_stmt(StmtKind::kIf, next().line);
    while (true) {
      stmt->exprs.push_back(parse_tuple(false, /*with_condexpr=*/false));
      stmt->bodies.push_back(parse_statements({"elif", "else", "endif"}, false));
      const Token& token = next();
      if (token.text == "elif") continue;
      if (token.text == "else") stmt->bodies.push_back(parse_statements({"endif"}, true));
      break;
    }
    return stmt;
  }

  // Names for `for` and `set` targets: a name, or names separated by commas, optionally in
  // parentheses.
  void parse_targets(Stmt& stmt, const char* end_name) {
    const bool parenthesized = skip_op("(");
    while (true) {
      if (current().kind != TokenKind::kName) fail_at(current().line, "can't assign to " + describe(current()));
      stmt.targets.push_back(next().text);
      if (!skip_op(",")) break;
      stmt.tuple_target = true;
      if (is_name(end_name) || is_op("=") || is_op(")")) break;
    }
    if (parenthesized) {
      expect_op(")");
      stmt.tuple_target = true;
    }
    if (is_op(",")) fail_at(current().line, "unsupported assignment target: nested tuples");
  }

  StmtPtr parse_for() {
    auto stmt = make_stmt(StmtKind::kFor, next().line);
    parse_targets(*stmt, "in");
    if (!skip_name("in")) fail_at(current().line, "expected 'in', got " + describe(current()));
    stmt->exprs.push_back(parse_tuple(false, /*with_condexpr=*/false, "recursive"));
    if (skip_name("if")) stmt->exprs.push_back(parse_expression());
    if (is_name("recursive")) fail_at(current().line, "unsupported construct: recursive loops");
    ++loop_depth_;
    stmt->bodies.push_back(parse_statements({"endfor", "else"}, false));
    --loop_depth_;
    if (next().text == "else") {
      // The else body runs outside the loop: break and continue are not allowed there.
      const int saved = loop_depth_;
      loop_depth_ = 0;
      stmt->bodies.push_back(parse_statements({"endfor"}, true));
      loop_depth_ = saved;
    } else {
      stmt->bodies.emplace_back();
    }
    return stmt;
  }

  StmtPtr parse_set() {
    const int line = next().line;
    if (current().kind == TokenKind::kName && look().kind == TokenKind::kOperator && look().text == ".") {
      auto stmt = make_stmt(StmtKind::kSet, line);
      stmt->targets.push_back(next().text);
      next();
      stmt->attribute = expect_name();
      expect_op("=");
      stmt->exprs.push_back(parse_tuple(false));
      return stmt;
    }
    auto stmt = make_stmt(StmtKind::kSet, line);
    parse_targets(*stmt, "");
    if (skip_op("=")) {
      stmt->exprs.push_back(parse_tuple(false));
      return stmt;
    }
    if (stmt->tuple_target) fail_at(line, "expected token '='");
    stmt->kind = StmtKind::kSetBlock;
    if (is_op("|")) stmt->filter = parse_filter(nullptr, false);
    stmt->bodies.push_back(parse_statements({"endset"}, true));
    return stmt;
  }

  StmtPtr parse_macro() {
    auto stmt = make_stmt(StmtKind::kMacro, next().line);
    stmt->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!stmt->targets.empty()) expect_op(",");
      stmt->targets.push_back(expect_name());
      if (skip_op("=")) {
        stmt->exprs.push_back(parse_expression());
      } else if (!stmt->exprs.empty()) {
        fail_at(current().line, "non-default argument follows default argument");
      }
    }
    expect_op(")");
    const int saved = loop_depth_;
    loop_depth_ = 0;
    stmt->bodies.push_back(parse_statements({"endmacro"}, true));
    loop_depth_ = saved;
    return stmt;
  }

  StmtPtr parse_filter_block() {
    auto stmt = make_stmt(StmtKind::kFilterBlock, next().line);
    stmt->filter = parse_filter(nullptr, true);
    stmt->bodies.push_back(parse_statements({"endfilter"}, true));
    return stmt;
  }

  StmtPtr parse_with() {
    auto stmt = make_stmt(StmtKind::kWith, next().line);
    while (current().kind != TokenKind::kBlockEnd) {
      if (!stmt->targets.empty()) expect_op(",");
      stmt->targets.push_back(expect_name());
      expect_op("=");
      stmt->exprs.push_back(parse_expression());
    }
    stmt->bodies.push_back(parse_statements({"endwith"}, true));
    return stmt;
  }

  bool is_tuple_end(const char* extra_end) const {
    const TokenKind kind = current().kind;
    if (kind == TokenKind::kVariableEnd || kind == TokenKind::kBlockEnd || kind == TokenKind::kEof || is_op(")")) {
      return true;
    }
    return extra_end != nullptr && is_name(extra_end);
  }

  ExprPtr parse_tuple(bool explicit_parentheses, bool with_condexpr = true, const char* extra_end = nullptr) {
    const int line = current().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(with_condexpr ? parse_expression() : parse_or());
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) fail_at(current().line, "Expected an expression, got " + describe(current()));
    }
    auto tuple = make(ExprKind::kTuple, line);
    tuple->args = std::move(items);
    return tuple;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    return parse_condexpr();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      auto cond = make(ExprKind::kCond, next().line);
      cond->args.push_back(parse_or());
      cond->args.push_back(std::move(expr));
      cond->args.push_back(skip_name("else") ? parse_condexpr() : nullptr);
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr binary(ExprKind kind, ExprPtr left, ExprPtr right, int line, std::string op = {}) {
    auto expr = make(kind, line);
    expr->name = std::move(op);
    expr->args.push_back(std::move(left));
    expr->args.push_back(std::move(right));
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      left = binary(ExprKind::kOr, std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      left = binary(ExprKind::kAnd, std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto expr = make(ExprKind::kNot, next().line);
      expr->args.push_back(parse_not());
      return expr;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    ExprPtr first = parse_math1();
    auto compare = make(ExprKind::kCompare, line);
    while (true) {
      static constexpr const char* kOperators[] = {"==", "!=", "<", "<=", ">", ">="};
      bool matched = false;
      for (const char* op : kOperators) {
        if (is_op(op)) {
          next();
          compare->ops.emplace_back(op);
          matched = true;
          break;
        }
      }
      if (!matched && skip_name("in")) {
        compare->ops.emplace_back("in");
        matched = true;
      } else if (!matched && is_name("not") && look().kind == TokenKind::kName && look().text == "in") {
        next();
        next();
        compare->ops.emplace_back("not in");
        matched = true;
      }
      if (!matched) break;
      compare->args.push_back(parse_math1());
    }
    if (compare->ops.empty()) return first;
    compare->args.insert(compare->args.begin(), std::move(first));
    return compare;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& op = next();
      left = binary(ExprKind::kBinary, std::move(left), parse_concat(), op.line, op.text);
    }
    return left;
  }

  ExprPtr parse_concat() {
    const int line = current().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto concat = make(ExprKind::kConcat, line);
    concat->args.push_back(std::move(first));
    while (skip_op("~")) concat->args.push_back(parse_math2());
    return concat;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& op = next();
      left = binary(ExprKind::kBinary, std::move(left), parse_pow(), op.line, op.text);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token& op = next();
      left = binary(ExprKind::kBinary, std::move(left), parse_unary(true), op.line, op.text);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      node = make(op.text == "-" ? ExprKind::kNeg : ExprKind::kPos, op.line);
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& token = current();
    ExprPtr node;
    if (token.kind == TokenKind::kName) {
      const std::string& name = token.text;
      if (name == "true" || name == "True" || name == "false" || name == "False") {
        node = make(ExprKind::kConst, token.line);
        node->constant = Value(name == "true" || name == "True");
      } else if (name == "none" || name == "None") {
        node = make(ExprKind::kConst, token.line);
        node->constant = Value(None{});
      } else {
        node = make(ExprKind::kName, token.line);
        node->name = name;
      }
      next();
    } else if (token.kind == TokenKind::kString) {
      node = make(ExprKind::kConst, token.line);
      std::string text;
      while (current().kind == TokenKind::kString) text += next().text;
      node->constant = Value(std::move(text));
    } else if (token.kind == TokenKind::kInteger || token.kind == TokenKind::kFloat) {
      node = make(ExprKind::kConst, token.line);
      node->constant = token.kind == TokenKind::kInteger ? Value(token.integer) : Value(token.number);
      next();
    } else if (is_op("(")) {
      next();
      node = parse_tuple(true);
      expect_op(")");
    } else if (is_op("[")) {
      node = make(ExprKind::kList, next().line);
      while (!is_op("]")) {
        if (!node->args.empty()) expect_op(",");
        if (is_op("]")) break;
        node->args.push_back(parse_expression());
      }
      expect_op("]");
    } else if (is_op("{")) {
      node = make(ExprKind::kDict, next().line);
      while (!is_op("}")) {
        if (!node->args.empty()) expect_op(",");
        if (is_op("}")) break;
        node->args.push_back(parse_expression());
        expect_op(":");
        node->args.push_back(parse_expression());
      }
      expect_op("}");
    } else if (token.kind == TokenKind::kEof) {
      fail_at(token.line, "unexpected end of template");
    } else {
      fail_at(token.line, "unexpected " + describe(token));
    }
    return node;
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
    DepthGuard guard(*this);
    const Token& token = next();
    if (token.text == ".") {
      const Token& attribute = next();
      if (attribute.kind == TokenKind::kName) {
        auto expr = make(ExprKind::kAttr, token.line);
        expr->name = attribute.text;
        expr->args.push_back(std::move(node));
        return expr;
      }
      if (attribute.kind != TokenKind::kInteger) fail_at(attribute.line, "expected name or number");
      auto expr = make(ExprKind::kItem, token.line);
      expr->args.push_back(std::move(node));
      auto index = make(ExprKind::kConst, attribute.line);
      index->constant = Value(attribute.integer);
      expr->args.push_back(std::move(index));
      return expr;
    }
    std::vector<ExprPtr> indexes;
    while (!is_op("]")) {
      if (!indexes.empty()) expect_op(",");
      indexes.push_back(parse_subscribed());
    }
    expect_op("]");
    auto expr = make(ExprKind::kItem, token.line);
    expr->args.push_back(std::move(node));
    if (indexes.size() == 1) {
      expr->args.push_back(std::move(indexes[0]));
    } else {
      auto tuple = make(ExprKind::kTuple, token.line);
      tuple->args = std::move(indexes);
      expr->args.push_back(std::move(tuple));
    }
    return expr;
  }

  ExprPtr parse_subscribed() {
    const int line = current().line;
    ExprPtr start;
    if (!skip_op(":")) {
      start = parse_expression();
      if (!skip_op(":")) return start;
    }
    auto slice = make(ExprKind::kSlice, line);
    slice->args.push_back(std::move(start));
    const auto slice_end = [&] { return is_op("]") || is_op(","); };
    slice->args.push_back(is_op(":") || slice_end() ? nullptr : parse_expression());
    if (skip_op(":")) {
      slice->args.push_back(slice_end() ? nullptr : parse_expression());
    } else {
      slice->args.push_back(nullptr);
    }
    return slice;
  }

  void parse_call_args(Expr& call) {
    expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail_at(current().line, "unsupported construct: *args and **kwargs in calls");
      if (current().kind == TokenKind::kName && look().kind == TokenKind::kOperator && look().text == "=") {
        std::string key = next().text;
        next();
        call.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!call.kwargs.empty()) fail_at(current().line, "invalid syntax for function call expression");
        call.args.push_back(parse_expression());
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    DepthGuard guard(*this);
    auto call = make(ExprKind::kCall, current().line);
    call->args.push_back(std::move(node));
    parse_call_args(*call);
    return call;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      DepthGuard guard(*this);
      if (!start_inline) next();
      start_inline = false;
      const int line = current().line;
      auto filter = make(ExprKind::kFilter, line);
      filter->name = parse_dotted_name();
      if (!is_known_filter(filter->name)) fail_at(line, "unsupported filter: " + filter->name);
      filter->args.push_back(std::move(node));
      if (is_op("(")) parse_call_args(*filter);
      node = std::move(filter);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    DepthGuard guard(*this);
    const int line = next().line;
    const bool negated = skip_name("not");
    auto test = make(ExprKind::kTest, line);
    test->name = parse_dotted_name();
    if (!is_known_test(test->name)) fail_at(line, "unsupported test: " + test->name);
    test->args.push_back(std::move(node));
    const TokenKind kind = current().kind;
    if (is_op("(")) {
      parse_call_args(*test);
    } else if ((kind == TokenKind::kName || kind == TokenKind::kString || kind == TokenKind::kInteger ||
                kind == TokenKind::kFloat || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail_at(current().line, "You cannot chain multiple tests with is");
      test->args.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return test;
    auto negation = make(ExprKind::kNot, line);
    negation->args.push_back(std::move(test));
    return negation;
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace smoe::text::jinja
