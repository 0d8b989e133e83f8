// Every kernel table this machine runs against the scalar references, on random and
// adversarial data (extreme scales, zeros, odd block counts), plus agreement of the integer
// dot products with dequantize-then-multiply.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>

#include "quant/formats/convert_row.h"
#include "quant/cpu_features.h"
#include "quant/dequantize_bf16.h"
#include "quant/formats/half.h"
#include "quant/kernels.h"
#include "support/random_values.h"

using namespace smoe::quant;

namespace {

std::vector<float> values(size_t n, float spread, uint32_t seed) { return smoe::test::normal_values(n, spread, seed); }

// Tolerance, relative to the sum of |w x|, of two float sums of the same products in another order.
constexpr double kOrderTolerance = 1e-5;

// The x86 tables (avx2, avx2-vnni, avx512, avx512-vnni) exist in both prefetch variants.
bool is_x86_table(const Kernels& kernels) { return isa_at_least(kernels.isa, Isa::avx2); }

}  // namespace

TEST_CASE("every x86 table exists in both prefetch variants, named apart", "[kernels]") {
  std::set<std::string> names;
  for (const Kernels* kernels : available_kernels()) {
    CHECK(names.insert(kernels_name(*kernels)).second);
    if (is_x86_table(*kernels)) {
      const std::string other = std::string(isa_name(kernels->isa)) + (kernels->prefetch == Prefetch::software ? "" : "+prefetch");
      bool found = false;
      for (const Kernels* candidate : available_kernels()) found = found || kernels_name(*candidate) == other;
      CHECK(found);
    }
  }
}

TEST_CASE("kernels_for gives each level's table in the asked prefetch variant", "[kernels]") {
  for (const Prefetch prefetch : {Prefetch::software, Prefetch::hardware}) {
    CHECK(kernels_for(Isa::scalar, prefetch) == &scalar_kernels());
    for (const Kernels* table : available_kernels()) {
      const Kernels* chosen = kernels_for(table->isa, prefetch);
      REQUIRE(chosen != nullptr);
      CHECK(chosen->isa == table->isa);
      // x86 tables exist in both variants; the others only leave prefetching to the hardware.
      CHECK(chosen->prefetch == (is_x86_table(*table) ? prefetch : Prefetch::hardware));
    }
  }
  for (const Isa isa : {Isa::avx2, Isa::avx2_vnni, Isa::avx512, Isa::avx512_vnni, Isa::neon, Isa::neon_dotprod}) {
    INFO(isa);
    CHECK((kernels_for(isa, Prefetch::hardware) != nullptr) == cpu_runs(isa, cpu_features()));
  }
}

