// Jinja2's built-in filters (jinja2/filters.py) with Hugging Face's tojson, over this engine's
// values. Filters that return generators in Jinja2 (map, select, unique, items, reverse, ...)
// return generator values here too, so `|length` on them fails as it does there.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "text/jinja/builtins.h"
#include "text/jinja/operations.h"
#include "text/jinja/unicode.h"

namespace smoe::text::jinja {
namespace {

constexpr const char* kFilters[] = {
    "abs",  "attr",  "batch",   "capitalize", "center", "count",     "d",          "default", "dictsort", "e",
    "escape", "first", "float", "forceescape", "format", "indent",   "int",        "items",   "join",     "last",
    "length", "list", "lower",  "map",        "max",    "min",       "reject",     "rejectattr", "replace", "reverse",
    "round", "safe",  "select", "selectattr", "slice",  "sort",      "string",     "sum",     "title",    "tojson",
    "trim",  "truncate", "unique", "upper",   "wordcount"};

using Bound = std::vector<std::optional<Value>>;

std::string str_of(const std::optional<Value>& v, const char* fallback) { return v ? to_str(*v) : fallback; }

int64_t int_of(const std::optional<Value>& v, int64_t fallback, const char* what) {
  if (!v || v->is_none()) return fallback;
  if (v->is_float()) fail(std::string(what) + ": 'float' object cannot be interpreted as an integer");
  if (!v->is_int() && !v->is_bool()) fail(std::string(what) + ": '" + type_name(*v) + "' object cannot be interpreted as an integer");
  return v->to_int();
}

bool bool_of(const std::optional<Value>& v) { return v && truthy(*v); }

// Items of a value for filters that iterate it; generators included.
std::vector<Value> items_of(const Value& value) { return iterate(value); }

int64_t length_of(const Value& value) {
  if (value.is_undefined()) return 0;
  if (value.is_string()) return static_cast<int64_t>(unicode::length(value.as_string()));
  if (value.is_list() && !value.as_list().is_generator) return static_cast<int64_t>(value.as_list().items.size());
  if (value.is_dict()) return static_cast<int64_t>(value.as_dict().items.size());
  if (value.is_namespace()) fail("object of type 'Namespace' has no len()");
  fail("object of type '" + type_name(value) + "' has no len()");
}

// make_attrgetter: "a.b.0" looks up a, then b, then index 0.
std::vector<Value> attribute_parts(const Value& attribute) {
  if (attribute.is_none()) return {};
  if (!attribute.is_string()) return {attribute};
  std::vector<Value> parts;
  const std::string& path = attribute.as_string();
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    parts.push_back(digits && part.size() < 18 ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

Value lookup_path(Value item, const std::vector<Value>& parts, const std::optional<Value>& fallback = std::nullopt) {
  for (const Value& part : parts) {
    item = get_item(item, part);
    if (fallback && !fallback->is_none() && item.is_undefined()) item = *fallback;
  }
  return item;
}

Value ignore_case(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(unicode::lower(v.as_string()));
  return v;
}

// make_multi_attrgetter: a list of keys, one per comma-separated attribute.
Value sort_key(const Value& item, const std::optional<Value>& attribute, bool case_sensitive) {
  std::vector<Value> keys;
  if (attribute && attribute->is_string()) {
    const std::string& all = attribute->as_string();
    size_t start = 0;
    while (true) {
      const size_t comma = all.find(',', start);
      const Value one(all.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      keys.push_back(ignore_case(lookup_path(item, attribute_parts(one)), case_sensitive));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    keys.push_back(ignore_case(lookup_path(item, attribute_parts(attribute ? *attribute : Value(None{}))), case_sensitive));
  }
  return Value::list(std::move(keys));
}

// Python's sorted(): stable, and stable in reverse too.
std::vector<Value> sorted_by(std::vector<Value> items, const std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return reverse ? compare(keys[b], keys[a], "<") < 0 : compare(keys[a], keys[b], "<") < 0;
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(std::move(items[i]));
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  check_string_size(out.size());
  return out;
}

// Jinja's title filter: words begin after runs of whitespace, '-', '(', '{', '[' or '<'.
std::string jinja_title(const std::string& text) {
  std::string out;
  bool word_start = true;
  for (char32_t c : unicode::decode(text)) {
    const bool separator = unicode::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (separator) {
      unicode::append(out, c);
      word_start = true;
    } else if (word_start) {
      if (c == 0xDF) {
        out += "SS";
      } else {
        unicode::append(out, unicode::to_upper(c));
      }
      word_start = false;
    } else {
      unicode::append(out, unicode::to_lower(c));
    }
  }
  return out;
}

// Python's int(str, 10) and float(str): surrounding whitespace, a sign, digits with single
// underscores between them.
std::optional<Value> parse_python_int(const std::string& text) {
  const std::string s = unicode::strip(text, "", true, true);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i >= s.size()) return std::nullopt;
  // Magnitudes up to 2^63 fit; the sign decides whether the last one does.
  uint64_t magnitude = 0;
  bool previous_digit = false;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && previous_digit && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
      previous_digit = false;
      continue;
    }
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    if (magnitude > (uint64_t{1} << 63) / 10) fail("int(): value out of 64-bit range: " + text);
    magnitude = magnitude * 10 + static_cast<uint64_t>(s[i] - '0');
    if (magnitude > (uint64_t{1} << 63)) fail("int(): value out of 64-bit range: " + text);
    previous_digit = true;
  }
  if (!negative && magnitude == (uint64_t{1} << 63)) fail("int(): value out of 64-bit range: " + text);
  const int64_t value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return Value(value);
}

std::optional<double> parse_python_float(const std::string& text) {
  std::string s = unicode::strip(text, "", true, true);
  std::string cleaned;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    cleaned.push_back(s[i]);
  }
  if (cleaned.empty() || cleaned.find_first_of("xXpP") != std::string::npos) return std::nullopt;
  const std::string lower = unicode::lower(cleaned);
  const std::string unsigned_part = lower[0] == '+' || lower[0] == '-' ? lower.substr(1) : lower;
  const bool special = unsigned_part == "inf" || unsigned_part == "infinity" || unsigned_part == "nan";
  if (!special && unsigned_part.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(cleaned.c_str(), &end);
  if (end != cleaned.c_str() + cleaned.size()) return std::nullopt;
  return value;
}

Value filter_int(const Value& value, const Bound& a) {
  const Value fallback = a[0] ? *a[0] : Value(int64_t{0});
  if (a[1] && !(a[1]->is_int() && a[1]->as_int() == 10)) fail("unsupported argument: int filter with a base other than 10");
  if (value.is_int()) return value;
  if (value.is_bool()) return Value(value.to_int());
  if (value.is_float()) {
    const double f = value.as_float();
    if (std::isnan(f) || std::isinf(f)) fail("cannot convert float " + float_repr(f) + " to integer");
    if (std::fabs(f) >= 9.2e18) fail("int(): value out of 64-bit range");
    return Value(static_cast<int64_t>(f));
  }
  if (value.is_string()) {
    if (std::optional<Value> parsed = parse_python_int(value.as_string())) return *parsed;
    // "42.23"|int is 42: Jinja retries through float.
    if (std::optional<double> f = parse_python_float(value.as_string())) {
      if (std::isnan(*f) || std::isinf(*f) || std::fabs(*f) >= 9.2e18) return fallback;
      return Value(static_cast<int64_t>(*f));
    }
  }
  return fallback;
}

Value filter_float(const Value& value, const Bound& a) {
  const Value fallback = a[0] ? *a[0] : Value(0.0);
  if (value.is_number()) return Value(value.to_double());
  if (value.is_string()) {
    if (std::optional<double> f = parse_python_float(value.as_string())) return Value(*f);
  }
  return fallback;
}

Value filter_round(const Value& value, const Bound& a) {
  const int64_t precision = int_of(a[0], 0, "round");
  const std::string method = str_of(a[1], "common");
  if (method != "common" && method != "ceil" && method != "floor") fail("method must be common, ceil or floor");
  if (!value.is_number()) fail("type " + type_name(value) + " doesn't define __round__ method");
  if (precision < 0 || precision > 300) fail("unsupported argument: round precision " + std::to_string(precision));
  if (method == "common") {
    if (!value.is_float()) return Value(value.to_int());
    // printf rounds the exact binary value half-to-even, as Python's round() does.
    char buffer[512];
    std::snprintf(buffer, sizeof buffer, "%.*f", static_cast<int>(precision), value.as_float());
    return Value(std::strtod(buffer, nullptr));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = value.to_double() * scale;
  return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value filter_indent(const Value& value, const Bound& a) {
  std::string indention = "    ";
  if (a[0]) indention = a[0]->is_string() ? a[0]->as_string() : std::string(static_cast<size_t>(std::clamp<int64_t>(int_of(a[0], 4, "indent"), 0, 1 << 16)), ' ');
  const bool first = bool_of(a[1]), blank = bool_of(a[2]);
  std::string text = to_str(value) + "\n";
  // str.splitlines on the text plus a newline.
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      lines.push_back(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    if (i > 0 && (blank || !lines[i].empty())) out += indention;
    out += lines[i];
    check_string_size(out.size());
  }
  if (first) out = indention + out;
  return Value(std::move(out));
}

Value filter_truncate(const Value& value, const Bound& a) {
  const std::u32string s = unicode::decode(to_str(value));
  const int64_t length = int_of(a[0], 255, "truncate");
  const bool killwords = bool_of(a[1]);
  const std::string end = str_of(a[2], "...");
  const int64_t leeway = int_of(a[3], 5, "truncate");
  const int64_t end_length = static_cast<int64_t>(unicode::length(end));
  if (length < end_length) fail("expected length >= " + std::to_string(end_length) + ", got " + std::to_string(length));
  if (leeway < 0) fail("expected leeway >= 0, got " + std::to_string(leeway));
  if (static_cast<int64_t>(s.size()) <= length + leeway) return Value(unicode::encode(s));
  std::u32string head = s.substr(0, static_cast<size_t>(length - end_length));
  if (!killwords) {
    const size_t space = head.rfind(U' ');
    if (space != std::u32string::npos) head = head.substr(0, space);
  }
  return Value(unicode::encode(head) + end);
}

int64_t word_count(const std::string& text) {
  int64_t count = 0;
  bool in_word = false;
  for (char32_t c : unicode::decode(text)) {
    const bool word = (c < 0x80 ? (std::isalnum(static_cast<int>(c)) || c == '_') : !unicode::is_space(c));
    if (word && !in_word) ++count;
    in_word = word;
  }
  return count;
}

// select/reject/selectattr/rejectattr.
Value select_items(const Value& value, const Arguments& args, bool keep_when, bool by_attribute) {
  if (!truthy(value)) return Value::generator({});
  size_t first = 0;
  std::vector<Value> parts;
  if (by_attribute) {
    if (args.positional.empty()) fail("Missing parameter for attribute name");
    parts = attribute_parts(args.positional[0]);
    first = 1;
  }
  std::vector<Value> out;
  for (const Value& item : items_of(value)) {
    const Value subject = by_attribute ? lookup_path(item, parts) : item;
    bool passed;
    if (args.positional.size() > first) {
      Arguments test_args;
      test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(first) + 1, args.positional.end());
      test_args.keyword = args.keyword;
      passed = apply_test(to_str(args.positional[first]), subject, test_args);
    } else {
      passed = truthy(subject);
    }
    if (passed == keep_when) out.push_back(item);
  }
  return Value::generator(std::move(out));
}

Value filter_map(const Value& value, const Arguments& args) {
  if (!truthy(value)) return Value::generator({});
  std::vector<Value> out;
  if (args.positional.empty()) {
    std::optional<Value> attribute, fallback;
    for (const auto& [name, v] : args.keyword) {
      if (name == "attribute") {
        attribute = v;
      } else if (name == "default") {
        fallback = v;
      } else {
        fail("Unexpected keyword argument '" + name + "'");
      }
    }
    if (!attribute) fail("map requires a filter argument");
    const std::vector<Value> parts = attribute_parts(*attribute);
    for (const Value& item : items_of(value)) out.push_back(lookup_path(item, parts, fallback));
    return Value::generator(std::move(out));
  }
  const std::string name = to_str(args.positional[0]);
  if (!is_known_filter(name)) fail("No filter named '" + name + "'.");
  Arguments rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items_of(value)) out.push_back(apply_filter(name, item, rest));
  return Value::generator(std::move(out));
}

Value min_or_max(const Value& value, const Bound& a, bool is_max) {
  const std::vector<Value> items = items_of(value);
  if (items.empty()) return Value(Undefined{"No aggregated item, sequence was empty."});
  const bool case_sensitive = bool_of(a[0]);
  const std::vector<Value> parts = attribute_parts(a[1] ? *a[1] : Value(None{}));
  size_t best = 0;
  Value best_key = ignore_case(lookup_path(items[0], parts), case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = ignore_case(lookup_path(items[i], parts), case_sensitive);
    const int order = compare(key, best_key, is_max ? ">" : "<");
    if (is_max ? order > 0 : order < 0) best = i, best_key = std::move(key);
  }
  return items[best];
}

Value filter_tojson(const Value& value, const Bound& a) {
  JsonOptions options;
  options.ensure_ascii = bool_of(a[0]);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      options.indent = a[1]->as_string();
    } else {
      options.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(int_of(a[1], 0, "tojson indent"), 0, 1 << 10)), ' ');
    }
    options.item_separator = ",";
  }
  if (a[2] && !a[2]->is_none()) {
    const std::vector<Value> separators = iterate(*a[2]);
    if (separators.size() != 2) fail("tojson separators must be a pair of strings");
    options.item_separator = to_str(separators[0]);
    options.key_separator = to_str(separators[1]);
  }
  options.sort_keys = bool_of(a[3]);
  return Value(to_json(value, options));
}

