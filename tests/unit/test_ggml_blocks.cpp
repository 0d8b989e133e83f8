// ggml block decoders for the GGUF types smoe has no format of its own for, on blocks built
// here from llama.cpp's bit layouts with a known value at every position, and the exact
// Q4_0 -> q4 re-encoding of --type keep.
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "convert/ggml_blocks.h"
#include "quant/formats/convert_row.h"
#include "quant/formats/half.h"

using namespace smoe;
using namespace smoe::convert;

namespace {

std::vector<std::byte> as_bytes(const std::vector<uint8_t>& bytes) {
  std::vector<std::byte> out(bytes.size());
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

void put_half(std::vector<uint8_t>& bytes, size_t at, float value) {
  const uint16_t h = quant::f32_to_f16(value);
  std::memcpy(&bytes[at], &h, 2);
}

}  // namespace

TEST_CASE("Q5_K decodes llama.cpp's layout: value p mod 32 at position p", "[ggml][gguf]") {
  std::vector<uint8_t> block(176, 0);  // d, dmin, scales[12], qh[32], qs[128]
  put_half(block, 0, 1.0f);
  put_half(block, 2, 0.0f);
  const uint8_t scales[12] = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};  // every sub-block scale 1, minimum 0
  std::memcpy(&block[4], scales, 12);
  for (size_t p = 0; p < 256; ++p) {
    const uint8_t value = p % 32;
    const size_t chunk = p / 64, within = p % 64, l = within % 32;
    block[48 + 32 * chunk + l] |= uint8_t((value & 15) << (within < 32 ? 0 : 4));
    if (value >> 4) block[16 + l] |= uint8_t(1u << (2 * chunk + (within < 32 ? 0 : 1)));
  }
  std::vector<float> out(256);
  ggml_dequantize_row(kGgmlQ5_K, as_bytes(block).data(), out.data(), 256);
  for (size_t p = 0; p < 256; ++p) REQUIRE(out[p] == float(p % 32));
}

TEST_CASE("Q2_K decodes llama.cpp's layout: value p mod 4 at position p", "[ggml][gguf]") {
  std::vector<uint8_t> block(84, 0);  // scales[16], qs[64], d, dmin
  for (size_t s = 0; s < 16; ++s) block[s] = 0x01;  // scale 1, minimum 0
  put_half(block, 80, 2.0f);
  put_half(block, 82, 0.0f);
  for (size_t p = 0; p < 256; ++p) {
    const size_t half = p / 128, within = p % 128;
    block[16 + 32 * half + within % 32] |= uint8_t((p % 4) << (2 * (within / 32)));
  }
  std::vector<float> out(256);
  ggml_dequantize_row(kGgmlQ2_K, as_bytes(block).data(), out.data(), 256);
  for (size_t p = 0; p < 256; ++p) REQUIRE(out[p] == 2.0f * float(p % 4));
}

TEST_CASE("Q5_0 and Q5_1 decode with the fifth bit from qh", "[ggml][gguf]") {
  std::vector<uint8_t> q5_0(22, 0), q5_1(24, 0);
  put_half(q5_0, 0, 0.5f);
  put_half(q5_1, 0, 0.5f);
  put_half(q5_1, 2, -3.0f);
  uint32_t high = 0;
  for (size_t j = 0; j < 16; ++j) {
    const uint8_t first = uint8_t(j), second = uint8_t(31 - j);  // weights j and j + 16
    q5_0[6 + j] = q5_1[8 + j] = uint8_t((first & 15) | ((second & 15) << 4));
    high |= uint32_t(first >> 4) << j | uint32_t(second >> 4) << (j + 16);
  }
  std::memcpy(&q5_0[2], &high, 4);
  std::memcpy(&q5_1[4], &high, 4);
  std::vector<float> out0(32), out1(32);
  ggml_dequantize_row(kGgmlQ5_0, as_bytes(q5_0).data(), out0.data(), 32);
  ggml_dequantize_row(kGgmlQ5_1, as_bytes(q5_1).data(), out1.data(), 32);
  for (size_t j = 0; j < 16; ++j) {
    CHECK(out0[j] == 0.5f * (float(j) - 16));
    CHECK(out0[j + 16] == 0.5f * (float(31 - j) - 16));
    CHECK(out1[j] == 0.5f * float(j) - 3.0f);
    CHECK(out1[j + 16] == 0.5f * float(31 - j) - 3.0f);
  }
}

TEST_CASE("Q4_0 is kept exactly as q4 (m = -8 d)", "[ggml][gguf]") {
  std::vector<uint8_t> blocks(2 * 18, 0);
  put_half(blocks, 0, 0.125f);
  put_half(blocks, 18, -3.5f);  // negative scales occur in llama.cpp's Q4_0
  for (size_t j = 0; j < 16; ++j) blocks[2 + j] = blocks[20 + j] = uint8_t(j | ((15 - j) << 4));
  std::vector<float> decoded(64), kept_decoded(64);
  ggml_dequantize_row(kGgmlQ4_0, as_bytes(blocks).data(), decoded.data(), 64);
  CHECK(decoded[0] == 0.125f * -8);
  CHECK(decoded[16] == 0.125f * 7);
  REQUIRE(ggml_keep_type(kGgmlQ4_0) == quant::TensorType::q4);
  std::vector<std::byte> kept(*quant::row_bytes(quant::TensorType::q4, 64));
  REQUIRE(ggml_keep_row(kGgmlQ4_0, as_bytes(blocks).data(), kept.data(), 64));
  quant::dequantize_row(quant::TensorType::q4, kept.data(), kept_decoded.data(), 64);
  CHECK(kept_decoded == decoded);
  put_half(blocks, 0, 60000.0f);  // -8 d overflows f16: keeping would not be exact
  CHECK_FALSE(ggml_keep_row(kGgmlQ4_0, as_bytes(blocks).data(), kept.data(), 64));
}
