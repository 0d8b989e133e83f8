// Synthetic containers with real shapes.
#include "convert/synth.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "convert/builtin_templates.h"
#include "convert/container_writer.h"
#include "convert/importance_matrix.h"
#include "convert/plan.h"
#include "convert/progress.h"
#include "format/metadata.h"
#include "quant/formats/convert_row.h"
#include "smoe/error.h"
#include "smoe/version.h"

namespace smoe::convert {
namespace {

constexpr uint64_t kDistinctRows = 64;

std::vector<std::byte> distinct_rows(const PlannedTensor& tensor, std::mt19937_64& generator) {
  const uint64_t row_elements = tensor.shape.back();
  const uint64_t rows = tensor.shape.size() == 2 ? std::min(tensor.shape[0], kDistinctRows) : 1;
  const quant::TensorType type = quant::row_type(tensor.type);  // the writer interleaves q4k_x8's / q8_x8's rows
  const uint64_t row_bytes = *quant::row_bytes(type, row_elements);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  const bool is_norm = tensor.shape.size() == 1;
  std::vector<float> values(row_elements);
  std::vector<std::byte> bytes(rows * row_bytes);
  for (uint64_t r = 0; r < rows; ++r) {
    for (float& value : values) value = is_norm ? 1.0f + normal(generator) : normal(generator);
    quant::quantize_row(type, values.data(), bytes.data() + r * row_bytes, row_elements);
  }
  return bytes;
}

}  // namespace

Hyperparameters synth_preset(const std::string& name) {
  Hyperparameters hp;
  hp.num_attention_heads = 32;
  hp.num_key_value_heads = 8;
  hp.head_dim = 128;
  hp.num_local_experts = 8;
  hp.num_experts_per_tok = 2;
  hp.rope_theta = 1e6;
  hp.rms_norm_eps = 1e-5;
  hp.bos_token_id = 1;
  hp.eos_token_id = 2;
  if (name == "mixtral-8x7b") {
    hp.hidden_size = 4096;
    hp.intermediate_size = 14336;
    hp.num_hidden_layers = 32;
    hp.vocab_size = 32000;
    hp.max_position_embeddings = 32768;
  } else if (name == "mixtral-8x22b") {
    hp.hidden_size = 6144;
    hp.intermediate_size = 16384;
    hp.num_hidden_layers = 56;
    hp.num_attention_heads = 48;
    hp.vocab_size = 32768;
    hp.max_position_embeddings = 65536;
  } else {
    throw Error("--preset", "unknown preset '" + name + "' (choose mixtral-8x7b or mixtral-8x22b)");
  }
  return hp;
}

uint64_t write_synthetic_model(const SynthOptions& options, std::optional<ExpertTiersSummary>* expert_tiers) {
  format::Metadata metadata;
  metadata.hyperparameters = synth_preset(options.preset);
  if (options.layers > 0) metadata.hyperparameters.num_hidden_layers = options.layers;
  format::validate_hyperparameters(metadata.hyperparameters, options.preset);
  if (options.tokenizer.empty()) {
    throw Error("synth", "give --tokenizer tokenizer.model (any SentencePiece model; e.g. tests/data/mixtral-tiny/tokenizer.model)");
  }
  std::ifstream tokenizer_file(options.tokenizer, std::ios::binary);
  if (!tokenizer_file) throw Error(options.tokenizer, "cannot open");
  std::ostringstream tokenizer_bytes;
  tokenizer_bytes << tokenizer_file.rdbuf();
  const std::string tokenizer = tokenizer_bytes.str();

  const std::vector<format::TensorSpec> specs = format::mixtral_tensor_specs(metadata.hyperparameters);
  metadata.chat_template =
      options.preset == "mixtral-8x22b" ? kMixtral8x22bInstructTemplate : kMixtral8x7bInstructTemplate;
  metadata.provenance = {{"converter", std::string("smoe-convert ") + kVersionString},
                         {"source_format", "synthetic"},
                         {"preset", options.preset},
                         {"seed", options.seed}};
  Recipe recipe = options.recipe;
  std::optional<ExpertTiersSummary> tiers;
  // With --imatrix the file records its routing profile, as a calibrated conversion's does.
  std::optional<ImportanceMatrix> imatrix;
  if (!options.imatrix.empty()) imatrix = ImportanceMatrix::load(options.imatrix);
  const nlohmann::json profile =
      imatrix ? routing_profile_json(*imatrix, metadata.hyperparameters) : nlohmann::json(nullptr);
  const auto recipe_json = [&](const Recipe& planned, const std::vector<PlannedTensor>& plan,
                               const ExpertTiersSummary* planned_tiers) {
    nlohmann::json json = planned.to_json();
    json["bits_per_weight"] = plan_bits_per_weight(plan);
    if (!options.imatrix.empty())
      json["imatrix"] = {{"file", std::filesystem::path(options.imatrix).filename().string()}};
    if (planned_tiers) json["expert_tiers"] = expert_tiers_json(*planned_tiers);
    if (!profile.is_null()) json["routing_profile"] = profile;
    return json;
  };
  if (options.expert_bits.kind != ExpertBitsTarget::Kind::uniform) {
    if (options.imatrix.empty())
      throw Error("--expert-bits " + options.expert_bits.spelling, "synth needs --imatrix FILE");
    if (options.expert_bits.kind == ExpertBitsTarget::Kind::automatic) {
      plan_expert_bits(specs, *imatrix, options.imatrix, recipe);
    } else {
      const auto non_expert = [&](const Recipe& planned, const ExpertTiersSummary* planned_tiers) {
        std::vector<PlannedTensor> trial =
            plan_model(specs, planned, tokenizer.size(), options.max_panel_columns, options.interleave);
        format::Metadata trial_metadata = metadata;
        trial_metadata.recipe = recipe_json(planned, trial, planned_tiers);
        const format::FileHeader header =
            plan_file_layout(format::metadata_to_json(trial_metadata).dump().size(), trial, options.output);
        return non_expert_bytes(header, trial);
      };
      ExpertTierBudget budget = runtime_default_budget(options.expert_bits.ram_bytes, metadata.hyperparameters);
      budget.non_expert_bytes = non_expert(recipe, nullptr);
      tiers = plan_expert_tiers_for_file(
          specs, *imatrix, options.imatrix, budget, options.expert_bits.spelling,
          [&](const Recipe& planned, const ExpertTiersSummary& planned_tiers) {
            return non_expert(planned, &planned_tiers);
          },
          recipe);
    }
  }
  std::vector<PlannedTensor> plan =
      plan_model(specs, recipe, tokenizer.size(), options.max_panel_columns, options.interleave);
  metadata.recipe = recipe_json(recipe, plan, tiers ? &*tiers : nullptr);
  if (expert_tiers) *expert_tiers = tiers;

  ContainerWriter writer(options.output, metadata, std::move(plan));
  ProgressBar progress(writer.tensors().size(), writer.file_bytes(), options.show_progress);
  std::mt19937_64 generator(options.seed);
  uint64_t bytes_done = 0;
  for (size_t i = 0; i + 1 < writer.tensors().size(); ++i) {
    const PlannedTensor& tensor = writer.tensors()[i];
    const std::vector<std::byte> pattern = distinct_rows(tensor, generator);
    for (uint64_t written = 0; written < tensor.bytes; written += pattern.size()) {
      writer.append(i, pattern.data(), std::min<uint64_t>(pattern.size(), tensor.bytes - written));
    }
    bytes_done += tensor.bytes;
    progress.update(i + 1, bytes_done);
  }
  writer.append(writer.tensors().size() - 1, tokenizer.data(), tokenizer.size());
  writer.finish();
  progress.finish();
  return writer.file_bytes();
}

}  // namespace smoe::convert
