// The per-sequence stepper: one Session::eval per active slot.
#include "slot_stepper.h"

#include "smoe/error.h"

namespace smoe::server {

void SequentialStepper::step(std::span<SequenceStep> steps) {
  for (SequenceStep& step : steps) {
    try {
      step.logits = step.session->eval(step.tokens);
    } catch (const Error& error) {
      step.error = error.what();
    }
  }
}

}  // namespace smoe::server
