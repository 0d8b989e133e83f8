// The tiny model's reference outputs from Hugging Face transformers (reference.json,
// logits.f32, ppl_windows.i32) and converted containers of it, shared by the golden tests.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace smoe {
class Model;
}

namespace smoe::test {

struct Reference {
  nlohmann::json json;
  std::vector<float> logits;          // all prompts' logits back to back
  std::vector<int32_t> ppl_windows;   // 16 x 256 token ids
};

const Reference& tiny_reference();

// Path of the tiny model converted with `type` (converted once per test run).
const std::string& tiny_container(const std::string& type);
// The same with wide matrices stored in column panels of at most `max_panel_columns`.
const std::string& tiny_container_in_panels(const std::string& type, uint64_t max_panel_columns);
// The same from another input in the tiny model's directory (e.g. "mixtral-tiny-f16.gguf").
const std::string& tiny_container_from(const std::string& input_file, const std::string& type);
// The tiny model converted with its q4k matrices' rows interleaved by eight (--interleave).
const std::string& tiny_container_interleaved(const std::string& type);

// `path` loaded as the golden tests compare it with the reference: f32 KV cache, 512 positions.
std::shared_ptr<const Model> load_for_comparison(const std::string& path);

// Over every reference prompt's logits at every position (eval_all): the mean |a - b| and the
// fraction of positions where both models rank the same token first.
struct LogitAgreement {
  double mean_difference = 0;
  double same_top_token = 0;
};
LogitAgreement compare_logits(const Model& a, const Model& b);

// Mean negative log-likelihood of `model` over the reference windows, each scored on its own.
double mean_nll(const Model& model);

}  // namespace smoe::test
