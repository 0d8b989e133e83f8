// JSON form of the container metadata and the sanity limits on hyperparameters.
#include "format/metadata.h"

#include <cmath>

#include "smoe/error.h"

namespace smoe::format {
namespace {

// Upper limits far above any released Mixtral-family model (8x22B: dim 6144, 56 layers),
// low enough that products of them cannot overflow 64 bits.
struct Limit {
  const char* name;
  uint32_t Hyperparameters::*field;
  uint32_t max;
};
constexpr Limit kLimits[] = {
    {"hidden_size", &Hyperparameters::hidden_size, 1u << 17},
    {"intermediate_size", &Hyperparameters::intermediate_size, 1u << 20},
    {"num_hidden_layers", &Hyperparameters::num_hidden_layers, 4096},
    {"num_attention_heads", &Hyperparameters::num_attention_heads, 4096},
    {"num_key_value_heads", &Hyperparameters::num_key_value_heads, 4096},
    {"head_dim", &Hyperparameters::head_dim, 4096},
    {"num_local_experts", &Hyperparameters::num_local_experts, 4096},
    {"num_experts_per_tok", &Hyperparameters::num_experts_per_tok, 4096},
    {"vocab_size", &Hyperparameters::vocab_size, 1u << 24},
    {"max_position_embeddings", &Hyperparameters::max_position_embeddings, 1u << 24},
};

uint32_t read_u32(const nlohmann::json& json, const char* key, const std::string& where) {
  const auto it = json.find(key);
  if (it == json.end()) throw Error(where, std::string("missing hyperparameter '") + key + "'");
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > UINT32_MAX) {
    throw Error(where, std::string("hyperparameter '") + key + "' is not a non-negative 32-bit integer: " + it->dump());
  }
  return it->get<uint32_t>();
}

double read_double(const nlohmann::json& json, const char* key, const std::string& where) {
  const auto it = json.find(key);
  if (it == json.end()) throw Error(where, std::string("missing hyperparameter '") + key + "'");
  if (!it->is_number()) throw Error(where, std::string("hyperparameter '") + key + "' is not a number: " + it->dump());
  return it->get<double>();
}

}  // namespace

void validate_hyperparameters(const Hyperparameters& hp, const std::string& where) {
  for (const Limit& limit : kLimits) {
    const uint32_t value = hp.*limit.field;
    if (value == 0 || value > limit.max) {
      throw Error(where, std::string(limit.name) + " = " + std::to_string(value) + " is outside 1.." +
                             std::to_string(limit.max));
    }
  }
  if (hp.num_key_value_heads > hp.num_attention_heads || hp.num_attention_heads % hp.num_key_value_heads != 0) {
    throw Error(where, "num_attention_heads (" + std::to_string(hp.num_attention_heads) +
                           ") is not a multiple of num_key_value_heads (" + std::to_string(hp.num_key_value_heads) + ")");
  }
  if (hp.head_dim % 2 != 0) throw Error(where, "head_dim (" + std::to_string(hp.head_dim) + ") must be even for RoPE");
  if (hp.num_experts_per_tok > hp.num_local_experts) {
    throw Error(where, "num_experts_per_tok (" + std::to_string(hp.num_experts_per_tok) +
                           ") is larger than num_local_experts (" + std::to_string(hp.num_local_experts) + ")");
  }
  if (hp.bos_token_id >= hp.vocab_size || hp.eos_token_id >= hp.vocab_size) {
    throw Error(where, "bos_token_id/eos_token_id (" + std::to_string(hp.bos_token_id) + "/" +
                           std::to_string(hp.eos_token_id) + ") outside the vocabulary of " + std::to_string(hp.vocab_size));
  }
  if (!(std::isfinite(hp.rope_theta) && hp.rope_theta > 0)) {
    throw Error(where, "rope_theta must be a positive number, got " + std::to_string(hp.rope_theta));
  }
  if (!(std::isfinite(hp.rms_norm_eps) && hp.rms_norm_eps > 0 && hp.rms_norm_eps < 1)) {
    throw Error(where, "rms_norm_eps must be in (0, 1), got " + std::to_string(hp.rms_norm_eps));
  }
}

nlohmann::json hyperparameters_to_json(const Hyperparameters& hp) {
  nlohmann::json json;
  for (const Limit& limit : kLimits) json[limit.name] = hp.*limit.field;
  json["sliding_window"] = hp.sliding_window;
  json["bos_token_id"] = hp.bos_token_id;
  json["eos_token_id"] = hp.eos_token_id;
  json["rope_theta"] = hp.rope_theta;
  json["rms_norm_eps"] = hp.rms_norm_eps;
  return json;
}

Hyperparameters hyperparameters_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) throw Error(where, "hyperparameters are not a JSON object");
  Hyperparameters hp;
  for (const Limit& limit : kLimits) hp.*limit.field = read_u32(json, limit.name, where);
  hp.sliding_window = read_u32(json, "sliding_window", where);
  hp.bos_token_id = read_u32(json, "bos_token_id", where);
  hp.eos_token_id = read_u32(json, "eos_token_id", where);
  hp.rope_theta = read_double(json, "rope_theta", where);
  hp.rms_norm_eps = read_double(json, "rms_norm_eps", where);
  validate_hyperparameters(hp, where);
  return hp;
}

