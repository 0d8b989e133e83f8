// The container's metadata section: a JSON object with the architecture, the hyperparameters
// (config.json names), the chat template, the tokenizer reference, provenance and recipe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "smoe/hyperparameters.h"
#include "smoe/tokenizer.h"

namespace smoe::format {

inline constexpr const char* kArchitecture = "mixtral";
inline constexpr const char* kTokenizerTensor = "tokenizer.model";

struct Metadata {
  std::string architecture = kArchitecture;
  Hyperparameters hyperparameters;
  std::string chat_template;       // Jinja source as released; empty when the model has none
  // Special and added tokens, end tokens (bos/eos ids and vocab_size mirror the hyperparameters).
  TokenizerConfig tokenizer;
  // Special-token strings the chat template sees: bos_token, eos_token, unk_token, pad_token...
  std::map<std::string, std::string> template_variables;
  nlohmann::json provenance;       // {"converter": ..., "sources": [{"file", "sha256", "bytes"}]}
  nlohmann::json recipe;           // {"type": "q4", "groups": {"experts": "q4", ...}}
};

// The calibration's routing fractions (layers * experts, layer-major) the converter stored in
// the recipe ("routing_profile"), or empty when it stored none.
std::vector<double> routing_profile(const Metadata& metadata);

nlohmann::json metadata_to_json(const Metadata& metadata);
// Parses and validates; `where` names the file in error messages.
Metadata metadata_from_json(const nlohmann::json& json, const std::string& where);

nlohmann::json hyperparameters_to_json(const Hyperparameters& hp);
Hyperparameters hyperparameters_from_json(const nlohmann::json& json, const std::string& where);

// Throws smoe::Error naming `where` and the field when a value is zero, absurdly large or
// inconsistent (e.g. experts per token > experts, heads not a multiple of KV heads).
void validate_hyperparameters(const Hyperparameters& hp, const std::string& where);

}  // namespace smoe::format
