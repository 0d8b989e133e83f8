// Self-generated calibration: batched sampling of short continuations, observed as it runs.
#include "convert/self_calibration.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "convert/calibrate.h"
#include "smoe/error.h"
#include "smoe/sampler.h"
#include "smoe/session.h"

namespace smoe::convert {
namespace {

// Openings in the languages Mixtral writes, none leaning towards one subject; the empty one is
// BOS alone. Continuation i starts from opening i mod 10.
constexpr std::array<std::string_view, 10> kOpenings = {"", "The", "In", "This", "A", "1.", "Le", "Die", "La", "Il"};
constexpr uint32_t kMaxOpeningTokens = 8;
constexpr uint64_t kTokensPerExpert = 1024;
constexpr uint64_t kMinTokens = 2048, kMaxTokens = 16384;

// The model's own distribution, its tail trimmed (top-p) so one unlikely token does not derail
// a continuation, and a light repetition penalty so no continuation loops on a phrase.
SamplerOptions sampling_for(uint64_t seed, uint64_t continuation) {
  // splitmix64 of (seed, continuation): every continuation has its own stream.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (continuation + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return {.temperature = 1.0f, .top_k = 0, .top_p = 0.95f, .min_p = 0.0f, .repeat_penalty = 1.1f,
          .repeat_last_n = 64, .seed = z ^ (z >> 31)};
}

// One continuation in progress: its session, sampler, tokens so far and the token to evaluate next.
struct Continuation {
  std::unique_ptr<Session> session;
  std::unique_ptr<Sampler> sampler;
  std::vector<int32_t> history;
  uint32_t sampled = 0;
  int32_t next = 0;
  int32_t drawn = -1;  // the token sampled after `next` (sample_next)
  bool active = false;
};

class SelfCalibration {
 public:
  SelfCalibration(const Model& model, const SelfCalibrationOptions& options, SelfCalibrationReport& report,
                  ImportanceMatrix start)
      : model_(model), options_(options), report_(report), hp_(model.info().hyperparameters), matrix_(std::move(start)) {
    budget_ = options.tokens != 0 ? options.tokens : self_calibration_tokens(hp_);
    slots_.resize(std::max<uint32_t>(1, options.sequences));
    if (options.covariance) matrix_.gather_covariance();
    for (Continuation& slot : slots_) {
      slot.session = model.create_session();
      gather_statistics(*slot.session, matrix_, hp_.num_local_experts);
    }
  }

  ImportanceMatrix run() {
    for (Continuation& slot : slots_) start(slot);
    std::vector<Session*> sessions;
    std::vector<int32_t> tokens;
    std::vector<Continuation*> active;
    while (true) {
      sessions.clear(), tokens.clear(), active.clear();
      for (Continuation& slot : slots_) {
        if (!slot.active) continue;
        sessions.push_back(slot.session.get());
        tokens.push_back(slot.next);
        active.push_back(&slot);
      }
      if (active.empty()) break;
      Session::eval_together(sessions, tokens);
      report_.tokens += active.size();
      sample_next(active);
      for (Continuation* slot : active) advance(*slot);
      if (options_.show_progress) {
        std::fprintf(stderr, "\rcalibrating: %llu/%llu self-generated tokens", static_cast<unsigned long long>(report_.tokens),
                     static_cast<unsigned long long>(budget_));
      }
    }
    if (options_.show_progress) std::fputc('\n', stderr);
    report_.min_expert_tokens = min_expert_tokens(matrix_, hp_);
    return std::move(matrix_);
  }

 private:
  // Enough tokens, and (within four budgets) every expert routed at least once.
  bool finished() const {
    if (report_.tokens < budget_) return false;
    return report_.tokens >= 4 * budget_ || min_expert_tokens(matrix_, hp_) > 0;
  }

  // The next continuation in `slot` (or none, when the budget is spent): its opening is
  // evaluated now and its first token sampled.
  void start(Continuation& slot) {
    slot.active = !finished();
    if (!slot.active) return;
    const uint64_t index = report_.continuations++;
    std::vector<int32_t> opening = model_.tokenizer().encode(kOpenings[index % kOpenings.size()], true);
    opening.resize(std::min<size_t>(opening.size(), kMaxOpeningTokens));
    slot.sampler = std::make_unique<Sampler>(sampling_for(options_.seed, index));
    slot.session->reset();
    slot.history = opening;
    slot.sampled = 0;
    report_.tokens += opening.size();
    slot.next = slot.sampler->sample(slot.session->eval(opening), slot.history);
  }

  // After the step evaluated each slot's `next`: its following token, drawn by its own sampler
  // from its own logits, so the continuations sample in parallel (the vocabulary-wide part of
  // a step that the model's threads would otherwise wait for) with the same draws as one after
  // another. A draw made for a continuation that advance() then ends is discarded with its
  // sampler.
  void sample_next(std::span<Continuation* const> active) {
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t i = 0; i < active.size(); ++i) {
      Continuation& slot = *active[i];
      slot.history.push_back(slot.next);
      ++slot.sampled;
      slot.drawn = slot.sampled < options_.continuation_tokens
                       ? slot.sampler->sample(slot.session->logits(), slot.history)
                       : -1;
    }
  }

  // After sample_next(): take the drawn token, or start another continuation at an end token,
  // the length limit or the end of the budget.
  void advance(Continuation& slot) {
    if (slot.sampled >= options_.continuation_tokens || finished()) return start(slot);
    slot.next = slot.drawn;
    const std::vector<int32_t>& ends = model_.tokenizer().end_ids();
    if (slot.next == model_.tokenizer().eos_id() || std::find(ends.begin(), ends.end(), slot.next) != ends.end()) {
      start(slot);
    }
  }

  const Model& model_;
  const SelfCalibrationOptions& options_;
  SelfCalibrationReport& report_;
  const Hyperparameters& hp_;
  uint64_t budget_ = 0;
  ImportanceMatrix matrix_;
  std::vector<Continuation> slots_;
};

}  // namespace

uint64_t self_calibration_tokens(const Hyperparameters& hp) {
  const uint64_t per_token = std::max<uint32_t>(1, hp.num_experts_per_tok);
  return std::clamp(kTokensPerExpert * hp.num_local_experts / per_token, kMinTokens, kMaxTokens);
}

uint32_t self_calibration_context(const SelfCalibrationOptions& options) {
  return options.continuation_tokens + kMaxOpeningTokens;
}

ImportanceMatrix self_generated_statistics(const Model& model, const SelfCalibrationOptions& options,
                                           SelfCalibrationReport& report, ImportanceMatrix gathered) {
  const auto start = std::chrono::steady_clock::now();
  if (model.info().context_size < self_calibration_context(options)) {
    throw Error(model.info().path, "self-calibration needs a context of " +
                                       std::to_string(self_calibration_context(options)) + " tokens");
  }
  ImportanceMatrix matrix = SelfCalibration(model, options, report, std::move(gathered)).run();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return matrix;
}

uint64_t min_expert_tokens(const ImportanceMatrix& matrix, const Hyperparameters& hp) {
  uint64_t fewest = UINT64_MAX;
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    const auto found = matrix.entries().find("routing." + std::to_string(layer));
    if (found == matrix.entries().end()) return 0;
    for (double count : found->second.sum_squares) fewest = std::min(fewest, static_cast<uint64_t>(count));
  }
  return fewest == UINT64_MAX ? 0 : fewest;
}

}  // namespace smoe::convert
