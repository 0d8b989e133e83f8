#include "convert/background_append.h"

#include <utility>

namespace smoe::convert {

BackgroundAppender::~BackgroundAppender() {
  if (pending_.valid()) pending_.wait();
}

void BackgroundAppender::wait() {
  if (pending_.valid()) pending_.get();
}

void BackgroundAppender::append(size_t index, std::vector<std::byte>& bytes, std::function<void()> then) {
  wait();
  in_flight_.swap(bytes);
  pending_ = std::async(std::launch::async, [this, index, then = std::move(then)] {
    writer_.append(index, in_flight_.data(), in_flight_.size());
    if (then) then();
  });
}

}  // namespace smoe::convert
