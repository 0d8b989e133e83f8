// Reproducible random test data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace smoe::test {

// n values from N(0, spread^2), the same for the same seed.
inline std::vector<float> normal_values(size_t n, float spread, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> x(n);
  for (float& value : x) value = normal(generator);
  return x;
}

// n activations for the dot kernels' tests: kind 0 normal with one outlier (x[5] = 1000: every
// other value quantizes near 0), 1 all +1, 2 all -1, 3 alternating +1 / -1 (after quantization
// +-127: the int16 / int32 sums' extremes).
inline std::vector<float> adversarial_activations(size_t n, int kind, uint32_t seed) {
  std::vector<float> x = normal_values(n, 1.0f, seed);
  x[5] = 1000.0f;
  for (size_t i = 0; i < n; ++i) {
    if (kind == 1) x[i] = 1.0f;
    if (kind == 2) x[i] = -1.0f;
    if (kind == 3) x[i] = i % 2 ? -1.0f : 1.0f;
  }
  return x;
}

}  // namespace smoe::test
