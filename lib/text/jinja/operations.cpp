// Arithmetic, concatenation and membership with Python's rules and error messages.
#include "text/jinja/operations.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "text/jinja/unicode.h"

namespace smoe::text::jinja {
namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

[[noreturn]] void overflow() { fail("integer overflow: the result does not fit in 64 bits"); }

Value repeat(const Value& sequence, const Value& count_value) {
  const int64_t count = std::max<int64_t>(0, count_value.to_int());
  if (sequence.is_string()) {
    const std::string& text = sequence.as_string();
    if (!text.empty() && static_cast<uint64_t>(count) > kMaxStringBytes / text.size()) check_string_size(kMaxStringBytes + 1);
    std::string out;
    out.reserve(text.size() * static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) out += text;
    return Value(std::move(out));
  }
  const List& list = sequence.as_list();
  if (!list.items.empty() && static_cast<uint64_t>(count) > kMaxListItems / list.items.size()) {
    check_list_size(kMaxListItems + 1);
  }
  std::vector<Value> items;
  items.reserve(list.items.size() * static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) items.insert(items.end(), list.items.begin(), list.items.end());
  return Value::list(std::move(items), list.is_tuple);
}

bool is_integral(const Value& v) { return v.is_int() || v.is_bool(); }

double python_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
  if (m == 0.0) m = std::copysign(0.0, b);
  return m;
}

}  // namespace

void check_string_size(size_t bytes) {
  if (bytes > kMaxStringBytes) fail("string longer than " + std::to_string(kMaxStringBytes) + " bytes");
}

void check_list_size(size_t items) {
  if (items > kMaxListItems) fail("list longer than " + std::to_string(kMaxListItems) + " items");
}

