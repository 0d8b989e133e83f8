// Conversion of a Mixtral checkpoint (Hugging Face, GGUF or Mistral's layout) into a .smoe
// container, tensor by tensor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convert/expert_bits.h"
#include "convert/expert_tiers.h"
#include "convert/importance_matrix.h"
#include "convert/plan.h"
#include "convert/recipe.h"

namespace smoe::convert {

struct ConvertOptions {
  std::string input;          // HF directory or its safetensors/index file, a .gguf file, or a Mistral directory
  std::string from;           // "hf", "gguf", "mistral", or empty to detect the format
  std::string output;         // the .smoe file to write
  Recipe recipe = make_recipe("q8");
  bool show_progress = false;  // draw a progress bar on stderr
  bool hash_sources = true;    // SHA-256 of every source file into the provenance
  std::string imatrix;         // optional importance matrix (smoe-convert calibrate) for q4/q4k
  // Statistics gathered in memory (calibrated_conversion.h), used as the importance matrix
  // when `imatrix` is empty; `calibration` says what they came from and is recorded as the
  // recipe's "calibration" (nothing is recorded without them: "none").
  std::shared_ptr<const ImportanceMatrix> importance;
  std::string calibration;
  // Round q4, q4k, q3k and q6k tensors with GPTQ (quant/gptq_rounding.h) where `importance`
  // carries covariance (calibration gathers it when this is set), recorded as the recipe's
  // "rounding"; false: each weight to its nearest level (--rounding nearest).
  bool gptq_rounding = true;
  // Per-expert types from the importance matrix's routing counts (auto, ram=SIZE), or none.
  ExpertBitsTarget expert_bits;
  uint64_t max_panel_columns = kDefaultPanelColumns;  // widest column panel (0 = contiguous rows; plan.h)
  bool interleave = true;  // q4k / q8 matrices as q4k_x8 / q8_x8 (plan_model); --no-interleave: plain rows
  std::string chat_template;  // Jinja source replacing the release's template ("" = the release's own)
};

struct ConvertReport {
  uint64_t tensors = 0;
  uint64_t file_bytes = 0;
  uint64_t source_bytes = 0;
  double seconds = 0;
  std::optional<ExpertBitsSummary> expert_bits;    // with --expert-bits auto or ram=SIZE
  std::optional<ExpertTiersSummary> expert_tiers;  // with --expert-bits ram=SIZE
  std::vector<std::string> notes;                // what --type keep could not keep, and what it did instead
};

// Validates the whole checkpoint against the schema before writing anything, then streams
// each tensor through a bounded buffer (peak memory about one chunk of rows, not one model).
// Throws smoe::Error; on failure no output file is left behind.
ConvertReport convert_checkpoint(const ConvertOptions& options);

}  // namespace smoe::convert
