// Calibration: evaluate text in windows, observe every matrix's input and the router's picks.
#include "convert/calibrate.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <unordered_set>

#include "convert/importance_matrix.h"
#include "convert/self_calibration.h"
#include "runtime/calibration_hooks.h"
#include "smoe/model.h"
#include "smoe/error.h"
#include "util/token_file.h"

namespace smoe::convert {
namespace {

constexpr uint64_t kDefaultTextTokens = 32768;
constexpr size_t kGram = 16;  // a line sharing 16 consecutive tokens with a held-out window is excluded

uint64_t gram_hash(const int32_t* ids) {
  uint64_t hash = 1469598103934665603ull;
  for (size_t i = 0; i < kGram; ++i) hash = (hash ^ static_cast<uint32_t>(ids[i])) * 1099511628211ull;
  return hash;
}

std::unordered_set<uint64_t> held_out_grams(const std::string& path) {
  std::unordered_set<uint64_t> grams;
  if (path.empty()) return grams;
  const std::vector<int32_t> ids = read_token_file(path);
  for (size_t i = 0; i + kGram <= ids.size(); ++i) grams.insert(gram_hash(&ids[i]));
  return grams;
}

}  // namespace

void gather_statistics(Session& session, ImportanceMatrix& matrix, uint32_t experts) {
  runtime::set_activation_observer(session, [&matrix](const format::TensorView& weight, const float* x, size_t rows) {
    matrix.add(weight.name, x, rows, weight.shape.back());
  });
  session.set_routing_callback([&matrix, experts](uint32_t layer, uint32_t, std::span<const uint32_t> chosen) {
    for (uint32_t expert : chosen) matrix.add_count("routing." + std::to_string(layer), expert, experts);
  });
}

ImportanceMatrix text_statistics(const Model& model, const CalibrateOptions& options, CalibrateReport& report) {
  const std::unordered_set<uint64_t> excluded = held_out_grams(options.exclude_tokens);
  const uint64_t max_tokens = options.max_tokens != 0 ? options.max_tokens : kDefaultTextTokens;
  std::vector<int32_t> stream;
  std::ifstream text(options.text);
  if (!text) throw Error(options.text, "cannot open the calibration text");
  std::string line;
  while (stream.size() < max_tokens && std::getline(text, line)) {
    if (line.empty()) continue;
    const std::vector<int32_t> ids = model.tokenizer().encode(line, true);
    bool held_out = false;
    for (size_t i = 0; !held_out && i + kGram <= ids.size(); ++i) held_out = excluded.contains(gram_hash(&ids[i]));
    if (held_out) {
      ++report.lines_excluded;
      continue;
    }
    ++report.lines_used;
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  if (text.bad()) throw Error(options.text, "cannot read the calibration text");
  stream.resize(std::min<size_t>(stream.size(), max_tokens));
  if (stream.size() < 2) throw Error(options.text, "no calibration text left (empty, or all of it held out)");

  ImportanceMatrix matrix;
  if (options.covariance) matrix.gather_covariance();
  auto session = model.create_session();
  gather_statistics(*session, matrix, model.info().hyperparameters.num_local_experts);
  for (size_t first = 0; first < stream.size(); first += options.window) {
    session->reset();
    const size_t count = std::min<size_t>(options.window, stream.size() - first);
    session->eval(std::span<const int32_t>(stream.data() + first, count));
    report.tokens += count;
    if (options.show_progress) {
      std::fprintf(stderr, "\rcalibrating: %llu/%zu tokens", static_cast<unsigned long long>(report.tokens), stream.size());
    }
  }
  if (options.show_progress) std::fputc('\n', stderr);
  return matrix;
}

CalibrateReport calibrate(const CalibrateOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SelfCalibrationOptions self;
  self.tokens = options.max_tokens;
  self.seed = options.seed;
  self.show_progress = options.show_progress;
  ModelOptions model_options;
  model_options.threads = options.threads;
  model_options.context_size = options.text.empty() ? self_calibration_context(self) : options.window;
  model_options.kv_type = KvType::f32;
  const auto model = Model::load(options.model, model_options);
  CalibrateReport report;
  ImportanceMatrix matrix;
  if (options.text.empty()) {
    SelfCalibrationReport self_report;
    matrix = self_generated_statistics(*model, self, self_report);
    report.tokens = self_report.tokens;
  } else {
    matrix = text_statistics(*model, options, report);
  }
  report.min_expert_tokens = min_expert_tokens(matrix, model->info().hyperparameters);
  matrix.save(options.output);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace smoe::convert
