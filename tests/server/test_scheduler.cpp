// smoe-server's scheduler with the tiny model and a stand-in stepper (fixed logits, a short
// pause per round): the queue's limit and the deadlines of requests that wait.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "api_error.h"
#include "job.h"
#include "metrics.h"
#include "scheduler.h"
#include "smoe/model.h"
#include "support/reference.h"

using namespace smoe;
using namespace std::chrono_literals;

namespace {

// Every step gets the same logits (greedy picks token 3) after a 2 ms pause, so a request
// generates for as long as its max_tokens allows while rounds keep coming.
class FixedLogitsStepper final : public server::SlotStepper {
 public:
  explicit FixedLogitsStepper(size_t vocab) : logits_(vocab, 0.0f) { logits_[3] = 1.0f; }
  void step(std::span<server::SequenceStep> steps) override {
    std::this_thread::sleep_for(2ms);
    for (server::SequenceStep& step : steps) step.logits = logits_;
  }

 private:
  std::vector<float> logits_;
};

std::shared_ptr<server::Job> job(server::Clock::time_point deadline = server::Clock::time_point::max()) {
  server::GenerationRequest request;
  request.prompt = {1, 5, 6};
  request.max_tokens = 1'000'000;  // until cancelled or expired
  request.ignore_eos = true;
  request.sampler.temperature = 0;
  request.deadline = deadline;
  return std::make_shared<server::Job>(std::move(request));
}

std::shared_ptr<const Model> tiny_model() {
  ModelOptions options;
  options.threads = 1;
  options.context_size = 64;
  return Model::load(test::tiny_container("q8"), options);
}

server::SchedulerOptions slots(uint32_t count, uint32_t max_queued) {
  server::SchedulerOptions options;
  options.slots = count;
  options.max_queued = max_queued;
  return options;
}

// The job's next update with an error or the end, waiting up to `timeout`.
server::JobUpdate wait_for_end(server::Job& job, std::chrono::milliseconds timeout) {
  const auto until = server::Clock::now() + timeout;
  server::JobUpdate update;
  while (!update.done && server::Clock::now() < until) update = job.wait_update(20ms);
  return update;
}

}  // namespace

TEST_CASE("server scheduler: the queue limit counts only requests beyond the free slots", "[server][threads]") {
  const auto model = tiny_model();
  server::Metrics metrics;
  server::Scheduler scheduler(model, slots(2, 0), metrics,
                              std::make_unique<FixedLogitsStepper>(model->info().hyperparameters.vocab_size));
  auto first = job(), second = job();
  scheduler.submit(first);
  scheduler.submit(second);  // two free slots, none waits: both accepted even at once
  auto third = job();
  try {
    scheduler.submit(third);
    FAIL("a third request with both slots taken and --max-queue 0 was accepted");
  } catch (const server::ApiError& error) {
    CHECK(error.status() == 503);
    CHECK(error.code() == "queue_full");
  }
  first->cancel();
  second->cancel();
}

TEST_CASE("server scheduler: a waiting request fails at its deadline while the slots stay busy", "[server][threads]") {
  const auto model = tiny_model();
  server::Metrics metrics;
  server::Scheduler scheduler(model, slots(1, 4), metrics,
                              std::make_unique<FixedLogitsStepper>(model->info().hyperparameters.vocab_size));
  auto running = job();  // no deadline: holds the only slot
  scheduler.submit(running);
  REQUIRE_FALSE(running->wait_update(2s).text.empty());  // generating: it has the slot
  const auto waiting = job(server::Clock::now() + 100ms);
  scheduler.submit(waiting);
  const server::JobUpdate update = wait_for_end(*waiting, 3000ms);
  REQUIRE(update.done);
  REQUIRE(update.error);
  CHECK(update.error->status() == 504);
  CHECK(update.error->code() == "timeout");
  CHECK_FALSE(running->wait_update(0ms).done);  // the slot's request goes on
  running->cancel();
  CHECK(scheduler.wait_idle(5s));
}