TEST_CASE("kernels agree with the scalar references", "[kernels]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const size_t n = GENERATE(size_t{256}, size_t{4096}, size_t{256 * 7});  // 7 super-blocks: odd counts
  const float scale = GENERATE(1e-6f, 0.02f, 300.0f);
  INFO("kernels " << kernels_name(*kernels) << " n " << n << " scale " << scale);
  std::vector<float> w = values(n, scale, 1), x = values(n, 1.0f, 2);
  std::fill(w.begin(), w.begin() + 64, 0.0f);  // zero blocks
  x[5] = 1000.0f;                               // an activation outlier

  std::vector<BlockQ8A> reference(n / 32), candidate(n / 32);
  quantize_row_q8a_ref(x.data(), reference.data(), n);
  kernels->quantize_q8a(x.data(), candidate.data(), n);
  for (size_t b = 0; b < n / 32; ++b) {
    REQUIRE(candidate[b].d == reference[b].d);
    REQUIRE(candidate[b].sum == reference[b].sum);
    REQUIRE(std::equal(candidate[b].qs, candidate[b].qs + 32, reference[b].qs));
  }

  std::vector<BlockQ8K> reference_k(n / 256), candidate_k(n / 256);
  quantize_row_q8k_ref(x.data(), reference_k.data(), n);
  kernels->quantize_q8k(x.data(), candidate_k.data(), n);
  for (size_t b = 0; b < n / 256; ++b) {
    REQUIRE(candidate_k[b].d == reference_k[b].d);
    REQUIRE(std::equal(candidate_k[b].sums, candidate_k[b].sums + 8, reference_k[b].sums));
    REQUIRE(std::equal(candidate_k[b].sums16, candidate_k[b].sums16 + 16, reference_k[b].sums16));
    REQUIRE(std::equal(candidate_k[b].qs, candidate_k[b].qs + 256, reference_k[b].qs));
  }

  std::vector<BlockQ8> q8(n / 32);
  std::vector<BlockQ4> q4(n / 32);
  std::vector<BlockQ4K> q4k(n / 256);
  std::vector<BlockQ6K> q6k(n / 256);
  std::vector<BlockQ3K> q3k(n / 256);
  quantize_row_q8_ref(w.data(), q8.data(), n);
  quantize_row_q4_ref(w.data(), q4.data(), n);
  quantize_row_q4k_ref(w.data(), q4k.data(), n);
  quantize_row_q6k_ref(w.data(), q6k.data(), n);
  quantize_row_q3k_ref(w.data(), q3k.data(), n);
  const double q8_ref = dot_q8_q8a_ref(q8.data(), reference.data(), n);
  const double q4_ref = dot_q4_q8a_ref(q4.data(), reference.data(), n);
  const double q4k_ref = dot_q4k_q8k_ref(q4k.data(), reference_k.data(), n);
  const double q6k_ref = dot_q6k_q8k_ref(q6k.data(), reference_k.data(), n);
  const double q3k_ref = dot_q3k_q8k_ref(q3k.data(), reference_k.data(), n);
  // Sums of large terms may cancel: measure the tolerance against the terms' magnitudes.
  double magnitude = 0;
  for (size_t i = 0; i < n; ++i) magnitude += std::fabs(double(w[i]) * x[i]);
  const double margin = kOrderTolerance * (magnitude + 1e-30);
  CHECK(kernels->for_type(TensorType::q8).dot(q8.data(), reference.data(), n) == Approx(q8_ref).margin(margin));
  CHECK(kernels->for_type(TensorType::q4).dot(q4.data(), reference.data(), n) == Approx(q4_ref).margin(margin));
  CHECK(kernels->for_type(TensorType::q4k).dot(q4k.data(), reference_k.data(), n) == Approx(q4k_ref).margin(margin));
  // q6k and q3k sum integers in the same order as their references: exact up to the last multiply.
  CHECK(kernels->for_type(TensorType::q6k).dot(q6k.data(), reference_k.data(), n) == Approx(q6k_ref).margin(margin));
  CHECK(kernels->for_type(TensorType::q3k).dot(q3k.data(), reference_k.data(), n) == Approx(q3k_ref).margin(margin));
}

TEST_CASE("32-weight block kernels agree with the scalar references on any block count", "[kernels]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const size_t n = 32 * GENERATE(size_t{1}, size_t{3}, size_t{5}, size_t{7}, size_t{13});  // rests after steps of 2 and 4
  INFO("kernels " << kernels_name(*kernels) << " n " << n);
  const std::vector<float> w = values(n, 0.02f, 3), x = values(n, 1.0f, 4);
  std::vector<BlockQ8A> activations(n / 32);
  quantize_row_q8a_ref(x.data(), activations.data(), n);
  std::vector<BlockQ8> q8(n / 32);
  std::vector<BlockQ4> q4(n / 32);
  quantize_row_q8_ref(w.data(), q8.data(), n);
  quantize_row_q4_ref(w.data(), q4.data(), n);
  double magnitude = 0;
  for (size_t i = 0; i < n; ++i) magnitude += std::fabs(double(w[i]) * x[i]);
  const double margin = kOrderTolerance * magnitude;
  CHECK(kernels->for_type(TensorType::q8).dot(q8.data(), activations.data(), n) ==
        Approx(dot_q8_q8a_ref(q8.data(), activations.data(), n)).margin(margin));
  CHECK(kernels->for_type(TensorType::q4).dot(q4.data(), activations.data(), n) ==
        Approx(dot_q4_q8a_ref(q4.data(), activations.data(), n)).margin(margin));
}

