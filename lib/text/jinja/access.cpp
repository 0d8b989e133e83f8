// Attribute, item and slice access as Jinja2's sandbox does them, the environment's global
// functions, and Python-style argument binding for filters, tests and methods.
#include <algorithm>
#include <ctime>

#include "text/jinja/builtins.h"
#include "text/jinja/methods.h"
#include "text/jinja/operations.h"
#include "text/jinja/unicode.h"

namespace smoe::text::jinja {
namespace {

// The sandbox's bound on range(): MAX_RANGE in jinja2/sandbox.py.
constexpr int64_t kMaxRange = 100000;

Value missing_attribute(const Value& object, const std::string& name) {
  return Value(Undefined{"'" + object_type_repr(object) + "' has no attribute '" + name + "'"});
}

Value missing_element(const Value& object, const Value& key) {
  if (key.is_string()) return missing_attribute(object, key.as_string());
  return Value(Undefined{object_type_repr(object) + " has no element " + repr(key)});
}

Value loop_attribute(const Value& loop_value, const std::string& name) {
  const LoopState& loop = loop_value.as_loop();
  const int64_t length = loop.length();
  if (name == "index") return Value(loop.index0 + 1);
  if (name == "index0") return Value(loop.index0);
  if (name == "revindex") return Value(length - loop.index0);
  if (name == "revindex0") return Value(length - loop.index0 - 1);
  if (name == "first") return Value(loop.index0 == 0);
  if (name == "last") return Value(loop.index0 == length - 1);
  if (name == "length") return Value(length);
  if (name == "depth") return Value(1);
  if (name == "depth0") return Value(0);
  if (name == "previtem") {
    if (loop.index0 == 0) return Value(Undefined{"there is no previous item"});
    return loop.items->items[static_cast<size_t>(loop.index0 - 1)];
  }
  if (name == "nextitem") {
    if (loop.index0 + 1 >= length) return Value(Undefined{"there is no next item"});
    return loop.items->items[static_cast<size_t>(loop.index0 + 1)];
  }
  if (name == "cycle") {
    auto cycle = std::make_shared<Callable>();
    cycle->kind = Callable::Kind::kLoopCycle;
    cycle->name = "cycle";
    cycle->self = std::make_shared<const Value>(loop_value);
    return Value(std::shared_ptr<const Callable>(std::move(cycle)));
  }
  if (name == "changed") fail("unsupported loop attribute: loop.changed");
  return missing_attribute(loop_value, name);
}

// Python's slice.indices(length) followed by the selection.
std::vector<size_t> slice_positions(size_t size, const Value& start_value, const Value& stop_value,
                                    const Value& step_value) {
  const auto as_index = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) fail("slice indices must be integers or None or have an __index__ method");
    return v.to_int();
  };
  const int64_t length = static_cast<int64_t>(size);
  const int64_t step = as_index(step_value).value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  const auto clamp = [&](std::optional<int64_t> index, int64_t fallback) {
    if (!index) return fallback;
    int64_t i = *index;
    if (i < 0) i += length;
    if (step > 0) return std::clamp<int64_t>(i, 0, length);
    return std::clamp<int64_t>(i, -1, length - 1);
  };
  const int64_t start = clamp(as_index(start_value), step > 0 ? 0 : length - 1);
  const int64_t stop = clamp(as_index(stop_value), step > 0 ? length : -1);
  std::vector<size_t> positions;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) positions.push_back(static_cast<size_t>(i));
  return positions;
}

int64_t range_argument(const Value& v) {
  if (!v.is_int() && !v.is_bool()) fail("'" + type_name(v) + "' object cannot be interpreted as an integer");
  return v.to_int();
}

Value make_range(const Arguments& args) {
  if (!args.keyword.empty()) fail("range() takes no keyword arguments");
  const size_t n = args.positional.size();
  if (n < 1 || n > 3) fail("range expected at most 3 arguments, got " + std::to_string(n));
  int64_t start = 0, stop, step = 1;
  if (n == 1) {
    stop = range_argument(args.positional[0]);
  } else {
    start = range_argument(args.positional[0]);
    stop = range_argument(args.positional[1]);
    if (n == 3) step = range_argument(args.positional[2]);
  }
  if (step == 0) fail("range() arg 3 must not be zero");
  // Count in unsigned 64-bit arithmetic: the arguments are arbitrary 64-bit integers.
  const bool ascending = step > 0;
  const uint64_t span = ascending ? (stop > start ? static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) : 0)
                                  : (start > stop ? static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) : 0);
  const uint64_t magnitude = ascending ? static_cast<uint64_t>(step) : 0 - static_cast<uint64_t>(step);
  const uint64_t count = span / magnitude + (span % magnitude != 0);
  if (count > static_cast<uint64_t>(kMaxRange)) {
    fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(kMaxRange) + ").");
  }
  std::vector<Value> items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) items.emplace_back(start + static_cast<int64_t>(i) * step);
  return Value::list(std::move(items));
}

