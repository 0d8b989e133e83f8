// The chat templates of Mistral AI's Mixtral releases, verbatim, for containers whose source
// carries none (synthetic weights, Mistral's native layout, which ships no template).
#pragma once

namespace smoe::convert {

// Mixtral-8x7B-Instruct-v0.1's tokenizer_config.json chat_template.
extern const char* const kMixtral8x7bInstructTemplate;
// Mixtral-8x22B-Instruct-v0.1's "tool_use" template ([AVAILABLE_TOOLS], [TOOL_CALLS], [TOOL_RESULTS]).
extern const char* const kMixtral8x22bInstructTemplate;

// Mistral's v3 template (Mistral-Large-Instruct-2407), for v3 vocabularies whose [INST] and
// tool tokens are control pieces.
extern const char* const kMistralV3InstructTemplate;

}  // namespace smoe::convert
