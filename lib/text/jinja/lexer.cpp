// A hand-written equivalent of Jinja2's regular-expression lexer (jinja2/lexer.py): the same
// states (root, block, variable, comment, raw), the same order of rules within each state, and
// the same whitespace control.
#include "text/jinja/lexer.h"

#include <cerrno>
#include <cstdlib>

#include "smoe/error.h"
#include "text/jinja/unicode.h"

namespace smoe::text::jinja {
namespace {

[[noreturn]] void syntax_error(int line, const std::string& message) {
  throw Error("chat template", "line " + std::to_string(line) + ": " + message);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Length of the Python whitespace character (\s) starting at `pos`, or 0.
size_t space_at(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  const unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c < 0x80) return unicode::is_space(c) ? 1 : 0;
  size_t length = c >= 0xF0 ? 4 : (c >= 0xE0 ? 3 : 2);
  if (pos + length > text.size()) return 0;
  const std::u32string decoded = unicode::decode(text.substr(pos, length));
  return decoded.size() == 1 && unicode::is_space(decoded[0]) ? length : 0;
}

size_t skip_spaces(std::string_view text, size_t pos) {
  while (size_t n = space_at(text, pos)) pos += n;
  return pos;
}

// Python's str.rstrip() on UTF-8.
std::string_view rstrip(std::string_view text) {
  const std::string stripped = unicode::strip(text, "", false, true);
  return text.substr(0, stripped.size());
}

// True when `text` from `pos` is one or more whitespace characters (whitespace_re.fullmatch).
bool all_spaces(std::string_view text, size_t pos) {
  if (pos >= text.size()) return false;
  return skip_spaces(text, pos) == text.size();
}

// Python's "unicode-escape" decoding of a string literal's body.
std::string unescape(std::string_view body, int line) {
  std::string out;
  out.reserve(body.size());
  const auto hex_value = [&](size_t start, size_t count) -> char32_t {
    if (start + count > body.size()) syntax_error(line, "truncated escape in string literal");
    char32_t value = 0;
    for (size_t k = 0; k < count; ++k) {
      const char c = body[start + k];
      int digit = -1;
      if (is_digit(c)) digit = c - '0';
      if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      if (digit < 0) syntax_error(line, "truncated escape in string literal");
      value = value * 16 + static_cast<char32_t>(digit);
    }
    return value;
  };
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char c = body[++i];
    switch (c) {
      case '\n': break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x': unicode::append(out, hex_value(i + 1, 2)); i += 2; break;
      case 'u': unicode::append(out, hex_value(i + 1, 4)); i += 4; break;
      case 'U': {
        const char32_t value = hex_value(i + 1, 8);
        if (value > 0x10FFFF) syntax_error(line, "illegal Unicode character in string literal");
        unicode::append(out, value);
        i += 8;
        break;
      }
      case 'N': syntax_error(line, "unsupported escape in string literal: \\N{...}");
      default:
        if (c >= '0' && c <= '7') {
          char32_t value = 0;
          size_t k = 0;
          for (; k < 3 && i + k < body.size() && body[i + k] >= '0' && body[i + k] <= '7'; ++k) {
            value = value * 8 + static_cast<char32_t>(body[i + k] - '0');
          }
          unicode::append(out, value);
          i += k - 1;
        } else {
          out.push_back('\\');
          out.push_back(c);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view raw_source) : source_(normalize(raw_source)) {}

  std::vector<Token> run() {
    while (pos_ < source_.size()) lex_root();
    tokens_.push_back(Token{TokenKind::kEof, "", 0, 0.0, line_});
    return std::move(tokens_);
  }

 private:
  // Newlines become \n and one trailing newline is dropped (keep_trailing_newline=False).
  static std::string normalize(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        out.push_back('\n');
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        out.push_back(source[i]);
      }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  void emit(TokenKind kind, std::string text = {}) { tokens_.push_back(Token{kind, std::move(text), 0, 0.0, line_}); }

  void advance_to(size_t end) {
    for (size_t i = pos_; i < end; ++i) line_ += source_[i] == '\n';
    pos_ = end;
    line_starting_ = end > 0 && source_[end - 1] == '\n';
  }

  // The text before a tag, with the tag's whitespace control (sign '-', '+' or none) applied.
  void emit_data_before(size_t tag, char sign, bool lstrip_allowed) {
    std::string_view text = std::string_view(source_).substr(pos_, tag - pos_);
    if (sign == '-') {
      text = rstrip(text);
    } else if (sign != '+' && lstrip_allowed) {
      const size_t newline = text.rfind('\n');
      const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
      if ((line_start > 0 || line_starting_) && all_spaces(text, line_start)) text = text.substr(0, line_start);
    }
    if (!text.empty()) emit(TokenKind::kData, std::string(text));
  }

  // Matches `{%(-|+|)\s*raw\s*(-%}\s*|%})` at `at`; returns its end or npos.
  size_t match_raw_begin(size_t at) const {
    size_t p = at + 2;
    if (p < source_.size() && (source_[p] == '-' || source_[p] == '+')) ++p;
    p = skip_spaces(source_, p);
    if (source_.compare(p, 3, "raw") != 0) return std::string::npos;
    p = skip_spaces(source_, p + 3);
    if (source_.compare(p, 3, "-%}") == 0) return skip_spaces(source_, p + 3);
    if (source_.compare(p, 2, "%}") == 0) return p + 2;
    return std::string::npos;
  }

  void lex_root() {
    size_t tag = pos_;
    while ((tag = source_.find('{', tag)) != std::string::npos) {
      if (tag + 1 < source_.size() && (source_[tag + 1] == '{' || source_[tag + 1] == '%' || source_[tag + 1] == '#'))
        break;
      ++tag;
    }
    if (tag == std::string::npos) {
      emit(TokenKind::kData, source_.substr(pos_));
      advance_to(source_.size());
      return;
    }
    const char kind = source_[tag + 1];
    const char sign = tag + 2 < source_.size() && (source_[tag + 2] == '-' || source_[tag + 2] == '+') ? source_[tag + 2] : 0;
    const size_t opener_end = tag + 2 + (sign ? 1 : 0);
    if (kind == '%') {
      const size_t raw_end = match_raw_begin(tag);
      if (raw_end != std::string::npos) {
        emit_data_before(tag, sign, true);
        advance_to(raw_end);
        lex_raw();
        return;
      }
    }
    emit_data_before(tag, sign, kind != '{');
    // The variable opener's '+' is part of its match even though lstrip never applies to it.
    advance_to(opener_end);
    if (kind == '#') {
      lex_comment();
    } else if (kind == '%') {
      emit(TokenKind::kBlockBegin);
      lex_tag(true);
    } else {
      emit(TokenKind::kVariableBegin);
      lex_tag(false);
    }
  }

  void lex_comment() {
    for (size_t p = pos_; p < source_.size(); ++p) {
      if (source_.compare(p, 3, "+#}") == 0) return advance_to(p + 3);
      if (source_.compare(p, 3, "-#}") == 0) return advance_to(skip_spaces(source_, p + 3));
      if (source_.compare(p, 2, "#}") == 0) return advance_to(end_with_trim(p + 2));
    }
    syntax_error(line_, "Missing end of comment tag");
  }

  // trim_blocks: one newline directly after a block or comment end is removed.
  size_t end_with_trim(size_t end) const { return end < source_.size() && source_[end] == '\n' ? end + 1 : end; }

  void lex_raw() {
    for (size_t p = pos_; p < source_.size(); ++p) {
      if (source_.compare(p, 2, "{%") != 0) continue;
      size_t q = p + 2;
      const char sign = q < source_.size() && (source_[q] == '-' || source_[q] == '+') ? source_[q] : 0;
      if (sign) ++q;
      q = skip_spaces(source_, q);
      if (source_.compare(q, 6, "endraw") != 0) continue;
      q = skip_spaces(source_, q + 6);
      size_t end;
      if (source_.compare(q, 3, "+%}") == 0) {
        end = q + 3;
      } else if (source_.compare(q, 3, "-%}") == 0) {
        end = skip_spaces(source_, q + 3);
      } else if (source_.compare(q, 2, "%}") == 0) {
        end = end_with_trim(q + 2);
      } else {
        continue;
      }
      emit_data_before(p, sign, true);
      advance_to(end);
      return;
    }
    syntax_error(line_, "Missing end of raw directive");
  }

  // Inside {% %} or {{ }}: the end rule first (only with brackets balanced), then whitespace,
  // float, integer, name, string, operator, as Jinja2 orders its tag rules.
  void lex_tag(bool block) {
    std::string brackets;
    while (true) {
      if (pos_ >= source_.size()) return;  // the parser reports the unexpected end
      if (brackets.empty()) {
        if (block) {
          if (source_.compare(pos_, 3, "+%}") == 0) return end_tag(TokenKind::kBlockEnd, pos_ + 3);
          if (source_.compare(pos_, 3, "-%}") == 0) return end_tag(TokenKind::kBlockEnd, skip_spaces(source_, pos_ + 3));
          if (source_.compare(pos_, 2, "%}") == 0) return end_tag(TokenKind::kBlockEnd, end_with_trim(pos_ + 2));
        } else {
          if (source_.compare(pos_, 3, "-}}") == 0)
            return end_tag(TokenKind::kVariableEnd, skip_spaces(source_, pos_ + 3));
          if (source_.compare(pos_, 2, "}}") == 0) return end_tag(TokenKind::kVariableEnd, pos_ + 2);
        }
      }
      if (size_t n = space_at(source_, pos_)) {
        advance_to(skip_spaces(source_, pos_ + n));
      } else if (lex_number()) {
      } else if (is_name_start(source_[pos_])) {
        size_t end = pos_;
        while (end < source_.size() && is_name_char(source_[end])) ++end;
        emit(TokenKind::kName, source_.substr(pos_, end - pos_));
        advance_to(end);
      } else if (source_[pos_] == '\'' || source_[pos_] == '"') {
        lex_string();
      } else {
        lex_operator(brackets);
      }
    }
  }

  void end_tag(TokenKind kind, size_t end) {
    emit(kind);
    advance_to(end);
  }

  // Digits with single underscores between them ((\d+_)*\d+); returns the end or `at`.
  size_t digits_at(size_t at) const {
    size_t p = at;
    while (p < source_.size() && is_digit(source_[p])) {
      while (p < source_.size() && is_digit(source_[p])) ++p;
      if (p + 1 < source_.size() && source_[p] == '_' && is_digit(source_[p + 1])) ++p;
    }
    return p;
  }

  bool lex_number() {
    if (!is_digit(source_[pos_])) return false;
    const size_t whole_end = digits_at(pos_);
    size_t end = whole_end;
    bool is_float = false;
    // float_re: not after a '.', a required fraction or an exponent.
    if (pos_ == 0 || source_[pos_ - 1] != '.') {
      size_t p = whole_end;
      if (p + 1 < source_.size() && source_[p] == '.' && is_digit(source_[p + 1])) {
        p = digits_at(p + 1);
        is_float = true;
      }
      if (p < source_.size() && (source_[p] == 'e' || source_[p] == 'E')) {
        size_t q = p + 1;
        if (q < source_.size() && (source_[q] == '+' || source_[q] == '-')) ++q;
        if (q < source_.size() && is_digit(source_[q])) {
          p = digits_at(q);
          is_float = true;
        }
      }
      if (is_float) end = p;
    }
    std::string text;
    for (size_t i = pos_; i < end; ++i) {
      if (source_[i] != '_') text.push_back(source_[i]);
    }
    Token token{is_float ? TokenKind::kFloat : TokenKind::kInteger, text, 0, 0.0, line_};
    if (is_float) {
      token.number = std::strtod(text.c_str(), nullptr);
    } else if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos) {
      // "0(_?0)*" or a non-decimal prefix: binary, octal and hex literals are not used by chat
      // templates.
      syntax_error(line_, "unsupported integer literal: " + text);
    } else {
      errno = 0;
      token.integer = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) syntax_error(line_, "integer literal out of 64-bit range: " + text);
    }
    tokens_.push_back(std::move(token));
    advance_to(end);
    return true;
  }

  void lex_string() {
    const char quote = source_[pos_];
    size_t p = pos_ + 1;
    while (p < source_.size() && source_[p] != quote) p += source_[p] == '\\' ? 2 : 1;
    if (p >= source_.size()) syntax_error(line_, std::string("unexpected char '") + quote + "'");
    emit(TokenKind::kString, unescape(std::string_view(source_).substr(pos_ + 1, p - pos_ - 1), line_));
    advance_to(p + 1);
  }

  void lex_operator(std::string& brackets) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwo) {
      if (source_.compare(pos_, 2, op) == 0) {
        emit(TokenKind::kOperator, std::string(op));
        advance_to(pos_ + 2);
        return;
      }
    }
    const char c = source_[pos_];
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
      syntax_error(line_, std::string("unexpected char '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) syntax_error(line_, std::string("unexpected '") + c + "'");
      if (brackets.back() != c) {
        syntax_error(line_, std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
      }
      brackets.pop_back();
    }
    emit(TokenKind::kOperator, std::string(1, c));
    advance_to(pos_ + 1);
  }

  std::string source_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace smoe::text::jinja
