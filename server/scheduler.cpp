// The scheduler thread: admit queued jobs, drop cancelled or expired ones, step every active
// slot once, then sample and stream each slot's next token.
#include "scheduler.h"

#include <algorithm>
#include <optional>

#include "smoe/sampler.h"
#include "smoe/tokenizer.h"
#include "stop_strings.h"

namespace smoe::server {

struct Scheduler::Slot {
  std::unique_ptr<Session> session;
  std::shared_ptr<Job> job;         // null: free (written under mutex_)
  std::vector<int32_t> pending;     // prompt tokens still to evaluate, or the one token sampled last
  size_t evaluated = 0;             // of `pending`
  bool prefilling = false;          // `pending` is (the rest of) the prompt
  std::optional<Sampler> sampler;
  Utf8Stream utf8;
  StopMatcher stop;
  Usage usage;
  std::vector<uint64_t> expert_counts_seen;  // the session's RunStats::expert_counts at the last publish
};

namespace {

// Tokens `a` and `b` share from the start.
size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const auto [end_a, end_b] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return size_t(end_a - a.begin());
}

}  // namespace

Scheduler::Scheduler(std::shared_ptr<const Model> model, const SchedulerOptions& options, Metrics& metrics,
                     std::unique_ptr<SlotStepper> stepper)
    : model_(std::move(model)), options_(options), metrics_(metrics), stepper_(std::move(stepper)) {
  options_.slots = std::max(options_.slots, 1u);
  options_.prefill_chunk = std::max(options_.prefill_chunk, 1u);
  for (uint32_t i = 0; i < options_.slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->session = model_->create_session();
    slots_.push_back(std::move(slot));
  }
  metrics_.set_slots(0, 0, options_.slots);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  cancel_all(shutting_down_error());
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) throw shutting_down_error();
    // Queued jobs take the free slots at the scheduler's next round; only those beyond them wait.
    if (queue_.size() >= free_slots() + options_.max_queued) {
      throw unavailable("the server is busy: " + std::to_string(waiting()) + " requests are waiting; retry later",
                        "queue_full");
    }
    queue_.push_back(std::move(job));
    metrics_.set_slots(waiting(), active_, options_.slots);
  }
  wake_.notify_all();
}

size_t Scheduler::free_slots() const { return options_.slots - active_; }

uint32_t Scheduler::waiting() const {
  return uint32_t(queue_.size() > free_slots() ? queue_.size() - free_slots() : 0);
}

void Scheduler::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

bool Scheduler::wait_idle(Clock::duration timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [&] { return queue_.empty() && active_ == 0; });
}

void Scheduler::cancel_all(const ApiError& reason) {
  std::lock_guard lock(mutex_);
  for (const auto& job : queue_) job->fail(reason);
  queue_.clear();
  for (const auto& slot : slots_) {
    if (!slot->job) continue;
    slot->job->fail(reason);
    slot->job->cancel();
  }
  metrics_.set_slots(0, active_, options_.slots);
  wake_.notify_all();
}

void Scheduler::admit() {
  // Waiting jobs whose client left or whose time ran out leave the queue each round: with every
  // slot busy they would otherwise hold a place in it (counted against --max-queue) until a
  // slot frees, and a job whose slot outlives its deadline (a long step) would still get one.
  const Clock::time_point now = Clock::now();
  std::erase_if(queue_, [&](const std::shared_ptr<Job>& job) {
    if (job->cancelled()) return true;
    if (now <= job->request().deadline) return false;
    job->fail(timeout_error());
    return true;
  });
  while (!queue_.empty()) {
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    if (job->cancelled()) continue;  // the client left since the sweep above
    // The free slot whose cache shares the longest prefix with the prompt (a chat's next turn
    // finds its earlier turns there); ties go to the lowest slot.
    Slot* best = nullptr;
    size_t best_common = 0;
    for (const auto& slot : slots_) {
      if (slot->job) continue;
      const size_t common = common_prefix(slot->session->tokens(), job->request().prompt);
      if (!best || common > best_common) {
        best = slot.get();
        best_common = common;
      }
    }
    if (!best) {
      queue_.push_front(std::move(job));
      break;
    }
    start(*best, std::move(job));
    ++active_;
  }
}

void Scheduler::start(Slot& slot, std::shared_ptr<Job> job) {
  const GenerationRequest& request = job->request();
  // Reuse the cached prefix; at least the prompt's last token is evaluated again, for its logits.
  size_t common = common_prefix(slot.session->tokens(), request.prompt);
  common = std::min(common, request.prompt.size() - 1);
  slot.session->rewind(uint32_t(common));
  slot.pending.assign(request.prompt.begin() + long(common), request.prompt.end());
  slot.evaluated = 0;
  slot.prefilling = true;
  slot.sampler.emplace(request.sampler);
  slot.utf8 = Utf8Stream();
  slot.stop = StopMatcher(request.stop);
  slot.usage = Usage{uint32_t(request.prompt.size()), 0, uint32_t(common)};
  slot.job = std::move(job);
  metrics_.add_tokens(0, common, 0);
}