Value binary_operation(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (op == "%" && a.is_string()) return Value(percent_format(a.as_string(), b));
  if (a.is_number() && b.is_number()) {
    if (is_integral(a) && is_integral(b) && op != "/") {
      const int64_t x = a.to_int(), y = b.to_int();
      int64_t r = 0;
      if (op == "+") {
        if (__builtin_add_overflow(x, y, &r)) overflow();
      } else if (op == "-") {
        if (__builtin_sub_overflow(x, y, &r)) overflow();
      } else if (op == "*") {
        if (__builtin_mul_overflow(x, y, &r)) overflow();
      } else if (op == "//" || op == "%") {
        if (y == 0) fail(op == "%" ? "integer modulo by zero" : "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow();
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) --q, m += y;
        r = op == "//" ? q : m;
      } else {  // **
        if (y < 0) {
          if (x == 0) fail("0.0 cannot be raised to a negative power");
          return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
        r = 1;
        for (int64_t base = x, e = y; e > 0; e >>= 1) {
          if ((e & 1) && __builtin_mul_overflow(r, base, &r)) overflow();
          if (e > 1 && __builtin_mul_overflow(base, base, &base)) overflow();
        }
      }
      return Value(r);
    }
    const double x = a.to_double(), y = b.to_double();
    if (op == "+") return Value(x + y);
    if (op == "-") return Value(x - y);
    if (op == "*") return Value(x * y);
    if (op == "/") {
      if (y == 0.0) fail(is_integral(a) && is_integral(b) ? "division by zero" : "float division by zero");
      return Value(x / y);
    }
    if (op == "//") {
      if (y == 0.0) fail("float floor division by zero");
      return Value(std::floor(x / y));
    }
    if (op == "%") {
      if (y == 0.0) fail("float modulo");
      return Value(python_fmod(x, y));
    }
    if (x == 0.0 && y < 0) fail("0.0 cannot be raised to a negative power");
    return Value(std::pow(x, y));
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_string_size(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
      check_list_size(a.as_list().items.size() + b.as_list().items.size());
      std::vector<Value> items = a.as_list().items;
      items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
      return Value::list(std::move(items), a.as_list().is_tuple);
    }
    if (a.is_string() || a.is_list()) {
      fail("can only concatenate " + type_name(a) + " (not \"" + type_name(b) + "\") to " + type_name(a));
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && is_integral(b)) return repeat(a, b);
    if (is_integral(a) && (b.is_string() || b.is_list())) return repeat(b, a);
    if (a.is_string() || a.is_list() || b.is_string() || b.is_list()) {
      fail("can't multiply sequence by non-int of type '" + type_name(a.is_string() || a.is_list() ? b : a) + "'");
    }
  }
  unsupported(op == "**" ? "** or pow()" : op, a, b);
}

Value negate(const Value& value) {
  if (value.is_undefined()) fail_undefined(value);
  if (value.is_float()) return Value(-value.as_float());
  if (value.is_int() || value.is_bool()) {
    if (value.to_int() == INT64_MIN) overflow();
    return Value(-value.to_int());
  }
  fail("bad operand type for unary -: '" + type_name(value) + "'");
}

Value unary_plus(const Value& value) {
  if (value.is_undefined()) fail_undefined(value);
  if (value.is_float() || value.is_int()) return value;
  if (value.is_bool()) return Value(value.to_int());
  fail("bad operand type for unary +: '" + type_name(value) + "'");
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      fail("'in <string>' requires string as left operand, not " + type_name(item));
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return container.as_dict().find(item) != nullptr;
  if (container.is_list()) {
    for (const Value& element : container.as_list().items) {
      if (equals(element, item)) return true;
    }
    return false;
  }
  if (container.is_undefined()) return false;
  if (container.is_namespace()) fail("argument of type 'Namespace' is not iterable");
  fail("argument of type '" + type_name(container) + "' is not iterable");
}

std::string percent_format(const std::string& format, const Value& args) {
  std::vector<Value> positional;
  if (args.is_list() && args.as_list().is_tuple) {
    positional = args.as_list().items;
  } else {
    positional.push_back(args);
  }
  const bool mapping = args.is_dict();
  size_t next_arg = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) fail("incomplete format");
    const Value* arg = nullptr;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string::npos) fail("incomplete format key");
      if (!mapping) fail("format requires a mapping");
      arg = args.as_dict().find(Value(format.substr(i + 1, close - i - 1)));
      if (!arg) fail("KeyError: '" + format.substr(i + 1, close - i - 1) + "'");
      i = close + 1;
    }
    std::string spec = "%";
    while (i < format.size() && std::string_view("-+ #0123456789.").find(format[i]) != std::string_view::npos) {
      spec.push_back(format[i++]);
    }
    // Widths and precisions are bounded so a template cannot ask for gigabytes of padding.
    if (spec.size() > 8) fail("unsupported format: width or precision too large in " + spec);
    if (i >= format.size()) fail("incomplete format");
    const char type = format[i];
    if (type == '%') {
      out.push_back('%');
      continue;
    }
    if (!arg) {
      if (next_arg >= positional.size()) fail("not enough arguments for format string");
      arg = &positional[next_arg++];
    }
    char buffer[512];
    if (type == 's' || type == 'r' || type == 'a') {
      // Padded and cut by code points, as Python does.
      std::u32string text = unicode::decode(type == 's' ? to_str(*arg) : repr(*arg));
      const size_t dot = spec.find('.');
      if (dot != std::string::npos) {
        const size_t precision = static_cast<size_t>(std::atoi(spec.c_str() + dot + 1));
        if (text.size() > precision) text.resize(precision);
      }
      const size_t width_start = spec.find_first_of("123456789");
      const size_t width = width_start < dot ? static_cast<size_t>(std::atoi(spec.c_str() + width_start)) : 0;
      const std::string padding(width > text.size() ? width - text.size() : 0, ' ');
      const bool left = spec.find('-') != std::string::npos;
      out += (left ? "" : padding) + unicode::encode(text) + (left ? padding : "");
    } else if (type == 'd' || type == 'i' || type == 'x' || type == 'X' || type == 'o' || type == 'c') {
      if (!arg->is_number()) fail("%" + std::string(1, type) + " format: a real number is required, not " + type_name(*arg));
      const long long n = arg->is_float() ? static_cast<long long>(arg->as_float()) : arg->to_int();
      if (type == 'c') {
        unicode::append(out, static_cast<char32_t>(n));
        continue;
      }
      spec += "ll";
      spec += type == 'i' ? 'd' : type;
      std::snprintf(buffer, sizeof buffer, spec.c_str(), n);
      out += buffer;
    } else if (std::string_view("eEfFgG").find(type) != std::string_view::npos) {
      if (!arg->is_number()) fail("must be real number, not " + type_name(*arg));
      spec += type;
      std::snprintf(buffer, sizeof buffer, spec.c_str(), arg->to_double());
      out += buffer;
    } else {
      fail("unsupported format character '" + std::string(1, type) + "'");
    }
  }
  if (!mapping && next_arg < positional.size()) fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace smoe::text::jinja