Value filter_dictsort(const Value& value, const Bound& a) {
  if (!value.is_dict()) fail("dictsort: value must be a mapping, not " + type_name(value));
  const bool case_sensitive = bool_of(a[0]);
  const std::string by = str_of(a[1], "key");
  if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
  std::vector<Value> items, keys;
  for (const auto& [k, v] : value.as_dict().items) {
    items.push_back(Value::list({k, v}, true));
    keys.push_back(ignore_case(by == "key" ? k : v, case_sensitive));
  }
  return Value::list(sorted_by(std::move(items), keys, bool_of(a[2])));
}

Value filter_batch(const Value& value, const Bound& a, bool slice) {
  const int64_t count = int_of(a[0], 1, slice ? "slice" : "batch");
  if (count <= 0) fail(std::string(slice ? "slice" : "batch") + " needs a positive count");
  const std::vector<Value> items = items_of(value);
  std::vector<Value> groups;
  if (!slice) {
    for (size_t i = 0; i < items.size(); i += static_cast<size_t>(count)) {
      std::vector<Value> group(items.begin() + static_cast<std::ptrdiff_t>(i),
                               items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + static_cast<size_t>(count))));
      if (a[1] && !a[1]->is_none()) {
        while (group.size() < static_cast<size_t>(count)) group.push_back(*a[1]);
      }
      groups.push_back(Value::list(std::move(group)));
    }
    return Value::generator(std::move(groups));
  }
  check_list_size(static_cast<size_t>(std::min<int64_t>(count, kMaxListItems + 1)));
  const size_t n = items.size(), slices = static_cast<size_t>(count);
  const size_t per_slice = n / slices, with_extra = n % slices;
  size_t offset = 0;
  for (size_t s = 0; s < slices; ++s) {
    const size_t start = offset + s * per_slice;
    if (s < with_extra) ++offset;
    const size_t end = offset + (s + 1) * per_slice;
    std::vector<Value> group(items.begin() + static_cast<std::ptrdiff_t>(start), items.begin() + static_cast<std::ptrdiff_t>(end));
    if (a[1] && !a[1]->is_none() && s >= with_extra) group.push_back(*a[1]);
    groups.push_back(Value::list(std::move(group)));
  }
  return Value::generator(std::move(groups));
}

