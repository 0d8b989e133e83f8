// The conversion pipeline: checkpoint -> schema check -> planned layout -> streamed tensors.
#include "convert/convert_checkpoint.h"

#include <optional>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <vector>

#include "convert/checkpoint.h"
#include "convert/background_append.h"
#include "convert/container_writer.h"
#include "convert/importance_matrix.h"
#include "convert/plan.h"
#include "convert/progress.h"
#include "format/metadata.h"
#include "ops/cpu_plan.h"
#include "quant/formats/convert_row.h"
#include "quant/gptq_rounding.h"
#include "smoe/chat.h"
#include "smoe/error.h"
#include "smoe/version.h"
#include "util/hashing.h"

namespace smoe::convert {
namespace {

constexpr uint64_t kChunkBytes = 4ull << 20;  // f32 rows converted at a time
constexpr uint64_t kGptqTileRows = 8;           // rows GPTQ rounds side by side

// Everything but the recipe: the model, its tokenizer and template, where it came from.
format::Metadata build_metadata(const Checkpoint& checkpoint, const ConvertOptions& options) {
  format::Metadata metadata;
  metadata.hyperparameters = checkpoint.hyperparameters();
  metadata.chat_template = options.chat_template.empty() ? checkpoint.chat_template() : options.chat_template;
  metadata.tokenizer = checkpoint.tokenizer_config();
  metadata.template_variables = checkpoint.template_variables();
  nlohmann::json sources = nlohmann::json::array();
  for (const SourceFile& file : checkpoint.source_files()) {
    nlohmann::json entry = {{"file", std::filesystem::path(file.path).filename().string()}, {"bytes", file.bytes}};
    if (options.hash_sources) entry["sha256"] = sha256_file_hex(file.path);
    sources.push_back(entry);
  }
  metadata.provenance = {{"converter", std::string("smoe-convert ") + kVersionString},
                         {"source_format", std::string(checkpoint.format())},
                         {"sources", sources}};
  return metadata;
}

// What the file's recipe records. `imatrix_entry`: the --imatrix file's name and hash (null
// without one).
nlohmann::json recipe_json(const ConvertOptions& options, const Recipe& recipe, const std::vector<PlannedTensor>& plan,
                           const nlohmann::json& imatrix_entry, const nlohmann::json& profile,
                           const ExpertTiersSummary* tiers) {
  nlohmann::json json = recipe.to_json();
  json["bits_per_weight"] = plan_bits_per_weight(plan);
  if (!imatrix_entry.is_null()) {
    json["imatrix"] = imatrix_entry;
  } else if (options.importance) {
    json["calibration"] = options.calibration;
    json["rounding"] = options.gptq_rounding && options.importance->covariance() ? "gptq" : "nearest";
  }
  if (tiers) json["expert_tiers"] = expert_tiers_json(*tiers);
  if (!profile.is_null()) json["routing_profile"] = profile;
  return json;
}

// GPTQ's factors of the last input they were computed for: attn.q, k and v, and an expert's
// w1 and w3, come one after the other and share their input.
struct GptqFactorCache {
  const InputCovariance::Site* site = nullptr;
  std::vector<float> factors;  // gptq_factors(*site); empty: nearest rounding

