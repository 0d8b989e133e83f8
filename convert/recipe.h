// Quantization recipes: which tensor type each group of tensors is stored in.
//
// `--type T` picks a base recipe; per-group overrides (--attn, --experts, --embeddings,
// --router, --output) replace single groups. Norms are always f32 (they are tiny and every
// token reads them). A quantized type whose block does not divide a tensor's rows falls back
// to f16 for that tensor; the fallback is recorded per tensor in the file.
#pragma once

#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>

#include "format/tensor_schema.h"
#include "quant/formats/tensor_type.h"

namespace smoe::convert {

struct Recipe {
  std::string base;                                       // the --type it started from
  std::map<format::TensorGroup, quant::TensorType> types;  // one entry per group
  quant::TensorType fallback = quant::TensorType::f16;    // for rows that fit no block type
  // Per-expert types ((layer, expert) -> type) that replace the experts group's type; filled by
  // `--expert-bits auto` or `ram=SIZE` (expert_bits.h, expert_tiers.h), empty otherwise.
  std::map<std::pair<int32_t, int32_t>, quant::TensorType> expert_types;
  // The --expert-bits target that filled expert_types ("auto", "ram=12G"), recorded beside them.
  std::string expert_bits = "auto";
  // `--type keep`: per-tensor types taken from the source's blocks (filled by the converter).
  bool keep = false;
  std::map<std::string, quant::TensorType> tensor_types;
  std::set<format::TensorGroup> overridden;  // groups set by --attn/--experts/..., which keep leaves alone

  // The type a tensor is written in. Rows that are not whole blocks of the wanted type step
  // down: q4k, q3k (256) -> q4 (32) -> fallback; q6k (256) -> q8 (32) -> fallback;
  // q8 and q4 (32) -> fallback.
  quant::TensorType type_for(const format::TensorSpec& spec) const;
  nlohmann::json to_json() const;
};

// Base recipes:
//   f32, f16, bf16  every group in that type (router and norms in f32)
//   q8              experts, attention, embeddings, output in q8; router, norms in f32
//   q4              experts and embeddings in q4k (q4 for rows not a multiple of 256);
//                   attention and output in q8; router, norms in f32
//   q4k, q6k, q3k   every weight group in that type (stepping down for short rows); router,
//                   norms f32
//   keep            each tensor in the type its source already has where smoe has it (GGUF
//                   Q8_0/Q4_0/Q4_1/Q4_K/Q6_K/Q3_K, F16, BF16, F32); the converter fills it in
// Throws smoe::Error for an unknown name.
Recipe make_recipe(const std::string& base_type);

// Replaces one group's type, e.g. override_group(recipe, "attn", "q8"); throws smoe::Error for
// an unknown group or type, or for norms in a quantized type.
void override_group(Recipe& recipe, const std::string& group, const std::string& type);

}  // namespace smoe::convert
