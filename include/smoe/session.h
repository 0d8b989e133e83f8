// One conversation: a KV cache, the tokens so far, and generation. Not thread-safe: use one
// session per thread (sessions of one model may run concurrently).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smoe/chat.h"
#include "smoe/options.h"

namespace smoe {

class Model;

// Per-session counters since creation or reset_stats().
struct RunStats {
  uint64_t prompt_tokens = 0;          // tokens evaluated by eval()/generate()'s prompt
  double prompt_seconds = 0;
  uint64_t generated_tokens = 0;       // tokens produced by generate()
  double generate_seconds = 0;
  std::vector<uint64_t> expert_counts;  // (layers * experts): how often each expert was chosen and run
  uint64_t skipped_experts = 0;         // choices skipped by ModelOptions::moe_min_weight
  double prompt_tokens_per_second() const { return prompt_seconds > 0 ? double(prompt_tokens) / prompt_seconds : 0; }
  double generated_tokens_per_second() const {
    return generate_seconds > 0 ? double(generated_tokens) / generate_seconds : 0;
  }
};

// Receives each generated token and its text (complete UTF-8 characters only; may be empty
// while a character is incomplete). Return false to stop generating.
using TokenCallback = std::function<bool(int32_t token, std::string_view text)>;

// Called per layer and token with the experts the router chose, highest weight first.
using RoutingCallback = std::function<void(uint32_t layer, uint32_t position, std::span<const uint32_t> experts)>;

struct GenerateOptions {
  int32_t max_tokens = 256;      // stop after this many new tokens
  SamplerOptions sampler;        // how to pick each token
  bool stop_at_eos = true;       // stop at the model's end tokens (EOS, a ChatML model's <|im_end|>: Tokenizer::end_ids)
};

// eos: one of the model's end tokens (Tokenizer::end_ids).
enum class StopReason { max_tokens, eos, callback, context_full };

struct GenerateResult {
  std::vector<int32_t> tokens;   // the generated tokens (the end token included when it stopped there)
  StopReason stop_reason = StopReason::max_tokens;
};

// A session's state after some tokens: the tokens, the KV cache of those positions, the last
// logits and the sampler's random stream. A prompt cache (evaluate a long system prompt once,
// start many sessions from it) and what Session::save() writes. Immutable; one snapshot may
// be restored into many sessions on many threads at once.
class SessionSnapshot {
 public:
  struct Data;
  explicit SessionSnapshot(std::shared_ptr<const Data> data);
  uint32_t position() const;
  const std::vector<int32_t>& tokens() const;
  const Data& data() const { return *data_; }

 private:
  std::shared_ptr<const Data> data_;
};

class Session;

// One session's part of a batch evaluated together (Session::eval_together).
struct SessionTokens {
  Session* session = nullptr;
  std::span<const int32_t> tokens;  // appended to the session: its next token, or a chunk of a prompt
};

class Session {
 public:
  ~Session();

  // Appends `tokens` to the context and evaluates them as one batch. Returns the logits after
  // the last token (vocab,). Throws smoe::Error when they do not fit in the context (the
  // session is unchanged then) or a token id is outside the vocabulary.
  std::span<const float> eval(std::span<const int32_t> tokens);
  // As eval(), but returns the logits after every token: (tokens.size(), vocab).
  std::span<const float> eval_all(std::span<const int32_t> tokens);

  // Appends tokens[i] to sessions[i], for every i, and evaluates them together: one pass over
  // the weights for all of them (each chosen expert is read once for every session routed to
  // it), attention per session. Several conversations decode faster together than one after
  // another on the same memory bandwidth. Each session ends exactly as sessions[i]->eval()
  // of its token alone would leave it: the same logits, bit for bit. The sessions must be
  // distinct sessions of one model, each with room for one more token, and the tokens inside
  // the vocabulary; otherwise throws smoe::Error and no session changes. No other call may
  // use these sessions meanwhile.
  static void eval_together(std::span<Session* const> sessions, std::span<const int32_t> tokens);
  // The same with any number of tokens per session (a prompt chunk beside other sessions' next
  // tokens): one pass over the weights for all of them. Every token is computed exactly as
  // eval() of that token alone would compute it, one after another; so each session's logits
  // (after its last token) are bit for bit those of evaluating its tokens one at a time, which
  // may differ in the last bits from one eval() of the whole chunk (batched products). Throws
  // as above (a session without room for its tokens, an empty span) and no session changes.
  static void eval_together(std::span<const SessionTokens> batch);
  // The logits after the last evaluated token (vocab,); empty before any evaluation.
  std::span<const float> logits() const;

  // Evaluates `prompt` (may be empty to continue), then samples up to max_tokens tokens,
  // streaming each to `on_token`. The sampler's random stream continues from the previous
  // generate() of this session while the seed stays the same (a new seed restarts it), so a
  // restored session continues exactly as the uninterrupted one would. Stops at EOS, at max_tokens, when the callback returns false,
  // or when the context is full (documented behaviour: generation ends, nothing is dropped).
  GenerateResult generate(std::span<const int32_t> prompt, const GenerateOptions& options, const TokenCallback& on_token);

  // A copy of the current state (costs the KV bytes of the positions in use).
  SessionSnapshot snapshot() const;
  // Replaces the state with `snapshot`, taken from a session of the same model and KV type;
  // throws smoe::Error otherwise (this session is unchanged then).
  void restore(const SessionSnapshot& snapshot);
  // Writes the state and `messages` (the chat so far, for the application) to `path`:
  // compressed with zstd, with the model's identity (its index checksum), written to a
  // temporary file and renamed into place. Throws smoe::Error naming the file.
  void save(const std::string& path, const std::vector<ChatMessage>& messages = {}) const;
  // Restores a state saved by save() and returns its messages. A file of another model or KV
  // type, or a corrupt or truncated one, is refused with smoe::Error naming the file, and the
  // session is unchanged.
  std::vector<ChatMessage> load(const std::string& path);

  // Forgets the conversation (the KV cache is reused) and restarts the sampler's stream.
  void reset();
  // Keeps only the first `position` tokens (e.g. to re-evaluate a chat from where its new
  // tokenization differs); later positions are overwritten by the next eval.
  void rewind(uint32_t position);
  uint32_t position() const;      // tokens in the context
  uint32_t context_size() const;
  const std::vector<int32_t>& tokens() const;
  const RunStats& stats() const;
  // Share (0..1) of the KV cache's resident bytes in 2 MiB pages, from /proc/self/smaps; -1
  // where unknown. Decoding at depth streams the whole cache every token.
  double kv_cache_in_huge_pages() const;
  void reset_stats();
  void set_routing_callback(RoutingCallback callback);

  struct Impl;

 private:
  friend class Model;
  friend struct SessionInternals;  // lib/ access to the implementation (calibration)
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smoe
