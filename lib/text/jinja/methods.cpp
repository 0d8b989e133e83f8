// str, list and dict methods with Python's semantics.
#include "text/jinja/methods.h"

#include <algorithm>

#include "text/jinja/operations.h"
#include "text/jinja/unicode.h"

namespace smoe::text::jinja {
namespace {

// Every attribute Python's str, list and dict have that is a method: the sandbox hands these
// out as bound methods before it looks at dict keys of the same name.
constexpr const char* kStrMethods[] = {
    "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
    "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
    "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
    "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill"};
constexpr const char* kListMethods[] = {"append", "clear", "copy", "count", "extend", "index",
                                        "insert", "pop", "remove", "reverse", "sort"};
constexpr const char* kListMutating[] = {"append", "reverse", "insert", "sort", "extend", "remove"};
constexpr const char* kDictMethods[] = {"clear", "copy", "fromkeys", "get", "items", "keys",
                                        "pop", "popitem", "setdefault", "update", "values"};
constexpr const char* kDictMutating[] = {"clear", "pop", "popitem", "setdefault", "update"};

template <size_t N>
bool listed(const char* const (&names)[N], const std::string& name) {
  return std::find_if(std::begin(names), std::end(names), [&](const char* n) { return name == n; }) != std::end(names);
}

[[noreturn]] void unsupported(const Value& self, const std::string& name) {
  fail("unsupported method: " + type_name(self) + "." + name + "()");
}

const std::string& string_argument(const std::optional<Value>& v, const char* what) {
  if (!v || !v->is_string()) fail(std::string(what) + " must be str, not " + (v ? type_name(*v) : "nothing"));
  return v->as_string();
}

// `chars` argument of strip: None or missing means whitespace.
std::string strip_chars(const std::optional<Value>& v) {
  if (!v || v->is_none()) return {};
  return string_argument(v, "strip arg");
}

int64_t int_argument(const std::optional<Value>& v, int64_t fallback) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool()) fail("'" + type_name(*v) + "' object cannot be interpreted as an integer");
  return v->to_int();
}

std::vector<Value> split(const std::string& text, const std::optional<Value>& sep_value, int64_t maxsplit,
                         bool from_right) {
  std::vector<std::string> parts;
  if (!sep_value || sep_value->is_none()) {
    // Runs of whitespace separate; leading and trailing whitespace gives no empty parts.
    const std::u32string s = unicode::decode(text);
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && unicode::is_space(s[i])) ++i;
      if (i >= s.size()) break;
      size_t j = i;
      while (j < s.size() && !unicode::is_space(s[j])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
    const size_t limit = maxsplit < 0 ? words.size() : std::min<size_t>(words.size(), static_cast<size_t>(maxsplit) + 1);
    std::vector<Value> out;
    if (words.empty()) return out;
    if (!from_right) {
      for (size_t k = 0; k + 1 < limit; ++k) out.emplace_back(unicode::encode(s.substr(words[k].first, words[k].second - words[k].first)));
      const size_t start = words[limit - 1].first;
      size_t end = s.size();
      while (end > start && unicode::is_space(s[end - 1])) --end;
      out.emplace_back(unicode::encode(s.substr(start, end - start)));
    } else {
      const size_t first = words.size() - limit;
      size_t begin = 0;
      while (begin < words[first].second && unicode::is_space(s[begin])) ++begin;
      out.emplace_back(unicode::encode(s.substr(begin, words[first].second - begin)));
      for (size_t k = first + 1; k < words.size(); ++k) out.emplace_back(unicode::encode(s.substr(words[k].first, words[k].second - words[k].first)));
    }
    return out;
  }
  const std::string& sep = string_argument(sep_value, "separator");
  if (sep.empty()) fail("empty separator");
  if (!from_right) {
    size_t start = 0;
    for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
      const size_t at = text.find(sep, start);
      if (at == std::string::npos) break;
      parts.push_back(text.substr(start, at - start));
      start = at + sep.size();
    }
    parts.push_back(text.substr(start));
  } else {
    size_t end = text.size();
    for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
      if (end < sep.size()) break;
      const size_t at = text.rfind(sep, end - sep.size());
      if (at == std::string::npos) break;
      parts.insert(parts.begin(), text.substr(at + sep.size(), end - at - sep.size()));
      end = at;
    }
    parts.insert(parts.begin(), text.substr(0, end));
  }
  std::vector<Value> out;
  for (std::string& part : parts) out.emplace_back(std::move(part));
  return out;
}