// dict(...) and namespace(...): an optional mapping or list of pairs, then keyword arguments.
Dict dict_from(const Arguments& args, const std::string& what) {
  Dict dict;
  if (args.positional.size() > 1) fail(what + " expected at most 1 argument, got " + std::to_string(args.positional.size()));
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      dict = source.as_dict();
    } else {
      for (const Value& pair : iterate(source)) {
        if (!pair.is_list() || pair.as_list().items.size() != 2) {
          fail("dictionary update sequence element has wrong length; 2 is required");
        }
        dict.set(pair.as_list().items[0], pair.as_list().items[1]);
      }
    }
  }
  for (const auto& [name, value] : args.keyword) dict.set(Value(name), value);
  return dict;
}

}  // namespace

std::vector<std::optional<Value>> bind_arguments(const Arguments& args, const std::vector<const char*>& names,
                                                 const std::string& what) {
  if (args.positional.size() > names.size()) {
    fail(what + " takes at most " + std::to_string(names.size()) + " arguments (" +
         std::to_string(args.positional.size()) + " given)");
  }
  std::vector<std::optional<Value>> bound(names.size());
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    while (i < names.size() && name != names[i]) ++i;
    if (i == names.size()) fail(what + " got an unexpected keyword argument '" + name + "'");
    if (bound[i]) fail(what + " got multiple values for argument '" + name + "'");
    bound[i] = value;
  }
  return bound;
}

Value get_attribute(const Value& object, const std::string& name) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_loop()) return loop_attribute(object, name);
  if (object.is_namespace()) {
    const Value* value = object.as_namespace().find(name);
    return value ? *value : missing_attribute(object, name);
  }
  if (std::optional<Value> method = bound_method(object, name)) return *method;
  if (object.is_dict()) {
    const Value* value = object.as_dict().find(Value(name));
    if (value) return *value;
  }
  return missing_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_dict()) {
    if (const Value* value = object.as_dict().find(key)) return *value;
  } else if ((object.is_list() && !object.as_list().is_generator) || object.is_string()) {
    if (key.is_int() || key.is_bool()) {
      int64_t index = key.to_int();
      if (object.is_list()) {
        const auto size = static_cast<int64_t>(object.as_list().items.size());
        if (index < 0) index += size;
        if (index >= 0 && index < size) return object.as_list().items[static_cast<size_t>(index)];
      } else {
        const std::u32string text = unicode::decode(object.as_string());
        const auto size = static_cast<int64_t>(text.size());
        if (index < 0) index += size;
        if (index >= 0 && index < size) return Value(unicode::encode(text.substr(static_cast<size_t>(index), 1)));
      }
      return missing_element(object, key);
    }
  }
  // The sandbox falls back to the attribute of that name.
  if (key.is_string()) {
    if (object.is_loop() || object.is_namespace()) return get_attribute(object, key.as_string());
    if (std::optional<Value> method = bound_method(object, key.as_string())) return *method;
  }
  return missing_element(object, key);
}

Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step) {
  if (object.is_string()) {
    const std::u32string text = unicode::decode(object.as_string());
    std::u32string out;
    for (size_t i : slice_positions(text.size(), start, stop, step)) out.push_back(text[i]);
    return Value(unicode::encode(out));
  }
  if (object.is_list() && !object.as_list().is_generator) {
    const List& list = object.as_list();
    std::vector<Value> items;
    for (size_t i : slice_positions(list.items.size(), start, stop, step)) items.push_back(list.items[i]);
    return Value::list(std::move(items), list.is_tuple);
  }
  return Value(Undefined{"'" + type_name(object) + "' object is not subscriptable"});
}

std::optional<Value> global_function(const std::string& name) {
  static constexpr const char* kGlobals[] = {"range", "dict", "namespace", "raise_exception", "strftime_now"};
  for (const char* global : kGlobals) {
    if (name == global) {
      auto function = std::make_shared<Callable>();
      function->kind = Callable::Kind::kGlobal;
      function->name = name;
      return Value(std::shared_ptr<const Callable>(std::move(function)));
    }
  }
  return std::nullopt;
}

Value call_global(const std::string& name, const Arguments& args, std::time_t now) {
  if (name == "range") return make_range(args);
  if (name == "dict") return Value::dict(dict_from(args, "dict"));
  if (name == "namespace") {
    auto ns = std::make_shared<Namespace>();
    for (auto& [key, value] : dict_from(args, "namespace").items) ns->set(to_str(key), value);
    return Value(std::move(ns));
  }
  if (name == "raise_exception") {
    const auto bound = bind_arguments(args, {"message"}, "raise_exception()");
    if (!bound[0]) fail("raise_exception() missing 1 required positional argument: 'message'");
    fail(to_str(*bound[0]));
  }
  // strftime_now(format): datetime.now().strftime(format), local time.
  const auto bound = bind_arguments(args, {"format"}, "strftime_now()");
  if (!bound[0] || !bound[0]->is_string()) fail("strftime_now() needs a format string");
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[512];
  const size_t written = std::strftime(buffer, sizeof buffer, bound[0]->as_string().c_str(), &local);
  return Value(std::string(buffer, written));
}

}  // namespace smoe::text::jinja
