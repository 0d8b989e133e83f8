// Conversion with an importance matrix gathered on the spot: what `smoe-convert` does for a
// 4- or 3-bit recipe given no --imatrix. The checkpoint is first converted to q8 in a
// temporary file next to the output (streamed tensor by tensor, so memory stays bounded even
// for a model whose unquantized weights would not fit), that copy is run over calibration
// text (its own samples, or the user's) to gather every matrix's input statistics and the
// router's counts, the copy is removed, and the checkpoint is converted again with those
// statistics as the importance matrix and, by default, per-expert bits from the counts and
// GPTQ rounding from the inputs' covariance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "convert/convert_checkpoint.h"

namespace smoe::convert {

enum class CalibrationSource {
  automatic,       // self_generated for recipes calibrates_by_default() accepts without --imatrix; else none
  none,            // no statistics: the recipe as given (or --imatrix's)
  self_generated,  // text the model samples itself (self_calibration.h)
  text,            // CalibrationOptions::text, one passage a line
};

struct CalibrationOptions {
  CalibrationSource source = CalibrationSource::automatic;
  std::string text;     // with source text: the file to read
  uint64_t tokens = 0;  // tokens to evaluate; 0 = self_calibration_tokens(the model)
  uint64_t seed = 1;    // sampling seed of self-generated text
  // Per-expert bits from the routing counts (--expert-bits): unset = auto when this
  // conversion calibrates, uniform otherwise (and with --imatrix, as before).
  std::optional<ExpertBitsTarget> expert_bits;
  // GPTQ rounding (--rounding): unset = gptq when this conversion calibrates (it then gathers
  // each input's covariance too), nearest otherwise; true where it does not calibrate is refused.
  std::optional<bool> gptq_rounding;
  int threads = 0;  // threads running the q8 copy (0 = all cores)
};

struct CalibrationSummary {
  std::string description;         // as recorded in the recipe, e.g. "self-generated, 4096 tokens, seed 1"
  uint64_t tokens = 0;             // tokens evaluated
  uint64_t min_expert_tokens = 0;  // fewest tokens routed to one expert of one layer
  double copy_seconds = 0;         // writing the temporary q8 copy
  double statistics_seconds = 0;   // loading it and evaluating the text
};

struct CalibratedConvertReport {
  ConvertReport conversion;  // the final conversion's (its seconds include calibration's)
  std::optional<CalibrationSummary> calibration;  // when it calibrated
};

// Recipes whose quantizers weigh errors by importance and whose experts are 3 or 4 bits:
// q4, q4k, q3k (not keep).
bool calibrates_by_default(const Recipe& recipe);

// The converter's front door: resolves `calibration` against `options` (a recipe that does
// not take importance refuses explicit calibration; --imatrix excludes it), calibrates when it
// should and converts. The q8 copy is removed on success, on failure and on SIGINT/SIGTERM/
// SIGHUP (install_interrupt_cleanup). Throws smoe::Error; an unreadable text is refused,
// naming it, before anything is written.
CalibratedConvertReport convert_with_calibration(ConvertOptions options, const CalibrationOptions& calibration);

}  // namespace smoe::convert
