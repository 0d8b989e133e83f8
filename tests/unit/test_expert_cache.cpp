// Experts read from disk on demand (WeightLoading::expert_cache): every output identical to the
// model read whole into memory, whatever the slots, policy, lookahead or number of sessions on
// threads; the load decision by budget; the replacement policies; direct reads; and a file that
// fails under a running model is a clear error, not a crash or a hang.
#include <catch2/catch.hpp>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backend/replacement_policy.h"
#include "model/routing_statistics.h"
#include "runtime/weight_placement.h"
#include "smoe/error.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"
#include "support/temp_dir.h"
#include "util/direct_reader.h"

using namespace smoe;

namespace {

struct Output {
  std::vector<float> prompt_logits;  // every prompt position
  std::vector<int32_t> generated;    // greedy
  std::vector<float> last_logits;
};

ModelOptions options_with(WeightLoading loading, uint32_t slots = 0, ExpertCachePolicy policy = ExpertCachePolicy::frequency,
                          bool lookahead = true) {
  ModelOptions options;
  options.threads = 1;
  options.context_size = 256;
  options.weight_loading = loading;
  options.expert_cache_slots = slots;
  options.expert_cache_policy = policy;
  options.expert_lookahead = lookahead;
  return options;
}

Output run(const Model& model, size_t prompt_index = 0) {
  auto session = model.create_session();
  const auto ids = test::tiny_reference().json["prompts"][prompt_index]["ids"].get<std::vector<int32_t>>();
  Output output;
  const std::span<const float> all = session->eval_all(ids);
  output.prompt_logits.assign(all.begin(), all.end());
  GenerateOptions generate;
  generate.max_tokens = 12;
  generate.sampler.temperature = 0;
  generate.stop_at_eos = false;
  output.generated = session->generate({}, generate, nullptr).tokens;
  const std::span<const float> last = session->logits();
  output.last_logits.assign(last.begin(), last.end());
  return output;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("expert cache: outputs identical to the model read into memory", "[runtime][expert_cache]") {
  const std::string path = test::tiny_container("q4");
  const auto resident = Model::load(path, options_with(WeightLoading::read));
  const Output expected = run(*resident);
  REQUIRE(expected.generated.size() == 12);
  const uint32_t layers = resident->info().hyperparameters.num_hidden_layers;

  const auto [slots, policy, lookahead] = GENERATE(table<uint32_t, ExpertCachePolicy, bool>({
      {2 * 4, ExpertCachePolicy::frequency, true},  // two slots per layer of the tiny model
      {2 * 4, ExpertCachePolicy::lru, false},
      {1, ExpertCachePolicy::random, true},         // every expert read again
      {0, ExpertCachePolicy::frequency, true},      // as many as the budget holds: all of them
  }));
  REQUIRE(layers == 4);
  CAPTURE(slots, int(policy), lookahead);
  const auto cached = Model::load(path, options_with(WeightLoading::expert_cache, slots, policy, lookahead));
  REQUIRE(cached->info().weight_loading == WeightLoading::expert_cache);
  CHECK(cached->info().expert_cache_slots == (slots ? slots : cached->info().hyperparameters.num_local_experts * layers));
  CHECK(cached->info().resident_weight_bytes < cached->info().file_bytes);
  const Output got = run(*cached);
  CHECK(same_bits(got.prompt_logits, expected.prompt_logits));
  CHECK(got.generated == expected.generated);
  CHECK(same_bits(got.last_logits, expected.last_logits));

  const ExpertCacheStats stats = cached->expert_cache_stats();
  CHECK(stats.chosen > 0);
  CHECK(stats.hits <= stats.chosen);
  CHECK(stats.bytes_read > 0);
  if (slots == 1) CHECK(stats.hits < stats.chosen);
  if (lookahead) CHECK(stats.lookahead_checked > 0);
  if (!lookahead) CHECK(stats.lookahead_reads == 0);
}

TEST_CASE("expert cache: sessions on threads sharing two slots agree with the resident model",
          "[runtime][expert_cache][threads]") {
  const std::string path = test::tiny_container("q4");
  const auto resident = Model::load(path, options_with(WeightLoading::read));
  const auto cached = Model::load(path, options_with(WeightLoading::expert_cache, 2));
  constexpr size_t kThreads = 4;
  const size_t prompts = test::tiny_reference().json["prompts"].size();
  std::vector<Output> expected(kThreads), got(kThreads);
  for (size_t i = 0; i < kThreads; ++i) expected[i] = run(*resident, i % prompts);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kThreads; ++i) threads.emplace_back([&, i] { got[i] = run(*cached, i % prompts); });
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < kThreads; ++i) {
    CHECK(same_bits(got[i].prompt_logits, expected[i].prompt_logits));
    CHECK(got[i].generated == expected[i].generated);
  }
}

