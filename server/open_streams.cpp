#include "open_streams.h"

namespace smoe::server {

std::shared_ptr<void> OpenStreams::open() {
  {
    std::lock_guard lock(mutex_);
    ++open_;
  }
  return std::shared_ptr<void>(nullptr, [this](void*) { close(); });
}

void OpenStreams::close() {
  {
    std::lock_guard lock(mutex_);
    --open_;
  }
  closed_.notify_all();
}

bool OpenStreams::wait_closed(std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mutex_);
  return closed_.wait_for(lock, timeout, [this] { return open_ == 0; });
}

}  // namespace smoe::server
