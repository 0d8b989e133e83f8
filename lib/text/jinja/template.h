// A Jinja template engine for chat templates: the subset of Jinja2 that the chat templates of
// released models use, rendering byte for byte as Python's Jinja2 does in Hugging Face's
// environment (trim_blocks, lstrip_blocks, loop controls, tojson as
// json.dumps(ensure_ascii=False), raise_exception). Parse once, render many times; a parsed
// Template is immutable and thread-safe.
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace smoe::text::jinja {

class Template {
 public:
  // Parses `source`. Throws smoe::Error("chat template", "line L: ...") naming the construct
  // when it is not valid Jinja or uses something this engine does not implement.
  static std::shared_ptr<const Template> parse(std::string_view source);
  virtual ~Template() = default;
  // Renders with `variables` as the template's globals (objects keep their key order, as
  // Python dicts do). Throws smoe::Error("chat template", message) when the template calls
  // raise_exception(message) or an operation fails (wrong types, undefined attributes of
  // undefined values, ...), as Jinja2 would raise.
  // strftime_now() formats `now` (local time); the overload without it, the current time.
  virtual std::string render(const nlohmann::ordered_json& variables, std::time_t now) const = 0;
  std::string render(const nlohmann::ordered_json& variables) const { return render(variables, std::time(nullptr)); }
};

}  // namespace smoe::text::jinja
