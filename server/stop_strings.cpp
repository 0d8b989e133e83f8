// Stop-string matching with hold-back. Every byte before held_ has been checked: a stop string
// starting there would have left its start in held_, so only held_ + piece needs searching.
#include "stop_strings.h"

#include <algorithm>
#include <utility>

namespace smoe::server {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& stop) { return stop.empty(); });
}

std::string StopMatcher::push(std::string_view piece) {
  if (stopped_) return {};
  std::string text = held_ + std::string(piece);
  held_.clear();
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) first = std::min(first, text.find(stop));
  if (first != std::string::npos) {
    stopped_ = true;
    text.resize(first);
    return text;
  }
  // The longest suffix that begins some stop string waits for the next piece. A stop string
  // starts on a UTF-8 lead byte, so the cut never splits a character.
  size_t keep = 0;
  for (const std::string& stop : stops_) {
    for (size_t length = std::min(stop.size() - 1, text.size()); length > keep; --length) {
      if (std::string_view(text).substr(text.size() - length) == std::string_view(stop).substr(0, length)) {
        keep = length;
        break;
      }
    }
  }
  held_ = text.substr(text.size() - keep);
  text.resize(text.size() - keep);
  return text;
}

std::string StopMatcher::flush() {
  if (stopped_) return {};
  return std::exchange(held_, {});
}

}  // namespace smoe::server
