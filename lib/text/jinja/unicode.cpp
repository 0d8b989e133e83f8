// UTF-8 decoding and the small part of Python's Unicode database that templates use.
#include "text/jinja/unicode.h"

namespace smoe::text::jinja::unicode {

std::u32string decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    size_t extra = 0;
    char32_t c = 0;
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1, c = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2, c = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3, c = lead & 0x07;
    }
    bool valid = extra > 0;
    if (valid) {
      for (size_t k = 1; k <= extra; ++k) {
        if (i + k >= text.size() || (byte(i + k) & 0xC0) != 0x80) {
          valid = false;
          break;
        }
        c = (c << 6) | (byte(i + k) & 0x3F);
      }
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid, as in Python's decoder.
    if (valid && ((extra == 2 && c < 0x800) || (extra == 3 && (c < 0x10000 || c > 0x10FFFF)) ||
                  (c >= 0xD800 && c <= 0xDFFF))) {
      valid = false;
    }
    if (valid) {
      out.push_back(c);
      i += extra + 1;
    } else {
      out.push_back(0xDC00 + lead);
      ++i;
    }
  }
  return out;
}

void append(std::string& out, char32_t c) {
  if (c >= 0xDC80 && c <= 0xDCFF) {
    out.push_back(static_cast<char>(c - 0xDC00));
  } else if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) append(out, c);
  return out;
}

size_t length(std::string_view text) {
  bool ascii = true;
  for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  return ascii ? text.size() : decode(text).size();
}

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {

// Case pairs laid out as alternating upper/lower code points (Latin Extended-A and friends).
bool in_alternating(char32_t c, char32_t first, char32_t last) { return c >= first && c <= last; }

}  // namespace

bool is_upper(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  if (c >= 0xC0 && c <= 0xDE) return c != 0xD7;
  if (in_alternating(c, 0x100, 0x137) || in_alternating(c, 0x14A, 0x177)) return c % 2 == 0;
  if (in_alternating(c, 0x139, 0x148) || in_alternating(c, 0x179, 0x17E)) return c % 2 == 1;
  if (c == 0x178) return true;
  if (c >= 0x391 && c <= 0x3A9) return c != 0x3A2;
  if (c >= 0x400 && c <= 0x42F) return true;
  if (in_alternating(c, 0x460, 0x481)) return c % 2 == 0;
  return c >= 0xFF21 && c <= 0xFF3A;
}

bool is_lower(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  if (c == 0xB5 || c == 0xDF) return true;
  if (c >= 0xE0 && c <= 0xFF) return c != 0xF7;
  if (in_alternating(c, 0x100, 0x137) || in_alternating(c, 0x14A, 0x177)) return c % 2 == 1;
  if (in_alternating(c, 0x139, 0x148) || in_alternating(c, 0x179, 0x17E)) return c % 2 == 0;
  if (c == 0x138 || c == 0x149 || c == 0x17F) return true;
  if (c >= 0x3B1 && c <= 0x3C9) return true;
  if (c >= 0x430 && c <= 0x45F) return true;
  if (in_alternating(c, 0x460, 0x481)) return c % 2 == 1;
  return c >= 0xFF41 && c <= 0xFF5A;
}

char32_t to_upper(char32_t c) {
  if (!is_lower(c)) return c;
  if (c < 0x80) return c - 32;
  if (c == 0xB5) return 0x39C;
  if (c == 0xFF) return 0x178;
  if (c == 0xDF || c == 0x138 || c == 0x149) return c;
  if (c == 0x17F) return 'S';
  if (c >= 0xE0 && c <= 0xFE) return c - 32;
  if (c < 0x180 || (c >= 0x460 && c <= 0x481)) return c - 1;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x3B1 && c <= 0x3C9) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c - 32;  // fullwidth Latin
}

char32_t to_lower(char32_t c) {
  if (!is_upper(c)) return c;
  if (c < 0x80) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0xC0 && c <= 0xDE) return c + 32;
  if (c < 0x180 || (c >= 0x460 && c <= 0x481)) return c + 1;
  if (c >= 0x391 && c <= 0x3A9) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  return c + 32;  // fullwidth Latin
}

bool is_printable(char32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  if (c <= 0xA0 || c == 0xAD) return false;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F))
    return false;
  if (c == 0x3000 || c == 0xFEFF || (c >= 0xD800 && c <= 0xF8FF) || (c >= 0xFFF0 && c <= 0xFFFB)) return false;
  if (c >= 0xE0000 && c <= 0xE007F) return false;
  return c < 0xF0000 && (c & 0xFFFE) != 0xFFFE;
}

namespace {

template <typename Map>
std::string map_each(std::string_view text, Map map) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : decode(text)) map(out, c);
  return out;
}

void append_upper(std::string& out, char32_t c) {
  if (c == 0xDF) {
    out += "SS";  // Python's full case mapping of sharp s
  } else {
    append(out, to_upper(c));
  }
}

}  // namespace

std::string upper(std::string_view text) { return map_each(text, append_upper); }

std::string lower(std::string_view text) {
  return map_each(text, [](std::string& out, char32_t c) { append(out, to_lower(c)); });
}

std::string title(std::string_view text) {
  bool previous_cased = false;
  return map_each(text, [&](std::string& out, char32_t c) {
    if (previous_cased) {
      append(out, to_lower(c));
    } else {
      append_upper(out, c);
    }
    previous_cased = is_cased(c);
  });
}

std::string capitalize(std::string_view text) {
  bool first = true;
  return map_each(text, [&](std::string& out, char32_t c) {
    if (first) {
      append_upper(out, c);
    } else {
      append(out, to_lower(c));
    }
    first = false;
  });
}

std::string strip(std::string_view text, std::string_view chars, bool left, bool right) {
  const std::u32string code_points = decode(text);
  const std::u32string set = decode(chars);
  const auto stripped = [&](char32_t c) {
    return chars.empty() ? is_space(c) : set.find(c) != std::u32string::npos;
  };
  size_t begin = 0, end = code_points.size();
  if (left) {
    while (begin < end && stripped(code_points[begin])) ++begin;
  }
  if (right) {
    while (end > begin && stripped(code_points[end - 1])) --end;
  }
  return encode(std::u32string_view(code_points).substr(begin, end - begin));
}

}  // namespace smoe::text::jinja::unicode
