// Converts the bundled tiny model to every type and reads it back against the safetensors
// source: exact types bit for bit, quantized types within their format's error bound, expert
// ranges page-aligned and contiguous, metadata and provenance as in the release.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "convert/convert_checkpoint.h"
#include "convert/hf_checkpoint.h"
#include "convert/inspect.h"
#include "format/container.h"
#include "format/panels.h"
#include "format/tensor_schema.h"
#include "quant/formats/block_q4.h"
#include "quant/formats/block_q3k.h"
#include "quant/formats/block_q4k.h"
#include "quant/formats/block_q6k.h"
#include "quant/formats/block_q8.h"
#include "quant/formats/convert_row.h"
#include "quant/formats/half.h"
#include "support/reference.h"
#include "support/safetensors_builder.h"
#include "support/temp_dir.h"
#include "util/hashing.h"

using namespace smoe;
using quant::TensorType;

namespace {

std::string convert_tiny(const test::TempDir& dir, const std::string& type, const std::string& input = test::tiny_model_dir()) {
  convert::ConvertOptions options;
  options.input = input;
  options.output = dir.file(type + ".smoe");
  options.recipe = convert::make_recipe(type);
  convert::convert_checkpoint(options);
  return options.output;
}

// Checks one stored row against the f32 source row with the stored type's guarantee.
void check_row(TensorType type, const std::byte* stored, const float* source, size_t n, const std::string& name) {
  std::vector<float> decoded(n);
  quant::dequantize_row(type, stored, decoded.data(), n);
  INFO("tensor " << name << " stored as " << quant::type_name(type));
  switch (type) {
    case TensorType::f32:
    case TensorType::bf16:  // the source is bf16: both are exact
      REQUIRE(std::memcmp(decoded.data(), source, n * sizeof(float)) == 0);
      return;
    case TensorType::f16:
      for (size_t i = 0; i < n; ++i) REQUIRE(decoded[i] == quant::f16_to_f32(quant::f32_to_f16(source[i])));
      return;
    case TensorType::q8:
      for (size_t b = 0; b < n / 32; ++b) {
        const float d = quant::f16_to_f32(reinterpret_cast<const quant::BlockQ8*>(stored)[b].d);
        for (size_t i = b * 32; i < b * 32 + 32; ++i) REQUIRE(std::fabs(decoded[i] - source[i]) <= quant::q8_error_bound(d));
      }
      return;
    case TensorType::q4:
      for (size_t b = 0; b < n / 32; ++b) {
        const auto [lo, hi] = std::minmax_element(source + b * 32, source + b * 32 + 32);
        const float bound = quant::q4_error_bound(*lo, *hi);
        for (size_t i = b * 32; i < b * 32 + 32; ++i) REQUIRE(std::fabs(decoded[i] - source[i]) <= bound);
      }
      return;
    case TensorType::q4k:
      for (size_t b = 0; b < n / 256; ++b) {
        const auto& block = reinterpret_cast<const quant::BlockQ4K*>(stored)[b];
        const float d = quant::f16_to_f32(block.d), dmin = quant::f16_to_f32(block.dmin);
        for (size_t j = 0; j < 8; ++j) {
          const float* sub_block = source + b * 256 + j * 32;
          const auto [lo, hi] = std::minmax_element(sub_block, sub_block + 32);
          const float bound = quant::q4k_error_bound(*lo, *hi, d, dmin);
          for (size_t i = b * 256 + j * 32; i < b * 256 + j * 32 + 32; ++i) {
            REQUIRE(std::fabs(decoded[i] - source[i]) <= bound);
          }
        }
      }
      return;
    case TensorType::q6k:
    case TensorType::q3k:
      // Symmetric super-blocks: each weight is the nearest level of its sub-block's final grid.
      for (size_t b = 0; b < n / 256; ++b) {
        float steps[16];
        if (type == TensorType::q6k) {
          const auto& block = reinterpret_cast<const quant::BlockQ6K*>(stored)[b];
          for (size_t j = 0; j < 16; ++j) steps[j] = quant::f16_to_f32(block.d) * float(block.scales[j]);
        } else {
          const auto& block = reinterpret_cast<const quant::BlockQ3K*>(stored)[b];
          int8_t scales[16];
          quant::q3k_unpack_scales(block.scales, scales);
          for (size_t j = 0; j < 16; ++j) steps[j] = quant::f16_to_f32(block.d) * float(scales[j]);
        }
        const float highest = type == TensorType::q6k ? 31.0f : 3.0f;
        for (size_t i = b * 256; i < b * 256 + 256; ++i) {
          const float step = steps[(i % 256) / 16];
          const float level = step == 0.0f ? 0.0f : std::clamp(std::nearbyint(source[i] / step), -highest - 1, highest);
          REQUIRE(std::fabs(decoded[i] - source[i]) <= std::fabs(source[i] - step * level) * 1.0001f + 1e-30f);
        }
      }
      return;
    case TensorType::u8:
    case TensorType::q4k_x8:  // checked row by row as q4k / q8 (row_type)
    case TensorType::q8_x8:
      break;
  }
  FAIL("unexpected type");
}

}  // namespace

