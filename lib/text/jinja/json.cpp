// Python's json.dumps over template values: the text Hugging Face's tojson filter produces.
#include <cstdio>

#include "text/jinja/builtins.h"
#include "text/jinja/operations.h"
#include "text/jinja/unicode.h"

namespace smoe::text::jinja {
namespace {

void append_escaped(std::string& out, const std::string& text, bool ensure_ascii) {
  out.push_back('"');
  for (char32_t c : unicode::decode(text)) {
    char escape[16];
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        std::snprintf(escape, sizeof escape, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      }
      out += escape;
    } else {
      unicode::append(out, c);
    }
  }
  out.push_back('"');
}

std::string float_json(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return float_repr(value);
}

// JSON object keys: str as is; int, float, bool and None converted as json.dumps does.
std::string key_text(const Value& key) {
  if (key.is_string()) return key.as_string();
  if (key.is_bool()) return key.as_bool() ? "true" : "false";
  if (key.is_int()) return std::to_string(key.as_int());
  if (key.is_float()) return float_json(key.as_float());
  if (key.is_none()) return "null";
  fail("keys must be str, int, float, bool or None, not " + type_name(key));
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonOptions& options) : options_(options) {}

  void write(const Value& value, int level) {
    check_string_size(out_.size());
    if (value.is_none()) {
      out_ += "null";
    } else if (value.is_bool()) {
      out_ += value.as_bool() ? "true" : "false";
    } else if (value.is_int()) {
      out_ += std::to_string(value.as_int());
    } else if (value.is_float()) {
      out_ += float_json(value.as_float());
    } else if (value.is_string()) {
      append_escaped(out_, value.as_string(), options_.ensure_ascii);
    } else if (value.is_list() && !value.as_list().is_generator) {
      const auto& items = value.as_list().items;
      if (items.empty()) {
        out_ += "[]";
        return;
      }
      out_ += "[";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out_ += options_.item_separator;
        newline(level + 1);
        write(items[i], level + 1);
      }
      newline(level);
      out_ += "]";
    } else if (value.is_dict()) {
      std::vector<std::pair<Value, Value>> items = value.as_dict().items;
      if (items.empty()) {
        out_ += "{}";
        return;
      }
      if (options_.sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](const auto& a, const auto& b) { return compare(a.first, b.first, "<") < 0; });
      }
      out_ += "{";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out_ += options_.item_separator;
        newline(level + 1);
        append_escaped(out_, key_text(items[i].first), options_.ensure_ascii);
        out_ += options_.key_separator;
        write(items[i].second, level + 1);
      }
      newline(level);
      out_ += "}";
    } else {
      fail("Object of type " + type_name(value) + " is not JSON serializable");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void newline(int level) {
    if (!options_.indent) return;
    out_.push_back('\n');
    for (int i = 0; i < level; ++i) out_ += *options_.indent;
  }

  const JsonOptions& options_;
  std::string out_;
};

}  // namespace

std::string to_json(const Value& value, const JsonOptions& options) {
  JsonWriter writer(options);
  writer.write(value, 0);
  return writer.take();
}

}  // namespace smoe::text::jinja
