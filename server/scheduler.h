// The scheduler: N slots, each a Session of the shared model, fed from one queue of requests.
// One thread steps every active slot once per round (through a SlotStepper), samples each
// slot's next token, applies stop conditions and streams text to the request's Job. Requests
// wait in the queue while every slot is busy. Thread-safe: submit(), close(), wait_idle() and
// cancel_all() may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "job.h"
#include "metrics.h"
#include "slot_stepper.h"
#include "smoe/model.h"

namespace smoe::server {

struct SchedulerOptions {
  uint32_t slots = 1;             // sessions generating at once (--parallel)
  uint32_t max_queued = 32;       // requests that may wait while every slot is busy (0: none); more get 503
  uint32_t prefill_chunk = 512;   // prompt tokens a slot evaluates per step, so long prompts do not stall the others
  uint32_t joined_prompt_tokens = 64;  // prompt chunks up to this long join the decoding pass (BatchedStepper)
};

class Scheduler {
 public:
  // Creates the slots' sessions (each with its own KV cache) and starts the scheduler thread.
  Scheduler(std::shared_ptr<const Model> model, const SchedulerOptions& options, Metrics& metrics,
            std::unique_ptr<SlotStepper> stepper);
  // Cancels whatever is left and joins the thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `job`. Throws ApiError 503 when the queue is full or the scheduler is closed.
  void submit(std::shared_ptr<Job> job);
  // Refuses new jobs from now on (shutting down); queued and active ones go on.
  void close();
  // Waits until nothing is queued or active, up to `timeout`. Returns whether that happened.
  bool wait_idle(Clock::duration timeout);
  // Fails every queued and active job with `reason`; active slots are freed at the next step.
  void cancel_all(const ApiError& reason);

 private:
  struct Slot;
  void run();
  // Takes queued jobs into free slots (called by the scheduler thread with mutex_ held).
  void admit();
  void start(Slot& slot, std::shared_ptr<Job> job);
  void after_step(Slot& slot, const SequenceStep& step);
  void finish(Slot& slot, FinishReason reason);
  void release(Slot& slot);
  void publish_counts();
  // Slots without a job, and queued jobs beyond them (those the next round cannot start); with
  // mutex_ held.
  size_t free_slots() const;
  uint32_t waiting() const;

  std::shared_ptr<const Model> model_;
  SchedulerOptions options_;
  Metrics& metrics_;
  std::unique_ptr<SlotStepper> stepper_;
  std::vector<std::unique_ptr<Slot>> slots_;  // owned by the scheduler thread, except `job` under mutex_

  mutable std::mutex mutex_;
  std::condition_variable wake_;  // a job arrived, or stopping
  std::condition_variable idle_;  // nothing queued or active
  std::deque<std::shared_ptr<Job>> queue_;
  uint32_t active_ = 0;
  bool closed_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace smoe::server