namespace {

// Activation blocks with the given quantized values (scale d), their sums taken from them.
std::vector<BlockQ8A> activation_blocks(const std::vector<int8_t>& qs, float d) {
  std::vector<BlockQ8A> blocks(qs.size() / 32);
  for (size_t b = 0; b < blocks.size(); ++b) {
    blocks[b].d = d;
    blocks[b].sum = 0;
    for (size_t i = 0; i < 32; ++i) blocks[b].sum += blocks[b].qs[i] = qs[32 * b + i];
  }
  return blocks;
}

std::vector<BlockQ8K> activation_super_blocks(const std::vector<int8_t>& qs, float d) {
  std::vector<BlockQ8K> blocks(qs.size() / 256);
  for (size_t b = 0; b < blocks.size(); ++b) {
    BlockQ8K& block = blocks[b];
    block.d = d;
    std::fill(block.sums, block.sums + 8, int16_t{0});
    std::fill(block.sums16, block.sums16 + 16, int16_t{0});
    for (size_t i = 0; i < 256; ++i) {
      block.qs[i] = qs[256 * b + i];
      block.sums[i / 32] = static_cast<int16_t>(block.sums[i / 32] + block.qs[i]);
      block.sums16[i / 16] = static_cast<int16_t>(block.sums16[i / 16] + block.qs[i]);
    }
  }
  return blocks;
}

// Weight blocks of `type` from raw bytes (every value and scale pattern the format can hold), with
// the f16 fields replaced by finite values so the products stay finite.
std::vector<std::byte> raw_blocks(TensorType type, size_t n, uint8_t fill, bool random, uint32_t seed) {
  std::vector<std::byte> bytes(*row_bytes(type, n));
  std::mt19937 generator(seed);
  for (std::byte& byte : bytes) byte = std::byte(random ? static_cast<uint8_t>(generator()) : fill);
  const auto set_half = [&](size_t offset, float value) {
    const uint16_t half = f32_to_f16(value);
    std::memcpy(&bytes[offset], &half, 2);
  };
  const size_t block_bytes = type_traits(type).block_bytes;
  for (size_t offset = 0; offset < bytes.size(); offset += block_bytes) {
    switch (type) {
      case TensorType::q8:
        set_half(offset + offsetof(BlockQ8, d), 0.01f);
        break;
      case TensorType::q4:
        set_half(offset + offsetof(BlockQ4, d), 0.01f);
        set_half(offset + offsetof(BlockQ4, m), -0.05f);
        break;
      case TensorType::q4k:
        set_half(offset + offsetof(BlockQ4K, d), 0.002f);
        set_half(offset + offsetof(BlockQ4K, dmin), 0.001f);
        break;
      case TensorType::q6k:
        set_half(offset + offsetof(BlockQ6K, d), 0.001f);
        break;
      default:
        set_half(offset + offsetof(BlockQ3K, d), 0.003f);
        break;
    }
  }
  return bytes;
}

}  // namespace

