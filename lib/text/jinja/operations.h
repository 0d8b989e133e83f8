// Python's operators on values (+ - * / // % ** unary -, `in`), with 64-bit integers that
// report overflow instead of wrapping, and size limits so a template cannot build strings or
// lists without bound.
#pragma once

#include <string>

#include "text/jinja/value.h"

namespace smoe::text::jinja {

// Largest string or list a template may build: a template that needs more is broken or hostile.
inline constexpr size_t kMaxStringBytes = size_t{64} << 20;
inline constexpr size_t kMaxListItems = size_t{1} << 20;

void check_string_size(size_t bytes);
void check_list_size(size_t items);

// `op` is the operator's spelling: "+", "-", "*", "/", "//", "%", "**".
Value binary_operation(const std::string& op, const Value& a, const Value& b);
Value negate(const Value& value);
Value unary_plus(const Value& value);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);
// Python's "text % args" printf-style formatting (the `format` filter and `%` on strings).
std::string percent_format(const std::string& format, const Value& args);

}  // namespace smoe::text::jinja