TEST_CASE("the tiny model converts to every type and reads back within each format's bound", "[golden][convert]") {
  const std::string type = GENERATE(as<std::string>{}, "f32", "f16", "bf16", "q8", "q4", "q4k", "q6k", "q3k");
  test::TempDir dir;
  const std::string path = convert_tiny(dir, type);
  const format::Container container = format::Container::open(path);
  const convert::HfCheckpoint source = convert::HfCheckpoint::open(test::tiny_model_dir());
  const convert::Recipe recipe = convert::make_recipe(type);

  for (const format::TensorSpec& spec : format::mixtral_tensor_specs(container.metadata().hyperparameters)) {
    const format::TensorView& stored = container.require(spec.name);
    // q4k matrices are stored interleaved by default (q4k_x8), their rows read back as q4k.
    const TensorType row_type = quant::row_type(stored.type);
    REQUIRE(row_type == recipe.type_for(spec));
    REQUIRE(stored.offset % 64 == 0);
    const auto located = source.tensor(convert::hf_tensor_name(spec.name));
    const uint64_t row_elements = spec.shape.back();
    const uint64_t rows = spec.shape.size() == 2 ? spec.shape[0] : 1;
    std::vector<float> source_rows(rows * row_elements);
    located.file->read_rows_f32(*located.tensor, 0, rows, source_rows.data());
    if (spec.shape.size() != 2) {
      check_row(row_type, stored.data, source_rows.data(), row_elements, spec.name);
    } else {
      format::RowReader reader(stored);
      for (uint64_t r = 0; r < rows; ++r) {
        reader.for_each_piece(r, [&](const std::byte* piece, uint64_t first, uint64_t columns) {
          check_row(row_type, piece, source_rows.data() + r * row_elements + first, columns, spec.name);
        });
      }
    }
    if (stored.type == TensorType::bf16) {  // bit-identical to the safetensors bytes
      REQUIRE(std::memcmp(stored.data, located.file->mapping().data() + located.tensor->offset, stored.bytes) == 0);
    }
  }
  CHECK(container.failed_checksums().empty());
}

