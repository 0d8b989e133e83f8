// Runs a parsed template: statements write to the output, expressions evaluate to Values.
// Scoping follows Jinja2: each for-loop iteration, macro call and {% with %} gets a fresh
// scope that reads through to the enclosing ones, so {% set %} inside them does not leak out;
// {% if %} does not open a scope. Not thread-safe: use one Renderer per render.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/ast.h"
#include "text/jinja/builtins.h"
#include "text/jinja/value.h"

namespace smoe::text::jinja {

// Rendered text past this is an error, not an allocation failure.
inline constexpr size_t kMaxOutputBytes = size_t{64} << 20;
// Statements and expressions evaluated per render: bounds nested loops over large ranges.
inline constexpr int64_t kMaxWorkSteps = 50'000'000;
// Nested evaluation frames at render time (macro recursion included).
inline constexpr int kMaxRenderDepth = 1000;

class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  // The innermost binding of `name`, or null.
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);

 private:
  std::shared_ptr<Scope> parent_;
  Namespace variables_;  // the same insertion-ordered name table as a namespace() object
};

class Renderer {
 public:
  // `variables` is the template's global dict (messages, tools, bos_token, ...).
  // `now` is what strftime_now formats.
  Renderer(Value variables, std::time_t now) : variables_(std::move(variables)), now_(now) {}
  std::string render(const Body& body);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using ScopePtr = std::shared_ptr<Scope>;

  class DepthGuard;

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec(const Stmt& stmt, const ScopePtr& scope, std::string& out);
  Flow exec_for(const Stmt& stmt, const ScopePtr& scope, std::string& out);
  void assign(const Stmt& stmt, const ScopePtr& scope, Value value);
  std::string render_block(const Body& body, const ScopePtr& scope);

  Value eval(const Expr& expr, const ScopePtr& scope);
  Value lookup(const std::string& name, const ScopePtr& scope) const;
  Arguments eval_arguments(const Expr& expr, const ScopePtr& scope, size_t first);
  Value eval_filter(const Expr& expr, const ScopePtr& scope);
  Value eval_compare(const Expr& expr, const ScopePtr& scope);
  Value call(const Value& callee, const Arguments& args);
  Value call_macro(const Callable& macro, const Arguments& args);

  void append(std::string& out, const std::string& text) const;
  void step();

  Value variables_;
  std::time_t now_;
  int64_t steps_ = 0;
  int depth_ = 0;
  // The text a {% filter %} or {% set %} block rendered, for the chain's innermost filter.
  std::vector<Value> block_inputs_;
};

}  // namespace smoe::text::jinja
