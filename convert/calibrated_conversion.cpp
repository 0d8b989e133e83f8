// Calibrate-then-convert: a temporary q8 copy, its statistics, the final conversion.
#include "convert/calibrated_conversion.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "convert/calibrate.h"
#include "convert/interrupt_cleanup.h"
#include "convert/self_calibration.h"
#include "smoe/error.h"
#include "runtime/weight_placement.h"

namespace smoe::convert {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kTextWindow = 256;  // tokens per evaluation of a user's text, as `calibrate`

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A path that is removed when this goes out of scope, and by the interrupt handler until then.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) { register_temporary_file(path_); }
  ~TemporaryFile() {
    ::unlink(path_.c_str());
    unregister_temporary_file(path_);
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `calibration.source` made definite for this recipe and these options; refuses combinations
// that cannot mean anything.
CalibrationSource resolve_source(const ConvertOptions& options, const CalibrationOptions& calibration) {
  const CalibrationSource source = calibration.source;
  if (source == CalibrationSource::automatic) {
    return options.imatrix.empty() && calibrates_by_default(options.recipe) ? CalibrationSource::self_generated
                                                                            : CalibrationSource::none;
  }
  if (source == CalibrationSource::none) return source;
  if (!options.imatrix.empty()) {
    throw Error("--imatrix", "an importance matrix file replaces calibration: give one or the other");
  }
  if (!calibrates_by_default(options.recipe)) {
    throw Error("--type " + options.recipe.base, "calibration applies to the q4, q4k and q3k recipes only");
  }
  return source;
}

// The q8 copy the statistics are gathered from: 8 bits keep the activations within a fraction
// of a percent of the full-precision model's, at a quarter of f32's bytes.
double write_q8_copy(const ConvertOptions& options, const std::string& path) {
  const auto start = Clock::now();
  ConvertOptions copy = options;
  copy.output = path;
  copy.recipe = make_recipe("q8");
  copy.imatrix.clear();
  copy.importance.reset();
  copy.expert_bits = {};
  copy.hash_sources = false;
  if (options.show_progress) std::fprintf(stderr, "calibration: writing a temporary q8 copy %s\n", path.c_str());
  convert_checkpoint(copy);
  return seconds_since(start);
}

// Loads the copy and gathers its statistics over the chosen text; fills `summary`.
ImportanceMatrix gather_from_copy(const std::string& copy_path, CalibrationSource source,
                                  const CalibrationOptions& calibration, bool show_progress, bool covariance,
                                  CalibrationSummary& summary) {
  const auto start = Clock::now();
  SelfCalibrationOptions self;
  self.tokens = calibration.tokens;
  self.seed = calibration.seed;
  self.show_progress = show_progress;
  self.covariance = covariance;
  ModelOptions model_options;
  model_options.threads = calibration.threads;
  model_options.context_size = source == CalibrationSource::text ? std::max(kTextWindow, self_calibration_context(self))
                                                                  : self_calibration_context(self);
  model_options.kv_type = KvType::f32;
  // The copy was just written, so its pages are in the page cache: mapped, decoding reads them
  // there, where reading it into memory (what automatic loading picks for a file that fits)
  // would copy it once more into freshly zeroed huge pages (5-7 s of the 2-layer synthetic
  // 8x7B's 47-50 s of statistics: docs/PERFORMANCE.md). Mapped only where automatic loading
  // would have read it; otherwise the budget decides as for any load.
  std::error_code error;
  const uint64_t copy_bytes = fs::file_size(copy_path, error);
  if (!error && read_fits(copy_bytes, memory_budget())) model_options.weight_loading = WeightLoading::map;
  const auto model = Model::load(copy_path, model_options);
  const Hyperparameters& hp = model->info().hyperparameters;
  const uint64_t tokens = calibration.tokens != 0 ? calibration.tokens : self_calibration_tokens(hp);

  ImportanceMatrix matrix;
  if (source == CalibrationSource::text) {
    CalibrateOptions text;
    text.text = calibration.text;
    text.window = kTextWindow;
    text.max_tokens = tokens;
    text.show_progress = show_progress;
    text.covariance = covariance;
    CalibrateReport report;
    matrix = text_statistics(*model, text, report);
    // Then the model's own samples on top: they route every expert as the model does when it
    // writes, where a text of one domain leaves some experts rare (on mixtral-small the text
    // alone scored no better than the samples alone; both together best: docs/QUANTIZATION.md).
    SelfCalibrationReport self_report;
    matrix = self_generated_statistics(*model, self, self_report, std::move(matrix));
    summary.tokens = report.tokens + self_report.tokens;
    summary.description = "text " + fs::path(calibration.text).filename().string() + ", " +
                          std::to_string(report.tokens) + " tokens, and self-generated, " +
                          std::to_string(self_report.tokens) + " tokens, seed " + std::to_string(calibration.seed);
  } else {
    SelfCalibrationReport report;
    matrix = self_generated_statistics(*model, self, report);
    summary.tokens = report.tokens;
    summary.description = "self-generated, " + std::to_string(report.tokens) + " tokens, seed " +
                          std::to_string(calibration.seed);
  }
  summary.min_expert_tokens = min_expert_tokens(matrix, hp);
  summary.statistics_seconds = seconds_since(start);
  return matrix.as_loaded("calibration (" + summary.description + ")");
}

}  // namespace

bool calibrates_by_default(const Recipe& recipe) {
  return !recipe.keep && (recipe.base == "q4" || recipe.base == "q4k" || recipe.base == "q3k");
}

CalibratedConvertReport convert_with_calibration(ConvertOptions options, const CalibrationOptions& calibration) {
  const auto start = Clock::now();
  const CalibrationSource source = resolve_source(options, calibration);
  CalibratedConvertReport report;
  if (source == CalibrationSource::none) {
    if (calibration.gptq_rounding.value_or(false)) {
      throw Error("--rounding gptq", "needs the converter's own calibration of a q4, q4k or q3k recipe (an --imatrix "
                                     "file holds no covariance; --no-calibration gathers none)");
    }
    options.expert_bits = calibration.expert_bits.value_or(ExpertBitsTarget{});
    report.conversion = convert_checkpoint(options);
    return report;
  }
  if (source == CalibrationSource::text && !std::ifstream(calibration.text)) {
    throw Error(calibration.text, "cannot open the calibration text");
  }
  std::error_code error;
  if (fs::is_directory(options.output, error)) throw Error(options.output, "output path is a directory");

  CalibrationSummary summary;
  options.gptq_rounding = calibration.gptq_rounding.value_or(true);
  {
    const TemporaryFile copy(options.output + ".calibration-q8.tmp");
    summary.copy_seconds = write_q8_copy(options, copy.path());
    options.importance = std::make_shared<ImportanceMatrix>(
        gather_from_copy(copy.path(), source, calibration, options.show_progress, options.gptq_rounding, summary));
  }  // the copy is removed before the final file takes its space
  options.calibration = summary.description;
  options.expert_bits = calibration.expert_bits.value_or(parse_expert_bits("auto"));
  report.conversion = convert_checkpoint(options);
  report.conversion.seconds = seconds_since(start);
  report.calibration = summary;
  return report;
}

}  // namespace smoe::convert