// startswith/endswith with a str or a tuple of str.
bool affix_matches(const std::string& text, const Value& affix, bool prefix) {
  if (affix.is_list() && affix.as_list().is_tuple) {
    for (const Value& item : affix.as_list().items) {
      if (affix_matches(text, item, prefix)) return true;
    }
    return false;
  }
  if (!affix.is_string()) {
    fail(std::string(prefix ? "startswith" : "endswith") + " first arg must be str or a tuple of str, not " +
         type_name(affix));
  }
  const std::string& a = affix.as_string();
  if (a.size() > text.size()) return false;
  return prefix ? text.compare(0, a.size(), a) == 0 : text.compare(text.size() - a.size(), a.size(), a) == 0;
}

std::string replace(const std::string& text, const std::string& old, const std::string& replacement, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement between every character and at both ends.
    const std::u32string s = unicode::decode(text);
    int64_t done = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      if (i < s.size()) unicode::append(out, s[i]);
      check_string_size(out.size());
    }
    return out;
  }
  size_t start = 0;
  for (int64_t n = 0; count < 0 || n < count; ++n) {
    const size_t at = text.find(old, start);
    if (at == std::string::npos) break;
    out.append(text, start, at - start);
    out += replacement;
    check_string_size(out.size());
    start = at + old.size();
  }
  out.append(text, start);
  return out;
}

// A str.format subset: {} {0} {name} and {{ }}, without format specs or field attributes.
std::string format(const std::string& text, const Arguments& args) {
  std::string out;
  size_t next_index = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '}') fail("Single '}' encountered in format string");
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    const size_t close = text.find('}', i);
    if (close == std::string::npos) fail("Single '{' encountered in format string");
    const std::string field = text.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) fail("unsupported str.format field: {" + field + "}");
    const Value* value = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      const size_t index = field.empty() ? next_index++ : std::stoul(field.substr(0, 9));
      if (index >= args.positional.size()) fail("Replacement index " + std::to_string(index) + " out of range for positional args tuple");
      value = &args.positional[index];
    } else {
      for (const auto& [name, v] : args.keyword) {
        if (name == field) value = &v;
      }
      if (!value) fail("KeyError: '" + field + "'");
    }
    out += to_str(*value);
    check_string_size(out.size());
    i = close;
  }
  return out;
}

