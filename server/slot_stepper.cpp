// The steppers: one Session::eval per active slot, or the short steps together.
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
  std::vector<SequenceStep*> together;
  for (SequenceStep& step : steps) {
    if (step.tokens.size() <= joined_prompt_tokens_) {
      together.push_back(&step);
    } else {
      evaluate_alone(step);
    }
  }
  if (together.empty()) return;
  auto evaluate = [](std::span<SequenceStep* const> group) {
    std::vector<SessionTokens> batch;
    for (const SequenceStep* step : group) batch.push_back({step->session, step->tokens});
    Session::eval_together(batch);
    for (SequenceStep* step : group) step->logits = step->session->logits();
  };
  try {
    evaluate(together);
  } catch (const Error&) {
    // Refused before any session changed (one full context, say): each on its own gets its
    // own error, and the others are evaluated the same way as together.
    for (SequenceStep* step : together) {
      try {
        evaluate(std::span(&step, 1));
      } catch (const Error& error) {
        step->error = error.what();
      }
    }
  }
}

}  // namespace smoe::server
