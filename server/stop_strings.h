// Stop strings ("stop" in OpenAI's requests) over streamed text. Text that may be the start of
// a stop string is held back until the next piece decides it, so a client never receives
// part of a stop string, nor the text after it. Not thread-safe (one per request).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smoe::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {});

  // Appends `piece` (complete UTF-8) and returns the text now safe to send. After a stop
  // string appears, returns the text before it and stopped() is true; later pieces are ignored.
  std::string push(std::string_view piece);
  // The held-back text, at the end of generation (nothing after a stop).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;  // suffix of the text so far that is a prefix of some stop string
  bool stopped_ = false;
};

}  // namespace smoe::server