// The integer kernels pack partial sums to int16 (q4k, q6k, q3k on VNNI) or sum pairs in
// int16 (maddubs): every weight at its largest value against activations of +-127 is where
// those could saturate; raw random bytes reach scale patterns (and q8 weights of -128) a
// quantizer never writes. Activations stay in [-127, 127], as quantize_symmetric makes them:
// q8's sign trick (|w| x sign(a, w)) has no +128 for an activation of -128.
TEST_CASE("integer kernels agree with the scalar references on raw blocks at their extremes", "[kernels]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  const TensorType type = GENERATE(TensorType::q8, TensorType::q4, TensorType::q4k, TensorType::q6k, TensorType::q3k);
  const int weights = GENERATE(0, 1, 2);         // all bytes 0xff, all 0x80, random
  const int activations = GENERATE(0, 1, 2, 3);  // all 127, all -127, alternating 127 / -127, random
  INFO("kernels " << kernels_name(*kernels) << " type " << type_name(type) << " weights " << weights << " activations "
                  << activations);
  const size_t n = 256 * 3 + (type_traits(type).block_elements == 32 ? 96 : 0);  // 32-blocks: 27, 4k + 3
  const std::vector<std::byte> w = raw_blocks(type, n, weights == 0 ? 0xff : 0x80, weights == 2, 21);
  std::vector<int8_t> qs(n);
  std::mt19937 generator(22);
  for (size_t i = 0; i < n; ++i) {
    qs[i] = activations == 0   ? int8_t{127}
            : activations == 1 ? int8_t{-127}
            : activations == 2 ? int8_t(i % 2 ? -127 : 127)
                               : static_cast<int8_t>(int(generator() % 255) - 127);
  }
  const float d = 1.0f / 127;
  std::vector<float> dequantized(n);
  dequantize_row(type, w.data(), dequantized.data(), n);
  double magnitude = 0;
  for (size_t i = 0; i < n; ++i) magnitude += std::fabs(double(dequantized[i]) * d * qs[i]);
  const double margin = kOrderTolerance * (magnitude + 1e-30);
  if (n % 256 == 0 && type != TensorType::q8 && type != TensorType::q4) {
    const std::vector<BlockQ8K> a = activation_super_blocks(qs, d);
    const auto* bytes = w.data();
    if (type == TensorType::q4k) {
      const auto* blocks = reinterpret_cast<const BlockQ4K*>(bytes);
      CHECK(kernels->for_type(TensorType::q4k).dot(blocks, a.data(), n) ==
            Approx(dot_q4k_q8k_ref(blocks, a.data(), n)).margin(margin));
    } else if (type == TensorType::q6k) {
      const auto* blocks = reinterpret_cast<const BlockQ6K*>(bytes);
      CHECK(kernels->for_type(TensorType::q6k).dot(blocks, a.data(), n) ==
            Approx(dot_q6k_q8k_ref(blocks, a.data(), n)).margin(margin));
    } else {
      const auto* blocks = reinterpret_cast<const BlockQ3K*>(bytes);
      CHECK(kernels->for_type(TensorType::q3k).dot(blocks, a.data(), n) ==
            Approx(dot_q3k_q8k_ref(blocks, a.data(), n)).margin(margin));
    }
  } else {
    const std::vector<BlockQ8A> a = activation_blocks(qs, d);
    if (type == TensorType::q8) {
      const auto* blocks = reinterpret_cast<const BlockQ8*>(w.data());
      CHECK(kernels->for_type(TensorType::q8).dot(blocks, a.data(), n) ==
            Approx(dot_q8_q8a_ref(blocks, a.data(), n)).margin(margin));
    } else {
      const auto* blocks = reinterpret_cast<const BlockQ4*>(w.data());
      CHECK(kernels->for_type(TensorType::q4).dot(blocks, a.data(), n) ==
            Approx(dot_q4_q8a_ref(blocks, a.data(), n)).margin(margin));
    }
  }
}

