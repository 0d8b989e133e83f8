// Names of the option enums, and the terminal's load progress line.
#include "smoe/options.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace smoe {

std::string_view kv_type_name(KvType type) {
  switch (type) {
    case KvType::f32: return "f32";
    case KvType::q8: return "q8";
    case KvType::f16: break;
  }
  return "f16";
}

std::optional<KvType> parse_kv_type(std::string_view name) {
  for (const KvType type : {KvType::f16, KvType::f32, KvType::q8}) {
    if (name == kv_type_name(type)) return type;
  }
  return std::nullopt;
}

LoadProgress terminal_load_progress(std::string name) {
  if (!::isatty(STDERR_FILENO)) return {};
  struct Line {
    std::string name;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    bool drawn = false;
  };
  auto line = std::make_shared<Line>();
  line->name = std::move(name);
  return [line](uint64_t done, uint64_t total) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - line->start).count();
    if (!line->drawn && (seconds < 1.0 || done == total)) return;  // quick loads stay silent
    line->drawn = true;
    std::fprintf(stderr, "\rloading %s: %3.0f%% of %.1f GB, %.1f GB/s ", line->name.c_str(),
                 total ? 100.0 * double(done) / double(total) : 100.0, double(total) / 1e9,
                 seconds > 0 ? double(done) / 1e9 / seconds : 0.0);
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
}

}  // namespace smoe
