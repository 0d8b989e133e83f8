// f16 / bf16 conversions against exhaustive and hand-picked cases.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "quant/formats/half.h"

using namespace smoe::quant;

TEST_CASE("every f16 value survives f16 -> f32 -> f16", "[half]") {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float value = f16_to_f32(static_cast<uint16_t>(bits));
    if (std::isnan(value)) {
      CHECK(std::isnan(f16_to_f32(f32_to_f16(value))));
      continue;
    }
    REQUIRE(f32_to_f16(value) == bits);
  }
}

TEST_CASE("every bf16 value survives bf16 -> f32 -> bf16", "[half]") {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float value = bf16_to_f32(static_cast<uint16_t>(bits));
    if (std::isnan(value)) continue;
    REQUIRE(f32_to_bf16(value) == bits);
  }
}

TEST_CASE("f16 rounding: nearest, ties to even, overflow to infinity", "[half]") {
  CHECK(f16_to_f32(f32_to_f16(1.0f)) == 1.0f);
  CHECK(f16_to_f32(f32_to_f16(65504.0f)) == 65504.0f);
  CHECK(std::isinf(f16_to_f32(f32_to_f16(65520.0f))));          // halfway past the max rounds up
  CHECK(f16_to_f32(f32_to_f16(1.0f + 0x1p-11f)) == 1.0f);        // tie -> even (1.0)
  CHECK(f16_to_f32(f32_to_f16(1.0f + 3 * 0x1p-11f)) == 1.0f + 0x1p-9f);  // tie -> even (odd below)
  CHECK(f16_to_f32(f32_to_f16(0x1p-24f)) == 0x1p-24f);           // smallest subnormal
  CHECK(f16_to_f32(f32_to_f16(0x1p-25f)) == 0.0f);               // tie with zero -> even (0)
  CHECK(f16_to_f32(f32_to_f16(0x1.8p-25f)) == 0x1p-24f);
  CHECK(std::signbit(f16_to_f32(f32_to_f16(-0.0f))));
  CHECK(f16_to_f32(f32_to_f16(std::numeric_limits<float>::infinity())) == std::numeric_limits<float>::infinity());
}

TEST_CASE("bf16 rounding: nearest, ties to even", "[half]") {
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 0x1p-8f)) == 1.0f);              // tie -> even
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 3 * 0x1p-8f)) == 1.0f + 0x1p-6f);  // tie -> even (up)
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}
