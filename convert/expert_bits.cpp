// Per-expert bit allocation from routing frequencies (see expert_bits.h).
#include "convert/expert_bits.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>

#include "format/layout.h"
#include "quant/formats/convert_row.h"
#include "smoe/error.h"

namespace smoe::convert {

using quant::TensorType;

namespace {

constexpr std::array kCandidates = {TensorType::q3k, TensorType::q4k, TensorType::q6k, TensorType::q8};

// Routing fraction of every expert of every layer; throws when the imatrix lacks them.
std::vector<std::vector<double>> routing_fractions(const ImportanceMatrix& imatrix, const std::string& path,
                                                   uint32_t layers, uint32_t experts) {
  std::vector<std::vector<double>> fractions(layers);
  for (uint32_t layer = 0; layer < layers; ++layer) {
    const auto found = imatrix.entries().find("routing." + std::to_string(layer));
    if (found == imatrix.entries().end()) {
      throw Error(path, "no routing counts for layer " + std::to_string(layer) +
                            " (--expert-bits auto needs an importance matrix from `smoe-convert calibrate`)");
    }
    const std::vector<double>& counts = found->second.sum_squares;
    if (counts.size() != experts) {
      throw Error(path, "routing counts of layer " + std::to_string(layer) + " list " + std::to_string(counts.size()) +
                            " experts, the model has " + std::to_string(experts));
    }
    double total = 0;
    for (double count : counts) total += count;
    if (total <= 0) throw Error(path, "routing counts of layer " + std::to_string(layer) + " are all zero");
    for (double count : counts) fractions[layer].push_back(count / total);
  }
  return fractions;
}

// Chooses one option per expert minimising error + lambda x bytes.
uint64_t choose(const std::vector<ExpertCandidates>& experts, double lambda, std::vector<size_t>& chosen) {
  uint64_t bytes = 0;
  for (size_t e = 0; e < experts.size(); ++e) {
    const auto& options = experts[e].options;
    size_t best = 0;
    for (size_t o = 1; o < options.size(); ++o) {
      if (options[o].error + lambda * double(options[o].bytes) < options[best].error + lambda * double(options[best].bytes)) {
        best = o;
      }
    }
    chosen[e] = best;
    bytes += options[best].bytes;
  }
  return bytes;
}

uint64_t align_to_tensor(uint64_t bytes) {
  return (bytes + format::kTensorAlignment - 1) / format::kTensorAlignment * format::kTensorAlignment;
}

}  // namespace

nlohmann::json routing_profile_json(const ImportanceMatrix& imatrix, const Hyperparameters& hp) {
  nlohmann::json profile = nlohmann::json::array();
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    const auto found = imatrix.entries().find("routing." + std::to_string(layer));
    if (found == imatrix.entries().end() || found->second.sum_squares.size() != hp.num_local_experts) return nullptr;
    double total = 0;
    for (double count : found->second.sum_squares) total += count;
    nlohmann::json fractions = nlohmann::json::array();
    for (double count : found->second.sum_squares) fractions.push_back(total > 0 ? count / total : 0.0);
    profile.push_back(fractions);
  }
  return profile;
}

ExpertBitsTarget parse_expert_bits(const std::string& text) {
  if (text == "uniform") return {ExpertBitsTarget::Kind::uniform, 0, text};
  if (text == "auto") return {ExpertBitsTarget::Kind::automatic, 0, text};
  if (!text.starts_with("ram=")) {
    throw Error("--expert-bits", "'" + text + "' is none of uniform, auto, ram=SIZE");
  }
  // CLI11's reading of sizes, as --ram's (CLI::AsSizeValue(false): K, M, G, T are 1024-based).
  std::string size = text.substr(4);
  std::string problem;
  try {
    problem = CLI::AsSizeValue(false)(size);
  } catch (const std::exception& error) {
    problem = error.what();
  }
  uint64_t bytes = 0;
  if (problem.empty() && !CLI::detail::lexical_cast(size, bytes)) problem = "not a whole number of bytes";
  if (!problem.empty() || text.size() == 4) {
    throw Error("--expert-bits", "'" + text.substr(4) + "' in " + text +
                                     " is not a memory size (bytes, or a number with K, M, G or T: 12G, 300M)");
  }
  if (bytes == 0) throw Error("--expert-bits", text + ": the memory budget must be more than 0 bytes");
  return {ExpertBitsTarget::Kind::ram, bytes, text};
}