TEST_CASE("float weight kernels agree with the exact products on any length and row count", "[kernels]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  // Below one vector, between one and one step, past a step, a long row with a rest, and rows
  // long enough to go four at a time (with a rest).
  const size_t n = GENERATE(size_t{1}, size_t{7}, size_t{15}, size_t{16}, size_t{17}, size_t{63}, size_t{64}, size_t{65},
                            size_t{100}, size_t{4096 + 5}, size_t{8192}, size_t{14336 + 7});
  const size_t rows = GENERATE(size_t{1}, size_t{6});  // one; one group of four and two alone
  const size_t stride = n + 3;                         // rows apart by more than their length
  // Random weights (where the tolerance is tight), then with adversarial ones among them: zero,
  // f16's largest and smallest (subnormal) magnitudes, a huge bf16 (which a lost term would show).
  const bool adversarial = GENERATE(false, true);
  INFO("kernels " << kernels_name(*kernels) << " n " << n << " rows " << rows << " adversarial " << adversarial);
  const std::vector<float> x = values(n, 1.0f, 6);
  std::vector<float> w = values(rows * stride, 0.5f, 5);
  const float extremes[] = {0.0f, 65504.0f, -6.0e-8f, 1.0e30f};
  for (size_t r = 0; r < rows; ++r) {
    for (size_t k = 0; adversarial && k < 4 && 3 * k < n; ++k) w[r * stride + n - 1 - 3 * k - r % 2] = extremes[k];
  }
  std::vector<uint16_t> f16(w.size()), bf16(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    f16[i] = f32_to_f16(std::fabs(w[i]) > 65504.0f ? 1.0f : w[i]);
    bf16[i] = f32_to_bf16(w[i]);
  }
  std::vector<float> result(rows), reference(rows);
  auto check = [&](auto weight_value) {
    for (size_t r = 0; r < rows; ++r) {
      double exact = 0, magnitude = 0;
      for (size_t i = 0; i < n; ++i) {
        exact += double(weight_value(r * stride + i)) * x[i];
        magnitude += std::fabs(double(weight_value(r * stride + i)) * x[i]);
      }
      INFO("row " << r);
      CHECK(result[r] == Approx(exact).margin(kOrderTolerance * magnitude));
      CHECK(reference[r] == Approx(exact).margin(kOrderTolerance * magnitude));
    }
  };
  kernels->for_type(TensorType::f32).dot_rows(w.data(), stride, rows, x.data(), n, result.data());
  dot_rows_f32_ref(w.data(), stride, rows, x.data(), n, reference.data());
  check([&](size_t i) { return w[i]; });
  kernels->for_type(TensorType::f16).dot_rows(f16.data(), stride, rows, x.data(), n, result.data());
  dot_rows_f16_ref(f16.data(), stride, rows, x.data(), n, reference.data());
  check([&](size_t i) { return f16_to_f32(f16[i]); });
  kernels->for_type(TensorType::bf16).dot_rows(bf16.data(), stride, rows, x.data(), n, result.data());
  dot_rows_bf16_ref(bf16.data(), stride, rows, x.data(), n, reference.data());
  check([&](size_t i) { return bf16_to_f32(bf16[i]); });
}

TEST_CASE("integer dot products approximate the float dot product of the dequantized weights", "[kernels]") {
  const size_t n = 4096;
  const std::vector<float> w = values(n, 0.02f, 3), x = values(n, 1.0f, 4);
  std::vector<BlockQ8K> activations(n / 256);
  quantize_row_q8k_ref(x.data(), activations.data(), n);
  std::vector<BlockQ4K> q4k(n / 256);
  quantize_row_q4k_ref(w.data(), q4k.data(), n);
  std::vector<float> dequantized(n);
  dequantize_row_q4k_ref(q4k.data(), dequantized.data(), n);
  double exact = 0, magnitude = 0;
  for (size_t i = 0; i < n; ++i) {
    exact += double(dequantized[i]) * x[i];
    magnitude += std::fabs(double(dequantized[i]) * x[i]);
  }
  // 8-bit activations: error well below 1% of the sum of magnitudes.
  CHECK(std::fabs(dot_q4k_q8k_ref(q4k.data(), activations.data(), n) - exact) < 0.01 * magnitude);
}

