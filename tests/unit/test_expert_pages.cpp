// A decode step touches only the chosen experts' pages: after dropping the whole mapping from
// the process (MADV_DONTNEED), one token is evaluated and /proc/self/pagemap tells which
// pages of each expert range came back. Also: the smaps count of resident and 2 MiB pages
// that smoe-bench prints for the weights and the KV cache.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>

#include "runtime/model_impl.h"
#include "support/reference.h"
#include "util/huge_pages.h"

using namespace smoe;

namespace {

// Pages of [begin, begin + bytes) present in this process's page tables, or -1 without pagemap.
int64_t present_pages(const std::byte* begin, uint64_t bytes) {
  const int fd = ::open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return -1;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<uintptr_t>(begin) / page;
  const auto last = (reinterpret_cast<uintptr_t>(begin) + bytes - 1) / page;
  int64_t present = 0;
  for (uint64_t p = first; p <= last; ++p) {
    uint64_t entry = 0;
    if (::pread(fd, &entry, sizeof(entry), static_cast<off_t>(p * sizeof(entry))) != sizeof(entry)) {
      ::close(fd);
      return -1;
    }
    present += (entry >> 63) & 1;
  }
  ::close(fd);
  return present;
}

}  // namespace

TEST_CASE("a decode step reads only the pages of the experts the router chose", "[runtime][experts]") {
  ModelOptions options;
  options.threads = 1;
  options.context_size = 64;
  options.weight_loading = WeightLoading::map;  // pages of a mapping can be dropped and counted
  const auto model = Model::load(test::tiny_container("q4"), options);
  const format::Container& container = ModelInternals::of(*model).container;
  auto session = model->create_session();
  const std::vector<int32_t> prompt = model->tokenizer().encode("Le fichier de configuration", true);
  session->eval(prompt);

  std::set<std::pair<uint32_t, uint32_t>> chosen;
  session->set_routing_callback([&](uint32_t layer, uint32_t, std::span<const uint32_t> experts) {
    for (uint32_t expert : experts) chosen.emplace(layer, expert);
  });
  container.mapping().release(0, container.file_bytes());
  const std::vector<int32_t> next = {model->tokenizer().encode(" est", false).back()};
  session->eval(next);

  if (container.mapping().huge_page_fraction() > 0) {
    // The kernel mapped the file's page cache in 2 MiB pages (MappedFile asks for them): one
    // page then spans several of this small model's experts, so pages cannot tell them apart.
    WARN("the model is mapped in 2 MiB pages here; per-expert page check skipped");
    return;
  }
  const Hyperparameters& hp = model->info().hyperparameters;
  REQUIRE(chosen.size() == size_t{hp.num_hidden_layers} * hp.num_experts_per_tok);
  for (const format::ExpertRange& range : container.expert_ranges()) {
    const int64_t present = present_pages(container.mapping().data() + range.offset, range.bytes);
    if (present < 0) {
      WARN("/proc/self/pagemap is not readable here; page check skipped");
      return;
    }
    INFO("layer " << range.layer << " expert " << range.expert << ": " << present << " pages present");
    if (chosen.contains({range.layer, range.expert})) {
      CHECK(present > 0);
    } else {
      CHECK(present == 0);
    }
  }
}

TEST_CASE("resident pages and their 2 MiB share are counted for the KV cache and huge-page arrays", "[runtime]") {
  CHECK_FALSE(resident_pages(nullptr, 0).known);
  CHECK(resident_pages(nullptr, 0).huge_fraction() == -1);

  HugePageVector<uint16_t> array(size_t{4} << 20);  // 8 MiB, touched by the zero fill
  const ResidentPages pages = resident_pages(array.data(), array.size() * sizeof(uint16_t));
  if (!pages.known) {
    WARN("/proc/self/smaps is not readable here; resident page check skipped");
    return;
  }
  CHECK(pages.resident_bytes >= array.size() * sizeof(uint16_t));
  CHECK(pages.huge_bytes <= pages.resident_bytes);
  CHECK(pages.huge_fraction() >= 0);
  CHECK(pages.huge_fraction() <= 1);

  ModelOptions options;
  options.threads = 1;
  auto model = Model::load(test::tiny_container("q8"), options);
  auto session = model->create_session();
  session->eval(std::vector<int32_t>{1, 330, 1139});
  const double kv_share = session->kv_cache_in_huge_pages();
  CHECK(kv_share >= 0);
  CHECK(kv_share <= 1);
}