double relative_squared_error(TensorType type) {
  static const std::map<TensorType, double> measured = [] {
    std::mt19937 generator(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> weights(64 * 256), decoded(weights.size());
    for (float& w : weights) w = normal(generator);
    std::map<TensorType, double> errors;
    for (TensorType candidate : {TensorType::q3k, TensorType::q4k, TensorType::q4, TensorType::q6k, TensorType::q8,
                                 TensorType::f16, TensorType::bf16, TensorType::f32}) {
      std::vector<std::byte> stored(*quant::row_bytes(candidate, weights.size()));
      quant::quantize_row(candidate, weights.data(), stored.data(), weights.size());
      quant::dequantize_row(candidate, stored.data(), decoded.data(), weights.size());
      double sum = 0;
      for (size_t i = 0; i < weights.size(); ++i) sum += double(weights[i] - decoded[i]) * double(weights[i] - decoded[i]);
      errors[candidate] = sum / double(weights.size());
    }
    return errors;
  }();
  return measured.at(type);
}

std::vector<ExpertCandidates> expert_candidates(const std::vector<format::TensorSpec>& specs,
                                                const ImportanceMatrix& imatrix, const std::string& imatrix_path,
                                                const Recipe& recipe) {
  int32_t layers = 0, experts_per_layer = 0;
  for (const format::TensorSpec& spec : specs) {
    layers = std::max(layers, spec.layer + 1);
    experts_per_layer = std::max(experts_per_layer, spec.expert + 1);
  }
  const auto fractions = routing_fractions(imatrix, imatrix_path, uint32_t(layers), uint32_t(experts_per_layer));

  // Bytes and error of every expert in every candidate type, after short-row fallbacks. The
  // specs list each expert's w1, w3, w2 in order, as the file stores them.
  std::map<std::pair<int32_t, int32_t>, ExpertCandidates> by_id;
  const TensorType uniform_type = recipe.types.at(format::TensorGroup::experts);
  for (const format::TensorSpec& spec : specs) {
    if (spec.group != format::TensorGroup::experts) continue;
    ExpertCandidates& expert = by_id[{spec.layer, spec.expert}];
    expert.layer = spec.layer;
    expert.expert = spec.expert;
    expert.frequency = fractions[size_t(spec.layer)][size_t(spec.expert)];
    if (expert.options.empty()) {
      for (TensorType type : kCandidates) expert.options.push_back({type});
      if (std::find(kCandidates.begin(), kCandidates.end(), uniform_type) == kCandidates.end()) {
        expert.options.push_back({uniform_type});
      }
    }
    uint64_t weights = 1;
    for (uint64_t dim : spec.shape) weights *= dim;
    for (ExpertOption& option : expert.options) {
      Recipe trial = recipe;
      trial.types[format::TensorGroup::experts] = option.type;
      trial.expert_types.clear();
      const TensorType stored = trial.type_for(spec);
      const uint64_t bytes = *quant::tensor_bytes(stored, spec.shape);
      // The next matrix starts 64-byte aligned (container_writer.cpp); the range ends at w2's end.
      option.range_bytes = align_to_tensor(option.range_bytes) + bytes;
      option.bytes += bytes;
      // Never-routed experts still get a tiny weight, so ties go to the smaller type.
      option.error += (expert.frequency + 1e-9) * relative_squared_error(stored) * double(weights);
    }
  }
  std::vector<ExpertCandidates> experts;
  for (auto& [id, expert] : by_id) {
    std::sort(expert.options.begin(), expert.options.end(),
              [](const ExpertOption& a, const ExpertOption& b) { return a.bytes < b.bytes; });
    for (size_t o = 0; o < expert.options.size(); ++o) {
      if (expert.options[o].type == uniform_type) expert.uniform = o;
    }
    experts.push_back(std::move(expert));
  }
  return experts;
}

std::vector<size_t> allocate_expert_bytes(const std::vector<ExpertCandidates>& experts, uint64_t budget_bytes) {
  // Bisect lambda (error per byte) on a log scale for the smallest one that fits the budget.
  std::vector<size_t> chosen(experts.size()), best(experts.size());
  double low = 1e-30, high = 1e30;
  for (int i = 0; i < 200; ++i) {
    const double middle = std::sqrt(low * high);
    if (choose(experts, middle, chosen) <= budget_bytes) {
      high = middle;
    } else {
      low = middle;
    }
  }
  uint64_t bytes = choose(experts, high, best);
  // Spend the rest of the budget on the upgrades that save the most error per byte.
  for (;;) {
    double best_ratio = 0;
    size_t best_expert = experts.size(), best_option = 0;
    for (size_t e = 0; e < experts.size(); ++e) {
      const ExpertOption& current = experts[e].options[best[e]];
      for (size_t o = best[e] + 1; o < experts[e].options.size(); ++o) {
        const ExpertOption& upgrade = experts[e].options[o];
        if (upgrade.bytes <= current.bytes || bytes - current.bytes + upgrade.bytes > budget_bytes) continue;
        const double ratio = (current.error - upgrade.error) / double(upgrade.bytes - current.bytes);
        if (ratio > best_ratio) {
          best_ratio = ratio;
          best_expert = e;
          best_option = o;
        }
      }
    }
    if (best_expert == experts.size()) break;
    bytes = bytes - experts[best_expert].options[best[best_expert]].bytes + experts[best_expert].options[best_option].bytes;
    best[best_expert] = best_option;
  }
  return best;
}

ExpertBitsSummary record_expert_types(const std::vector<ExpertCandidates>& experts, const std::vector<size_t>& chosen,
                                      Recipe& recipe) {
  ExpertBitsSummary summary;
  recipe.expert_types.clear();
  for (size_t e = 0; e < experts.size(); ++e) {
    const ExpertOption& uniform = experts[e].options[experts[e].uniform];
    const ExpertOption& option = experts[e].options[chosen[e]];
    recipe.expert_types[{experts[e].layer, experts[e].expert}] = option.type;
    summary.uniform_bytes += uniform.bytes;
    summary.uniform_error += uniform.error;
    summary.planned_bytes += option.bytes;
    summary.planned_error += option.error;
    ++summary.experts_per_type[std::string(quant::type_name(option.type))];
  }
  return summary;
}

ExpertBitsSummary plan_expert_bits(const std::vector<format::TensorSpec>& specs, const ImportanceMatrix& imatrix,
                                   const std::string& imatrix_path, Recipe& recipe) {
  const std::vector<ExpertCandidates> experts = expert_candidates(specs, imatrix, imatrix_path, recipe);
  uint64_t uniform_bytes = 0;
  for (const ExpertCandidates& expert : experts) uniform_bytes += expert.options[expert.uniform].bytes;
  recipe.expert_bits = "auto";
  return record_expert_types(experts, allocate_expert_bytes(experts, uniform_bytes), recipe);
}

}  // namespace smoe::convert