TEST_CASE("converting with interleaving stores q4k and q8 matrices as q4k_x8 and q8_x8 whose rows read back as the plain ones", "[golden][convert][q4k_x8][q8_x8]") {
  const std::string recipe = GENERATE(as<std::string>{}, "q4k", "q8", "q4");  // q4: q8 attention, q4 experts
  INFO("recipe " << recipe);
  const format::Container plain = format::Container::open(test::tiny_container(recipe));
  const format::Container interleaved = format::Container::open(test::tiny_container_interleaved(recipe));
  CHECK(interleaved.failed_checksums().empty());
  size_t interleaved_tensors = 0;
  for (const format::TensorView& stored : interleaved.tensors()) {
    const format::TensorView& reference = plain.require(stored.name);
    INFO("tensor " << stored.name);
    CHECK(stored.shape == reference.shape);
    CHECK(stored.bytes == reference.bytes);
    // Every multiplied q4k or q8 matrix with whole groups of rows (the tiny model's q4k w2, 128 x
    // 256), never the embeddings.
    const std::optional<TensorType> interleaved_type = quant::interleaved_type(reference.type);
    const bool interleavable =
        interleaved_type && reference.shape.size() == 2 && reference.shape[0] % 8 == 0 && stored.name != "token_embd";
    CHECK(stored.type == (interleavable ? *interleaved_type : reference.type));
    if (!interleavable) {
      CHECK(std::memcmp(stored.data, reference.data, stored.bytes) == 0);
      continue;
    }
    ++interleaved_tensors;
    CHECK(std::memcmp(stored.data, reference.data, stored.bytes) != 0);  // rearranged
    format::RowReader rows(stored), reference_rows(reference);
    for (uint64_t r = 0; r < stored.shape[0]; ++r) {
      std::vector<std::byte> row, reference_row;
      const auto append_to = [&reference](std::vector<std::byte>& out) {
        return [&out, &reference](const std::byte* piece, uint64_t, uint64_t columns) {
          out.insert(out.end(), piece, piece + *quant::row_bytes(reference.type, columns));
        };
      };
      rows.for_each_piece(r, append_to(row));
      reference_rows.for_each_piece(r, append_to(reference_row));
      REQUIRE(row == reference_row);
    }
  }
  CHECK(interleaved_tensors > 0);
}

TEST_CASE("each expert is one page-aligned range holding w1, w3, w2 back to back", "[golden][convert]") {
  const std::string type = GENERATE(as<std::string>{}, "f32", "q4");
  test::TempDir dir;
  const format::Container container = format::Container::open(convert_tiny(dir, type));
  const Hyperparameters& hp = container.metadata().hyperparameters;
  REQUIRE(container.expert_ranges().size() == hp.num_hidden_layers * hp.num_local_experts);
  uint64_t previous_end = 0;
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    for (uint32_t expert = 0; expert < hp.num_local_experts; ++expert) {
      const format::ExpertRange& range = container.expert_range(layer, expert);
      CHECK(range.offset % 4096 == 0);
      CHECK(range.offset % container.header().expert_alignment == 0);
      CHECK(range.w1->offset == range.offset);
      CHECK(range.w3->offset == range.w1->offset + range.w1->bytes);  // rows are 64-byte multiples here
      CHECK(range.w2->offset == range.w3->offset + range.w3->bytes);
      CHECK(range.bytes == range.w1->bytes + range.w3->bytes + range.w2->bytes);
      CHECK(range.offset >= previous_end);
      previous_end = range.offset + range.bytes;
    }
  }
}

