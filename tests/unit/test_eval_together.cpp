// Several sessions' next tokens evaluated in one pass (Session::eval_together): each session
// must end exactly as if it had evaluated its token alone, whatever the batch's size, the
// weight type or the KV cache type.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "smoe/error.h"
#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"

using namespace smoe;

namespace {

int32_t greedy(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// `count` sessions, each after a prompt of its own length (a different position per session).
std::vector<std::unique_ptr<Session>> prompted_sessions(const Model& model, size_t count) {
  const auto& prompts = test::tiny_reference().json["prompts"];
  std::vector<std::unique_ptr<Session>> sessions;
  for (size_t i = 0; i < count; ++i) {
    std::vector<int32_t> ids = prompts[i % prompts.size()]["ids"].get<std::vector<int32_t>>();
    ids.resize(std::max<size_t>(1, ids.size() - i % 3));  // lengths differ even for one prompt
    sessions.push_back(model.create_session());
    sessions.back()->eval(ids);
  }
  return sessions;
}

}  // namespace

TEST_CASE("sessions decoded together match each decoded alone, bit for bit", "[runtime][batch]") {
  // The largest batches go beyond the one where a lone sequence's products switch to the
  // prompt kernels (ops::gemm_min_tokens: eight rows for q8 on VNNI CPUs, 64 for q8_x8).
  // "+x8": rows interleaved by eight (q4k_x8, q8_x8), whose kernels take several tokens at once.
  const std::string recipe = GENERATE(as<std::string>{}, "q4", "q8", "f32", "q4+x8", "q8+x8");
  const bool interleaved = recipe.ends_with("+x8");
  const size_t count = GENERATE_COPY(size_t{1}, size_t{3}, interleaved ? size_t{65} : size_t{9});
  const KvType kv = GENERATE(KvType::f16, KvType::q8);
  INFO("recipe " << recipe << " sessions " << count << " kv " << int(kv));
  ModelOptions options;
  options.context_size = 256;
  options.kv_type = kv;
  const std::string type = recipe.substr(0, recipe.find('+'));
  const auto model =
      Model::load(interleaved ? test::tiny_container_interleaved(type) : test::tiny_container(type), options);
  auto alone = prompted_sessions(*model, count), together = prompted_sessions(*model, count);
  std::vector<std::vector<uint32_t>> routes_alone(count), routes_together(count);
  for (size_t i = 0; i < count; ++i) {
    alone[i]->set_routing_callback([&, i](uint32_t, uint32_t, std::span<const uint32_t> e) {
      routes_alone[i].insert(routes_alone[i].end(), e.begin(), e.end());
    });
    together[i]->set_routing_callback([&, i](uint32_t, uint32_t, std::span<const uint32_t> e) {
      routes_together[i].insert(routes_together[i].end(), e.begin(), e.end());
    });
  }
  std::vector<Session*> batch;
  for (auto& session : together) batch.push_back(session.get());
  for (int step = 0; step < 6; ++step) {
    std::vector<int32_t> next(count);
    for (size_t i = 0; i < count; ++i) next[i] = greedy(alone[i]->logits());
    for (size_t i = 0; i < count; ++i) {
      const int32_t token[] = {next[i]};
      alone[i]->eval(token);
    }
    Session::eval_together(batch, next);
    for (size_t i = 0; i < count; ++i) {
      INFO("step " << step << " session " << i);
      REQUIRE(together[i]->position() == alone[i]->position());
      CHECK(together[i]->tokens() == alone[i]->tokens());
      const std::span<const float> a = alone[i]->logits(), b = together[i]->logits();
      REQUIRE(a.size() == b.size());
      CHECK(std::equal(a.begin(), a.end(), b.begin()));
    }
  }
  for (size_t i = 0; i < count; ++i) {
    CHECK(routes_together[i] == routes_alone[i]);
    CHECK(together[i]->stats().expert_counts == alone[i]->stats().expert_counts);
  }
}

TEST_CASE("prompt chunks evaluated beside other sessions' next tokens match each token evaluated alone",
          "[runtime][batch]") {
  // One pass holds sessions decoding one token and sessions bringing a chunk of a prompt (a
  // request that just joined). Every token must come out as eval() of that token alone: the
  // chunk's rows see their own earlier rows of the same step in the KV cache.
  const std::string recipe = GENERATE(as<std::string>{}, "q4", "q8+x8");
  INFO("recipe " << recipe);
  ModelOptions options;
  options.context_size = 256;
  const bool interleaved = recipe.ends_with("+x8");
  const std::string type = recipe.substr(0, recipe.find('+'));
  const auto model =
      Model::load(interleaved ? test::tiny_container_interleaved(type) : test::tiny_container(type), options);
  const auto& prompts = test::tiny_reference().json["prompts"];
  auto alone = prompted_sessions(*model, 2), together = prompted_sessions(*model, 2);
  // Two fresh sessions take whole prompts (of different lengths), one by one alone.
  for (size_t p = 0; p < 2; ++p) {
    alone.push_back(model->create_session());
    together.push_back(model->create_session());
  }
  std::vector<std::vector<int32_t>> chunks;
  for (size_t p = 0; p < 2; ++p) {
    std::vector<int32_t> ids = prompts[(p + 1) % prompts.size()]["ids"].get<std::vector<int32_t>>();
    ids.resize(std::min<size_t>(ids.size(), 5 + 4 * p));
    chunks.push_back(ids);
    for (const int32_t token : ids) {
      const int32_t one[] = {token};
      alone[2 + p]->eval(one);
    }
  }
  std::vector<int32_t> next(2);
  for (size_t i = 0; i < 2; ++i) {
    next[i] = greedy(alone[i]->logits());
    const int32_t one[] = {next[i]};
    alone[i]->eval(one);
  }
  const std::vector<SessionTokens> batch = {{together[2].get(), chunks[0]},
                                            {together[0].get(), std::span(&next[0], 1)},
                                            {together[3].get(), chunks[1]},
                                            {together[1].get(), std::span(&next[1], 1)}};
  Session::eval_together(batch);
  for (size_t i = 0; i < 4; ++i) {
    INFO("session " << i);
    CHECK(together[i]->tokens() == alone[i]->tokens());
    const std::span<const float> a = alone[i]->logits(), b = together[i]->logits();
    REQUIRE(a.size() == b.size());
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
  }
  // And on from there, all four decoding together.
  std::vector<Session*> sessions;
  for (auto& session : together) sessions.push_back(session.get());
  std::vector<int32_t> tokens(4);
  for (size_t i = 0; i < 4; ++i) {
    tokens[i] = greedy(alone[i]->logits());
    const int32_t one[] = {tokens[i]};
    alone[i]->eval(one);
  }
  Session::eval_together(sessions, tokens);
  for (size_t i = 0; i < 4; ++i) {
    const std::span<const float> a = alone[i]->logits(), b = together[i]->logits();
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
  }
}

TEST_CASE("eval_together refuses bad batches and leaves every session as it was", "[runtime][batch]") {
  ModelOptions options;
  options.context_size = 16;
  const auto model = Model::load(test::tiny_container("q4"), options);
  const auto other = Model::load(test::tiny_container("q4"), options);
  auto a = model->create_session(), b = model->create_session(), c = other->create_session();
  const std::vector<int32_t> prompt = {1, 100, 200};
  a->eval(prompt);
  b->eval(prompt);
  c->eval(prompt);
  const auto unchanged = [&] { return a->position() == 3 && b->position() == 3 && c->position() == 3; };
  std::vector<Session*> two_models = {a.get(), c.get()}, twice = {a.get(), a.get()}, pair = {a.get(), b.get()};
  CHECK_THROWS_WITH(Session::eval_together(two_models, std::vector<int32_t>{5, 5}),
                    Catch::Contains("different models"));
  CHECK_THROWS_WITH(Session::eval_together(twice, std::vector<int32_t>{5, 5}), Catch::Contains("twice"));
  CHECK_THROWS_WITH(Session::eval_together(pair, std::vector<int32_t>{5}), Catch::Contains("1 tokens for 2 sessions"));
  CHECK_THROWS_WITH(Session::eval_together(pair, std::vector<int32_t>{5, 100000}),
                    Catch::Contains("outside the vocabulary"));
  CHECK(unchanged());
  b->eval(std::vector<int32_t>(13, 7));  // b's context is now full
  CHECK_THROWS_WITH(Session::eval_together(pair, std::vector<int32_t>{5, 5}), Catch::Contains("context full"));
  CHECK(a->position() == 3);
  CHECK(b->position() == 16);
  // With chunks: one session without room for its chunk, or an empty chunk, refuses the batch.
  const std::vector<int32_t> four = {5, 6, 7, 8};
  CHECK_THROWS_WITH(Session::eval_together(std::vector<SessionTokens>{{a.get(), std::span(four)}, {b.get(), std::span(four).first(1)}}),
                    Catch::Contains("context full"));
  CHECK_THROWS_WITH(Session::eval_together(std::vector<SessionTokens>{{a.get(), {}}}), Catch::Contains("no tokens"));
  CHECK(a->position() == 3);
}

TEST_CASE("two threads decode their own batches of one model together, as each would alone", "[runtime][batch][threads]") {
  ModelOptions options;
  options.context_size = 64;
  options.threads = 1;
  const auto model = Model::load(test::tiny_container("q4"), options);
  // Each thread: three sessions decoded together for a few steps; the tokens are compared
  // with the same run on this thread alone.
  const auto run = [&] {
    auto sessions = prompted_sessions(*model, 3);
    std::vector<Session*> batch;
    for (auto& session : sessions) batch.push_back(session.get());
    std::vector<int32_t> next(3);
    for (int step = 0; step < 5; ++step) {
      for (size_t i = 0; i < 3; ++i) next[i] = greedy(sessions[i]->logits());
      Session::eval_together(batch, next);
    }
    std::vector<std::vector<int32_t>> tokens;
    for (auto& session : sessions) tokens.push_back(session->tokens());
    return tokens;
  };
  const auto expected = run();
  std::vector<std::vector<int32_t>> first, second;
  std::thread a([&] { first = run(); }), b([&] { second = run(); });
  a.join();
  b.join();
  CHECK(first == expected);
  CHECK(second == expected);
}
