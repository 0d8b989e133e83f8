// The steppers: one Session::eval per active slot, or the single-token steps together.
#include "slot_stepper.h"

#include <vector>

#include "smoe/error.h"

namespace smoe::server {

namespace {

void evaluate_alone(SequenceStep& step) {
  try {
    step.logits = step.session->eval(step.tokens);
  } catch (const Error& error) {
    step.error = error.what();
  }
}

}  // namespace

void SequentialStepper::step(std::span<SequenceStep> steps) {
  for (SequenceStep& step : steps) evaluate_alone(step);
}

void BatchedStepper::step(std::span<SequenceStep> steps) {
  std::vector<SequenceStep*> decoding;
  for (SequenceStep& step : steps) {
    if (step.tokens.size() == 1) {
      decoding.push_back(&step);
    } else {
      evaluate_alone(step);
    }
  }
  if (decoding.size() < 2) {
    for (SequenceStep* step : decoding) evaluate_alone(*step);
    return;
  }
  std::vector<Session*> sessions;
  std::vector<int32_t> tokens;
  for (const SequenceStep* step : decoding) {
    sessions.push_back(step->session);
    tokens.push_back(step->tokens.front());
  }
  try {
    Session::eval_together(sessions, tokens);
    for (SequenceStep* step : decoding) step->logits = step->session->logits();
  } catch (const Error&) {
    // Refused before any session changed (one full context, say): alone, each gets its own error.
    for (SequenceStep* step : decoding) evaluate_alone(*step);
  }
}

}  // namespace smoe::server
