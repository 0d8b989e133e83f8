// Python's semantics for the value model: truthiness, str/repr, equality, ordering, iteration.
#include "text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "smoe/error.h"
#include "text/jinja/unicode.h"

namespace smoe::text::jinja {

void fail(const std::string& message) { throw Error("chat template", message); }

void fail_undefined(const Value& undefined) { fail(undefined.as_undefined().message); }

namespace {

int deepest(const std::vector<Value>& items) {
  int depth = 0;
  for (const Value& item : items) depth = std::max(depth, item.depth());
  if (depth >= kMaxValueDepth) fail("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  return depth + 1;
}

}  // namespace

int Value::depth() const {
  if (is_list()) return as_list().depth;
  if (is_dict()) return as_dict().depth;
  return 0;
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
  auto list = std::make_shared<List>();
  list->depth = deepest(items);
  list->items = std::move(items);
  list->is_tuple = is_tuple;
  return Value(std::shared_ptr<const List>(std::move(list)));
}

Value Value::generator(std::vector<Value> items) {
  auto list = std::make_shared<List>();
  list->depth = deepest(items);
  list->items = std::move(items);
  list->is_generator = true;
  return Value(std::shared_ptr<const List>(std::move(list)));
}

Value Value::dict(Dict dict) {
  int depth = 0;
  for (const auto& [key, value] : dict.items) depth = std::max({depth, key.depth(), value.depth()});
  if (depth >= kMaxValueDepth) fail("value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  dict.depth = depth + 1;
  return Value(std::shared_ptr<const Dict>(std::make_shared<Dict>(std::move(dict))));
}

Value Value::from_json(const nlohmann::ordered_json& json, int depth) {
  if (depth >= kMaxValueDepth) fail("template variables nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value(None{});
    case nlohmann::ordered_json::value_t::boolean:
      return Value(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json(item, depth + 1));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict dict;
      dict.items.reserve(json.size());
      // JSON object keys are unique, so no lookup is needed while building.
      for (const auto& [key, item] : json.items()) dict.items.emplace_back(Value(key), from_json(item, depth + 1));
      return Value::dict(std::move(dict));
    }
    default:
      fail("unsupported JSON value of type " + std::string(json.type_name()));
  }
}

double Value::to_double() const {
  if (is_float()) return as_float();
  return static_cast<double>(to_int());
}

const Value* Dict::find(const Value& key) const {
  for (const auto& [k, v] : items) {
    if (equals(k, key)) return &v;
  }
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

const Value* Namespace::find(const std::string& name) const {
  for (const auto& [k, v] : attributes) {
    if (k == name) return &v;
  }
  return nullptr;
}

void Namespace::set(const std::string& name, Value value) {
  for (auto& [k, v] : attributes) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  attributes.emplace_back(name, std::move(value));
}

std::string type_name(const Value& value) {
  if (value.is_undefined()) return "Undefined";
  if (value.is_none()) return "NoneType";
  if (value.is_bool()) return "bool";
  if (value.is_int()) return "int";
  if (value.is_float()) return "float";
  if (value.is_string()) return "str";
  if (value.is_list()) {
    if (value.as_list().is_generator) return "generator";
    return value.as_list().is_tuple ? "tuple" : "list";
  }
  if (value.is_dict()) return "dict";
  if (value.is_namespace()) return "Namespace";
  if (value.is_loop()) return "LoopContext";
  const Callable& callable = value.as_callable();
  if (callable.kind == Callable::Kind::kMacro) return "Macro";
  return callable.kind == Callable::Kind::kGlobal ? "function" : "builtin_function_or_method";
}

std::string object_type_repr(const Value& value) {
  if (value.is_none()) return "None";
  if (value.is_namespace()) return "jinja2.utils.Namespace object";
  if (value.is_loop()) return "jinja2.runtime.LoopContext object";
  if (value.is_callable() && value.as_callable().kind == Callable::Kind::kMacro) return "jinja2.runtime.Macro object";
  return type_name(value) + " object";
}

bool truthy(const Value& value) {
  if (value.is_undefined() || value.is_none()) return false;
  if (value.is_bool()) return value.as_bool();
  if (value.is_int()) return value.as_int() != 0;
  if (value.is_float()) return value.as_float() != 0.0;
  if (value.is_string()) return !value.as_string().empty();
  if (value.is_list()) return value.as_list().is_generator || !value.as_list().items.empty();
  if (value.is_dict()) return !value.as_dict().items.empty();
  return true;
}

std::string float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // The shortest digits that round-trip, placed as Python's repr places them: positional when
  // the decimal exponent is in (-4, 16], scientific otherwise.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string text(buffer, result.ptr);
  const size_t e = text.find('e');
  std::string digits;
  bool negative = false;
  for (size_t i = 0; i < e; ++i) {
    if (text[i] == '-') negative = true;
    if (text[i] >= '0' && text[i] <= '9') digits.push_back(text[i]);
  }
  const int exponent = std::stoi(text.substr(e + 1));
  const int point = exponent + 1;  // value = 0.DIGITS x 10^point
  const int count = static_cast<int>(digits.size());
  std::string out = negative ? "-" : "";
  if (point > -4 && point <= 16) {
    if (point <= 0) {
      out += "0." + std::string(-point, '0') + digits;
    } else if (point >= count) {
      out += digits + std::string(point - count, '0') + ".0";
    } else {
      out += digits.substr(0, point) + "." + digits.substr(point);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (count > 1) out += "." + digits.substr(1);
  char exponent_text[16];
  std::snprintf(exponent_text, sizeof exponent_text, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exponent_text;
}

std::string string_repr(const std::string& text) {
  const bool has_single = text.find('\'') != std::string::npos;
  const bool has_double = text.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : unicode::decode(text)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (unicode::is_printable(c)) {
      unicode::append(out, c);
    } else {
      char escape[16];
      if (c < 0x100) {
        std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(c));
      } else if (c < 0x10000) {
        std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      } else {
        std::snprintf(escape, sizeof escape, "\\U%08x", static_cast<unsigned>(c));
      }
      out += escape;
    }
  }
  out += quote;
  return out;
}

std::string repr(const Value& value) {
  if (value.is_string()) return string_repr(value.as_string());
  if (value.is_undefined()) return "Undefined";
  if (value.is_list()) {
    const List& list = value.as_list();
    if (list.is_generator) return "<generator object>";
    std::string out = list.is_tuple ? "(" : "[";
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (i) out += ", ";
      out += repr(list.items[i]);
    }
    if (list.is_tuple && list.items.size() == 1) out += ",";
    return out + (list.is_tuple ? ")" : "]");
  }
  if (value.is_dict()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : value.as_dict().items) {
      if (!first) out += ", ";
      first = false;
      out += repr(k) + ": " + repr(v);
    }
    return out + "}";
  }
  if (value.is_namespace()) {
    std::string out = "<Namespace {";
    bool first = true;
    for (const auto& [k, v] : value.as_namespace().attributes) {
      if (!first) out += ", ";
      first = false;
      out += string_repr(k) + ": " + repr(v);
    }
    return out + "}>";
  }
  if (value.is_loop()) {
    const LoopState& loop = value.as_loop();
    return "<LoopContext " + std::to_string(loop.index0 + 1) + "/" + std::to_string(loop.length()) + ">";
  }
  if (value.is_callable()) {
    const Callable& callable = value.as_callable();
    if (callable.kind == Callable::Kind::kMacro) return "<Macro '" + callable.name + "'>";
    return "<function " + callable.name + ">";
  }
  return to_str(value);
}

std::string to_str(const Value& value) {
  if (value.is_string()) return value.as_string();
  if (value.is_undefined()) return "";
  if (value.is_none()) return "None";
  if (value.is_bool()) return value.as_bool() ? "True" : "False";
  if (value.is_int()) return std::to_string(value.as_int());
  if (value.is_float()) return float_repr(value.as_float());
  return repr(value);
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    return a.to_int() == b.to_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_none() && b.is_none()) return true;
  if (a.is_undefined() && b.is_undefined()) return true;
  if (a.is_list() && b.is_list()) {
    const List& x = a.as_list();
    const List& y = b.as_list();
    if (x.is_generator || y.is_generator) return &x == &y;
    if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
    for (size_t i = 0; i < x.items.size(); ++i) {
      if (!equals(x.items[i], y.items[i])) return false;
    }
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    const Dict& x = a.as_dict();
    const Dict& y = b.as_dict();
    if (x.items.size() != y.items.size()) return false;
    for (const auto& [k, v] : x.items) {
      const Value* other = y.find(k);
      if (!other || !equals(v, *other)) return false;
    }
    return true;
  }
  if (a.is_namespace() && b.is_namespace()) return &a.as_namespace() == &b.as_namespace();
  if (a.is_callable() && b.is_callable()) return &a.as_callable() == &b.as_callable();
  return false;
}

