// dlopen-based plugin loading with an ABI version check.
#include "backend/plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

namespace smoe::backend {
namespace {

std::vector<std::string> candidate_paths(const std::string& file) {
  std::vector<std::string> paths;
  if (const char* list = std::getenv("SMOE_PLUGIN_PATH")) {
    std::stringstream directories(list);
    std::string directory;
    while (std::getline(directories, directory, ':')) {
      if (!directory.empty()) paths.push_back((std::filesystem::path(directory) / file).string());
    }
  }
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&candidate_paths), &self) && self.dli_fname) {
    paths.push_back((std::filesystem::path(self.dli_fname).parent_path() / file).string());
  }
  paths.push_back(file);  // the dynamic linker's own search
  return paths;
}

}  // namespace

Plugin::~Plugin() {
  if (backend_ && backend_->destroy) backend_->destroy(backend_->state);
  if (library_) dlclose(library_);
}

std::unique_ptr<Plugin> Plugin::load(const std::string& name, std::string& why) {
  const std::string file = "libsmoe-" + name + ".so";
  std::string last_error = "not found";
  for (const std::string& path : candidate_paths(file)) {
    if (path.find('/') != std::string::npos && !std::filesystem::exists(path)) continue;
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      last_error = dlerror();
      continue;
    }
    auto open = reinterpret_cast<smoe_backend_open_fn>(dlsym(library, SMOE_BACKEND_ENTRY));
    if (!open) {
      why = path + ": not a smoe backend plugin (no " SMOE_BACKEND_ENTRY ")";
      dlclose(library);
      return nullptr;
    }
    char error[512] = "";
    smoe_backend* backend = open(SMOE_BACKEND_ABI_VERSION, error, sizeof(error));
    if (!backend || backend->abi_version != SMOE_BACKEND_ABI_VERSION) {
      why = path + ": " + (backend ? "speaks backend ABI version " + std::to_string(backend->abi_version) + ", libsmoe " +
                                         std::to_string(SMOE_BACKEND_ABI_VERSION)
                                   : std::string(error[0] ? error : "cannot run here"));
      if (backend && backend->destroy) backend->destroy(backend->state);
      dlclose(library);
      return nullptr;
    }
    auto plugin = std::unique_ptr<Plugin>(new Plugin());
    plugin->library_ = library;
    plugin->backend_ = backend;
    plugin->path_ = path;
    return plugin;
  }
  why = last_error + " (set SMOE_PLUGIN_PATH to its directory)";
  return nullptr;
}

}  // namespace smoe::backend
