// `smoe-convert synth`: a container with a real model's exact shapes and random weights, to
// measure speed at full size on machines that cannot hold (or download) the real model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "convert/expert_tiers.h"
#include "convert/plan.h"
#include "convert/recipe.h"
#include "smoe/hyperparameters.h"

namespace smoe::convert {

// Hyperparameters of a named preset: "mixtral-8x7b" or "mixtral-8x22b"; throws for others.
Hyperparameters synth_preset(const std::string& name);

struct SynthOptions {
  std::string preset = "mixtral-8x7b";
  uint32_t layers = 0;           // 0 = the preset's full depth
  std::string tokenizer;         // a SentencePiece tokenizer.model to embed (<= vocab pieces)
  std::string output;
  Recipe recipe = make_recipe("q4");
  uint64_t seed = 1;
  bool show_progress = false;
  uint64_t max_panel_columns = kDefaultPanelColumns;  // as ConvertOptions::max_panel_columns
  bool interleave = true;                         // as ConvertOptions::interleave
  // Per-expert types as the converter's --expert-bits, from the routing counts of `imatrix`
  // (e.g. `smoe-convert calibrate` run on a synthetic file of the same shapes): random weights
  // route almost evenly, so this gives a file the size and mix of types a real plan would.
  ExpertBitsTarget expert_bits;
  std::string imatrix;
};

// Writes the container. Each tensor holds up to 64 distinct random rows (normal, std 0.02),
// quantized once and repeated: every byte is still read at run time, so speed is real, and
// writing is I/O-bound. Returns the file size; `expert_tiers` gets the plan of ram=SIZE.
uint64_t write_synthetic_model(const SynthOptions& options, std::optional<ExpertTiersSummary>* expert_tiers = nullptr);

}  // namespace smoe::convert
