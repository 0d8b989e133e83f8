// The backend plugin path without a GPU, through the reference plugin (tests/plugin): loading
// with an ABI check, the CPU fallback, placement within a budget by routing statistics, and
// results that match the CPU's.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "backend/plugin.h"
#include "convert/convert_checkpoint.h"
#include "convert/importance_matrix.h"
#include "runtime/model_impl.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"
#include "support/scoped_environment.h"
#include "support/temp_dir.h"

using namespace smoe;

namespace {

std::shared_ptr<const Model> load(const std::string& backend, uint64_t gpu_memory,
                                  const std::string& path = test::tiny_container("f32")) {
  ModelOptions options;
  options.context_size = 256;
  options.threads = 1;
  options.kv_type = KvType::f32;
  options.backend = backend;
  options.gpu_memory = gpu_memory;
  return Model::load(path, options);
}

float worst_difference(const Model& a, const Model& b) {
  float worst = 0;
  for (const nlohmann::json& prompt : test::tiny_reference().json["prompts"]) {
    const std::vector<int32_t> ids = prompt["ids"].get<std::vector<int32_t>>();
    auto first = a.create_session(), second = b.create_session();
    const std::span<const float> left = first->eval_all(ids), right = second->eval_all(ids);
    for (size_t i = 0; i < right.size(); ++i) worst = std::max(worst, std::fabs(left[i] - right[i]));
  }
  return worst;
}

}  // namespace

TEST_CASE("experts on a backend plugin give the CPU's results within a budget", "[backend][plugin][threads]") {
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  const auto cpu = load("reference", 0);
  CHECK(cpu->info().backend.empty());
  // A budget of about a third of the experts.
  const uint64_t expert_bytes = 3 * 128 * 256 * 4;
  const auto hybrid = load("reference", expert_bytes * 10);
  CHECK(hybrid->info().backend.find("reference") != std::string::npos);
  CHECK(hybrid->info().offloaded_experts == 10);
  CHECK(hybrid->info().offloaded_bytes <= expert_bytes * 10);
  CHECK(worst_difference(*cpu, *hybrid) <= 1e-3f);
  // Both sides served experts, and in some steps at the same time (device experts on the
  // worker thread while the CPU computed the others).
  const backend::ExpertOffload& offload = *ModelInternals::of(*hybrid).offload;
  CHECK(offload.hits() > 0);
  CHECK(offload.misses() > 0);
  CHECK(offload.concurrent_steps() > 0);
  GenerateOptions greedy;
  greedy.max_tokens = 16;
  greedy.sampler.temperature = 0;
  const std::vector<int32_t> ids = test::tiny_reference().json["prompts"][0]["ids"].get<std::vector<int32_t>>();
  CHECK(hybrid->create_session()->generate(ids, greedy, nullptr).tokens ==
        cpu->create_session()->generate(ids, greedy, nullptr).tokens);
}

TEST_CASE("a missing plugin, another ABI version or a failing device fall back to the CPU", "[backend][plugin]") {
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  const auto cpu = load("reference", 0);
  CHECK(load("no-such-backend", 1 << 30)->info().backend.empty());
  {
    const test::ScopedEnvironment abi("SMOE_REFERENCE_ABI", "99");
    CHECK(load("reference", 1 << 30)->info().backend.empty());
  }
  const test::ScopedEnvironment fail("SMOE_REFERENCE_FAIL", "1");
  const auto failing = load("reference", 1 << 30);
  CHECK_FALSE(failing->info().backend.empty());
  CHECK(worst_difference(*cpu, *failing) <= 1e-3f);  // every expert went back to the CPU, no hang
}

TEST_CASE("the CUDA plugin's experts match the CPU (skipped without a GPU)", "[backend][cuda]") {
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_CUDA_PLUGIN_DIR);
  for (const char* type : {"f32", "q8", "q4"}) {
    ModelOptions options;
    options.context_size = 256;
    options.threads = 1;
    options.kv_type = KvType::f32;
    const auto cpu = Model::load(test::tiny_container(type), options);
    options.gpu_memory = uint64_t{1} << 30;
    const auto gpu = Model::load(test::tiny_container(type), options);
    if (gpu->info().backend.empty()) {
      WARN("no usable CUDA device or plugin: the CUDA plugin test is skipped");
      return;
    }
    INFO(type << " on " << gpu->info().backend);
    CHECK(gpu->info().offloaded_experts == cpu->info().hyperparameters.num_hidden_layers * cpu->info().hyperparameters.num_local_experts);
    // f32 sums in another order; for q8/q4 the CPU multiplies 8-bit activations.
    CHECK(worst_difference(*cpu, *gpu) <= (std::string(type) == "f32" ? 1e-3f : 0.1f));
  }
}

