// Terminal progress bar for long conversions.
#include "convert/progress.h"

#include <cstdio>
#include <string>

namespace smoe::convert {

ProgressBar::ProgressBar(uint64_t total_tensors, uint64_t total_bytes, bool enabled)
    : total_tensors_(total_tensors),
      total_bytes_(total_bytes),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(uint64_t tensors_done, uint64_t bytes_done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && tensors_done < total_tensors_) return;
  last_draw_ = now;
  draw(tensors_done, bytes_done);
}

void ProgressBar::finish() {
  if (!enabled_) return;
  draw(total_tensors_, total_bytes_);
  std::fputc('\n', stderr);
}

void ProgressBar::draw(uint64_t tensors_done, uint64_t bytes_done) {
  constexpr int kWidth = 30;
  const double fraction = total_bytes_ ? double(bytes_done) / double(total_bytes_) : 1.0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? double(bytes_done) / seconds : 0.0;
  const double eta = rate > 0 ? double(total_bytes_ - bytes_done) / rate : 0.0;
  std::string bar(kWidth, ' ');
  for (int i = 0; i < int(fraction * kWidth); ++i) bar[i] = '#';
  std::fprintf(stderr, "\r[%s] %llu/%llu tensors  %.2f/%.2f GB  %.0f MB/s  ETA %d:%02d ", bar.c_str(),
               static_cast<unsigned long long>(tensors_done), static_cast<unsigned long long>(total_tensors_),
               double(bytes_done) / 1e9, double(total_bytes_) / 1e9, rate / 1e6, int(eta) / 60, int(eta) % 60);
  std::fflush(stderr);
}

}  // namespace smoe::convert
