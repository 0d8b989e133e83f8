// The memory budget inside memory cgroups (v1 and v2), read from a cgroup tree the test writes.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"
#include "util/memory.h"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

constexpr uint64_t kMiB = 1 << 20;

}  // namespace

TEST_CASE("cgroup v2: the tightest limit from the process's cgroup up, less what is used but not reclaimable",
          "[memory]") {
  smoe::test::TempDir dir;
  const fs::path root = dir.path();
  write(root / "cgroup.controllers", "memory\n");
  // The pod allows 1200 MiB and uses 500 MiB (100 MiB of them inactive file pages); the
  // container inside it has no limit of its own.
  write(root / "kubepods/pod1/memory.max", std::to_string(1200 * kMiB) + "\n");
  write(root / "kubepods/pod1/memory.current", std::to_string(500 * kMiB) + "\n");
  write(root / "kubepods/pod1/memory.stat", "anon 400\ninactive_file " + std::to_string(100 * kMiB) + "\nactive_file 0\n");
  write(root / "kubepods/pod1/app/memory.max", "max\n");
  write(root / "kubepods/pod1/app/memory.current", std::to_string(300 * kMiB) + "\n");
  std::string source;
  const auto left = smoe::cgroup_available_bytes("0::/kubepods/pod1/app\n", root, source);
  REQUIRE(left.has_value());
  CHECK(*left == (1200 - 400) * kMiB);
  CHECK(source == "cgroup v2 limit 1.17 GiB");
  // A tighter limit of the container's own wins.
  write(root / "kubepods/pod1/app/memory.max", std::to_string(600 * kMiB) + "\n");
  CHECK(*smoe::cgroup_available_bytes("0::/kubepods/pod1/app\n", root, source) == 300 * kMiB);
  // Usage above the limit leaves nothing, not a wrapped-around huge number.
  write(root / "kubepods/pod1/app/memory.current", std::to_string(700 * kMiB) + "\n");
  CHECK(*smoe::cgroup_available_bytes("0::/kubepods/pod1/app\n", root, source) == 0);
}

TEST_CASE("cgroup v1: the memory controller's limit; no limit means no cgroup budget", "[memory]") {
  smoe::test::TempDir dir;
  const fs::path root = dir.path();
  const std::string cgroups = "9:pids:/\n4:memory:/X\n1:cpu,cpuacct:/\n0::/\n";
  write(root / "memory/memory.limit_in_bytes", "9223372036854771712\n");
  write(root / "memory/memory.usage_in_bytes", std::to_string(4000 * kMiB) + "\n");
  write(root / "memory/X/memory.limit_in_bytes", "1258291200\n");
  write(root / "memory/X/memory.usage_in_bytes", std::to_string(200 * kMiB) + "\n");
  write(root / "memory/X/memory.stat", "cache 0\ntotal_inactive_file " + std::to_string(50 * kMiB) + "\n");
  std::string source;
  const auto left = smoe::cgroup_available_bytes(cgroups, root, source);
  REQUIRE(left.has_value());
  CHECK(*left == 1258291200 - 150 * kMiB);
  CHECK(source == "cgroup v1 limit 1.17 GiB");
  write(root / "memory/X/memory.limit_in_bytes", "9223372036854771712\n");
  CHECK_FALSE(smoe::cgroup_available_bytes(cgroups, root, source).has_value());
  // No memory controller listed, or a malformed file: no cgroup budget, no exception.
  CHECK_FALSE(smoe::cgroup_available_bytes("1:cpu:/\n", root, source).has_value());
  write(root / "memory/X/memory.limit_in_bytes", "garbage\n");
  CHECK_FALSE(smoe::cgroup_available_bytes(cgroups, root, source).has_value());
}

TEST_CASE("the budget is --ram when given, else what the machine or the cgroup allows", "[memory]") {
  const smoe::MemoryBudget given = smoe::memory_budget(3ull << 30);
  CHECK(given.bytes == std::optional<uint64_t>(3ull << 30));
  CHECK(given.source == "--ram 3.00 GiB");
  const smoe::MemoryBudget found = smoe::memory_budget();
  REQUIRE(found.bytes.has_value());
  CHECK(*found.bytes > 0);
  CHECK(!found.source.empty());
}