void Scheduler::run() {
  std::vector<SequenceStep> steps;
  std::vector<Slot*> stepping;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || active_ > 0; });
      if (stopping_) return;
      admit();
      metrics_.set_slots(waiting(), active_, options_.slots);
      // The sweep may have emptied the queue with no slot active: a shutdown waits for that.
      if (queue_.empty() && active_ == 0) idle_.notify_all();
    }
    const Clock::time_point now = Clock::now();
    steps.clear();
    stepping.clear();
    for (const auto& slot : slots_) {
      if (!slot->job) continue;
      if (slot->job->cancelled()) {
        release(*slot);
        continue;
      }
      if (now > slot->job->request().deadline) {
        slot->job->fail(timeout_error());
        release(*slot);
        continue;
      }
      const size_t rest = slot->pending.size() - slot->evaluated;
      const size_t count = slot->prefilling ? std::min<size_t>(rest, options_.prefill_chunk) : rest;
      steps.push_back({slot->session.get(), std::span(slot->pending).subspan(slot->evaluated, count), {}, {}});
      stepping.push_back(slot.get());
    }
    if (steps.empty()) continue;
    const Clock::time_point step_start = Clock::now();
    stepper_->step(steps);
    metrics_.add_step_seconds(std::chrono::duration<double>(Clock::now() - step_start).count());
    for (size_t i = 0; i < steps.size(); ++i) after_step(*stepping[i], steps[i]);
    publish_counts();
  }
}

void Scheduler::after_step(Slot& slot, const SequenceStep& step) {
  if (!step.error.empty()) {
    slot.job->fail(ApiError(500, step.error, "server_error"));
    slot.session->reset();  // its state after a failed eval is not worth reusing
    release(slot);
    return;
  }
  slot.evaluated += step.tokens.size();
  if (slot.prefilling) {
    metrics_.add_tokens(step.tokens.size(), 0, 0);
    if (slot.evaluated < slot.pending.size()) return;  // more prompt chunks to go
    slot.prefilling = false;
  }
  const Tokenizer& tokenizer = model_->tokenizer();
  const int32_t token = slot.sampler->sample(step.logits, slot.session->tokens());
  ++slot.usage.completion_tokens;
  metrics_.add_tokens(0, 0, 1);
  if (!slot.job->request().ignore_eos && tokenizer.is_end(token)) return finish(slot, FinishReason::stop);
  const std::vector<int32_t>& shown = slot.job->request().shown_special;
  const bool show_special = std::find(shown.begin(), shown.end(), token) != shown.end();
  slot.job->append_text(slot.stop.push(slot.utf8.push(tokenizer.token_bytes(token, show_special))));
  if (slot.stop.stopped()) return finish(slot, FinishReason::stop);
  if (int32_t(slot.usage.completion_tokens) >= slot.job->request().max_tokens) return finish(slot, FinishReason::length);
  slot.pending.assign(1, token);
  slot.evaluated = 0;
}

void Scheduler::finish(Slot& slot, FinishReason reason) {
  if (!slot.stop.stopped()) {
    std::string rest = slot.stop.push(slot.utf8.flush());
    rest += slot.stop.flush();
    slot.job->append_text(rest);
  }
  slot.job->complete(reason, slot.usage);
  release(slot);
}

void Scheduler::release(Slot& slot) {
  {
    std::lock_guard lock(mutex_);
    slot.job.reset();
    --active_;
    metrics_.set_slots(waiting(), active_, options_.slots);
    if (queue_.empty() && active_ == 0) idle_.notify_all();
  }
  wake_.notify_all();
}

void Scheduler::publish_counts() {
  const uint32_t experts = model_->info().hyperparameters.num_local_experts;
  for (const auto& slot : slots_) {
    const std::vector<uint64_t>& counts = slot->session->stats().expert_counts;
    if (counts.empty()) continue;
    std::vector<uint64_t>& seen = slot->expert_counts_seen;
    if (seen.size() != counts.size()) seen.assign(counts.size(), 0);
    std::vector<uint64_t> delta(counts.size());
    bool any = false;
    for (size_t i = 0; i < counts.size(); ++i) {
      delta[i] = counts[i] - seen[i];
      any = any || delta[i] != 0;
    }
    seen = counts;
    if (any) metrics_.add_expert_counts(delta, experts);
  }
}

}  // namespace smoe::server
