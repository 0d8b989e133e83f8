// One shared model, many sessions on many threads: each produces exactly what a single
// session produces alone.
#include <catch2/catch.hpp>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "smoe/model.h"
#include "smoe/session.h"
#include "support/reference.h"

using namespace smoe;

TEST_CASE("sessions on many threads share one model and agree with a single session", "[runtime][threads]") {
  ModelOptions model_options;
  model_options.threads = 1;
  model_options.context_size = 256;
  const auto model = Model::load(test::tiny_container("q4"), model_options);
  const auto& prompts = test::tiny_reference().json["prompts"];
  GenerateOptions options;
  options.max_tokens = 24;
  options.sampler.seed = 1234;
  auto run = [&](size_t index) {
    auto session = model->create_session();
    return session->generate(prompts[index % prompts.size()]["ids"].get<std::vector<int32_t>>(), options, nullptr).tokens;
  };
  constexpr size_t kThreads = 8;
  std::vector<std::vector<int32_t>> sequential(kThreads), concurrent(kThreads);
  for (size_t i = 0; i < kThreads; ++i) sequential[i] = run(i);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kThreads; ++i) threads.emplace_back([&, i] { concurrent[i] = run(i); });
  for (std::thread& thread : threads) thread.join();
  CHECK(concurrent == sequential);
}

TEST_CASE("the context limit is a clear error, and generation stops at a full context", "[runtime]") {
  ModelOptions model_options;
  model_options.context_size = 16;
  const auto model = Model::load(test::tiny_container("q8"), model_options);
  auto session = model->create_session();
  const std::vector<int32_t> long_prompt(17, 100);
  CHECK_THROWS_WITH(session->eval(long_prompt), Catch::Contains("context full"));
  CHECK(session->position() == 0);
  GenerateOptions options;
  options.max_tokens = 100;
  options.stop_at_eos = false;
  const GenerateResult result = session->generate(std::vector<int32_t>(10, 100), options, nullptr);
  CHECK(result.stop_reason == StopReason::context_full);
  CHECK(session->position() == 16);
  const std::vector<int32_t> bad_token = {5000};
  session->reset();
  CHECK_THROWS_WITH(session->eval(bad_token), Catch::Contains("outside the vocabulary"));
}

namespace {

size_t process_threads() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

}  // namespace

TEST_CASE("called from the host's own OpenMP team, smoe adds no threads of its own", "[runtime][threads][openmp]") {
  ModelOptions model_options;
  model_options.threads = 2;
  model_options.context_size = 256;
  const auto model = Model::load(test::tiny_container("q4"), model_options);
  const auto& prompts = test::tiny_reference().json["prompts"];
  GenerateOptions options;
  options.max_tokens = 16;
  options.sampler.seed = 99;
  auto run = [&](size_t index) {
    auto session = model->create_session();
    return session->generate(prompts[index % prompts.size()]["ids"].get<std::vector<int32_t>>(), options, nullptr).tokens;
  };
  constexpr int kHostThreads = 3;
  std::vector<std::vector<int32_t>> sequential(kHostThreads), inside(kHostThreads);
  for (int i = 0; i < kHostThreads; ++i) sequential[size_t(i)] = run(size_t(i));
  // A host that allows nested parallelism: smoe must still not start a team per host thread.
  const int previous_levels = omp_get_max_active_levels();
  omp_set_max_active_levels(4);
  // A watcher samples the process's thread count while the host team runs.
  std::atomic<bool> done = false;
  std::atomic<size_t> most_threads = 0;
  std::thread watcher([&] {
    while (!done) {
      most_threads = std::max(most_threads.load(), process_threads());
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
#pragma omp parallel num_threads(kHostThreads)
  inside[size_t(omp_get_thread_num())] = run(size_t(omp_get_thread_num()));
  done = true;
  watcher.join();
  omp_set_max_active_levels(previous_levels);
  CHECK(inside == sequential);
  // The host team (kHostThreads) plus threads that existed before it, nothing per host thread.
  // The host team and the watcher (plus the main thread), nothing per host thread.
  INFO("most threads while the host team ran: " << most_threads.load());
  CHECK(most_threads.load() <= size_t(kHostThreads) + 2);
}
