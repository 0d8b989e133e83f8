// Finding, loading and checking a backend plugin (backend_abi.h).
#pragma once

#include <memory>
#include <string>

#include "backend/backend_abi.h"

namespace smoe::backend {

// A loaded plugin; destroys its backend and closes the library.
class Plugin {
 public:
  ~Plugin();
  smoe_backend& api() const { return *backend_; }
  const std::string& path() const { return path_; }

  // Loads libsmoe-<name>.so from the directories in SMOE_PLUGIN_PATH (colon-separated), then
  // the directory libsmoe itself was loaded from, then the dynamic linker's search path.
  // Returns nullptr and sets `why` when there is none, it does not export the entry point, it
  // speaks another ABI version, or it cannot run here (no driver, no device).
  static std::unique_ptr<Plugin> load(const std::string& name, std::string& why);

 private:
  Plugin() = default;
  void* library_ = nullptr;
  smoe_backend* backend_ = nullptr;
  std::string path_;
};

}  // namespace smoe::backend