std::string pad(const std::string& text, int64_t width, const std::optional<Value>& fill_value, char align) {
  std::string fill = " ";
  if (fill_value) {
    fill = string_argument(fill_value, "fill character");
    if (unicode::length(fill) != 1) fail("The fill character must be exactly one character long");
  }
  const int64_t length = static_cast<int64_t>(unicode::length(text));
  if (width <= length) return text;
  check_string_size(static_cast<size_t>(width) * fill.size());
  const int64_t total = width - length;
  // str.center puts the extra character on the left when the text length is odd.
  int64_t left = align == '<' ? 0 : align == '>' ? total : total / 2 + (total & length & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += text;
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return out;
}

template <typename Predicate>
Value all_chars(const std::string& text, Predicate predicate) {
  const std::u32string s = unicode::decode(text);
  if (s.empty()) return Value(false);
  return Value(std::all_of(s.begin(), s.end(), predicate));
}

Value call_str_method(const std::string& text, const Value& self, const std::string& name, const Arguments& args) {
  const std::string what = "str." + name + "()";
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto a = bind_arguments(args, {"chars"}, what);
    return Value(unicode::strip(text, strip_chars(a[0]), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    const auto a = bind_arguments(args, {"sep", "maxsplit"}, what);
    return Value::list(split(text, a[0], int_argument(a[1], -1), name == "rsplit"));
  }
  if (name == "splitlines") {
    const auto a = bind_arguments(args, {"keepends"}, what);
    const bool keep_ends = a[0] && truthy(*a[0]);
    std::vector<Value> lines;
    size_t start = 0, i = 0;
    while (i < text.size()) {
      if (text[i] != '\n' && text[i] != '\r') {
        ++i;
        continue;
      }
      const size_t line_break = text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n' ? 2 : 1;
      lines.emplace_back(text.substr(start, (keep_ends ? i + line_break : i) - start));
      i += line_break;
      start = i;
    }
    if (start < text.size()) lines.emplace_back(text.substr(start));
    return Value::list(std::move(lines));
  }
  if (name == "startswith" || name == "endswith") {
    const auto a = bind_arguments(args, {"prefix", "start", "end"}, what);
    if (!a[0]) fail(what + " takes at least 1 argument (0 given)");
    if (a[1] || a[2]) fail("unsupported arguments: " + what + " with start or end");
    return Value(affix_matches(text, *a[0], name == "startswith"));
  }
  if (name == "upper" || name == "lower" || name == "casefold" || name == "title" || name == "capitalize" ||
      name == "swapcase") {
    bind_arguments(args, {}, what);
    if (name == "upper") return Value(unicode::upper(text));
    if (name == "title") return Value(unicode::title(text));
    if (name == "capitalize") return Value(unicode::capitalize(text));
    if (name == "swapcase") {
      std::string out;
      for (char32_t c : unicode::decode(text)) unicode::append(out, unicode::is_upper(c) ? unicode::to_lower(c) : unicode::to_upper(c));
      return Value(std::move(out));
    }
    return Value(unicode::lower(text));
  }
  if (name == "replace") {
    const auto a = bind_arguments(args, {"old", "new", "count"}, what);
    return Value(replace(text, string_argument(a[0], "replace() argument 1"), string_argument(a[1], "replace() argument 2"),
                         int_argument(a[2], -1)));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const auto a = bind_arguments(args, {"sub", "start", "end"}, what);
    if (a[1] || a[2]) fail("unsupported arguments: " + what + " with start or end");
    const std::string& sub = string_argument(a[0], "argument");
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(unicode::length(text) + 1));
      int64_t n = 0;
      for (size_t at = text.find(sub); at != std::string::npos; at = text.find(sub, at + sub.size())) ++n;
      return Value(n);
    }
    const size_t at = name[0] == 'r' ? text.rfind(sub) : text.find(sub);
    if (at == std::string::npos) {
      if (name == "index" || name == "rindex") fail("substring not found");
      return Value(int64_t{-1});
    }
    return Value(static_cast<int64_t>(unicode::length(std::string_view(text).substr(0, at))));
  }
  if (name == "join") {
    const auto a = bind_arguments(args, {"iterable"}, what);
    if (!a[0]) fail(what + " takes exactly one argument (0 given)");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(*a[0])) {
      if (!item.is_string()) fail("sequence item: expected str instance, " + type_name(item) + " found");
      if (!first) out += text;
      first = false;
      out += item.as_string();
      check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "format") return Value(format(text, args));
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") {
    return all_chars(text, [](char32_t c) { return c >= '0' && c <= '9'; });
  }
  if (name == "isalpha") return all_chars(text, [](char32_t c) { return unicode::is_cased(c); });
  if (name == "isalnum") return all_chars(text, [](char32_t c) { return unicode::is_cased(c) || (c >= '0' && c <= '9'); });
  if (name == "isspace") return all_chars(text, [](char32_t c) { return unicode::is_space(c); });
  if (name == "isupper" || name == "islower") {
    const std::u32string s = unicode::decode(text);
    bool any_cased = false, all_match = true;
    for (char32_t c : s) {
      if (!unicode::is_cased(c)) continue;
      any_cased = true;
      all_match = all_match && (name == "isupper" ? unicode::is_upper(c) : unicode::is_lower(c));
    }
    return Value(any_cased && all_match);
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    const auto a = bind_arguments(args, {"width", "fillchar"}, what);
    if (!a[0]) fail(what + " takes at least 1 argument (0 given)");
    return Value(pad(text, int_argument(a[0], 0), a[1], name == "ljust" ? '<' : name == "rjust" ? '>' : '^'));
  }
  if (name == "zfill") {
    const auto a = bind_arguments(args, {"width"}, what);
    const int64_t width = int_argument(a[0], 0);
    const int64_t length = static_cast<int64_t>(unicode::length(text));
    if (width <= length) return Value(text);
    check_string_size(static_cast<size_t>(width));
    const bool sign = !text.empty() && (text[0] == '-' || text[0] == '+');
    return Value(text.substr(0, sign ? 1 : 0) + std::string(static_cast<size_t>(width - length), '0') + text.substr(sign ? 1 : 0));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const auto a = bind_arguments(args, {"affix"}, what);
    const std::string& affix = string_argument(a[0], what.c_str());
    if (!affix_matches(text, Value(affix), name == "removeprefix")) return Value(text);
    return Value(name == "removeprefix" ? text.substr(affix.size()) : text.substr(0, text.size() - affix.size()));
  }
  if (name == "partition" || name == "rpartition") {
    const auto a = bind_arguments(args, {"sep"}, what);
    const std::string& sep = string_argument(a[0], "sep");
    if (sep.empty()) fail("empty separator");
    const size_t at = name == "partition" ? text.find(sep) : text.rfind(sep);
    if (at == std::string::npos) {
      if (name == "partition") return Value::list({Value(text), Value(""), Value("")}, true);
      return Value::list({Value(""), Value(""), Value(text)}, true);
    }
    return Value::list({Value(text.substr(0, at)), Value(sep), Value(text.substr(at + sep.size()))}, true);
  }
  unsupported(self, name);
}

