// ModelOptions::load_progress: reading a file into memory reports its progress, ending at the
// file's size; a mapped file reports nothing.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <vector>

#include "smoe/model.h"
#include "support/reference.h"

using namespace smoe;

TEST_CASE("loading into memory reports its progress up to the file's size", "[runtime][load]") {
  const std::string path = test::tiny_container("f32");
  const uint64_t size = std::filesystem::file_size(path);
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  ModelOptions options;
  options.load_progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  options.weight_loading = WeightLoading::read;
  Model::load(path, options);
  REQUIRE_FALSE(calls.empty());
  CHECK(calls.back() == std::pair<uint64_t, uint64_t>{size, size});
  for (size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first > calls[i - 1].first);
  calls.clear();
  options.weight_loading = WeightLoading::map;
  Model::load(path, options);
  CHECK(calls.empty());
}

TEST_CASE("the terminal progress line is silent where stderr is not a terminal", "[runtime][load]") {
  // Under CTest stderr is a pipe: nothing to draw on.
  if (!::isatty(STDERR_FILENO)) CHECK_FALSE(terminal_load_progress("model.smoe"));
}
