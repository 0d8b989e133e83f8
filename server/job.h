// One generation request between an HTTP thread, which submits it and reads its text, and the
// scheduler thread, which produces the text. Thread-safe: the two sides meet under one mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api_error.h"
#include "smoe/options.h"

namespace smoe::server {

using Clock = std::chrono::steady_clock;

// What to generate, validated and tokenized by the HTTP layer.
struct GenerationRequest {
  std::vector<int32_t> prompt;     // token ids, BOS included
  int32_t max_tokens = 16;         // new tokens at most (prompt + max_tokens fits the context)
  SamplerOptions sampler;          // temperature 0 = greedy
  std::vector<std::string> stop;   // stop strings: generation ends before the first one
  bool ignore_eos = false;         // go on past the model's end tokens (benchmarks: a fixed length)
  std::vector<int32_t> shown_special;  // special tokens whose text is produced (tool-call markers when tools are offered)
  Clock::time_point deadline = Clock::time_point::max();  // the request fails after this
};

// OpenAI's finish_reason: "stop" (an end token or a stop string), "length" (max_tokens) or
// "tool_calls" (the answer is calls of the request's tools: set by the HTTP layer, which parses them).
enum class FinishReason { stop, length, tool_calls };
const char* finish_reason_name(FinishReason reason);

struct Usage {
  uint32_t prompt_tokens = 0;      // tokens of the prompt
  uint32_t completion_tokens = 0;  // tokens sampled, the end token included
  uint32_t cached_tokens = 0;      // prompt tokens the slot already held (not evaluated again)
};

// What the reader gets from one wait: text produced since its last wait and, at the end, how it ended.
struct JobUpdate {
  std::string text;
  bool done = false;
  std::optional<FinishReason> finish;  // done without error
  std::optional<ApiError> error;       // done with an error
  Usage usage;                         // valid when done
};

class Job {
 public:
  explicit Job(GenerationRequest request) : request_(std::move(request)) {}
  const GenerationRequest& request() const { return request_; }

  // Scheduler side.
  void append_text(const std::string& text);
  void complete(FinishReason reason, const Usage& usage);
  void fail(const ApiError& error);

  // Reader side: waits up to `timeout` for text or the end; returns what arrived (maybe nothing).
  JobUpdate wait_update(std::chrono::milliseconds timeout);
  // The client went away: the scheduler frees the slot at its next step.
  void cancel();
  bool cancelled() const;

 private:
  const GenerationRequest request_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string text_;  // produced, not yet read
  bool done_ = false;
  bool cancelled_ = false;
  std::optional<FinishReason> finish_;
  std::optional<ApiError> error_;
  Usage usage_;
};

}  // namespace smoe::server
