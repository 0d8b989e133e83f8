// How many event streams are still being written. cpp-httplib stops calling a chunked content
// provider as soon as the server is stopped, so a stream whose job has just ended (finished or
// cancelled at shutdown) would lose its last events and `data: [DONE]`; shutdown waits here for
// the streams to close before it stops the HTTP server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace smoe::server {

class OpenStreams {
 public:
  // Counts one stream until the returned token is destroyed (with the response that owns it).
  std::shared_ptr<void> open();

  // Waits until no stream is open or the timeout passed; true when none is open.
  bool wait_closed(std::chrono::steady_clock::duration timeout);

 private:
  void close();

  std::mutex mutex_;
  std::condition_variable closed_;
  uint32_t open_ = 0;
};

}  // namespace smoe::server
