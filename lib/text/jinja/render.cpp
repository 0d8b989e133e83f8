// Statement execution and expression evaluation, mirroring what Jinja2's compiled Python does.
#include "text/jinja/render.h"

#include "text/jinja/operations.h"

namespace smoe::text::jinja {

const Value* Scope::find(const std::string& name) const {
  for (const Scope* scope = this; scope; scope = scope->parent_.get()) {
    if (const Value* value = scope->variables_.find(name)) return value;
  }
  return nullptr;
}

void Scope::set(const std::string& name, Value value) { variables_.set(name, std::move(value)); }

namespace {

// Whether storing `value` in a namespace could make a reference cycle, which shared pointers
// would never free: namespaces, loop objects and bound methods refer to other values.
bool holds_references(const Value& value) {
  if (value.is_namespace() || value.is_loop()) return true;
  if (value.is_callable()) return value.as_callable().self != nullptr;
  if (value.is_list()) {
    for (const Value& item : value.as_list().items) {
      if (holds_references(item)) return true;
    }
  }
  if (value.is_dict()) {
    for (const auto& [key, item] : value.as_dict().items) {
      if (holds_references(item)) return true;
    }
  }
  return false;
}

}  // namespace

class Renderer::DepthGuard {
 public:
  explicit DepthGuard(Renderer& renderer) : renderer_(renderer) {
    if (++renderer_.depth_ > kMaxRenderDepth) {
      fail("recursion deeper than " + std::to_string(kMaxRenderDepth) + " levels (a macro calling itself?)");
    }
  }
  ~DepthGuard() { --renderer_.depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  Renderer& renderer_;
};

std::string Renderer::render(const Body& body) {
  auto scope = std::make_shared<Scope>(nullptr);
  std::string out;
  exec_body(body, scope, out);
  return out;
}

void Renderer::step() {
  if (++steps_ > kMaxWorkSteps) fail("the template did more than " + std::to_string(kMaxWorkSteps) + " steps of work");
}

void Renderer::append(std::string& out, const std::string& text) const {
  if (out.size() + text.size() > kMaxOutputBytes) {
    fail("output longer than " + std::to_string(kMaxOutputBytes) + " bytes");
  }
  out += text;
}

Renderer::Flow Renderer::exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
  DepthGuard guard(*this);
  for (const StmtPtr& stmt : body) {
    const Flow flow = exec(*stmt, scope, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

std::string Renderer::render_block(const Body& body, const ScopePtr& scope) {
  std::string text;
  exec_body(body, scope, text);
  return text;
}

Renderer::Flow Renderer::exec(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
  step();
  switch (stmt.kind) {
    case StmtKind::kText:
      append(out, stmt.text);
      return Flow::kNormal;
    case StmtKind::kPrint:
      append(out, to_str(eval(*stmt.exprs[0], scope)));
      return Flow::kNormal;
    case StmtKind::kIf:
      for (size_t i = 0; i < stmt.exprs.size(); ++i) {
        if (truthy(eval(*stmt.exprs[i], scope))) return exec_body(stmt.bodies[i], scope, out);
      }
      if (stmt.bodies.size() > stmt.exprs.size()) return exec_body(stmt.bodies.back(), scope, out);
      return Flow::kNormal;
    case StmtKind::kFor:
      return exec_for(stmt, scope, out);
    case StmtKind::kSet:
      if (!stmt.attribute.empty()) {
        const Value target = lookup(stmt.targets[0], scope);
        if (!target.is_namespace()) fail("cannot assign attribute on non-namespace object");
        Value value = eval(*stmt.exprs[0], scope);
        if (holds_references(value)) {
          fail("unsupported assignment: a namespace attribute holding a namespace, loop or method");
        }
        target.as_namespace().set(stmt.attribute, std::move(value));
      } else {
        assign(stmt, scope, eval(*stmt.exprs[0], scope));
      }
      return Flow::kNormal;
    case StmtKind::kSetBlock: {
      Value text(render_block(stmt.bodies[0], std::make_shared<Scope>(scope)));
      if (stmt.filter) {
        block_inputs_.push_back(std::move(text));
        text = eval(*stmt.filter, scope);
        block_inputs_.pop_back();
      }
      scope->set(stmt.targets[0], std::move(text));
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      block_inputs_.emplace_back(render_block(stmt.bodies[0], scope));
      const Value filtered = eval(*stmt.filter, scope);
      block_inputs_.pop_back();
      append(out, to_str(filtered));
      return Flow::kNormal;
    }
    case StmtKind::kMacro: {
      auto macro = std::make_shared<Callable>();
      macro->kind = Callable::Kind::kMacro;
      macro->name = stmt.name;
      macro->macro = &stmt;
      macro->closure = scope;
      scope->set(stmt.name, Value(std::shared_ptr<const Callable>(std::move(macro))));
      return Flow::kNormal;
    }
    case StmtKind::kWith: {
      auto inner = std::make_shared<Scope>(scope);
      for (size_t i = 0; i < stmt.targets.size(); ++i) inner->set(stmt.targets[i], eval(*stmt.exprs[i], scope));
      return exec_body(stmt.bodies[0], inner, out);
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
  }
  return Flow::kNormal;
}

// Binds `value` to the statement's targets, unpacking for `a, b = ...`.
void Renderer::assign(const Stmt& stmt, const ScopePtr& scope, Value value) {
  if (!stmt.tuple_target) {
    scope->set(stmt.targets[0], std::move(value));
    return;
  }
  if (value.is_undefined()) fail_undefined(value);
  const std::vector<Value> items = iterate(value);
  const size_t expected = stmt.targets.size();
  if (items.size() > expected) fail("too many values to unpack (expected " + std::to_string(expected) + ")");
  if (items.size() < expected) {
    fail("not enough values to unpack (expected " + std::to_string(expected) + ", got " +
         std::to_string(items.size()) + ")");
  }
  for (size_t i = 0; i < expected; ++i) scope->set(stmt.targets[i], items[i]);
}

Renderer::Flow Renderer::exec_for(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
  const Value iterable = eval(*stmt.exprs[0], scope);
  std::vector<Value> items = iterate(iterable);
  if (stmt.exprs.size() > 1) {
    // `for x in xs if cond`: Jinja filters first, so loop.length and loop.last count only the
    // items that pass.
    std::vector<Value> kept;
    for (Value& item : items) {
      step();
      auto inner = std::make_shared<Scope>(scope);
      assign(stmt, inner, item);
      if (truthy(eval(*stmt.exprs[1], inner))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec_body(stmt.bodies[1], std::make_shared<Scope>(scope), out);
    return Flow::kNormal;
  }
  auto list = std::make_shared<List>();
  list->items = std::move(items);
  const std::shared_ptr<const List> shared = list;
  for (size_t i = 0; i < shared->items.size(); ++i) {
    step();
    auto inner = std::make_shared<Scope>(scope);
    auto loop = std::make_shared<LoopState>();
    loop->index0 = static_cast<int64_t>(i);
    loop->items = shared;
    inner->set("loop", Value(std::shared_ptr<const LoopState>(std::move(loop))));
    assign(stmt, inner, shared->items[i]);
    if (exec_body(stmt.bodies[0], inner, out) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Value Renderer::lookup(const std::string& name, const ScopePtr& scope) const {
  if (const Value* value = scope->find(name)) return *value;
  if (const Value* value = variables_.as_dict().find(Value(name))) return *value;
  if (std::optional<Value> function = global_function(name)) return *function;
  return Value(Undefined{"'" + name + "' is undefined"});
}

Arguments Renderer::eval_arguments(const Expr& expr, const ScopePtr& scope, size_t first) {
  Arguments args;
  for (size_t i = first; i < expr.args.size(); ++i) args.positional.push_back(eval(*expr.args[i], scope));
  for (const auto& [name, value] : expr.kwargs) args.keyword.emplace_back(name, eval(*value, scope));
  return args;
}

Value Renderer::eval_filter(const Expr& expr, const ScopePtr& scope) {
  const Value input = expr.args[0] ? eval(*expr.args[0], scope) : block_inputs_.back();
  return apply_filter(expr.name, input, eval_arguments(expr, scope, 1));
}

Value Renderer::eval_compare(const Expr& expr, const ScopePtr& scope) {
  Value left = eval(*expr.args[0], scope);
  for (size_t i = 0; i < expr.ops.size(); ++i) {
    Value right = eval(*expr.args[i + 1], scope);
    const std::string& op = expr.ops[i];
    bool result;
    if (op == "==") {
      result = equals(left, right);
    } else if (op == "!=") {
      result = !equals(left, right);
    } else if (op == "in") {
      result = contains(right, left);
    } else if (op == "not in") {
      result = !contains(right, left);
    } else {
      const int order = compare(left, right, op.c_str());
      result = op == "<" ? order < 0 : op == "<=" ? order <= 0 : op == ">" ? order > 0 : order >= 0;
    }
    if (!result) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Value Renderer::eval(const Expr& expr, const ScopePtr& scope) {
  DepthGuard guard(*this);
  step();
  switch (expr.kind) {
    case ExprKind::kConst:
      return expr.constant;
    case ExprKind::kName:
      return lookup(expr.name, scope);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(expr.args.size());
      for (const ExprPtr& item : expr.args) items.push_back(eval(*item, scope));
      return Value::list(std::move(items), expr.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      Dict dict;
      for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
        Value key = eval(*expr.args[i], scope);
        dict.set(std::move(key), eval(*expr.args[i + 1], scope));
      }
      return Value::dict(std::move(dict));
    }
    case ExprKind::kAttr:
      return get_attribute(eval(*expr.args[0], scope), expr.name);
    case ExprKind::kItem: {
      const Value object = eval(*expr.args[0], scope);
      const Expr& index = *expr.args[1];
      if (index.kind == ExprKind::kSlice) {
        if (object.is_undefined()) fail_undefined(object);
        const auto bound = [&](const ExprPtr& e) { return e ? eval(*e, scope) : Value(None{}); };
        return get_slice(object, bound(index.args[0]), bound(index.args[1]), bound(index.args[2]));
      }
      return get_item(object, eval(index, scope));
    }
    case ExprKind::kSlice:
      fail("slice outside of a subscript");
    case ExprKind::kCall: {
      const Value callee = eval(*expr.args[0], scope);
      return call(callee, eval_arguments(expr, scope, 1));
    }
    case ExprKind::kFilter:
      return eval_filter(expr, scope);
    case ExprKind::kTest: {
      const Value input = eval(*expr.args[0], scope);
      return Value(apply_test(expr.name, input, eval_arguments(expr, scope, 1)));
    }
    case ExprKind::kNot:
      return Value(!truthy(eval(*expr.args[0], scope)));
    case ExprKind::kNeg:
      return negate(eval(*expr.args[0], scope));
    case ExprKind::kPos:
      return unary_plus(eval(*expr.args[0], scope));
    case ExprKind::kBinary: {
      const Value left = eval(*expr.args[0], scope);
      return binary_operation(expr.name, left, eval(*expr.args[1], scope));
    }
    case ExprKind::kAnd: {
      Value left = eval(*expr.args[0], scope);
      return truthy(left) ? eval(*expr.args[1], scope) : left;
    }
    case ExprKind::kOr: {
      Value left = eval(*expr.args[0], scope);
      return truthy(left) ? left : eval(*expr.args[1], scope);
    }
    case ExprKind::kConcat: {
      std::string text;
      for (const ExprPtr& part : expr.args) {
        text += to_str(eval(*part, scope));
        check_string_size(text.size());
      }
      return Value(std::move(text));
    }
    case ExprKind::kCompare:
      return eval_compare(expr, scope);
    case ExprKind::kCond:
      if (truthy(eval(*expr.args[0], scope))) return eval(*expr.args[1], scope);
      if (expr.args[2]) return eval(*expr.args[2], scope);
      return Value(Undefined{"the inline if-expression on line " + std::to_string(expr.line) +
                             " evaluated to false and no else section was defined."});
  }
  return Value();
}

Value Renderer::call(const Value& callee, const Arguments& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (!callee.is_callable()) fail("'" + type_name(callee) + "' object is not callable");
  const Callable& callable = callee.as_callable();
  switch (callable.kind) {
    case Callable::Kind::kGlobal:
      return call_global(callable.name, args, now_);
    case Callable::Kind::kMethod:
      return call_method(*callable.self, callable.name, args);
    case Callable::Kind::kMacro:
      return call_macro(callable, args);
    case Callable::Kind::kLoopCycle: {
      if (args.positional.empty()) fail("no items for cycling given");
      const LoopState& loop = callable.self->as_loop();
      return args.positional[static_cast<size_t>(loop.index0) % args.positional.size()];
    }
  }
  return Value();
}

Value Renderer::call_macro(const Callable& macro, const Arguments& args) {
  const Stmt& stmt = *macro.macro;
  const size_t count = stmt.targets.size();
  if (args.positional.size() > count) {
    fail("macro '" + stmt.name + "' takes not more than " + std::to_string(count) + " argument(s)");
  }
  std::shared_ptr<Scope> closure = macro.closure.lock();
  if (!closure) fail("macro '" + stmt.name + "' called after the scope that defined it ended");
  auto scope = std::make_shared<Scope>(std::move(closure));
  const size_t first_default = count - stmt.exprs.size();
  for (size_t i = 0; i < count; ++i) {
    const std::string& param = stmt.targets[i];
    const Value* given = i < args.positional.size() ? &args.positional[i] : nullptr;
    for (const auto& [name, value] : args.keyword) {
      if (name == param) given = &value;
    }
    if (given) {
      scope->set(param, *given);
    } else if (i >= first_default) {
      scope->set(param, eval(*stmt.exprs[i - first_default], scope));
    } else {
      scope->set(param, Value(Undefined{"parameter '" + param + "' was not provided"}));
    }
  }
  for (const auto& [name, value] : args.keyword) {
    bool known = false;
    for (const std::string& param : stmt.targets) known = known || param == name;
    if (!known) fail("macro '" + stmt.name + "' takes no keyword argument '" + name + "'");
  }
  return Value(render_block(stmt.bodies[0], scope));
}

}  // namespace smoe::text::jinja