namespace {

nlohmann::json tokenizer_to_json(const TokenizerConfig& tokenizer) {
  nlohmann::json added = nlohmann::json::array();
  for (const SpecialToken& token : tokenizer.added_tokens) {
    added.push_back({{"id", token.id}, {"text", token.text}, {"special", token.special}});
  }
  return {{"type", "sentencepiece"}, {"tensor", kTokenizerTensor}, {"added_tokens", added}, {"end_ids", tokenizer.end_ids}};
}

// The tokenizer section; containers written before it listed special tokens have only its type
// and tensor (SentencePiece's own control pieces are then the special tokens).
TokenizerConfig tokenizer_from_json(const nlohmann::json& json, const Hyperparameters& hp, const std::string& where) {
  TokenizerConfig tokenizer;
  tokenizer.bos_id = static_cast<int32_t>(hp.bos_token_id);
  tokenizer.eos_id = static_cast<int32_t>(hp.eos_token_id);
  tokenizer.vocab_size = static_cast<int32_t>(hp.vocab_size);
  if (!json.is_object()) throw Error(where, "metadata's tokenizer is not a JSON object");
  auto token_id = [&](const nlohmann::json& value, const char* what) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= int64_t{hp.vocab_size}) {
      throw Error(where, std::string("tokenizer ") + what + " " + value.dump() + " is not a token id below vocab_size " +
                             std::to_string(hp.vocab_size));
    }
    return static_cast<int32_t>(value.get<int64_t>());
  };
  if (const auto added = json.find("added_tokens"); added != json.end()) {
    if (!added->is_array() || added->size() > hp.vocab_size) throw Error(where, "tokenizer added_tokens is not a list of tokens");
    for (const nlohmann::json& entry : *added) {
      const auto id = entry.find("id"), text = entry.find("text"), special = entry.find("special");
      if (!entry.is_object() || id == entry.end() || text == entry.end() || !text->is_string() ||
          text->get<std::string>().empty() || (special != entry.end() && !special->is_boolean())) {
        throw Error(where, "tokenizer added_tokens entry " + entry.dump() + " is not {id, text, special}");
      }
      tokenizer.added_tokens.push_back(
          {token_id(*id, "added token id"), text->get<std::string>(), special == entry.end() || special->get<bool>()});
    }
  }
  if (const auto ends = json.find("end_ids"); ends != json.end()) {
    if (!ends->is_array() || ends->size() > hp.vocab_size) throw Error(where, "tokenizer end_ids is not a list of ids");
    for (const nlohmann::json& id : *ends) tokenizer.end_ids.push_back(token_id(id, "end id"));
  }
  return tokenizer;
}

}  // namespace

nlohmann::json metadata_to_json(const Metadata& metadata) {
  return {
      {"architecture", metadata.architecture},
      {"hyperparameters", hyperparameters_to_json(metadata.hyperparameters)},
      {"chat_template", metadata.chat_template},
      {"template_variables", metadata.template_variables},
      {"tokenizer", tokenizer_to_json(metadata.tokenizer)},
      {"provenance", metadata.provenance},
      {"recipe", metadata.recipe},
  };
}

Metadata metadata_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) throw Error(where, "metadata is not a JSON object");
  Metadata metadata;
  const auto architecture = json.find("architecture");
  if (architecture == json.end() || !architecture->is_string()) throw Error(where, "metadata has no architecture");
  metadata.architecture = architecture->get<std::string>();
  if (metadata.architecture != kArchitecture) {
    throw Error(where, "unsupported architecture '" + metadata.architecture + "' (this build runs 'mixtral')");
  }
  const auto hyperparameters = json.find("hyperparameters");
  if (hyperparameters == json.end()) throw Error(where, "metadata has no hyperparameters");
  metadata.hyperparameters = hyperparameters_from_json(*hyperparameters, where);
  const auto chat_template = json.find("chat_template");
  if (chat_template != json.end()) {
    if (!chat_template->is_string()) throw Error(where, "chat_template is not a string");
    metadata.chat_template = chat_template->get<std::string>();
  }
  metadata.tokenizer = tokenizer_from_json(json.value("tokenizer", nlohmann::json::object()), metadata.hyperparameters, where);
  if (const auto variables = json.find("template_variables"); variables != json.end()) {
    if (!variables->is_object()) throw Error(where, "template_variables is not a JSON object");
    for (const auto& [name, value] : variables->items()) {
      if (!value.is_string()) throw Error(where, "template variable '" + name + "' is not a string");
      metadata.template_variables[name] = value.get<std::string>();
    }
  }
  metadata.provenance = json.value("provenance", nlohmann::json::object());
  metadata.recipe = json.value("recipe", nlohmann::json::object());
  return metadata;
}

std::vector<double> routing_profile(const Metadata& metadata) {
  std::vector<double> profile;
  const auto found = metadata.recipe.find("routing_profile");
  if (found == metadata.recipe.end() || !found->is_array()) return profile;
  for (const nlohmann::json& layer : *found) {
    if (!layer.is_array()) break;
    for (const nlohmann::json& fraction : layer) profile.push_back(fraction.is_number() ? fraction.get<double>() : 0.0);
  }
  return profile;
}

}  // namespace smoe::format