Value call_list_method(const List& list, const Value& self, const std::string& name, const Arguments& args) {
  const std::string what = "list." + name + "()";
  if (name == "index" || name == "count") {
    const auto a = bind_arguments(args, {"value"}, what);
    if (!a[0]) fail(what + " takes exactly one argument (0 given)");
    int64_t count = 0;
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (!equals(list.items[i], *a[0])) continue;
      if (name == "index") return Value(static_cast<int64_t>(i));
      ++count;
    }
    if (name == "index") fail(repr(*a[0]) + " is not in list");
    return Value(count);
  }
  if (name == "copy") return Value::list(list.items, list.is_tuple);
  unsupported(self, name);
}

Value call_dict_method(const Dict& dict, const Value& self, const std::string& name, const Arguments& args) {
  const std::string what = "dict." + name + "()";
  if (name == "get") {
    const auto a = bind_arguments(args, {"key", "default"}, what);
    if (!a[0]) fail("get expected at least 1 argument, got 0");
    if (const Value* value = dict.find(*a[0])) return *value;
    return a[1] ? *a[1] : Value(None{});
  }
  bind_arguments(args, {}, what);
  std::vector<Value> out;
  for (const auto& [key, value] : dict.items) {
    if (name == "keys") out.push_back(key);
    if (name == "values") out.push_back(value);
    if (name == "items") out.push_back(Value::list({key, value}, true));
  }
  if (name == "keys" || name == "values" || name == "items") return Value::list(std::move(out));
  if (name == "copy") return self;
  unsupported(self, name);
}

}  // namespace

std::optional<Value> bound_method(const Value& object, const std::string& name) {
  bool is_method = false, mutating = false;
  if (object.is_string()) is_method = listed(kStrMethods, name);
  if (object.is_list() && !object.as_list().is_generator) {
    // Tuples have only count and index.
    is_method = object.as_list().is_tuple ? (name == "count" || name == "index") : listed(kListMethods, name);
    mutating = !object.as_list().is_tuple && listed(kListMutating, name);
  }
  if (object.is_dict()) {
    is_method = listed(kDictMethods, name);
    mutating = listed(kDictMutating, name);
  }
  if (!is_method) return std::nullopt;
  if (mutating) {
    return Value(Undefined{"access to attribute '" + name + "' of '" + type_name(object) + "' object is unsafe."});
  }
  auto method = std::make_shared<Callable>();
  method->kind = Callable::Kind::kMethod;
  method->name = name;
  method->self = std::make_shared<const Value>(object);
  return Value(std::shared_ptr<const Callable>(std::move(method)));
}

Value call_method(const Value& self, const std::string& name, const Arguments& args) {
  if (self.is_string()) return call_str_method(self.as_string(), self, name, args);
  if (self.is_list()) return call_list_method(self.as_list(), self, name, args);
  if (self.is_dict()) return call_dict_method(self.as_dict(), self, name, args);
  unsupported(self, name);
}

}  // namespace smoe::text::jinja