TEST_CASE("metadata carries hyperparameters, tokenizer, chat template, recipe and provenance", "[golden][convert]") {
  test::TempDir dir;
  const format::Container container = format::Container::open(convert_tiny(dir, "q4"));
  const format::Metadata& metadata = container.metadata();
  const Hyperparameters& hp = metadata.hyperparameters;
  CHECK(hp.hidden_size == 128);
  CHECK(hp.intermediate_size == 256);
  CHECK(hp.num_hidden_layers == 4);
  CHECK(hp.num_attention_heads == 8);
  CHECK(hp.num_key_value_heads == 2);
  CHECK(hp.head_dim == 16);
  CHECK(hp.num_local_experts == 8);
  CHECK(hp.num_experts_per_tok == 2);
  CHECK(hp.vocab_size == 4096);
  CHECK(hp.max_position_embeddings == 4096);
  CHECK(hp.rope_theta == 1e6);
  CHECK(hp.rms_norm_eps == 1e-5);
  CHECK(hp.bos_token_id == 1);
  CHECK(hp.eos_token_id == 2);
  CHECK(metadata.chat_template.find("[INST]") != std::string::npos);
  const std::vector<char> tokenizer = test::read_file(test::tiny_model_dir() + "/tokenizer.model");
  REQUIRE(container.tokenizer_model().size() == tokenizer.size());
  CHECK(std::memcmp(container.tokenizer_model().data(), tokenizer.data(), tokenizer.size()) == 0);
  CHECK(metadata.recipe["type"] == "q4");
  CHECK(metadata.recipe["groups"]["experts"] == "q4k");
  // Rows of 128 cannot hold 256-weight super-blocks: w1/w3 step down to q4, w2 (rows of 256) stays
  // q4k, interleaved by eight (the converter's default).
  CHECK(container.require("layers.0.experts.0.w1").type == TensorType::q4);
  CHECK(container.require("layers.0.experts.0.w2").type == TensorType::q4k_x8);
  CHECK(metadata.recipe["bits_per_weight"].get<double>() > 4.5);
  CHECK(metadata.recipe["groups"]["router"] == "f32");
  bool found_weights = false;
  for (const nlohmann::json& source : metadata.provenance["sources"]) {
    if (source["file"] == "model.safetensors") {
      found_weights = true;
      CHECK(source["sha256"] == sha256_file_hex(test::tiny_model_dir() + "/model.safetensors"));
    }
  }
  CHECK(found_weights);

  const nlohmann::json json = convert::inspect_json(container, false);
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "num_key_value_heads", "head_dim", "num_local_experts", "num_experts_per_tok", "vocab_size",
                          "rope_theta", "rms_norm_eps"}) {
    CHECK(json["hyperparameters"].contains(key));
  }
  CHECK(json["file_bytes"] == std::filesystem::file_size(container.path()));
  CHECK(json["tensors"] == container.tensors().size());
  CHECK(json["bits_per_weight"].get<double>() > 4.9);
  CHECK(json["bits_per_weight"].get<double>() < 8.6);
}

TEST_CASE("a sharded checkpoint converts to the same tensors as the single file", "[golden][convert]") {
  test::TempDir dir;
  test::link_tiny_model(dir);
  std::filesystem::remove(dir.path() / "model.safetensors");
  // Split the tensors between two shards, in the index's order, as Hugging Face does.
  const test::RawSafetensors whole = test::read_raw_safetensors(test::tiny_model_dir() + "/model.safetensors");
  test::RawSafetensors shards[2];
  nlohmann::json weight_map;
  size_t count = 0;
  for (const auto& [name, entry] : whole.header.items()) {
    if (name == "__metadata__") continue;
    const int shard = count++ % 2;
    const uint64_t begin = entry["data_offsets"][0], end = entry["data_offsets"][1];
    nlohmann::json moved = entry;
    moved["data_offsets"] = {shards[shard].data.size(), shards[shard].data.size() + (end - begin)};
    shards[shard].header[name] = moved;
    shards[shard].data.insert(shards[shard].data.end(), whole.data.begin() + long(begin), whole.data.begin() + long(end));
    weight_map[name] = "model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors";
  }
  for (int shard = 0; shard < 2; ++shard) {
    test::write_raw_safetensors(dir.file("model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors"), shards[shard]);
  }
  test::write_text(dir.file("model.safetensors.index.json"), nlohmann::json{{"weight_map", weight_map}}.dump());

  test::TempDir out;
  const format::Container sharded = format::Container::open(convert_tiny(out, "q8", dir.path().string()));
  test::TempDir out_single;
  const format::Container single = format::Container::open(convert_tiny(out_single, "q8"));
  REQUIRE(sharded.tensors().size() == single.tensors().size());
  for (const format::TensorView& tensor : single.tensors()) {
    INFO(tensor.name);
    CHECK(sharded.require(tensor.name).checksum == tensor.checksum);
  }
}