TEST_CASE("attention kernels agree with the scalar references", "[kernels]") {
  const Kernels* kernels = GENERATE(from_range(available_kernels()));
  // 24 and 80: whole vectors after the widest pass (AVX2 2 x 8 dims a pass, AVX-512 4 x 16);
  // 131: a tail past the vector width.
  const size_t n = GENERATE(size_t{16}, size_t{24}, size_t{80}, size_t{128}, size_t{131});
  const size_t group = GENERATE(size_t{1}, size_t{4}, size_t{7});    // 7: a full group of 4 and a rest of 3
  const size_t count = GENERATE(size_t{1}, size_t{70});              // 70: many 8-position value chunks and a rest
  INFO("kernels " << kernels_name(*kernels) << " n " << n << " group " << group << " count " << count);
  const std::vector<float> k = values(count * n, 2.0f, 5), q = values(group * n, 1.0f, 6);
  const size_t stride = count + 3;  // scores and weights rows wider than count
  std::vector<uint16_t> halves(count * n);
  for (size_t i = 0; i < count * n; ++i) halves[i] = f32_to_f16(k[i]);
  // int8 rows with extreme values at both ends of the range, and per-position scales.
  std::vector<int8_t> bytes(count * n);
  for (size_t i = 0; i < count * n; ++i) bytes[i] = static_cast<int8_t>(i % 3 == 0 ? -127 : i % 3 == 1 ? 127 : int(i % 255) - 127);
  std::vector<float> scales(count);
  for (size_t p = 0; p < count; ++p) scales[p] = 0.001f * float(p + 1);

  std::vector<float> expected(group * stride, -1.0f), actual(group * stride, -1.0f);
  key_scores_ref(halves.data(), nullptr, count, q.data(), group, n, expected.data(), stride);
  kernels->key_scores_f16(halves.data(), nullptr, count, q.data(), group, n, actual.data(), stride);
  for (size_t j = 0; j < group; ++j) {
    for (size_t p = 0; p < stride; ++p) {
      double magnitude = 0;
      for (size_t i = 0; p < count && i < n; ++i) magnitude += std::fabs(double(k[p * n + i]) * q[j * n + i]);
      CHECK(actual[j * stride + p] == Approx(expected[j * stride + p]).margin(kOrderTolerance * magnitude));
    }
  }
  key_scores_ref(bytes.data(), scales.data(), count, q.data(), group, n, expected.data(), stride);
  kernels->key_scores_i8(bytes.data(), scales.data(), count, q.data(), group, n, actual.data(), stride);
  for (size_t j = 0; j < group; ++j) {
    for (size_t p = 0; p < count; ++p) {
      double magnitude = 0;
      for (size_t i = 0; i < n; ++i) magnitude += std::fabs(double(bytes[p * n + i]) * q[j * n + i] * scales[p]);
      CHECK(actual[j * stride + p] == Approx(expected[j * stride + p]).margin(kOrderTolerance * magnitude));
    }
  }

  const std::vector<float> weights = values(group * stride, 0.5f, 7);
  std::vector<float> y_expected = q, y_actual = q;  // the sums add to what is there
  value_sum_ref(weights.data(), stride, halves.data(), static_cast<const float*>(nullptr), count, group, n, y_expected.data());
  kernels->value_sum_f16(weights.data(), stride, halves.data(), nullptr, count, group, n, y_actual.data());
  for (size_t i = 0; i < group * n; ++i) CHECK(y_actual[i] == Approx(y_expected[i]).margin(1e-4));
  y_expected = q;
  y_actual = q;
  value_sum_ref(weights.data(), stride, bytes.data(), scales.data(), count, group, n, y_expected.data());
  kernels->value_sum_i8(weights.data(), stride, bytes.data(), scales.data(), count, group, n, y_actual.data());
  for (size_t i = 0; i < group * n; ++i) CHECK(y_actual[i] == Approx(y_expected[i]).margin(1e-3));
}

TEST_CASE("bf16 row decoders give the reference's bits", "[kernels][bf16]") {
  const TensorType type = GENERATE(TensorType::q8, TensorType::q4, TensorType::q4k, TensorType::q6k, TensorType::q3k);
  const size_t n = 4096;
  std::vector<float> w = values(n, 0.02f, 8);
  w[3] = 7.0f;  // an outlier
  std::vector<std::byte> stored(*row_bytes(type, n));
  quantize_row(type, w.data(), stored.data(), n);
  std::vector<uint16_t> expected(n), actual(n);
  dequantize_row_bf16_ref(type, stored.data(), expected.data(), n);
  for (const Kernels* table : available_kernels()) {
    INFO("kernels " << kernels_name(*table) << " type " << type_name(type)
                    << (multiplies_bf16(table->isa, cpu_features()) ? " (native bf16)" : " (reference only)"));
    std::fill(actual.begin(), actual.end(), uint16_t{0});
    table->for_type(type).to_bf16(stored.data(), actual.data(), n);
    CHECK(actual == expected);
  }
  std::vector<float> decoded(n);
  dequantize_row(type, stored.data(), decoded.data(), n);
  for (size_t i = 0; i < n; ++i) REQUIRE(std::fabs(bf16_to_f32(expected[i]) - decoded[i]) <= std::fabs(decoded[i]) * 0x1p-8f);
}
