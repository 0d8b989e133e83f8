// Signal-handler cleanup of the temporary output file. The handler only calls
// async-signal-safe functions (unlink, signal, raise) on a path stored before the signal.
#include "convert/interrupt_cleanup.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace smoe::convert {
namespace {

char g_temporary_path[4096];
std::atomic<bool> g_registered{false};

extern "C" void remove_temporary_and_reraise(int signal_number) {
  if (g_registered.load()) ::unlink(g_temporary_path);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

}  // namespace

void install_interrupt_cleanup() {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal_number, remove_temporary_and_reraise);
}

void register_temporary_file(const std::string& path) {
  if (path.size() >= sizeof(g_temporary_path)) return;
  g_registered.store(false);
  std::memcpy(g_temporary_path, path.c_str(), path.size() + 1);
  g_registered.store(true);
}

void unregister_temporary_file() { g_registered.store(false); }

}  // namespace smoe::convert
