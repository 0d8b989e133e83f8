// Jinja2's built-in tests (jinja2/tests.py): `x is defined`, `x is string`, `x is equalto y`, ...
#include <algorithm>
#include <cmath>

#include "text/jinja/builtins.h"
#include "text/jinja/operations.h"
#include "text/jinja/unicode.h"

namespace smoe::text::jinja {
namespace {

constexpr const char* kTests[] = {
    "odd",     "even",    "divisibleby", "defined", "undefined", "filter",   "test",     "none",  "boolean",
    "false",   "true",    "integer",     "float",   "lower",     "upper",    "string",   "mapping", "number",
    "sequence", "iterable", "callable",  "sameas",  "escaped",   "in",       "==",       "eq",    "equalto",
    "!=",      "ne",      ">",           "gt",      "greaterthan", "ge",     ">=",       "<",     "lt",
    "lessthan", "<=",     "le"};

bool has_case(const std::string& text, bool upper) {
  bool any = false;
  for (char32_t c : unicode::decode(text)) {
    if (!unicode::is_cased(c)) continue;
    any = true;
    if (upper ? unicode::is_lower(c) : unicode::is_upper(c)) return false;
  }
  return any;
}

}  // namespace

bool is_known_test(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

bool apply_test(const std::string& name, const Value& value, const Arguments& args) {
  const std::string what = "test '" + name + "'";
  const bool compares = name == "==" || name == "eq" || name == "equalto" || name == "!=" || name == "ne" ||
                        name == ">" || name == "gt" || name == "greaterthan" || name == ">=" || name == "ge" ||
                        name == "<" || name == "lt" || name == "lessthan" || name == "<=" || name == "le" ||
                        name == "in" || name == "divisibleby" || name == "sameas";
  const auto a = bind_arguments(args, {compares ? "other" : "unused"}, what);
  if (compares) {
    if (!a[0]) fail(what + " missing 1 required positional argument");
    const Value& other = *a[0];
    if (name == "==" || name == "eq" || name == "equalto") return equals(value, other);
    if (name == "!=" || name == "ne") return !equals(value, other);
    if (name == "in") return contains(other, value);
    if (name == "sameas") {
      if (value.is_none() || other.is_none()) return value.is_none() && other.is_none();
      if (value.is_bool() && other.is_bool()) return value.as_bool() == other.as_bool();
      return false;
    }
    if (name == "divisibleby") {
      const Value remainder = binary_operation("%", value, other);
      return equals(remainder, Value(int64_t{0}));
    }
    const char* op = name == ">" || name == "gt" || name == "greaterthan" ? ">"
                     : name == ">=" || name == "ge"                        ? ">="
                     : name == "<" || name == "lt" || name == "lessthan"   ? "<"
                                                                           : "<=";
    const int order = compare(value, other, op);
    if (op[0] == '>') return op[1] ? order >= 0 : order > 0;
    return op[1] ? order <= 0 : order < 0;
  }
  if (a[0]) fail(what + " takes no arguments");
  if (name == "defined") return !value.is_undefined();
  if (name == "undefined") return value.is_undefined();
  if (name == "none") return value.is_none();
  if (name == "boolean") return value.is_bool();
  if (name == "true") return value.is_bool() && value.as_bool();
  if (name == "false") return value.is_bool() && !value.as_bool();
  if (name == "integer") return value.is_int();
  if (name == "float") return value.is_float();
  if (name == "number") return value.is_number();
  if (name == "string") return value.is_string();
  if (name == "mapping") return value.is_dict();
  if (name == "callable") return value.is_callable();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") return has_case(to_str(value), name == "upper");
  if (name == "sequence") {
    return value.is_string() || value.is_dict() || value.is_undefined() ||
           (value.is_list() && !value.as_list().is_generator);
  }
  if (name == "iterable") return value.is_string() || value.is_dict() || value.is_list() || value.is_undefined();
  if (name == "odd" || name == "even") {
    const Value remainder = binary_operation("%", value, Value(int64_t{2}));
    return equals(remainder, Value(int64_t{name == "odd" ? 1 : 0}));
  }
  if (name == "filter" || name == "test") {
    if (!value.is_string()) return false;
    return name == "filter" ? is_known_filter(value.as_string()) : is_known_test(value.as_string());
  }
  fail("No test named '" + name + "'.");
}

}  // namespace smoe::text::jinja
