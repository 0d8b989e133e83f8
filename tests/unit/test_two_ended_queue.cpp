// ops::TwoEndedQueue: every unit handed out exactly once, front claims in increasing order and
// back claims in decreasing order, under contention from several threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>
#include <vector>

#include "ops/two_ended_queue.h"

using namespace smoe;

TEST_CASE("a two-ended queue hands out each unit once, from both ends", "[ops][threads]") {
  const size_t units = GENERATE(size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{10000});
  const size_t threads = GENERATE(size_t{1}, size_t{2}, size_t{5});
  INFO("units " << units << " threads " << threads);
  ops::TwoEndedQueue queue(units);
  std::vector<std::vector<size_t>> claimed(threads);
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      size_t unit = 0;
      while (queue.claim(t % 2 == 0, unit)) claimed[t].push_back(unit);
    });
  }
  for (std::thread& worker : workers) worker.join();
  std::vector<size_t> count(units, 0);
  for (size_t t = 0; t < threads; ++t) {
    // Each thread's own claims move inward from its end.
    if (t % 2 == 0) {
      CHECK(std::is_sorted(claimed[t].begin(), claimed[t].end()));
    } else {
      CHECK(std::is_sorted(claimed[t].rbegin(), claimed[t].rend()));
    }
    for (const size_t unit : claimed[t]) {
      REQUIRE(unit < units);
      ++count[unit];
    }
  }
  CHECK(std::all_of(count.begin(), count.end(), [](size_t c) { return c == 1; }));
  size_t unit = 0;
  CHECK_FALSE(queue.claim(true, unit));
  CHECK_FALSE(queue.claim(false, unit));
}

TEST_CASE("a lone thread taking from the back gets the units last to first", "[ops]") {
  ops::TwoEndedQueue queue(3);
  size_t unit = 0;
  REQUIRE(queue.claim(false, unit));
  CHECK(unit == 2);
  REQUIRE(queue.claim(true, unit));
  CHECK(unit == 0);
  REQUIRE(queue.claim(false, unit));
  CHECK(unit == 1);
  CHECK_FALSE(queue.claim(true, unit));
}
