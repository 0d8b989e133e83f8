// Splits template source into tokens the way Jinja2's lexer does with trim_blocks and
// lstrip_blocks on: template data (whitespace control already applied, newlines normalized to
// \n, one trailing newline dropped), tag delimiters, and the names, literals and operators
// inside tags. Comments and {% raw %} markers produce no tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smoe::text::jinja {

enum class TokenKind {
  kData,
  kVariableBegin,
  kVariableEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEof,
};

struct Token {
  TokenKind kind;
  std::string text;  // data, name, decoded string literal, or operator spelling
  int64_t integer = 0;
  double number = 0.0;
  int line = 1;
};

// Throws smoe::Error("chat template", "line L: ...") on text Jinja2's lexer rejects.
std::vector<Token> tokenize(std::string_view source);

}  // namespace smoe::text::jinja
