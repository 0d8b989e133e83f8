// The command-line flags that say where a model's weights live, shared by smoe-chat,
// smoe-server and smoe-bench: --mmap, --no-mmap, --expert-cache, --expert-slots.
#pragma once

#include <CLI/CLI.hpp>

#include "smoe/options.h"

namespace smoe::cli {

struct WeightLoadingFlags {
  bool mmap = false, no_mmap = false, expert_cache = false;

  // Adds the flags to `app`; --expert-slots writes `options.expert_cache_slots` directly.
  void add_to(CLI::App& app, ModelOptions& options) {
    auto* mmap_flag = app.add_flag("--mmap", mmap, "map the model file even when it would fit in memory (default: read "
                                                   "it into huge-page memory when it fits, for faster decoding)");
    auto* no_mmap_flag =
        app.add_flag("--no-mmap", no_mmap, "always read the model into memory (huge pages)")->excludes(mmap_flag);
    app.add_flag("--expert-cache", expert_cache,
                 "read everything but the experts into memory and the experts from disk on demand into an expert "
                 "cache (default: when the file does not fit the memory budget but the rest does)")
        ->excludes(mmap_flag)
        ->excludes(no_mmap_flag);
    app.add_option("--expert-slots", options.expert_cache_slots,
                   "experts the expert cache holds in memory (default: as many as the memory budget allows)");
  }
  // The choice, after parsing.
  WeightLoading loading() const {
    return mmap ? WeightLoading::map
           : no_mmap ? WeightLoading::read
           : expert_cache ? WeightLoading::expert_cache
                          : WeightLoading::automatic;
  }
};

}  // namespace smoe::cli
