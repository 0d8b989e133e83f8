// RoPE, with angles computed in f32 exactly as transformers computes them (position * inv_freq).
#include "ops/rope.h"

#include <cmath>

namespace smoe::ops {

RopeTable::RopeTable(size_t head_dim, double theta) : head_dim_(head_dim), inverse_frequency_(head_dim / 2) {
  for (size_t i = 0; i < head_dim / 2; ++i) {
    // As transformers computes it: 1 / theta^(2i/d) in f32.
    inverse_frequency_[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(head_dim));
  }
}

void RopeTable::apply(float* x, size_t heads, size_t position) const {
  const size_t half = head_dim_ / 2;
  for (size_t i = 0; i < half; ++i) {
    const float angle = float(position) * inverse_frequency_[i];
    const float cos = std::cos(angle), sin = std::sin(angle);
    for (size_t h = 0; h < heads; ++h) {
      float* head = x + h * head_dim_;
      const float a = head[i], b = head[i + half];
      head[i] = a * cos - b * sin;
      head[i + half] = b * cos + a * sin;
    }
  }
}

}  // namespace smoe::ops
