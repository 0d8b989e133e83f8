// The xsimd element-wise kernels, for every instruction set this machine runs, against their
// scalar references: odd lengths (vector tails), large and tiny values, attention's scale.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ops/elementwise.h"
#include "ops/elementwise_simd.h"
#include "support/random_values.h"

using namespace smoe::ops;

namespace {

std::vector<float> values(size_t n, float spread, uint32_t seed) { return smoe::test::normal_values(n, spread, seed); }

// Runs `check(name, arch)` for every architecture with an instantiation that the CPU has.
template <class Check>
void for_each_architecture(Check check) {
  const auto available = xsimd::available_architectures();
#if defined(__x86_64__)
  check("sse2", xsimd::sse2{});
  if (available.fma3_avx2) check("avx2", xsimd::fma3<xsimd::avx2>{});
  if (available.avx512f && available.avx512dq) check("avx512", xsimd::avx512f{});
#elif defined(__aarch64__)
  if (available.neon64) check("neon64", xsimd::neon64{});
#endif
}

}  // namespace

TEST_CASE("vectorised softmax matches the scalar reference", "[elementwise]") {
  const size_t n = GENERATE(size_t{1}, size_t{7}, size_t{16}, size_t{33}, size_t{4097});
  const float spread = GENERATE(1e-3f, 1.0f, 30.0f);
  const float scale = GENERATE(1.0f, 0.0883883f);  // 1 / sqrt(128), as attention uses
  const std::vector<float> x = values(n, spread, 11);
  std::vector<float> expected = x;
  softmax_ref(expected.data(), n, scale);
  for_each_architecture([&](const std::string& name, auto arch) {
    INFO("arch " << name << " n " << n << " spread " << spread << " scale " << scale);
    std::vector<float> actual = x;
    simd::Softmax{}(arch, actual.data(), n, scale);
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      REQUIRE(std::isfinite(actual[i]));
      CHECK(actual[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-9));
      total += actual[i];
    }
    CHECK(total == Approx(1.0).epsilon(1e-5));
  });
  // The kernels a CPU plan takes for each level this CPU runs.
  for (const smoe::quant::Isa isa : {smoe::quant::Isa::scalar, smoe::quant::Isa::avx2, smoe::quant::Isa::avx512,
                                     smoe::quant::Isa::neon}) {
    if (!smoe::quant::cpu_runs(isa, smoe::quant::cpu_features())) continue;
    INFO("plan level " << isa);
    std::vector<float> planned = x;
    elementwise_kernels(isa).softmax(planned.data(), n, scale);
    for (size_t i = 0; i < n; ++i) CHECK(planned[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-9));
  }
}

TEST_CASE("vectorised SwiGLU gate matches the scalar reference", "[elementwise]") {
  const size_t n = GENERATE(size_t{1}, size_t{15}, size_t{14336});
  std::vector<float> gate = values(n, 4.0f, 5), up = values(n, 1.0f, 6);
  gate[0] = -200.0f;  // e^200 overflows f32: silu must still be -0, not NaN
  if (n > 1) gate[1] = 200.0f;
  std::vector<float> expected = gate;
  silu_mul_ref(expected.data(), up.data(), n);
  for_each_architecture([&](const std::string& name, auto arch) {
    INFO("arch " << name << " n " << n);
    std::vector<float> actual = gate;
    simd::SiluMul{}(arch, actual.data(), up.data(), n);
    for (size_t i = 0; i < n; ++i) {
      REQUIRE(std::isfinite(actual[i]));
      CHECK(actual[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-7));
    }
  });
  for (const smoe::quant::Isa isa : {smoe::quant::Isa::scalar, smoe::quant::Isa::avx2, smoe::quant::Isa::avx512,
                                     smoe::quant::Isa::neon}) {
    if (!smoe::quant::cpu_runs(isa, smoe::quant::cpu_features())) continue;
    INFO("plan level " << isa);
    std::vector<float> planned = gate;
    elementwise_kernels(isa).silu_mul(planned.data(), up.data(), n);
    for (size_t i = 0; i < n; ++i) CHECK(planned[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-7));
  }
}
