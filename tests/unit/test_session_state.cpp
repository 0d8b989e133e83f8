// Saved sessions, prompt-cache snapshots and chat context shifting.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "smoe/error.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"
#include "support/temp_dir.h"
#include "util/memory.h"

using namespace smoe;

namespace {

std::shared_ptr<const Model> load(const std::string& type, KvType kv = KvType::f16) {
  ModelOptions options;
  options.context_size = 256;
  options.kv_type = kv;
  options.threads = 1;
  return Model::load(test::tiny_container(type), options);
}

std::vector<int32_t> prompt(size_t index) {
  return test::tiny_reference().json["prompts"][index]["ids"].get<std::vector<int32_t>>();
}

GenerateOptions sampling(int32_t tokens) {
  GenerateOptions options;
  options.max_tokens = tokens;
  options.stop_at_eos = false;
  options.sampler.temperature = 0.9f;  // random draws: the sampler's stream must be restored too
  options.sampler.seed = 7;
  return options;
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

TEST_CASE("a saved session resumes exactly where an uninterrupted one goes on", "[session][state]") {
  const KvType kv = GENERATE(KvType::f16, KvType::q8, KvType::f32);
  const auto model = load("q4", kv);
  test::TempDir dir;
  const std::string path = dir.file("chat.smoe-session");
  const std::vector<ChatMessage> messages = {{"user", "Hello"}, {"assistant", "Hi there"}};

  auto uninterrupted = model->create_session();
  uninterrupted->generate(prompt(0), sampling(12), nullptr);
  const std::vector<int32_t> second = uninterrupted->generate(prompt(1), sampling(12), nullptr).tokens;

  auto first = model->create_session();
  first->generate(prompt(0), sampling(12), nullptr);
  first->save(path, messages);
  auto resumed = model->create_session();
  const std::vector<ChatMessage> restored = resumed->load(path);
  CHECK(resumed->tokens() == first->tokens());
  CHECK(resumed->generate(prompt(1), sampling(12), nullptr).tokens == second);
  REQUIRE(restored.size() == 2);
  CHECK(restored[1].role == "assistant");
  CHECK(restored[1].content == "Hi there");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("a saved session is refused by another model, another KV type, or when damaged", "[session][state][bad_input]") {
  const auto model = load("q4");
  test::TempDir dir;
  const std::string path = dir.file("chat.smoe-session");
  auto saved = model->create_session();
  saved->eval(prompt(0));
  saved->save(path);

  auto expect_refused = [&](const std::shared_ptr<const Model>& target, const std::string& file, const std::string& message) {
    auto session = target->create_session();
    session->eval(prompt(2));
    const std::vector<int32_t> before = session->tokens();
    INFO("file " << file << ", expecting '" << message << "'");
    CHECK_THROWS_WITH(session->load(file), Catch::Contains(file) && Catch::Contains(message));
    CHECK(session->tokens() == before);  // never half-loaded
  };
  expect_refused(load("q8"), path, "different model");
  expect_refused(load("q4", KvType::f32), path, "--kv f16");

  const std::vector<char> good = test::read_file(path);
  const std::string damaged = dir.file("damaged.smoe-session");
  for (size_t length : {size_t{0}, size_t{7}, size_t{47}, size_t{48}, good.size() / 2, good.size() - 1}) {
    write_bytes(damaged, std::vector<char>(good.begin(), good.begin() + long(length)));
    expect_refused(model, damaged, length < 48 ? "truncated" : "truncated");
  }
  std::vector<char> flipped = good;
  flipped[good.size() - 20] ^= 0x40;  // inside the compressed data: zstd's checksum catches it
  write_bytes(damaged, flipped);
  expect_refused(model, damaged, "corrupt");
  flipped = good;
  flipped[0] = 'X';
  write_bytes(damaged, flipped);
  expect_refused(model, damaged, "wrong magic");
  CHECK_THROWS_WITH(model->create_session()->load(dir.file("missing")), Catch::Contains("cannot open"));
}

TEST_CASE("a prompt-cache snapshot starts many sessions without recomputing the prefix", "[session][state][threads]") {
  const auto model = load("q4");
  const std::vector<int32_t> system_prefix = prompt(3);
  const std::vector<int32_t> question = prompt(1);
  GenerateOptions greedy;
  greedy.max_tokens = 10;
  greedy.sampler.temperature = 0;

  auto prefix_session = model->create_session();
  prefix_session->eval(system_prefix);
  const SessionSnapshot cache = prefix_session->snapshot();
  CHECK(cache.position() == system_prefix.size());

  std::vector<int32_t> whole = system_prefix;
  whole.insert(whole.end(), question.begin(), question.end());
  const std::vector<int32_t> expected = model->create_session()->generate(whole, greedy, nullptr).tokens;

  constexpr size_t kSessions = 4;
  std::vector<std::vector<int32_t>> answers(kSessions);
  std::vector<uint64_t> prompt_tokens(kSessions);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kSessions; ++i) {
    threads.emplace_back([&, i] {
      auto session = model->create_session();
      session->restore(cache);
      answers[i] = session->generate(question, greedy, nullptr).tokens;
      prompt_tokens[i] = session->stats().prompt_tokens;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < kSessions; ++i) {
    CHECK(answers[i] == expected);
    CHECK(prompt_tokens[i] == question.size());  // the prefix was not evaluated again
  }
  CHECK_THROWS_WITH(load("q4", KvType::q8)->create_session()->restore(cache), Catch::Contains("KV cache"));
}

TEST_CASE("fit_chat drops the oldest turns, keeping the system message and the last question", "[session][chat]") {
  const auto model = load("q8");
  std::vector<ChatMessage> messages = {{"system", "You are brief."}};
  for (int turn = 0; turn < 6; ++turn) {
    messages.push_back({"user", "Question number " + std::to_string(turn) + " about the weather today?"});
    messages.push_back({"assistant", "Answer number " + std::to_string(turn) + ": it is sunny and warm."});
  }
  messages.push_back({"user", "And tomorrow?"});
  const size_t full = model->tokenize_chat(messages).size();
  std::vector<ChatMessage> fitted = messages;
  CHECK(model->fit_chat(fitted, uint32_t(full)) == 0);
  const size_t dropped = model->fit_chat(fitted, uint32_t(full / 2));
  CHECK(dropped > 0);
  CHECK(dropped % 2 == 0);  // whole turns
  CHECK(model->tokenize_chat(fitted).size() <= full / 2);
  CHECK(fitted.front().role == "system");
  CHECK(fitted.back().content == "And tomorrow?");
  CHECK(fitted[1].content == messages[1 + dropped].content);  // the newest turns survive
  std::vector<ChatMessage> impossible = {{"system", "You are brief."}, {"user", "Hello"}};
  CHECK_THROWS_WITH(model->fit_chat(impossible, 3), Catch::Contains("the last message alone"));
}

TEST_CASE("generation options out of range and contexts beyond memory are clear errors", "[runtime][bad_input]") {
  const auto model = load("q8");
  auto session = model->create_session();
  const std::vector<int32_t> ids = prompt(0);
  auto refused = [&](auto change, const std::string& message) {
    GenerateOptions options;
    change(options);
    INFO(message);
    CHECK_THROWS_WITH(session->generate(ids, options, nullptr), Catch::Contains(message));
    CHECK(session->position() == 0);  // checked before anything is evaluated
  };
  refused([](GenerateOptions& o) { o.max_tokens = -1; }, "max_tokens -1 is negative");
  refused([](GenerateOptions& o) { o.sampler.temperature = -0.5f; }, "temperature");
  refused([](GenerateOptions& o) { o.sampler.temperature = NAN; }, "temperature");
  refused([](GenerateOptions& o) { o.sampler.top_k = -3; }, "top_k -3");
  refused([](GenerateOptions& o) { o.sampler.top_p = 1.5f; }, "top_p");
  refused([](GenerateOptions& o) { o.sampler.min_p = -0.1f; }, "min_p");
  refused([](GenerateOptions& o) { o.sampler.repeat_penalty = 0.0f; }, "repeat_penalty");
  refused([](GenerateOptions& o) { o.sampler.repeat_last_n = -1; }, "repeat_last_n");

  CHECK_NOTHROW(require_memory(100, std::nullopt, "m.smoe", "the KV cache", "advice"));
  CHECK_NOTHROW(require_memory(100, 100, "m.smoe", "the KV cache", "advice"));
  CHECK_THROWS_WITH(require_memory(3ull << 30, 1ull << 30, "m.smoe", "the KV cache for a context of 32768 tokens",
                                   "use a smaller context (-c) or --kv q8"),
                    Catch::Contains("m.smoe") && Catch::Contains("3072.0 MiB") && Catch::Contains("1024.0 MiB") &&
                        Catch::Contains("--kv q8"));
  ModelOptions negative;
  negative.threads = -2;
  CHECK_THROWS_WITH(Model::load(test::tiny_container("q8"), negative), Catch::Contains("threads"));
}

TEST_CASE("KV type names round-trip and nothing else parses", "[session][state]") {
  for (const KvType type : {KvType::f16, KvType::f32, KvType::q8}) CHECK(parse_kv_type(kv_type_name(type)) == type);
  CHECK(kv_type_name(KvType::q8) == "q8");
  CHECK_FALSE(parse_kv_type("F16").has_value());
  CHECK_FALSE(parse_kv_type("").has_value());
  CHECK_FALSE(parse_kv_type("q4").has_value());
}
