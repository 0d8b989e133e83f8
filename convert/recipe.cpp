// Base recipes and overrides.
#include "convert/recipe.h"

#include "smoe/error.h"

namespace smoe::convert {

using format::TensorGroup;
using quant::TensorType;

namespace {

TensorType parse_weight_type(const std::string& name) {
  const std::optional<TensorType> type = quant::parse_type_name(name);
  if (!type || *type == TensorType::u8 || quant::type_traits(*type).row_group > 1) {  // x8: layouts, --interleave
    throw Error("--type", "unknown tensor type '" + name + "' (choose f32, f16, bf16, q8, q6k, q4, q4k, q3k or keep)");
  }
  return *type;
}

}  // namespace

Recipe make_recipe(const std::string& base_type) {
  if (base_type == "keep") {
    Recipe recipe = make_recipe("f32");  // placeholders until the converter reads the sources
    recipe.base = "keep";
    recipe.keep = true;
    return recipe;
  }
  const TensorType base = parse_weight_type(base_type);
  Recipe recipe;
  recipe.base = base_type;
  for (TensorGroup group : {TensorGroup::embeddings, TensorGroup::attention, TensorGroup::experts, TensorGroup::output}) {
    recipe.types[group] = base;
  }
  // The router's logits decide which experts run; norms scale every activation: both stay exact.
  recipe.types[TensorGroup::router] = TensorType::f32;
  recipe.types[TensorGroup::norms] = TensorType::f32;
  if (base == TensorType::q4) {
    // Experts are ~97% of Mixtral's weights: 4.5-bit super-blocks there set the size (rows
    // that are not multiples of 256 step down to q4); attention and the output projection are
    // read by every token and are more sensitive, so they keep 8 bits.
    recipe.types[TensorGroup::experts] = TensorType::q4k;
    recipe.types[TensorGroup::embeddings] = TensorType::q4k;
    recipe.types[TensorGroup::attention] = TensorType::q8;
    recipe.types[TensorGroup::output] = TensorType::q8;
  }
  return recipe;
}

void override_group(Recipe& recipe, const std::string& group, const std::string& type) {
  const TensorType parsed = parse_weight_type(type);
  for (TensorGroup candidate : {TensorGroup::embeddings, TensorGroup::attention, TensorGroup::experts,
                                TensorGroup::output, TensorGroup::router, TensorGroup::norms}) {
    if (format::group_name(candidate) != group) continue;
    if (candidate == TensorGroup::norms && parsed != TensorType::f32) {
      throw Error("--norms", "norms are always stored in f32");
    }
    recipe.types[candidate] = parsed;
    recipe.overridden.insert(candidate);
    return;
  }
  throw Error("--" + group, "unknown tensor group");
}

TensorType Recipe::type_for(const format::TensorSpec& spec) const {
  const uint64_t row = spec.shape.back();
  TensorType wanted = types.at(spec.group);
  if (spec.group == TensorGroup::experts) {
    const auto chosen = expert_types.find({spec.layer, spec.expert});
    if (chosen != expert_types.end()) wanted = chosen->second;
  }
  if (const auto kept = tensor_types.find(spec.name); kept != tensor_types.end()) wanted = kept->second;
  // Super-blocks need rows of 256: step down to the 32-weight type of at least as many bits.
  if (!quant::row_fits_type(wanted, row)) {
    if (wanted == TensorType::q4k || wanted == TensorType::q3k) wanted = TensorType::q4;
    if (wanted == TensorType::q6k) wanted = TensorType::q8;
  }
  return quant::row_fits_type(wanted, row) ? wanted : fallback;
}

nlohmann::json Recipe::to_json() const {
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [group, type] : types) {
    const bool kept = keep && group != TensorGroup::norms && group != TensorGroup::router && !overridden.contains(group);
    groups[std::string(format::group_name(group))] = kept ? std::string_view("keep") : quant::type_name(type);
  }
  nlohmann::json json = {{"type", base}, {"groups", groups}, {"fallback", quant::type_name(fallback)}};
  if (!expert_types.empty()) {
    // One array of type names per layer, indexed by expert (before short-row fallbacks).
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& [id, type] : expert_types) {
      while (layers.size() <= size_t(id.first)) layers.push_back(nlohmann::json::array());
      nlohmann::json& layer = layers[size_t(id.first)];
      while (layer.size() <= size_t(id.second)) layer.push_back(nullptr);
      layer[size_t(id.second)] = quant::type_name(type);
    }
    json["expert_bits"] = expert_bits;
    json["expert_types"] = layers;
  }
  return json;
}

}  // namespace smoe::convert
