// The values a template computes with, modelled on the Python objects Jinja2 hands around:
// None, bool, 64-bit int, float, str (UTF-8), list, tuple, dict (insertion-ordered), plus
// Jinja's Undefined, namespace(), macros, built-in functions, bound methods and `loop`.
// Lists, tuples and dicts are immutable once built (the template runs in Jinja2's immutable
// sandbox), so values share them; only a namespace is mutable, and shared by reference as in
// Python.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace smoe::text::jinja {

class Value;
struct Stmt;
class Scope;

inline constexpr int kMaxValueDepth = 200;

// Jinja2's Undefined: prints as "", iterates as empty, is false; most other uses raise
// UndefinedError with `message` ("'name' is undefined", "'dict object' has no attribute 'x'").
struct Undefined {
  std::string message;
};
struct None {};

struct List {
  std::vector<Value> items;
  bool is_tuple = false;
  // The generator a filter such as map or selectattr returns in Jinja2: iterable, always true,
  // but without a length or indexing.
  bool is_generator = false;
  // 1 + the deepest list or dict inside: values deeper than kMaxValueDepth are refused, so
  // printing, comparing and freeing them cannot exhaust the stack.
  int depth = 1;
};

struct Dict {
  std::vector<std::pair<Value, Value>> items;
  int depth = 1;
  // Python's dict lookup (1, 1.0 and True are the same key); null when absent.
  const Value* find(const Value& key) const;
  // Inserts or replaces, keeping the first insertion's position as Python does.
  void set(Value key, Value value);
};

// namespace(): the one mutable object, so loops can carry state out of their scope.
struct Namespace {
  std::vector<std::pair<std::string, Value>> attributes;
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);
};

// Something a template can call: a global (range, namespace, raise_exception, ...), a method
// bound to its receiver ("abc".upper), a macro with the scope it was defined in, or
// loop.cycle.
struct Callable {
  enum class Kind { kGlobal, kMethod, kMacro, kLoopCycle };
  Kind kind = Kind::kGlobal;
  std::string name;
  std::shared_ptr<const Value> self;
  const Stmt* macro = nullptr;
  // Weak: the scope holds the macro, so a strong pointer back would keep both alive forever.
  std::weak_ptr<Scope> closure;
};

// The `loop` variable of one iteration.
struct LoopState {
  int64_t index0 = 0;
  std::shared_ptr<const List> items;
  int64_t length() const;  // defined below, once Value is complete
};

class Value {
 public:
  using Storage = std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<const List>,
                               std::shared_ptr<const Dict>, std::shared_ptr<Namespace>,
                               std::shared_ptr<const Callable>, std::shared_ptr<const LoopState>>;

  Value() : storage_(Undefined{}) {}
  Value(None) : storage_(None{}) {}
  Value(Undefined u) : storage_(std::move(u)) {}
  Value(bool b) : storage_(b) {}
  Value(int64_t i) : storage_(i) {}
  Value(int i) : storage_(static_cast<int64_t>(i)) {}
  Value(double f) : storage_(f) {}
  Value(std::string s) : storage_(std::move(s)) {}
  Value(const char* s) : storage_(std::string(s)) {}
  Value(std::shared_ptr<const List> l) : storage_(std::move(l)) {}
  Value(std::shared_ptr<const Dict> d) : storage_(std::move(d)) {}
  Value(std::shared_ptr<Namespace> n) : storage_(std::move(n)) {}
  Value(std::shared_ptr<const Callable> c) : storage_(std::move(c)) {}
  Value(std::shared_ptr<const LoopState> l) : storage_(std::move(l)) {}

  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value generator(std::vector<Value> items);
  static Value dict(Dict dict);
  static Value from_json(const nlohmann::ordered_json& json, int depth = 0);
  // Lists and dicts nested inside this value, counting itself (0 for scalars).
  int depth() const;

  bool is_undefined() const { return std::holds_alternative<Undefined>(storage_); }
  bool is_none() const { return std::holds_alternative<None>(storage_); }
  bool is_bool() const { return std::holds_alternative<bool>(storage_); }
  bool is_int() const { return std::holds_alternative<int64_t>(storage_); }
  bool is_float() const { return std::holds_alternative<double>(storage_); }
  // int, float or bool (bool is an int subclass in Python).
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return std::holds_alternative<std::string>(storage_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<const List>>(storage_); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<const Dict>>(storage_); }
  bool is_namespace() const { return std::holds_alternative<std::shared_ptr<Namespace>>(storage_); }
  bool is_callable() const { return std::holds_alternative<std::shared_ptr<const Callable>>(storage_); }
  bool is_loop() const { return std::holds_alternative<std::shared_ptr<const LoopState>>(storage_); }

  bool as_bool() const { return std::get<bool>(storage_); }
  int64_t as_int() const { return std::get<int64_t>(storage_); }
  double as_float() const { return std::get<double>(storage_); }
  const std::string& as_string() const { return std::get<std::string>(storage_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(storage_); }
  const std::shared_ptr<const List>& list_ptr() const { return std::get<std::shared_ptr<const List>>(storage_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(storage_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(storage_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(storage_); }
  const LoopState& as_loop() const { return *std::get<std::shared_ptr<const LoopState>>(storage_); }
  const Undefined& as_undefined() const { return std::get<Undefined>(storage_); }

  // Numeric value of an int, float or bool.
  double to_double() const;
  // Integer value of an int or bool.
  int64_t to_int() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }

 private:
  Storage storage_;
};

// Throws smoe::Error("chat template", message): the one way a render fails.
[[noreturn]] void fail(const std::string& message);
// Raises the UndefinedError an Undefined carries.
[[noreturn]] void fail_undefined(const Value& undefined);

// Python's type(x).__name__ ("str", "int", "dict", "NoneType", ...).
std::string type_name(const Value& value);
// Jinja's object_type_repr: "dict object", "None", ... for undefined-attribute messages.
std::string object_type_repr(const Value& value);
// Python's bool(x).
bool truthy(const Value& value);
// Python's str(x) and repr(x); Undefined prints as "".
std::string to_str(const Value& value);
std::string repr(const Value& value);
std::string float_repr(double value);
std::string string_repr(const std::string& text);
// Python's ==.
bool equals(const Value& a, const Value& b);
// Python's ordering (<0, 0, >0); raises TypeError-like errors for unorderable pairs. `op` names
// the operator for the message.
int compare(const Value& a, const Value& b, const char* op);
// The items `for x in value` visits: list items, dict keys, string characters; Undefined
// gives none. Raises for values that are not iterable.
std::vector<Value> iterate(const Value& value);

inline int64_t LoopState::length() const { return static_cast<int64_t>(items->items.size()); }

}  // namespace smoe::text::jinja
