// smoe-server's command line: where to listen, the model and its memory options (named as
// smoe-chat names them), the slots, the limits and the sampling defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "scheduler.h"
#include "smoe/options.h"

namespace smoe::server {

struct ServerOptions {
  std::string model_path;            // -m: the .smoe file
  std::string model_name;            // --alias: the name clients use ("" = the file's name without .smoe)
  std::string host = "127.0.0.1";    // --host: the address to listen on
  int port = 8080;                   // --port: 0 = any free port (printed once listening)
  std::string api_key;               // --api-key: required as "Authorization: Bearer KEY" ("" = open)
  ModelOptions model;                // -t, -c (per slot), --kv, --mmap/--no-mmap, --ram, --gpu-mem, --chat-template
  SchedulerOptions scheduler;        // --parallel, --max-queue, --prefill-chunk, --join-prompts
  SamplerOptions sampler;            // defaults for fields a request leaves out (OpenAI's: temperature 1, no cut-offs)
  size_t max_body_bytes = 4u << 20;  // --max-body: larger request bodies get 413
  uint32_t max_tokens = 0;  // --max-tokens: new tokens one request may ask for (0 = the rest of its slot's context)
  double request_timeout_s = 600;    // --timeout: a request (queued and generating) fails after this
  double shutdown_timeout_s = 30;    // --shutdown-timeout: SIGTERM waits this long for requests in flight
  bool log_requests = true;          // one line per request on stderr (--quiet turns it off)
};

// Parses argv into `options`; returns an exit code when the program should stop (--help: 0,
// bad options: 2) and nothing when it should run.
std::optional<int> parse_server_options(int argc, char** argv, ServerOptions& options);

}  // namespace smoe::server
