// Calibration on text the model writes itself, for conversions given no calibration text: a
// quantized copy of the model samples many short continuations of BOS and of a few neutral
// openings with a fixed seed, and every token it evaluates on the way is observed, as
// `calibrate` observes a text (calibrate.h). The text follows the model's own distribution, so
// the router's counts are the ones it produces when it writes.
#pragma once

#include <cstdint>

#include "convert/importance_matrix.h"
#include "smoe/hyperparameters.h"
#include "smoe/model.h"

namespace smoe::convert {

struct SelfCalibrationOptions {
  uint64_t tokens = 0;                // tokens to evaluate; 0 = self_calibration_tokens(the model)
  uint64_t seed = 1;                  // sampling seed: the same seed (and model) gives the same statistics
  uint32_t continuation_tokens = 96;  // longest continuation of one opening
  uint32_t sequences = 32;            // continuations decoded together (Session::eval_together)
  bool show_progress = false;         // a counter on stderr
  bool covariance = false;            // also gather each input's covariance (GPTQ rounding)
};

struct SelfCalibrationReport {
  uint64_t tokens = 0;             // tokens evaluated: openings and sampled tokens
  uint64_t continuations = 0;      // sequences sampled
  uint64_t min_expert_tokens = 0;  // fewest tokens routed to any expert of any layer
  double seconds = 0;
};

// Enough tokens for every expert to see about 1024 on average (experts / top-k x 1024), at
// least 2048 and at most 16384: seconds on a test model, minutes on Mixtral 8x7B.
uint64_t self_calibration_tokens(const Hyperparameters& hp);

// The context a model needs for self_generated_statistics (an opening and a continuation).
uint32_t self_calibration_context(const SelfCalibrationOptions& options);

// Samples from `model` and returns its statistics (sums, as ImportanceMatrix::add leaves
// them). Stops at the token budget once every expert of every layer has been routed some
// token, or at four budgets (a model may hardly ever pick an expert: mixtral-tiny sends one
// none of 16384 tokens of real text, and one of 10253 self-generated ones).
// Deterministic for a given seed, model and options.
ImportanceMatrix self_generated_statistics(const Model& model, const SelfCalibrationOptions& options,
                                           SelfCalibrationReport& report, ImportanceMatrix gathered = {});

// Fewest tokens the router sent to one expert ("routing.L" counts; 0 when a layer has none).
uint64_t min_expert_tokens(const ImportanceMatrix& matrix, const Hyperparameters& hp);

}  // namespace smoe::convert