Value filter_sum(const Value& value, const Bound& a) {
  const std::vector<Value> parts = attribute_parts(a[0] ? *a[0] : Value(None{}));
  Value total = a[1] ? *a[1] : Value(int64_t{0});
  for (const Value& item : items_of(value)) total = binary_operation("+", total, lookup_path(item, parts));
  return total;
}

Value filter_unique(const Value& value, const Bound& a) {
  const bool case_sensitive = bool_of(a[0]);
  const std::vector<Value> parts = attribute_parts(a[1] ? *a[1] : Value(None{}));
  std::vector<Value> seen, out;
  for (const Value& item : items_of(value)) {
    Value key = ignore_case(lookup_path(item, parts), case_sensitive);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
    seen.push_back(std::move(key));
    out.push_back(item);
  }
  return Value::generator(std::move(out));
}

Value filter_reverse(const Value& value) {
  if (value.is_string()) {
    std::u32string s = unicode::decode(value.as_string());
    std::reverse(s.begin(), s.end());
    return Value(unicode::encode(s));
  }
  if (value.is_number() || value.is_none()) fail("argument must be iterable");
  std::vector<Value> items = items_of(value);
  std::reverse(items.begin(), items.end());
  if (value.is_list() && value.as_list().is_generator) return Value::list(std::move(items));
  return Value::generator(std::move(items));
}

