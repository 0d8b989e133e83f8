// A one-line progress bar on stderr (tensors, bytes, rate, ETA), drawn only on a terminal.
#pragma once

#include <chrono>
#include <cstdint>

namespace smoe::convert {

class ProgressBar {
 public:
  // `enabled` false draws nothing (not a terminal, or --quiet).
  ProgressBar(uint64_t total_tensors, uint64_t total_bytes, bool enabled);
  void update(uint64_t tensors_done, uint64_t bytes_done);  // redraws at most ~10 times a second
  void finish();

 private:
  void draw(uint64_t tensors_done, uint64_t bytes_done);

  uint64_t total_tensors_;
  uint64_t total_bytes_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace smoe::convert
