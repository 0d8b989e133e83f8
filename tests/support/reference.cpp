// Loading the reference files and caching converted containers for the golden tests.
#include "support/reference.h"

#include <cstring>
#include <map>
#include <mutex>

#include "convert/convert_checkpoint.h"
#include "support/temp_dir.h"

namespace smoe::test {
namespace {

template <class T>
std::vector<T> read_array(const std::string& path) {
  const std::vector<char> bytes = read_file(path);
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

}  // namespace

const Reference& tiny_reference() {
  static const Reference reference = [] {
    Reference r;
    const std::string dir = tiny_model_dir();
    const std::vector<char> text = read_file(dir + "/reference.json");
    r.json = nlohmann::json::parse(text.begin(), text.end());
    r.logits = read_array<float>(dir + "/logits.f32");
    r.ppl_windows = read_array<int32_t>(dir + "/ppl_windows.i32");
    return r;
  }();
  return reference;
}

const std::string& tiny_container(const std::string& type) {
  static TempDir dir;
  static std::map<std::string, std::string> converted;
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  auto it = converted.find(type);
  if (it == converted.end()) {
    convert::ConvertOptions options;
    options.input = tiny_model_dir();
    options.output = dir.file("tiny-" + type + ".smoe");
    options.recipe = convert::make_recipe(type);
    options.hash_sources = false;
    convert::convert_checkpoint(options);
    it = converted.emplace(type, options.output).first;
  }
  return it->second;
}

}  // namespace smoe::test
