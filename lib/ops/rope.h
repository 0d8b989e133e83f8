// Rotary position embedding (Su et al. 2021) in Hugging Face's "rotate half" layout: within a
// head of width d, element i pairs with element i + d/2 and both rotate by angle
// position * theta^(-2i/d).
#pragma once

#include <cstddef>
#include <vector>

namespace smoe::ops {

class RopeTable {
 public:
  RopeTable(size_t head_dim, double theta);
  // Rotates `heads` consecutive heads of x (heads * head_dim,) for one position.
  void apply(float* x, size_t heads, size_t position) const;

 private:
  size_t head_dim_;
  std::vector<float> inverse_frequency_;  // (head_dim / 2,)
};

}  // namespace smoe::ops
