// Python's methods on str, list and dict that templates call (message.content.strip(),
// messages[0].get('x'), tool.items()), bound to their receiver on attribute access.
#pragma once

#include <optional>
#include <string>

#include "text/jinja/builtins.h"
#include "text/jinja/value.h"

namespace smoe::text::jinja {

// The method `name` of `object` as a callable, an Undefined that raises the sandbox's
// SecurityError for mutating methods (list.append, dict.update, ...), or nullopt when the
// type has no such attribute.
std::optional<Value> bound_method(const Value& object, const std::string& name);

}  // namespace smoe::text::jinja