TEST_CASE("expert cache: a file cut short under a running model is an error naming it", "[runtime][expert_cache]") {
  test::TempDir dir;
  const std::string path = dir.file("model.smoe");
  std::filesystem::copy_file(test::tiny_container("q4"), path);
  const auto model = Model::load(path, options_with(WeightLoading::expert_cache, 1));
  // The experts fill most of the file: half of it leaves many of them unreadable.
  std::filesystem::resize_file(path, model->info().file_bytes / 2);
  auto session = model->create_session();
  const auto ids = test::tiny_reference().json["prompts"][0]["ids"].get<std::vector<int32_t>>();
  CHECK_THROWS_WITH(session->eval(ids), Catch::Contains(path));
}

TEST_CASE("weight placement follows the memory budget", "[runtime][expert_cache][memory]") {
  const WeightSizes sizes{.file_bytes = 26'000'000'000,
                          .non_expert_bytes = 1'600'000'000,
                          .expert_slot_bytes = 100'000'000,
                          .kv_cache_bytes = 500'000'000,
                          .experts = 256,
                          .experts_per_token = 2};
  const auto place = [&](WeightLoading loading, std::optional<uint64_t> budget, uint32_t slots = 0) {
    ModelOptions options;
    options.weight_loading = loading;
    options.expert_cache_slots = slots;
    return place_weights(options, {budget, "test"}, sizes, "m.smoe");
  };
  CHECK(place(WeightLoading::automatic, 64'000'000'000).loading == WeightLoading::read);
  const WeightPlacement laptop = place(WeightLoading::automatic, 12'000'000'000);
  CHECK(laptop.loading == WeightLoading::expert_cache);
  CHECK(laptop.expert_slots == (12'000'000'000 - 1'600'000'000 - 500'000'000 - kExpertCacheReserve) / 100'000'000);
  CHECK(place(WeightLoading::automatic, 2'000'000'000).loading == WeightLoading::map);  // not even two slots
  CHECK(place(WeightLoading::automatic, std::nullopt).loading == WeightLoading::map);
  CHECK(place(WeightLoading::expert_cache, std::nullopt, 7).expert_slots == 7);
  CHECK(place(WeightLoading::expert_cache, 64'000'000'000, 999).expert_slots == 256);  // at most every expert
  CHECK_THROWS_WITH(place(WeightLoading::expert_cache, 2'000'000'000), Catch::Contains("m.smoe") && Catch::Contains("slot"));
  CHECK_THROWS_WITH(place(WeightLoading::expert_cache, 2'000'000'000, 10), Catch::Contains("m.smoe"));
  CHECK_THROWS_WITH(place(WeightLoading::read, 12'000'000'000), Catch::Contains("m.smoe"));
  CHECK(place(WeightLoading::map, 1).loading == WeightLoading::map);
}

TEST_CASE("replacement policies evict the least frequent, the least recent, or any", "[runtime][expert_cache]") {
  const std::vector<size_t> candidates = {0, 1, 2};
  model::RoutingStatistics statistics(1, 3);
  const auto step = [&](std::vector<uint64_t> counts) { statistics.record_step(0, counts); };
  // Key 0 chosen in ten steps long ago, key 2 in two steps later, key 1 once, last.
  for (int i = 0; i < 10; ++i) step({1, 0, 0});
  for (int i = 0; i < 10; ++i) step({0, 0, 0});
  for (int i = 0; i < 2; ++i) step({0, 0, 1});
  for (int i = 0; i < 8; ++i) step({0, 0, 0});
  step({0, 1, 0});
  backend::ReplacementPolicy frequency(ExpertCachePolicy::frequency, statistics), lru(ExpertCachePolicy::lru, statistics);
  CHECK(candidates[lru.choose_victim(candidates)] == 0);
  CHECK(candidates[frequency.choose_victim(candidates)] == 1);  // ten choices outweigh 20 ticks of decay
  // Five half-lives later the others are chosen once more: the old counts have decayed below one
  // choice, and the frequent-but-old one goes.
  for (int i = 0; i < 5 * int(model::RoutingStatistics::kHalfLifeTicks); ++i) step({0, 0, 0});
  step({0, 1, 1});
  CHECK(candidates[frequency.choose_victim(candidates)] == 0);
  backend::ReplacementPolicy random(ExpertCachePolicy::random, statistics);
  std::vector<int> seen(3, 0);
  for (int i = 0; i < 200; ++i) ++seen[random.choose_victim(candidates)];
  for (const int count : seen) CHECK(count > 20);
}

TEST_CASE("routing statistics decay by half every half-life and start from a profile", "[runtime][expert_cache]") {
  model::RoutingStatistics statistics(2, 2);
  statistics.seed(std::vector<double>{4, 0, 0, 2});
  CHECK(statistics.score(0) == Approx(4));
  const std::vector<uint64_t> none = {0, 0};
  for (int i = 0; i < int(model::RoutingStatistics::kHalfLifeTicks); ++i) statistics.record_step(0, none);
  CHECK(statistics.score(0) == Approx(2));
  CHECK(statistics.score(3) == Approx(1));
  statistics.record_step(1, std::vector<uint64_t>{3, 0});  // layer 1, expert 0: key 2
  CHECK(statistics.score(2) == Approx(3));
  CHECK(statistics.last_use(2) == statistics.now());
  CHECK(statistics.last_use(1) == 0);
}

TEST_CASE("a calibration profile seeds the counts a text routed that way builds up", "[runtime][expert_cache]") {
  // One layer of 4 experts, top-2; the profile: expert 0 takes 60% of the choices, 3 none.
  model::RoutingStatistics statistics(1, 4);
  statistics.seed_profile(std::vector<double>{0.6, 0.3, 0.1, 0.0}, 2);
  const double steady = 2 / (1 - std::exp2(-1 / model::RoutingStatistics::kHalfLifeTicks));
  CHECK(statistics.score(0) == Approx(0.6 * steady));
  CHECK(statistics.score(3) == 0);
  // A few tokens choosing the profile's cold experts do not outrank its hot one yet...
  for (int i = 0; i < 4; ++i) statistics.record_step(0, std::vector<uint64_t>{0, 0, 1, 1});
  CHECK(statistics.score(0) > statistics.score(2));
  CHECK(statistics.score(0) > statistics.score(3));
  // ...a sustained change of routing does.
  for (int i = 0; i < 256; ++i) statistics.record_step(0, std::vector<uint64_t>{0, 0, 1, 1});
  CHECK(statistics.score(3) > statistics.score(0));
}

TEST_CASE("direct reads return the file's bytes, and reading past its end fails", "[runtime][expert_cache]") {
  test::TempDir dir;
  const std::string path = dir.file("data.bin");
  std::vector<char> bytes(3 * DirectReader::kPieceBytes / 2 + 12345);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(i * 2654435761u >> 13);
  test::write_file(path, bytes);
  DirectReader reader(path);
  const uint64_t offset = 8 * DirectReader::kAlignment;
  const uint64_t length = bytes.size() - offset;
  std::vector<std::byte> buffer(length + 2 * DirectReader::kAlignment);
  std::byte* aligned = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(buffer.data()) + DirectReader::kAlignment - 1) /
                                                    DirectReader::kAlignment * DirectReader::kAlignment);
  reader.read_now(offset, length, aligned);
  CHECK(std::memcmp(aligned, bytes.data() + offset, length) == 0);
  CHECK(reader.bytes_read() == length);
  CHECK_THROWS_WITH(reader.read_now(bytes.size() / DirectReader::kAlignment * DirectReader::kAlignment, 2 * DirectReader::kAlignment, aligned),
                    Catch::Contains(path));
}
