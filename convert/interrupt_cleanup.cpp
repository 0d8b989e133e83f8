// Signal-handler cleanup of the temporary files. The handler only calls async-signal-safe
// functions (unlink, signal, raise) on paths stored before the signal.
#include "convert/interrupt_cleanup.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>

#include "smoe/error.h"

namespace smoe::convert {
namespace {

struct TemporarySlot {
  char path[4096];
  std::atomic<bool> registered{false};
};

// Enough for the output's temporary file plus calibration's 8-bit copy and its own.
std::array<TemporarySlot, 4> g_slots;

extern "C" void remove_temporaries_and_reraise(int signal_number) {
  for (TemporarySlot& slot : g_slots) {
    if (slot.registered.load()) ::unlink(slot.path);
  }
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

}  // namespace

void install_interrupt_cleanup() {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal_number, remove_temporaries_and_reraise);
  // Past a file size limit (ulimit -f), sizing the output (or any write) would otherwise kill
  // the process with a core dump and leave the temporary file; ignored, the call fails with
  // EFBIG, which the writer reports with the file's name, and the temporary file is removed as
  // for any other error.
  std::signal(SIGXFSZ, SIG_IGN);
}

void register_temporary_file(const std::string& path) {
  if (path.size() >= sizeof(TemporarySlot::path)) throw Error(path, "path too long for a temporary file");
  for (TemporarySlot& slot : g_slots) {
    if (slot.registered.load()) continue;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.registered.store(true);
    return;
  }
  throw Error(path, "too many temporary files at once");
}

void unregister_temporary_file(const std::string& path) {
  for (TemporarySlot& slot : g_slots) {
    if (slot.registered.load() && path == slot.path) {
      slot.registered.store(false);
      return;
    }
  }
}

}  // namespace smoe::convert
