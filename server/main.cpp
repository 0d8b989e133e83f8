// smoe-server: an OpenAI-compatible HTTP server for a .smoe model.
//
//   smoe-server -m model.smoe [--host 127.0.0.1] [--port 8080] [-t N] [-c CTX] [--parallel N] [--api-key KEY]
//
// It listens before it loads the model (/health answers 503 "loading" meanwhile, so an
// orchestrator can tell a slow start from a dead one). SIGTERM or SIGINT: new requests get 503,
// requests in flight get --shutdown-timeout seconds to finish and are cancelled after it, then
// the process exits 0.
#include <httplib.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include "http_routes.h"
#include "server_options.h"
#include "slot_stepper.h"

namespace {

using namespace smoe;
using namespace smoe::server;

// How long ended streams get to write their last events (a client that stopped reading can
// hold a write until the socket's timeout).
constexpr auto kStreamsCloseGrace = std::chrono::seconds(5);

// Set once, by a signal or a failed load; main() waits for it.
class ShutdownRequest {
 public:
  void request(int exit_code) {
    {
      std::lock_guard lock(mutex_);
      if (requested_) return;
      requested_ = true;
      exit_code_ = exit_code;
    }
    changed_.notify_all();
  }
  int wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return requested_; });
    return exit_code_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool requested_ = false;
  int exit_code_ = 0;
};

void print_model(const ModelInfo& info, const ServerOptions& options) {
  std::fprintf(stderr,
               "smoe-server: model %s as '%s': %.1f MiB (%s), recipe %s, %u slots of %u tokens, KV %.1f MiB per slot, "
               "%d threads, kernels %s, memory budget %.2f GiB (%s)\n",
               info.path.c_str(), options.model_name.c_str(), double(info.file_bytes) / (1 << 20),
               describe_weight_loading(info).c_str(), info.recipe.c_str(),
               options.scheduler.slots, info.context_size, double(info.kv_cache_bytes) / (1 << 20), info.threads,
               info.kernels.c_str(), double(info.memory_budget) / (1 << 30), info.memory_budget_source.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options;
  if (const std::optional<int> code = parse_server_options(argc, argv, options)) return *code;

  // A client that leaves mid-write is a failed write, not a reason to die.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGINT and SIGTERM go to one thread that sigwait()s for them: blocked here, before any
  // thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Metrics metrics;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  ServerContext context{.options = options,
                        .metrics = metrics,
                        .created = std::chrono::duration_cast<std::chrono::seconds>(now).count(),
                        .model = nullptr,
                        .scheduler = nullptr,
                        .open_streams = {}};
  httplib::Server http;
  // httplib gives each connection a thread while it is open: a request holds one while it waits
  // and generates, an idle keep-alive connection (a proxy's pool) for up to 5 s. Enough for every
  // slot and queued request plus 64 more for probes, /metrics and proxies' idle connections;
  // idle threads cost address space, not memory.
  const size_t http_threads = std::min<size_t>(size_t(options.scheduler.slots) + options.scheduler.max_queued, 1024) + 64;
  http.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  register_routes(http, context);
  int port = options.port;
  if (port == 0) {
    port = http.bind_to_any_port(options.host);
  } else if (!http.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "smoe-server: error: cannot listen on %s:%d\n", options.host.c_str(), options.port);
    return 1;
  }
  std::fprintf(stderr, "smoe-server: listening on http://%s:%d\n", options.host.c_str(), port);
  std::thread listener([&http] { http.listen_after_bind(); });

  ShutdownRequest shutdown;
  std::atomic<bool> signalled{false};
  std::thread signal_waiter([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    signalled = true;
    // While loading nothing is in flight (every request got 503): no reason to wait for the load.
    if (context.phase.load() == ServerContext::Phase::loading) std::_Exit(0);
    shutdown.request(0);
  });

  try {
    options.model.load_progress = terminal_load_progress(options.model_path);
    context.model = Model::load(options.model_path, options.model);
    context.scheduler =
        std::make_unique<Scheduler>(context.model, options.scheduler, metrics, std::make_unique<BatchedStepper>(options.scheduler.joined_prompt_tokens));
    print_model(context.model->info(), options);
    metrics.set_model_loaded(true);
    context.phase = ServerContext::Phase::ready;
    std::fprintf(stderr, "smoe-server: ready\n");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "smoe-server: error: %s\n", error.what());
    shutdown.request(1);
  }

  const int exit_code = shutdown.wait();
  context.phase = ServerContext::Phase::draining;
  if (context.scheduler) {
    context.scheduler->close();
    const auto timeout = std::chrono::duration<double>(options.shutdown_timeout_s);
    if (!context.scheduler->wait_idle(std::chrono::duration_cast<Clock::duration>(timeout))) {
      std::fprintf(stderr, "smoe-server: cancelling the requests still in flight\n");
      context.scheduler->cancel_all(shutting_down_error());
    }
    // Every job has ended; its stream still has to write its last events and [DONE].
    if (!context.open_streams.wait_closed(kStreamsCloseGrace)) {
      std::fprintf(stderr, "smoe-server: closing event streams that did not finish writing\n");
    }
  }
  http.stop();
  listener.join();
  context.scheduler.reset();
  // A failed load leaves the signal thread waiting: wake it (the signal is blocked, so sigwait takes it).
  if (!signalled) pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  std::fprintf(stderr, "smoe-server: stopped\n");
  return exit_code;
}
