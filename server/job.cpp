// The hand-over between the scheduler thread and a request's HTTP thread.
#include "job.h"

namespace smoe::server {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::tool_calls: return "tool_calls";
  }
  return "stop";
}

void Job::append_text(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mutex_);
    text_ += text;
  }
  changed_.notify_all();
}

void Job::complete(FinishReason reason, const Usage& usage) {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    finish_ = reason;
    usage_ = usage;
  }
  changed_.notify_all();
}

void Job::fail(const ApiError& error) {
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    error_ = error;
  }
  changed_.notify_all();
}

JobUpdate Job::wait_update(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return done_ || !text_.empty(); });
  JobUpdate update;
  update.text = std::move(text_);
  text_.clear();
  update.done = done_;
  if (done_) {
    update.finish = finish_;
    update.error = error_;
    update.usage = usage_;
  }
  return update;
}

void Job::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
}

bool Job::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

}  // namespace smoe::server
