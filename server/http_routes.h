// The HTTP endpoints on a cpp-httplib server: authentication, the OpenAI routes, /health,
// /metrics, OpenAI-shaped errors for unknown routes and oversized bodies, and the request log.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "metrics.h"
#include "open_streams.h"
#include "scheduler.h"
#include "server_options.h"
#include "smoe/model.h"

namespace httplib {
class Server;
}

namespace smoe::server {

// What the routes share with main(). The routes answer before the model is loaded (/health
// says 503 "loading"), so `model` and `scheduler` are set first and `phase` becomes ready after.
struct ServerContext {
  enum class Phase { loading, ready, draining };

  const ServerOptions& options;
  Metrics& metrics;
  int64_t created = 0;                          // Unix seconds at start, for /v1/models
  std::atomic<Phase> phase{Phase::loading};
  std::shared_ptr<const Model> model;           // set before phase becomes ready
  std::unique_ptr<Scheduler> scheduler;         // idem; destroyed after the HTTP server stopped
  OpenStreams open_streams;                     // event streams still writing
};

void register_routes(httplib::Server& http, ServerContext& context);

}  // namespace smoe::server
