// smoe-bench-session: what a saved session costs and what restoring it saves.
//
//   smoe-bench-session -m FILE [-n TOKENS] [-t T] [--kv f16|f32|q8] [--json]
//
// Evaluates TOKENS prompt tokens (recompute time), saves the session (file bytes, and the
// uncompressed payload: KV cache positions + tokens + last logits), loads it into a fresh
// session (restore time, median of 5) and reports bytes per 1000 tokens of context.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "smoe/smoe.h"

namespace {

using namespace smoe;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smoe-bench-session: saved-session size and restore time against recomputing", "smoe-bench-session"};
  std::string model_path, kv = "f16";
  uint32_t tokens = 1000;
  int threads = 0;
  bool json = false;
  app.add_option("-m,--model", model_path, "the .smoe file")->required();
  app.add_option("-n,--tokens", tokens, "context tokens to save")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("-t,--threads", threads, "threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--kv", kv, "KV cache type")->check(CLI::IsMember({"f16", "f32", "q8"}))->capture_default_str();
  app.add_flag("--json", json, "one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  try {
    ModelOptions options;
    options.threads = threads;
    options.context_size = tokens + 1;
    options.kv_type = *parse_kv_type(kv);  // --kv accepts only these names
    const auto model = Model::load(model_path, options);
    const uint32_t vocab = model->info().hyperparameters.vocab_size;
    std::vector<int32_t> prompt(tokens);
    for (uint32_t i = 0; i < tokens; ++i) prompt[i] = int32_t(3 + (i * 7919u) % (vocab - 3));

    std::vector<double> recompute;
    auto session = model->create_session();
    for (int pass = 0; pass < 3; ++pass) {
      session->reset();
      const auto start = Clock::now();
      session->eval(prompt);
      recompute.push_back(seconds_since(start));
    }
    const std::string path = (std::filesystem::temp_directory_path() / "smoe-bench-session.tmp").string();
    const auto save_start = Clock::now();
    session->save(path);
    const double save_seconds = seconds_since(save_start);
    const uint64_t file_bytes = std::filesystem::file_size(path);
    const uint64_t payload_bytes = session->snapshot().position() * 4 + uint64_t{vocab} * 4 +
                                   (model->info().kv_cache_bytes * tokens / (tokens + 1));  // KV of the used positions
    std::vector<double> restore;
    for (int pass = 0; pass < 5; ++pass) {
      auto fresh = model->create_session();
      const auto start = Clock::now();
      fresh->load(path);
      restore.push_back(seconds_since(start));
    }
    std::filesystem::remove(path);
    const double per_1k = 1000.0 / tokens;
    const nlohmann::json result = {
        {"model", model_path},           {"kv", kv},
        {"tokens", tokens},              {"threads", model->info().threads},
        {"file_bytes", file_bytes},      {"uncompressed_bytes", payload_bytes},
        {"file_bytes_per_1k_tokens", double(file_bytes) * per_1k},
        {"uncompressed_bytes_per_1k_tokens", double(payload_bytes) * per_1k},
        {"save_seconds", save_seconds},  {"restore_seconds", median(restore)},
        {"recompute_seconds", median(recompute)},
        {"restore_speedup", median(recompute) / median(restore)},
    };
    if (json) {
      std::cout << result.dump() << "\n";
    } else {
      std::printf("%s, %u tokens, KV %s, %d threads\n", model_path.c_str(), tokens, kv.c_str(), model->info().threads);
      std::printf("saved file      %10.2f MB (%.2f MB per 1k tokens; uncompressed %.2f MB per 1k tokens)\n",
                  double(file_bytes) / 1e6, double(file_bytes) * per_1k / 1e6, double(payload_bytes) * per_1k / 1e6);
      std::printf("save            %10.3f s\nrestore         %10.3f s (median of 5)\nrecompute       %10.3f s (median of 3): restore is %.1fx faster\n",
                  save_seconds, median(restore), median(recompute), median(recompute) / median(restore));
    }
  } catch (const Error& error) {
    std::fprintf(stderr, "smoe-bench-session: error: %s\n", error.what());
    return 1;
  }
  return 0;
}
