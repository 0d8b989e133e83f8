// The converter's writing thread: appends reach the container in call order (the file is the
// one direct appends write), and a failing append's error reaches the caller, with no file
// left behind.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>

#include "convert/background_append.h"
#include "smoe/error.h"

using namespace smoe;
namespace fs = std::filesystem;

namespace {

std::vector<convert::PlannedTensor> two_tensors() {
  std::vector<convert::PlannedTensor> tensors(2);
  tensors[0] = {.name = "a", .type = quant::TensorType::f32, .shape = {4, 8}};
  tensors[1] = {.name = "b", .type = quant::TensorType::f32, .shape = {2, 8}};
  return tensors;
}

std::vector<std::byte> bytes(size_t count, int first) {
  std::vector<std::byte> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = std::byte(uint8_t(first + int(i)));
  return out;
}

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("background appends write the file direct appends write; a failed one reaches the caller", "[convert]") {
  const fs::path directory = fs::temp_directory_path() / ("smoe-append-" + std::to_string(::getpid()));
  fs::create_directories(directory);
  const format::Metadata metadata;
  {
    convert::ContainerWriter writer((directory / "direct.smoe").string(), metadata, two_tensors());
    const auto first = bytes(64, 1), second = bytes(64, 65), third = bytes(64, 7);
    writer.append(0, first.data(), first.size());
    writer.append(0, second.data(), second.size());
    writer.append(1, third.data(), third.size());
    writer.finish();
  }
  {
    convert::ContainerWriter writer((directory / "background.smoe").string(), metadata, two_tensors());
    convert::BackgroundAppender appender(writer);
    int done = 0;
    auto chunk = bytes(64, 1);
    appender.append(0, chunk, [&] { ++done; });
    // The buffer handed back, refilled in place while the first is written.
    const auto refill = [&](int first) {
      chunk.resize(64);
      for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = std::byte(uint8_t(first + int(i)));
    };
    refill(65);
    appender.append(0, chunk, [&] { ++done; });
    refill(7);
    appender.append(1, chunk);
    appender.wait();
    CHECK(done == 2);
    writer.finish();
  }
  CHECK(contents(directory / "background.smoe") == contents(directory / "direct.smoe"));

  {
    convert::ContainerWriter writer((directory / "failed.smoe").string(), metadata, two_tensors());
    convert::BackgroundAppender appender(writer);
    auto chunk = bytes(200, 0);  // more than tensor "a" holds (128 bytes)
    appender.append(0, chunk);
    CHECK_THROWS_WITH(appender.wait(), Catch::Contains("failed.smoe") && Catch::Contains("too many bytes for 'a'"));
  }
  size_t left = 0;
  for (const auto& entry : fs::directory_iterator(directory)) left += entry.path().filename().string().starts_with("failed");
  CHECK(left == 0);
  fs::remove_all(directory);
}
