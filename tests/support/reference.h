// The tiny model's reference outputs from Hugging Face transformers (reference.json,
// logits.f32, ppl_windows.i32) and converted containers of it, shared by the golden tests.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace smoe::test {

struct Reference {
  nlohmann::json json;
  std::vector<float> logits;          // all prompts' logits back to back
  std::vector<int32_t> ppl_windows;   // 16 x 256 token ids
};

const Reference& tiny_reference();

// Path of the tiny model converted with `type` (converted once per test run).
const std::string& tiny_container(const std::string& type);

}  // namespace smoe::test