TEST_CASE("placement follows the router: the most chosen experts end up on the device", "[backend][plugin]") {
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  const uint64_t expert_bytes = 3 * 128 * 256 * 4;
  const auto model = load("reference", expert_bytes * 8);  // 8 of the 32 experts
  const backend::ExpertOffload& offload = *ModelInternals::of(*model).offload;
  auto session = model->create_session();
  for (const nlohmann::json& prompt : test::tiny_reference().json["prompts"]) {
    session->reset();
    session->eval(prompt["ids"].get<std::vector<int32_t>>());
  }
  const std::vector<uint64_t>& counts = session->stats().expert_counts;
  const uint32_t experts = model->info().hyperparameters.num_local_experts;
  const size_t hottest = size_t(std::max_element(counts.begin(), counts.end()) - counts.begin());
  const size_t coldest = size_t(std::min_element(counts.begin(), counts.end()) - counts.begin());
  CHECK(offload.resident_experts() == 8);
  CHECK(offload.resident(uint32_t(hottest / experts), uint32_t(hottest % experts)));
  CHECK_FALSE(offload.resident(uint32_t(coldest / experts), uint32_t(coldest % experts)));
  CHECK(offload.hits() > 0);
}

TEST_CASE("a calibration routing profile in the container places the hottest experts before the first token",
          "[backend][plugin]") {
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  // An importance matrix whose only content is routing counts: expert 5 is the hot one in every layer.
  convert::ImportanceMatrix matrix;
  for (uint32_t layer = 0; layer < 4; ++layer) {
    for (uint32_t expert = 0; expert < 8; ++expert) {
      for (int i = 0; i < (expert == 5 ? 100 : 1); ++i) matrix.add_count("routing." + std::to_string(layer), expert, 8);
    }
  }
  test::TempDir dir;
  matrix.save(dir.file("routing.imatrix"));
  convert::ConvertOptions options;
  options.input = test::tiny_model_dir();
  options.output = dir.file("profiled.smoe");
  options.recipe = convert::make_recipe("f32");
  options.imatrix = dir.file("routing.imatrix");
  options.hash_sources = false;
  convert::convert_checkpoint(options);

  ModelOptions model_options;
  model_options.backend = "reference";
  model_options.gpu_memory = 3 * 128 * 256 * 4 * 4;  // four experts
  const auto model = Model::load(options.output, model_options);
  const backend::ExpertOffload& offload = *ModelInternals::of(*model).offload;
  REQUIRE(offload.resident_experts() == 4);
  for (uint32_t layer = 0; layer < 4; ++layer) CHECK(offload.resident(layer, 5));
}

TEST_CASE("experts stored in column panels reach a backend as contiguous rows", "[backend][plugin][panels]") {
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  // Every expert on the device: the plugin multiplies whatever rows it was given, so the
  // paneled file must give it the very bytes the contiguous one does.
  const uint64_t all_experts = uint64_t{1} << 30;
  const auto contiguous = load("reference", all_experts, test::tiny_container("q8"));
  const auto paneled = load("reference", all_experts, test::tiny_container_in_panels("q8", 64));
  REQUIRE(paneled->info().offloaded_experts == contiguous->info().offloaded_experts);
  REQUIRE(paneled->info().offloaded_experts > 0);
  // Attention stays on the CPU, where the panels' sums add in another order: close, not
  // bitwise (tests/golden/test_column_panels.cpp); experts given wrong rows would be far off.
  const test::LogitAgreement agreement = test::compare_logits(*contiguous, *paneled);
  INFO("mean |difference| " << agreement.mean_difference << ", same top token " << agreement.same_top_token);
  CHECK(agreement.mean_difference <= 0.02);
  CHECK(agreement.same_top_token >= 0.95);
}

TEST_CASE("each open of a plugin is a backend of its own", "[backend][plugin]") {
  // Two models on one backend in one process: each must keep its own state (the plugins once
  // returned one static struct, so the second open took over the first model's).
  const test::ScopedEnvironment path("SMOE_PLUGIN_PATH", SMOE_TEST_PLUGIN_DIR);
  std::string why_first, why_second;
  const auto first = backend::Plugin::load("reference", why_first);
  const auto second = backend::Plugin::load("reference", why_second);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(&first->api() != &second->api());
  CHECK(first->api().state != second->api().state);
  // And both models at once compute what each does alone.
  const uint64_t all_experts = uint64_t{1} << 30;
  const auto f32 = load("reference", all_experts), q8 = load("reference", all_experts, test::tiny_container("q8"));
  const auto f32_alone = load("reference", 0);
  CHECK(worst_difference(*f32, *f32_alone) <= 1e-3f);
  CHECK(q8->info().offloaded_experts > 0);
}
