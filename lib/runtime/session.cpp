// Sessions: evaluation with context checks, generation with streaming and stop conditions.
#include <omp.h>

#include <chrono>
#include <cmath>

#include "runtime/model_impl.h"
#include "smoe/error.h"

namespace smoe {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Called from inside the host application's own OpenMP parallel region, the host already keeps
// its cores busy: run on the calling thread alone rather than nesting another team under each
// host thread (threads x threads oversubscription when the host enables nesting).
int compute_threads(int configured) { return omp_in_parallel() ? 1 : configured; }

// Sampling options outside their ranges are errors, not silently clamped.
void validate(const GenerateOptions& options, const std::string& where) {
  const SamplerOptions& s = options.sampler;
  auto fail = [&](const std::string& what) { throw Error(where, "invalid generation option: " + what); };
  if (options.max_tokens < 0) fail("max_tokens " + std::to_string(options.max_tokens) + " is negative");
  if (!(s.temperature >= 0.0f) || !std::isfinite(s.temperature)) fail("temperature must be a finite number >= 0");
  if (s.top_k < 0) fail("top_k " + std::to_string(s.top_k) + " is negative (0 = off)");
  if (!(s.top_p >= 0.0f && s.top_p <= 1.0f)) fail("top_p must be within [0, 1]");
  if (!(s.min_p >= 0.0f && s.min_p <= 1.0f)) fail("min_p must be within [0, 1]");
  if (!(s.repeat_penalty > 0.0f) || !std::isfinite(s.repeat_penalty)) fail("repeat_penalty must be a finite number > 0");
  if (s.repeat_last_n < 0) fail("repeat_last_n is negative");
}

// Every id inside the vocabulary, or smoe::Error naming the first that is not.
void require_in_vocabulary(const ModelInfo& info, std::span<const int32_t> tokens) {
  for (const int32_t token : tokens) {
    if (token < 0 || uint32_t(token) >= info.hyperparameters.vocab_size) {
      throw Error(info.path, "token id " + std::to_string(token) + " is outside the vocabulary of " +
                                 std::to_string(info.hyperparameters.vocab_size));
    }
  }
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

static std::span<const float> evaluate(Session::Impl& s, std::span<const int32_t> tokens, bool all_logits) {
  const ModelInfo& info = s.model->info();
  if (tokens.empty()) throw Error(info.path, "nothing to evaluate: no tokens given");
  if (tokens.size() > info.context_size - s.tokens.size()) {
    throw Error(info.path, "context full: " + std::to_string(s.tokens.size()) + " + " + std::to_string(tokens.size()) +
                               " tokens exceed the context of " + std::to_string(info.context_size) +
                               " (reset the session or load with a larger context)");
  }
  require_in_vocabulary(info, tokens);
  const model::ForwardContext context{.cpu = {s.model_impl->cpu_plan, compute_threads(info.threads)},
                                      .expert_counts = &s.stats.expert_counts,
                                      .routing = s.routing_callback ? &s.routing_callback : nullptr,
                                      .skipped_experts = &s.stats.skipped_experts};
  s.transformer.forward(tokens, static_cast<uint32_t>(s.tokens.size()), s.cache, all_logits, s.logits, context);
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  return s.logits;
}

std::span<const float> Session::eval(std::span<const int32_t> tokens) {
  const auto start = std::chrono::steady_clock::now();
  const std::span<const float> logits = evaluate(*impl_, tokens, false);
  impl_->stats.prompt_tokens += tokens.size();
  impl_->stats.prompt_seconds += seconds_since(start);
  return logits;
}

void Session::eval_together(std::span<Session* const> sessions, std::span<const int32_t> tokens) {
  if (sessions.empty()) return;
  if (tokens.size() != sessions.size()) {
    const ModelInfo& info = sessions.front()->impl_->model_impl->info;
    throw Error(info.path, "eval_together: " + std::to_string(tokens.size()) + " tokens for " +
                               std::to_string(sessions.size()) + " sessions");
  }
  std::vector<SessionTokens> batch(sessions.size());
  for (size_t i = 0; i < sessions.size(); ++i) batch[i] = {sessions[i], tokens.subspan(i, 1)};
  eval_together(batch);
}

void Session::eval_together(std::span<const SessionTokens> batch) {
  if (batch.empty()) return;
  if (batch.front().session == nullptr) throw Error("eval_together", "session 0 is null");
  const Model::Impl& model = *batch.front().session->impl_->model_impl;
  const ModelInfo& info = model.info;
  // Everything is checked before any session changes.
  std::vector<int32_t> tokens;
  std::vector<model::SequenceRow> rows;
  std::vector<uint32_t> last_rows;
  for (size_t i = 0; i < batch.size(); ++i) {
    Session* session = batch[i].session;
    if (session == nullptr) throw Error(info.path, "eval_together: session " + std::to_string(i) + " is null");
    Session::Impl& s = *session->impl_;
    if (s.model_impl != &model) throw Error(info.path, "eval_together: the sessions belong to different models");
    for (size_t j = 0; j < i; ++j) {
      if (batch[j].session == session) throw Error(info.path, "eval_together: a session is given twice");
    }
    const std::span<const int32_t> own = batch[i].tokens;
    if (own.empty()) throw Error(info.path, "eval_together: no tokens for session " + std::to_string(i));
    if (own.size() > info.context_size - s.tokens.size()) {
      throw Error(info.path, "context full: session " + std::to_string(i) + " holds " + std::to_string(s.tokens.size()) +
                                 " tokens, " + std::to_string(own.size()) + " more exceed the context of " +
                                 std::to_string(info.context_size));
    }
    require_in_vocabulary(info, own);
    for (size_t t = 0; t < own.size(); ++t) {
      tokens.push_back(own[t]);
      rows.push_back({&s.cache, static_cast<uint32_t>(s.tokens.size() + t), &s.stats.expert_counts,
                      s.routing_callback ? &s.routing_callback : nullptr, &s.stats.skipped_experts});
    }
    last_rows.push_back(static_cast<uint32_t>(rows.size() - 1));
  }
  const auto start = std::chrono::steady_clock::now();
  Session::Impl& first = *batch.front().session->impl_;
  std::vector<float> logits;
  first.transformer.forward_rows(tokens, rows, last_rows, logits,
                                 {.cpu = {model.cpu_plan, compute_threads(info.threads)}});
  const double seconds = seconds_since(start);
  const size_t vocab = info.hyperparameters.vocab_size;
  for (size_t i = 0; i < batch.size(); ++i) {
    Session::Impl& s = *batch[i].session->impl_;
    s.logits.assign(logits.begin() + long(i * vocab), logits.begin() + long((i + 1) * vocab));
    s.tokens.insert(s.tokens.end(), batch[i].tokens.begin(), batch[i].tokens.end());
    s.stats.prompt_tokens += batch[i].tokens.size();
    s.stats.prompt_seconds += seconds;
  }
}

std::span<const float> Session::logits() const { return impl_->logits; }

std::span<const float> Session::eval_all(std::span<const int32_t> tokens) {
  const auto start = std::chrono::steady_clock::now();
  const std::span<const float> logits = evaluate(*impl_, tokens, true);
  impl_->stats.prompt_tokens += tokens.size();
  impl_->stats.prompt_seconds += seconds_since(start);
  return logits;
}

GenerateResult Session::generate(std::span<const int32_t> prompt, const GenerateOptions& options,
                                 const TokenCallback& on_token) {
  GenerateResult result;
  validate(options, impl_->model->info().path);
  if (!prompt.empty()) eval(prompt);
  if (impl_->tokens.empty()) throw Error(impl_->model->info().path, "generate needs a prompt or an earlier eval");
  if (impl_->logits.empty()) {
    throw Error(impl_->model->info().path, "generate after rewind() needs a prompt (no logits for the last position)");
  }
  Sampler sampler(options.sampler);
  if (impl_->rng_started && impl_->rng_seed == options.sampler.seed) sampler.set_generator(impl_->rng);
  Utf8Stream text;
  const Tokenizer& tokenizer = impl_->model->tokenizer();
  const uint32_t vocab = impl_->model->info().hyperparameters.vocab_size;
  const auto start = std::chrono::steady_clock::now();
  for (int32_t produced = 0; produced < options.max_tokens; ++produced) {
    const std::span<const float> logits(impl_->logits.data() + impl_->logits.size() - vocab, vocab);
    const int32_t token = sampler.sample(logits, impl_->tokens);
    result.tokens.push_back(token);
    ++impl_->stats.generated_tokens;
    const bool is_eos = options.stop_at_eos && tokenizer.is_end(token);
    const std::string piece = is_eos ? text.flush() : text.push(tokenizer.token_bytes(token));
    if (on_token && !on_token(token, piece)) {
      result.stop_reason = StopReason::callback;
      break;
    }
    if (is_eos) {
      result.stop_reason = StopReason::eos;
      break;
    }
    if (produced + 1 == options.max_tokens) break;
    if (impl_->tokens.size() >= impl_->model->info().context_size) {
      result.stop_reason = StopReason::context_full;
      break;
    }
    const int32_t next[1] = {token};
    evaluate(*impl_, next, false);
  }
  impl_->stats.generate_seconds += seconds_since(start);
  impl_->rng = sampler.generator();
  impl_->rng_seed = options.sampler.seed;
  impl_->rng_started = true;
  return result;
}

void Session::reset() {
  impl_->tokens.clear();
  impl_->logits.clear();
  impl_->rng_started = false;
}

void Session::rewind(uint32_t position) {
  if (position < impl_->tokens.size()) impl_->tokens.resize(position);
  impl_->logits.clear();
}

uint32_t Session::position() const { return static_cast<uint32_t>(impl_->tokens.size()); }
uint32_t Session::context_size() const { return impl_->model->info().context_size; }
const std::vector<int32_t>& Session::tokens() const { return impl_->tokens; }
const RunStats& Session::stats() const { return impl_->stats; }
double Session::kv_cache_in_huge_pages() const { return impl_->cache.resident_pages().huge_fraction(); }

void Session::reset_stats() {
  const size_t counters = impl_->stats.expert_counts.size();
  impl_->stats = RunStats{};
  impl_->stats.expert_counts.assign(counters, 0);
}

void Session::set_routing_callback(RoutingCallback callback) { impl_->routing_callback = std::move(callback); }

}  // namespace smoe
