// `smoe-convert inspect` and `verify`: human and JSON views of a container.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>

#include "format/container.h"

namespace smoe::convert {

// {"file", "format_version", "file_bytes", "tensors", "architecture", "hyperparameters" (config.json
//  names), "bits_per_weight", "types": {type: {"tensors", "weights", "bytes"}}, "expert_ranges",
//  "expert_alignment", "recipe", "provenance", "chat_template", "tokenizer_bytes",
//  "special_tokens": [{"id", "text", "special"}] (the release's added tokens; special false: an
//  added word), "end_ids" (where generation stops besides eos_token_id), "template_variables"}
// With `list_tensors`, also "tensor_list": [{"name", "type", "shape", "offset", "bytes"}].
nlohmann::json inspect_json(const format::Container& container, bool list_tensors);

void print_inspect_text(const format::Container& container, bool list_tensors, std::ostream& out);

}  // namespace smoe::convert