  const std::vector<float>& of(const InputCovariance::Site& wanted) {
    if (site != &wanted) {
      factors = gptq_factors(wanted);
      site = &wanted;
    }
    return factors;
  }
};

// GPTQ's factors for the rows of `planned` (row_type's rows of row_elements), or nullptr where
// it is rounded to nearest: no covariance (or GPTQ off), a type without GPTQ rounding, an input
// calibration did not gather, or too few tokens. Sets `block_columns`.
const std::vector<float>* gptq_factors_for(const PlannedTensor& planned, quant::TensorType row_type,
                                           uint64_t row_elements, const InputCovariance* covariance,
                                           GptqFactorCache& cache, size_t& block_columns) {
  if (covariance == nullptr || !quant::gptq_rounds(row_type)) return nullptr;
  const InputCovariance::Site* site = covariance->find(planned.name);
  if (site == nullptr || site->columns != row_elements ||
      site->block_columns % quant::gptq_group_elements(row_type) != 0) {
    return nullptr;
  }
  const std::vector<float>& factors = cache.of(*site);
  block_columns = site->block_columns;
  return factors.empty() ? nullptr : &factors;
}

// Streams one tensor: source rows -> f32 chunk -> target type -> writer; or, when the source
// already holds the target type's blocks, the rows as they are.
void write_tensor(const ContainerWriter& writer, BackgroundAppender& appender, size_t index, const TensorSource& source,
                  const ImportanceMatrix* imatrix,
                  const InputCovariance* covariance, GptqFactorCache& factor_cache, std::vector<float>& rows_f32,
                  std::vector<std::byte>& rows_out) {
  const PlannedTensor& planned = writer.tensors()[index];
  const uint64_t row_elements = planned.shape.back();
  // Rows of the row type (q4k / q8 for q4k_x8 / q8_x8: the writer interleaves them).
  const quant::TensorType row_type = quant::row_type(planned.type);
  const uint64_t out_row_bytes = *quant::row_bytes(row_type, row_elements);
  const uint64_t total_rows = planned.bytes / out_row_bytes;
  const uint64_t chunk_rows = std::max<uint64_t>(1, kChunkBytes / (row_elements * sizeof(float)));
  const bool copy_blocks = source.stored_type() == row_type;
  // This CPU's fastest quantizer of the row type: the same bytes as the reference's (kernels.h).
  const auto quantize_row = ops::default_cpu_plan().kernels->for_type(row_type).quantize_row;
  // Importance is per input column, so the same vector serves every row of the tensor.
  const std::vector<float> importance =
      imatrix && !copy_blocks ? imatrix->importance(planned.name, row_elements) : std::vector<float>{};
  size_t block_columns = 0;
  const std::vector<float>* factors =
      copy_blocks ? nullptr
                  : gptq_factors_for(planned, row_type, row_elements, covariance, factor_cache, block_columns);
  for (uint64_t first = 0; first < total_rows; first += chunk_rows) {
    const uint64_t rows = std::min(chunk_rows, total_rows - first);
    rows_out.resize(rows * out_row_bytes);
    if (copy_blocks) {
      source.read_rows_stored(first, rows, rows_out.data());
    } else {
      rows_f32.resize(rows * row_elements);
      // Rows are read (decoded to f32, faulting their pages in) and quantized independently:
      // spread both over the cores (the result does not depend on the thread count), handed
      // out a few at a time so a core that is busy elsewhere does not hold up the chunk.
      // An exception must not leave the parallel region: the first one is kept and rethrown.
      std::exception_ptr failure;
      // GPTQ rounds rows side by side (quant::quantize_rows_gptq): handed out a tile at a time.
      const uint64_t tile = factors != nullptr ? kGptqTileRows : 1;
      const uint64_t tiles = (rows + tile - 1) / tile;
#pragma omp parallel for schedule(dynamic, factors != nullptr ? 1 : 4)
      for (uint64_t t = 0; t < tiles; ++t) {
        try {
          const uint64_t r = t * tile, count = std::min(tile, rows - r);
          source.read_rows_f32(first + r, count, rows_f32.data() + r * row_elements);
          const float* row = rows_f32.data() + r * row_elements;
          std::byte* out = rows_out.data() + r * out_row_bytes;
          const float* row_importance = importance.empty() ? nullptr : importance.data();
          if (factors != nullptr) {
            quant::quantize_rows_gptq(row_type, quantize_row, row, out, count, row_elements, row_importance,
                                      factors->data(), block_columns);
          } else {
            quantize_row(row, out, row_elements, row_importance);
          }
        } catch (...) {
#pragma omp critical(convert_failure)
          if (!failure) failure = std::current_exception();
        }
      }
      if (failure) std::rethrow_exception(failure);
    }
    // Written while the next chunk is read and quantized; then those source pages are done
    // with: resident memory stays near two chunks, not the model.
    appender.append(index, rows_out, [&source, first, rows] { source.release_rows(first, rows); });
  }
}

// --type keep: every weight tensor in the type its source blocks already are, where smoe has
// that type and the rows fit it; the rest is requantized to the nearest type with at least as
// many bits, and reported. Norms and the router stay f32 (exact for any source type), and
// groups given explicitly (--experts q4k) keep their override.
std::vector<std::string> plan_keep(const std::vector<format::TensorSpec>& specs,
                                   const std::vector<std::unique_ptr<TensorSource>>& sources, Recipe& recipe) {
  std::map<std::string, std::pair<uint32_t, std::string>> requantized;  // source type -> (tensors, target)
  for (size_t i = 0; i < specs.size(); ++i) {
    const format::TensorSpec& spec = specs[i];
    if (spec.group == format::TensorGroup::norms || spec.group == format::TensorGroup::router ||
        recipe.overridden.contains(spec.group)) {
      continue;
    }
    const std::optional<quant::TensorType> stored = sources[i]->stored_type();
    const std::string source_type = sources[i]->source_type();
    if (stored && quant::row_fits_type(*stored, spec.shape.back())) {
      recipe.tensor_types[spec.name] = *stored;
      continue;
    }
    // No exact equivalent: 5-bit types go up to q6k, 2-bit ones to q3k (type_for steps rows
    // that are too short down to q8 / q4).
    const quant::TensorType wanted = source_type.starts_with("Q2") ? quant::TensorType::q3k : quant::TensorType::q6k;
    recipe.tensor_types[spec.name] = wanted;
    auto& entry = requantized[source_type];
    ++entry.first;
    entry.second = std::string(quant::type_name(recipe.type_for(spec)));
  }
  std::vector<std::string> notes;
  for (const auto& [source_type, entry] : requantized) {
    notes.push_back(std::to_string(entry.first) + " tensors in " + source_type +
                    " have no exact smoe type: dequantized and requantized (to " + entry.second + ")");
  }
  return notes;
}

// A template the runtime cannot render is refused now, not when someone first chats.
void check_chat_template(const std::string& source, const std::string& where) {
  if (source.empty()) return;
  try {
    ChatTemplate parsed(source, {});
  } catch (const Error& error) {
    throw Error(where, std::string("smoe cannot render this chat template (") + error.what() +
                           "); give a replacement with --chat-template FILE");
  }
}

}  // namespace

ConvertReport convert_checkpoint(const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::unique_ptr<Checkpoint> checkpoint = open_checkpoint(options.input, options.from);
  std::shared_ptr<const ImportanceMatrix> imatrix = options.importance;
  if (!options.imatrix.empty()) imatrix = std::make_shared<ImportanceMatrix>(ImportanceMatrix::load(options.imatrix));
  check_chat_template(options.chat_template.empty() ? checkpoint->chat_template() : options.chat_template,
                      options.chat_template.empty() ? options.input : "--chat-template");
  const std::vector<format::TensorSpec> specs = format::mixtral_tensor_specs(checkpoint->hyperparameters());
  // Every tensor is found and its shape and type checked before anything is written.
  std::vector<std::unique_ptr<TensorSource>> sources;
  for (const format::TensorSpec& spec : specs) sources.push_back(checkpoint->tensor_source(spec));

  const std::string& tokenizer = checkpoint->tokenizer_model();
  Recipe recipe = options.recipe;
  ConvertReport report;
  if (recipe.keep) report.notes = plan_keep(specs, sources, recipe);
  format::Metadata metadata = build_metadata(*checkpoint, options);
  const nlohmann::json imatrix_entry =
      options.imatrix.empty() ? nlohmann::json(nullptr)
                              : nlohmann::json{{"file", std::filesystem::path(options.imatrix).filename().string()},
                                               {"sha256", sha256_file_hex(options.imatrix)}};
  const nlohmann::json profile =
      imatrix ? routing_profile_json(*imatrix, metadata.hyperparameters) : nlohmann::json(nullptr);
  const ExpertBitsTarget& target = options.expert_bits;
  if (target.kind != ExpertBitsTarget::Kind::uniform) {
    if (!imatrix) {
      throw Error("--expert-bits " + target.spelling,
                  "needs routing counts: calibration (not --no-calibration) or --imatrix");
    }
    const std::string& counts = options.imatrix.empty() ? options.calibration : options.imatrix;
    if (target.kind == ExpertBitsTarget::Kind::automatic) {
      report.expert_bits = plan_expert_bits(specs, *imatrix, counts, recipe);
    } else {
      // The file's bytes outside its expert ranges, laid out as the writer will lay them out.
      const auto non_expert = [&](const Recipe& planned, const ExpertTiersSummary* tiers) {
        std::vector<PlannedTensor> trial =
            plan_model(specs, planned, tokenizer.size(), options.max_panel_columns, options.interleave);
        format::Metadata trial_metadata = metadata;
        trial_metadata.recipe = recipe_json(options, planned, trial, imatrix_entry, profile, tiers);
        const format::FileHeader header =
            plan_file_layout(format::metadata_to_json(trial_metadata).dump().size(), trial, options.output);
        return non_expert_bytes(header, trial);
      };
      ExpertTierBudget budget = runtime_default_budget(target.ram_bytes, metadata.hyperparameters);
      budget.non_expert_bytes = non_expert(recipe, nullptr);
      report.expert_tiers = plan_expert_tiers_for_file(
          specs, *imatrix, counts, budget, target.spelling,
          [&](const Recipe& planned, const ExpertTiersSummary& tiers) { return non_expert(planned, &tiers); }, recipe);
      report.expert_bits = report.expert_tiers->bits;
    }
  }
  std::vector<PlannedTensor> plan =
      plan_model(specs, recipe, tokenizer.size(), options.max_panel_columns, options.interleave);
  metadata.recipe =
      recipe_json(options, recipe, plan, imatrix_entry, profile, report.expert_tiers ? &*report.expert_tiers : nullptr);
  ContainerWriter writer(options.output, metadata, std::move(plan));
  ProgressBar progress(writer.tensors().size(), writer.file_bytes(), options.show_progress);
  std::vector<float> rows_f32;
  std::vector<std::byte> rows_out;
  const InputCovariance* covariance =
      imatrix && options.gptq_rounding && imatrix->covariance() ? imatrix->covariance().get() : nullptr;
  GptqFactorCache factor_cache;
  uint64_t bytes_done = 0;
  {
    BackgroundAppender appender(writer);
    for (size_t i = 0; i < sources.size(); ++i) {
      write_tensor(writer, appender, i, *sources[i], imatrix.get(), covariance, factor_cache, rows_f32, rows_out);
      bytes_done += writer.tensors()[i].bytes;
      progress.update(i + 1, bytes_done);
    }
    appender.wait();
  }
  writer.append(sources.size(), tokenizer.data(), tokenizer.size());
  writer.finish();
  progress.finish();

  report.tensors = writer.tensors().size();
  report.file_bytes = writer.file_bytes();
  for (const SourceFile& file : checkpoint->source_files()) report.source_bytes += file.bytes;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace smoe::convert
