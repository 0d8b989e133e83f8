// Jinja2's built-in filters, tests and global functions, the Python methods templates call on
// strings, lists and dicts, and the sandbox's attribute and item lookup. The parser asks for
// the names so it can reject the others up front.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace smoe::text::jinja {

struct Arguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Binds `args` to a Python signature `names` (positional, then by keyword); a missing argument
// is nullopt. Raises on too many or unknown arguments, naming `what`.
std::vector<std::optional<Value>> bind_arguments(const Arguments& args, const std::vector<const char*>& names,
                                                 const std::string& what);

bool is_known_filter(std::string_view name);
bool is_known_test(std::string_view name);

Value apply_filter(const std::string& name, const Value& input, const Arguments& args);
bool apply_test(const std::string& name, const Value& input, const Arguments& args);

// The environment's globals other than macros: range, dict, namespace, raise_exception,
// strftime_now. Null when `name` is none of them.
std::optional<Value> global_function(const std::string& name);
Value call_global(const std::string& name, const Arguments& args, std::time_t now);
Value call_method(const Value& self, const std::string& name, const Arguments& args);

// The sandbox's getattr (x.name: a Python attribute or method first, then the item) and
// getitem (x[key]: the item first, then the attribute); Undefined when both fail.
Value get_attribute(const Value& object, const std::string& name);
Value get_item(const Value& object, const Value& key);
// x[start:stop:step] on strings, lists and tuples.
Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step);

// json.dumps(value, ensure_ascii, indent, separators, sort_keys) as Hugging Face's tojson calls it.
struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // per level; nullopt writes everything on one line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string to_json(const Value& value, const JsonOptions& options);

}  // namespace smoe::text::jinja
