// Builds the statement tree from tokens, following jinja2/parser.py rule for rule (operator
// precedence, tuples, filters and tests binding tighter than arithmetic). Rejects tags,
// filters and tests this engine does not implement, naming them, at parse time.
#pragma once

#include <vector>

#include "text/jinja/ast.h"
#include "text/jinja/lexer.h"

namespace smoe::text::jinja {

// Nesting of blocks and expressions deeper than this is rejected, so untrusted templates cannot
// exhaust the stack while parsing or rendering.
inline constexpr int kMaxNestingDepth = 256;

// Throws smoe::Error("chat template", "line L: ...").
Body parse(const std::vector<Token>& tokens);

}  // namespace smoe::text::jinja
