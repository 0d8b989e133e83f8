// The conversion pipeline: checkpoint -> schema check -> planned layout -> streamed tensors.
#include "convert/convert_checkpoint.h"

#include <optional>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include "convert/container_writer.h"
#include "convert/plan.h"
#include "convert/hf_checkpoint.h"
#include "convert/importance_matrix.h"
#include "convert/progress.h"
#include "format/metadata.h"
#include "quant/convert_row.h"
#include "smoe/error.h"
#include "smoe/version.h"
#include "util/hashing.h"

namespace smoe::convert {
namespace {

constexpr uint64_t kChunkBytes = 4ull << 20;  // f32 rows converted at a time

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

struct SourceBinding {
  const model::TensorSpec* spec;
  HfCheckpoint::Located source;
};

// Finds every tensor the schema needs and checks its shape and dtype before anything is written.
std::vector<SourceBinding> bind_sources(const HfCheckpoint& checkpoint, const std::vector<model::TensorSpec>& specs) {
  std::vector<SourceBinding> bindings;
  for (const model::TensorSpec& spec : specs) {
    std::string hf_name = hf_tensor_name(spec.name);
    if (spec.name == "output" && checkpoint.tied_embeddings()) hf_name = hf_tensor_name("token_embd");
    const HfCheckpoint::Located located = checkpoint.tensor(hf_name);
    if (located.tensor->shape != spec.shape) {
      throw Error(located.file->path(), "tensor '" + hf_name + "' has shape " + shape_string(located.tensor->shape) +
                                            " but config.json implies " + shape_string(spec.shape));
    }
    const std::string& dtype = located.tensor->dtype;
    if (dtype != "BF16" && dtype != "F16" && dtype != "F32") {
      throw Error(located.file->path(), "tensor '" + hf_name + "' has unsupported dtype " + dtype +
                                            " (supported: BF16, F16, F32)");
    }
    bindings.push_back({&spec, located});
  }
  return bindings;
}

format::Metadata build_metadata(const HfCheckpoint& checkpoint, const ConvertOptions& options, const Recipe& recipe,
                                const std::vector<PlannedTensor>& plan) {
  format::Metadata metadata;
  metadata.hyperparameters = checkpoint.hyperparameters();
  metadata.chat_template = checkpoint.chat_template();
  nlohmann::json sources = nlohmann::json::array();
  for (const SourceFile& file : checkpoint.source_files()) {
    nlohmann::json entry = {{"file", std::filesystem::path(file.path).filename().string()}, {"bytes", file.bytes}};
    if (options.hash_sources) entry["sha256"] = sha256_file_hex(file.path);
    sources.push_back(entry);
  }
  metadata.provenance = {{"converter", std::string("smoe-convert ") + kVersionString},
                         {"source_format", "huggingface"},
                         {"sources", sources}};
  metadata.recipe = recipe.to_json();
  metadata.recipe["bits_per_weight"] = plan_bits_per_weight(plan);
  if (!options.imatrix.empty()) {
    metadata.recipe["imatrix"] = {{"file", std::filesystem::path(options.imatrix).filename().string()},
                                  {"sha256", sha256_file_hex(options.imatrix)}};
  }
  return metadata;
}

// Streams one tensor: source rows -> f32 chunk -> target type -> writer.
void write_tensor(ContainerWriter& writer, size_t index, const SourceBinding& binding, const ImportanceMatrix* imatrix,
                  std::vector<float>& rows_f32, std::vector<std::byte>& rows_out) {
  const PlannedTensor& planned = writer.tensors()[index];
  const uint64_t row_elements = planned.shape.back();
  // Importance is per input column, so the same vector serves every row of the tensor.
  const std::vector<float> importance = imatrix ? imatrix->importance(planned.name, row_elements) : std::vector<float>{};
  const uint64_t total_rows = planned.bytes / *quant::row_bytes(planned.type, row_elements);
  const uint64_t out_row_bytes = *quant::row_bytes(planned.type, row_elements);
  const uint64_t chunk_rows = std::max<uint64_t>(1, kChunkBytes / (row_elements * sizeof(float)));
  for (uint64_t first = 0; first < total_rows; first += chunk_rows) {
    const uint64_t rows = std::min(chunk_rows, total_rows - first);
    rows_f32.resize(rows * row_elements);
    rows_out.resize(rows * out_row_bytes);
    binding.source.file->read_rows_f32(*binding.source.tensor, first, rows, rows_f32.data());
    // Rows quantize independently: spread them over the cores (the result does not depend on
    // the thread count).
#pragma omp parallel for schedule(static)
    for (uint64_t r = 0; r < rows; ++r) {
      quant::quantize_row(planned.type, rows_f32.data() + r * row_elements, rows_out.data() + r * out_row_bytes,
                          row_elements, importance.empty() ? nullptr : importance.data());
    }
    writer.append(index, rows_out.data(), rows_out.size());
    // Those source pages are done with: resident memory stays near one chunk, not the model.
    binding.source.file->release_rows(*binding.source.tensor, first, rows);
  }
}

}  // namespace

ConvertReport convert_checkpoint(const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const HfCheckpoint checkpoint = HfCheckpoint::open(options.input);
  std::unique_ptr<ImportanceMatrix> imatrix;
  if (!options.imatrix.empty()) imatrix = std::make_unique<ImportanceMatrix>(ImportanceMatrix::load(options.imatrix));
  const std::vector<model::TensorSpec> specs = model::mixtral_tensor_specs(checkpoint.hyperparameters());
  const std::vector<SourceBinding> bindings = bind_sources(checkpoint, specs);

  const std::string& tokenizer = checkpoint.tokenizer_model();
  Recipe recipe = options.recipe;
  std::optional<ExpertBitsSummary> expert_bits;
  if (options.expert_bits_auto) {
    if (!imatrix) throw Error("--expert-bits auto", "needs --imatrix (routing counts from `smoe-convert calibrate`)");
    expert_bits = plan_expert_bits(specs, *imatrix, options.imatrix, recipe);
  }
  std::vector<PlannedTensor> plan = plan_model(specs, recipe, tokenizer.size());

  format::Metadata metadata = build_metadata(checkpoint, options, recipe, plan);
  ContainerWriter writer(options.output, metadata, std::move(plan));
  ProgressBar progress(writer.tensors().size(), writer.file_bytes(), options.show_progress);
  std::vector<float> rows_f32;
  std::vector<std::byte> rows_out;
  uint64_t bytes_done = 0;
  for (size_t i = 0; i < bindings.size(); ++i) {
    write_tensor(writer, i, bindings[i], imatrix.get(), rows_f32, rows_out);
    bytes_done += writer.tensors()[i].bytes;
    progress.update(i + 1, bytes_done);
  }
  writer.append(bindings.size(), tokenizer.data(), tokenizer.size());
  writer.finish();
  progress.finish();

  ConvertReport report;
  report.tensors = writer.tensors().size();
  report.expert_bits = expert_bits;
  report.file_bytes = writer.file_bytes();
  for (const SourceFile& file : checkpoint.source_files()) report.source_bytes += file.bytes;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace smoe::convert
