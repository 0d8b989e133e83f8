// The one place the scheduler evaluates tokens: every active sequence advances by one step.
//
// The scheduler fills one SequenceStep per active slot (a chunk of its prompt, or the one token
// it sampled last) and calls step() once per round; sampling, stop conditions and streaming
// stay in the scheduler. SequentialStepper evaluates the sequences one after another, each
// with all compute threads; BatchedStepper (the server's) evaluates the short steps together: one pass over the weights for all sequences, which is what makes several streams
// faster than one on the same memory bandwidth.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "smoe/session.h"

namespace smoe::server {

struct SequenceStep {
  Session* session = nullptr;        // the sequence: its KV cache and tokens so far (one per slot)
  std::span<const int32_t> tokens;   // appended to the session and evaluated: a prompt chunk or one token
  std::span<const float> logits;     // out: (vocab,) logits after the last of `tokens`, valid until the next step
  std::string error;                 // out: why this sequence failed ("" = evaluated); the others go on
};

class SlotStepper {
 public:
  virtual ~SlotStepper() = default;
  // Evaluates every step's tokens in its session. Called from the scheduler thread only; the
  // sessions are distinct. Failures are reported per step, never thrown.
  virtual void step(std::span<SequenceStep> steps) = 0;
};

// Session::eval per sequence, in order.
class SequentialStepper final : public SlotStepper {
 public:
  void step(std::span<SequenceStep> steps) override;
};

// Steps of up to `joined_prompt_tokens` tokens (next tokens, short prompts and the last chunks
// of long ones) are evaluated together (Session::eval_together: one pass over the weights, each
// chosen expert read once for all of them, every token computed as it would be alone); longer
// prompt chunks alone, with the batched products that make long prompts fast. Which way a step
// goes depends on its own length only, so a request's tokens do not depend on what else runs.
class BatchedStepper final : public SlotStepper {
 public:
  // Up to a few dozen tokens a chunk costs the shared pass little more than its own rows: the
  // experts it routes to are read for the others anyway. 1: only next tokens join (prompts are
  // evaluated on their own).
  static constexpr uint32_t kDefaultJoinedPromptTokens = 64;
  explicit BatchedStepper(uint32_t joined_prompt_tokens = kDefaultJoinedPromptTokens)
      : joined_prompt_tokens_(std::max<uint32_t>(joined_prompt_tokens, 1)) {}
  void step(std::span<SequenceStep> steps) override;

 private:
  uint32_t joined_prompt_tokens_;
};

}  // namespace smoe::server
