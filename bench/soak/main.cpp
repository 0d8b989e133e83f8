// smoe-soak: generates for a long time through context wraps, resets and snapshot restores,
// and checks that resident memory stays flat.
//
//   smoe-soak -m FILE [-n 100000] [-c 512] [-t T] [--json]
//
// Each round samples until the context is full, then alternately (1) resets, (2) restores a
// snapshot of a 32-token prefix, (3) keeps the last quarter of the tokens (rewind and
// re-evaluate: the chat's context shift). RSS is read from /proc/self/statm after every 10k
// tokens; the run fails (exit 1) when it grew more than 5% (and 8 MiB) over the first reading.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "smoe/smoe.h"

namespace {

uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace smoe;
  CLI::App app{"smoe-soak: long generation with stable memory", "smoe-soak"};
  std::string model_path;
  uint64_t total = 100000;
  uint32_t context = 512;
  int threads = 0;
  bool json = false;
  app.add_option("-m,--model", model_path, "the .smoe file")->required();
  app.add_option("-n,--tokens", total, "tokens to generate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("-c,--ctx-size", context, "context size")->capture_default_str()->check(CLI::Range(64u, 1u << 20));
  app.add_option("-t,--threads", threads, "threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_flag("--json", json, "one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  try {
    ModelOptions options;
    options.threads = threads;
    options.context_size = context;
    const auto model = Model::load(model_path, options);
    auto session = model->create_session();
    const std::vector<int32_t> prefix = model->tokenizer().encode("The history of the city begins with", true);
    session->eval(prefix);
    const SessionSnapshot snapshot = session->snapshot();
    GenerateOptions generate;
    generate.max_tokens = 256;
    generate.stop_at_eos = false;
    generate.sampler.seed = 42;
    uint64_t produced = 0, rounds = 0, next_reading = 10000;
    std::vector<uint64_t> readings;
    const auto start = std::chrono::steady_clock::now();
    while (produced < total) {
      const GenerateResult result = session->generate({}, generate, nullptr);
      produced += result.tokens.size();
      if (result.stop_reason == StopReason::context_full) {
        switch (rounds++ % 3) {
          case 0:
            session->reset();
            session->eval(prefix);
            break;
          case 1:
            session->restore(snapshot);
            break;
          default: {  // context shift: keep the last quarter, re-evaluated from position 0
            const std::vector<int32_t> tail(session->tokens().end() - context / 4, session->tokens().end());
            session->reset();
            session->eval(tail);
          }
        }
      }
      if (produced >= next_reading) {
        readings.push_back(resident_bytes());
        next_reading += 10000;
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uint64_t first = readings.front(), last = readings.back();
    uint64_t most = 0;
    for (uint64_t r : readings) most = std::max(most, r);
    const bool stable = most <= first + std::max<uint64_t>(first / 20, 8u << 20);
    const nlohmann::json result = {{"model", model_path}, {"tokens", produced}, {"context", context},
                                   {"context_wraps", rounds}, {"seconds", seconds},
                                   {"rss_bytes_every_10k", readings}, {"rss_first", first}, {"rss_last", last},
                                   {"rss_max", most}, {"stable", stable}};
    if (json) {
      std::cout << result.dump() << "\n";
    } else {
      std::printf("%llu tokens, %llu context wraps, %.1f s; RSS first %.1f MiB, last %.1f MiB, max %.1f MiB: %s\n",
                  (unsigned long long)produced, (unsigned long long)rounds, seconds, double(first) / (1 << 20),
                  double(last) / (1 << 20), double(most) / (1 << 20), stable ? "stable" : "GROWING");
    }
    return stable ? 0 : 1;
  } catch (const Error& error) {
    std::fprintf(stderr, "smoe-soak: error: %s\n", error.what());
    return 1;
  }
}
