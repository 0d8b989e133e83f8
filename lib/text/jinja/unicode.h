// Python str semantics over UTF-8 bytes: templates index, slice, measure, strip and case-map
// strings by code point, as Python does. Bytes that are not valid UTF-8 decode to U+DC80..DCFF
// (Python's "surrogateescape") so they survive a decode/encode round trip unchanged.
#pragma once

#include <string>
#include <string_view>

namespace smoe::text::jinja::unicode {

std::u32string decode(std::string_view text);
std::string encode(std::u32string_view code_points);
void append(std::string& out, char32_t code_point);
size_t length(std::string_view text);

// str.isspace(): ASCII whitespace, \x1c-\x1f, and the Unicode space separators.
bool is_space(char32_t c);
// Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and fullwidth Latin:
// the scripts chat templates meet. Other code points map to themselves.
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);
inline bool is_cased(char32_t c) { return is_upper(c) || is_lower(c); }
// str.isprintable() for one code point, as repr() uses it to choose escapes.
bool is_printable(char32_t c);

std::string upper(std::string_view text);
std::string lower(std::string_view text);
// str.title(): a cased letter after an uncased character starts a word.
std::string title(std::string_view text);
// str.capitalize(): first character upper, the rest lower.
std::string capitalize(std::string_view text);

// str.strip/lstrip/rstrip: `chars` empty means whitespace.
std::string strip(std::string_view text, std::string_view chars, bool left, bool right);

}  // namespace smoe::text::jinja::unicode
