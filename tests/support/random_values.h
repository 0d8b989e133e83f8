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

}  // namespace smoe::test