Value filter_attr(const Value& value, const Value& name_value) {
  const std::string name = to_str(name_value);
  if (value.is_undefined()) fail_undefined(value);
  if (value.is_dict() || value.is_string() || value.is_list()) {
    // Only real attributes (methods) count here: no fallback to dict keys.
    if (std::optional<Value> method = get_attribute(value, name); method && method->is_callable()) return *method;
    return Value(Undefined{"'" + object_type_repr(value) + "' has no attribute '" + name + "'"});
  }
  return get_attribute(value, name);
}

}  // namespace

bool is_known_filter(std::string_view name) {
  return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

Value apply_filter(const std::string& name, const Value& value, const Arguments& args) {
  const std::string what = "filter '" + name + "'";
  const auto bind = [&](const std::vector<const char*>& names) { return bind_arguments(args, names, what); };
  if (name == "default" || name == "d") {
    const Bound a = bind({"default_value", "boolean"});
    if (value.is_undefined() || (bool_of(a[1]) && !truthy(value))) return a[0] ? *a[0] : Value("");
    return value;
  }
  if (name == "length" || name == "count") {
    bind({});
    return Value(length_of(value));
  }
  if (name == "string") {
    bind({});
    return Value(to_str(value));
  }
  if (name == "safe") {
    bind({});
    return value.is_string() ? value : Value(to_str(value));
  }
  if (name == "e" || name == "escape" || name == "forceescape") {
    bind({});
    return Value(html_escape(to_str(value)));
  }
  if (name == "trim") {
    const Bound a = bind({"chars"});
    const std::string chars = a[0] && !a[0]->is_none() ? to_str(*a[0]) : std::string();
    return Value(unicode::strip(to_str(value), chars, true, true));
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    bind({});
    const std::string text = to_str(value);
    if (name == "upper") return Value(unicode::upper(text));
    if (name == "lower") return Value(unicode::lower(text));
    if (name == "capitalize") return Value(unicode::capitalize(text));
    return Value(jinja_title(text));
  }
  if (name == "replace") {
    const Bound a = bind({"old", "new", "count"});
    if (!a[0] || !a[1]) fail(what + " needs old and new strings");
    Arguments method_args;
    method_args.positional = {Value(to_str(*a[0])), Value(to_str(*a[1]))};
    if (a[2] && !a[2]->is_none()) method_args.positional.push_back(*a[2]);
    return call_method(Value(to_str(value)), "replace", method_args);
  }
  if (name == "join") {
    const Bound a = bind({"d", "attribute"});
    const std::string separator = a[0] ? to_str(*a[0]) : "";
    const std::vector<Value> parts = attribute_parts(a[1] ? *a[1] : Value(None{}));
    std::string out;
    bool first = true;
    for (const Value& item : items_of(value)) {
      if (!first) out += separator;
      first = false;
      out += to_str(lookup_path(item, parts));
      check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "first") {
    bind({});
    if (value.is_list() || value.is_dict() || value.is_string() || value.is_undefined()) {
      const std::vector<Value> items = items_of(value);
      if (items.empty()) return Value(Undefined{"No first item, sequence was empty."});
      return items.front();
    }
    fail("'" + type_name(value) + "' object is not iterable");
  }
  if (name == "last") {
    bind({});
    if (value.is_list() && value.as_list().is_generator) fail("'generator' object is not reversible");
    const std::vector<Value> items = items_of(value);
    if (items.empty()) return Value(Undefined{"No last item, sequence was empty."});
    return items.back();
  }
  if (name == "list") {
    bind({});
    return Value::list(items_of(value));
  }
  if (name == "items") {
    bind({});
    if (value.is_undefined()) return Value::generator({});
    if (!value.is_dict()) fail("Can only get item pairs from a mapping.");
    std::vector<Value> pairs;
    for (const auto& [k, v] : value.as_dict().items) pairs.push_back(Value::list({k, v}, true));
    return Value::generator(std::move(pairs));
  }
  if (name == "int") return filter_int(value, bind({"default", "base"}));
  if (name == "float") return filter_float(value, bind({"default"}));
  if (name == "abs") {
    bind({});
    if (value.is_float()) return Value(std::fabs(value.as_float()));
    if (value.is_int() || value.is_bool()) {
      if (value.to_int() == INT64_MIN) fail("integer overflow: the result does not fit in 64 bits");
      return Value(value.to_int() < 0 ? -value.to_int() : value.to_int());
    }
    fail("bad operand type for abs(): '" + type_name(value) + "'");
  }
  if (name == "round") return filter_round(value, bind({"precision", "method"}));
  if (name == "tojson") return filter_tojson(value, bind({"ensure_ascii", "indent", "separators", "sort_keys"}));
  if (name == "sort") {
    const Bound a = bind({"reverse", "case_sensitive", "attribute"});
    std::vector<Value> items = items_of(value), keys;
    for (const Value& item : items) keys.push_back(sort_key(item, a[2], bool_of(a[1])));
    return Value::list(sorted_by(std::move(items), keys, bool_of(a[0])));
  }
  if (name == "dictsort") return filter_dictsort(value, bind({"case_sensitive", "by", "reverse"}));
  if (name == "unique") return filter_unique(value, bind({"case_sensitive", "attribute"}));
  if (name == "reverse") {
    bind({});
    return filter_reverse(value);
  }
  if (name == "min" || name == "max") return min_or_max(value, bind({"case_sensitive", "attribute"}), name == "max");
  if (name == "sum") return filter_sum(value, bind({"attribute", "start"}));
  if (name == "map") return filter_map(value, args);
  if (name == "select") return select_items(value, args, true, false);
  if (name == "reject") return select_items(value, args, false, false);
  if (name == "selectattr") return select_items(value, args, true, true);
  if (name == "rejectattr") return select_items(value, args, false, true);
  if (name == "batch") return filter_batch(value, bind({"linecount", "fill_with"}), false);
  if (name == "slice") return filter_batch(value, bind({"slices", "fill_with"}), true);
  if (name == "indent") return filter_indent(value, bind({"width", "first", "blank"}));
  if (name == "center") {
    const Bound a = bind({"width"});
    Arguments method_args;
    method_args.positional.push_back(a[0] ? *a[0] : Value(int64_t{80}));
    return call_method(Value(to_str(value)), "center", method_args);
  }
  if (name == "truncate") return filter_truncate(value, bind({"length", "killwords", "end", "leeway"}));
  if (name == "wordcount") {
    bind({});
    return Value(word_count(to_str(value)));
  }
  if (name == "format") {
    if (!args.positional.empty() && !args.keyword.empty()) {
      fail("can't handle positional and keyword arguments at the same time");
    }
    if (!args.keyword.empty()) {
      Dict kwargs;
      for (const auto& [k, v] : args.keyword) kwargs.set(Value(k), v);
      return Value(percent_format(to_str(value), Value::dict(std::move(kwargs))));
    }
    return Value(percent_format(to_str(value), Value::list(args.positional, true)));
  }
  if (name == "attr") {
    const Bound a = bind({"name"});
    if (!a[0]) fail(what + " needs an attribute name");
    return filter_attr(value, *a[0]);
  }
  fail("No filter named '" + name + "'.");
}

}  // namespace smoe::text::jinja