int compare(const Value& a, const Value& b, const char* op) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.to_double(), y = b.to_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const int64_t x = a.to_int(), y = b.to_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  // UTF-8 byte order is code point order, which is Python's string order.
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
    const List& x = a.as_list();
    const List& y = b.as_list();
    for (size_t i = 0; i < x.items.size() && i < y.items.size(); ++i) {
      if (!equals(x.items[i], y.items[i])) return compare(x.items[i], y.items[i], op);
    }
    return x.items.size() < y.items.size() ? -1 : (x.items.size() > y.items.size() ? 1 : 0);
  }
  fail("'" + std::string(op) + "' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) +
       "'");
}

std::vector<Value> iterate(const Value& value) {
  if (value.is_undefined()) return {};
  if (value.is_list()) return value.as_list().items;
  if (value.is_dict()) {
    std::vector<Value> keys;
    keys.reserve(value.as_dict().items.size());
    for (const auto& item : value.as_dict().items) keys.push_back(item.first);
    return keys;
  }
  if (value.is_string()) {
    std::vector<Value> characters;
    for (char32_t c : unicode::decode(value.as_string())) {
      std::string character;
      unicode::append(character, c);
      characters.emplace_back(std::move(character));
    }
    return characters;
  }
  fail("'" + type_name(value) + "' object is not iterable");
}

}  // namespace smoe::text::jinja
