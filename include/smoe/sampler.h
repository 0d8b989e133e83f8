// Token sampling from logits: greedy, temperature, top-k, top-p, min-p, repetition penalty.
// Deterministic for a given seed. Not thread-safe (one per session).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "smoe/options.h"

namespace smoe {

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options = {});
  // Picks the next token from `logits` (vocab,), given the tokens so far (for the penalty).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
  const SamplerOptions& options() const { return options_; }
  void reseed(uint64_t seed);
  // The random stream, to continue it in a later Sampler (a session's next answer).
  const std::mt19937_64& generator() const { return generator_; }
  void set_generator(const std::mt19937_64& generator) { generator_ = generator; }

 private:
  SamplerOptions options_;
  std::mt19937_64 generator_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace smoe
