// `smoe-convert calibrate`: runs a (preferably f32) container over calibration text and writes
// an importance matrix (per tensor, per expert) plus the router's selection counts. The pieces
// also serve the converter's own calibration (calibrated_conversion.h).
#pragma once

#include <cstdint>
#include <string>

#include "convert/importance_matrix.h"
#include "smoe/model.h"
#include "smoe/session.h"

namespace smoe::convert {

struct CalibrateOptions {
  std::string model;           // the .smoe to run (f32 for honest statistics)
  std::string text;            // calibration text, one passage a line (BOS before each); "" = self-generated
  uint64_t seed = 1;           // sampling seed of self-generated text
  std::string output;          // the .imatrix to write
  std::string exclude_tokens;  // optional int32 token windows (e.g. ppl_windows.i32) whose lines to skip
  uint32_t window = 256;       // tokens evaluated at a time
  // Stop after this many calibration tokens; 0 = 32768 of a text, self_calibration_tokens()
  // of self-generated text.
  uint64_t max_tokens = 0;
  int threads = 0;             // 0 = all cores
  bool show_progress = false;
  bool covariance = false;     // text_statistics: also gather each input's covariance (GPTQ rounding)
};

struct CalibrateReport {
  uint64_t tokens = 0;
  uint64_t lines_used = 0;
  uint64_t lines_excluded = 0;
  uint64_t min_expert_tokens = 0;  // fewest tokens routed to one expert of one layer
  double seconds = 0;
};

CalibrateReport calibrate(const CalibrateOptions& options);

// From now on, every weight matrix's input that `session` multiplies and every expert its
// router picks are added to `matrix` (the session must outlive neither).
void gather_statistics(Session& session, ImportanceMatrix& matrix, uint32_t experts);

// The statistics of `model` (loaded with a context of at least options.window) over the text
// of `options` (its model and output are unused); fills the counts of `report`. Throws
// smoe::Error naming the text when it cannot be read or holds no usable line.
ImportanceMatrix text_statistics(const Model& model, const CalibrateOptions& options, CalibrateReport& report);

}  // namespace smoe::convert
