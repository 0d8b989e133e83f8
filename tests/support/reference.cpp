// Loading the reference files and caching converted containers for the golden tests.
#include "support/reference.h"

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "convert/convert_checkpoint.h"
#include "smoe/model.h"
#include "smoe/session.h"
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

const std::string& tiny_container(const std::string& type) { return tiny_container_from("", type); }

const std::string& tiny_container_from(const std::string& input_file, const std::string& type) {
  static TempDir dir;
  static std::map<std::string, std::string> converted;
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  const std::string key = input_file.empty() ? type : input_file + "-" + type;
  auto it = converted.find(key);
  if (it == converted.end()) {
    convert::ConvertOptions options;
    options.input = input_file.empty() ? tiny_model_dir() : tiny_model_dir() + "/" + input_file;
    options.output = dir.file("tiny-" + key + ".smoe");
    options.recipe = convert::make_recipe(type);
    options.hash_sources = false;
    convert::convert_checkpoint(options);
    it = converted.emplace(key, options.output).first;
  }
  return it->second;
}

double mean_nll(const Model& model) {
  const Reference& reference = tiny_reference();
  const auto& info = reference.json["perplexity"];
  const size_t windows = info["windows"], length = info["window_tokens"];
  const size_t vocab = model.info().hyperparameters.vocab_size;
  double total = 0;
  size_t scored = 0;
  auto session = model.create_session();
  for (size_t w = 0; w < windows; ++w) {
    session->reset();
    const std::span<const int32_t> window(&reference.ppl_windows[w * length], length);
    const std::span<const float> logits = session->eval_all(window);
    for (size_t p = 1; p < length; ++p) {
      const float* row = &logits[(p - 1) * vocab];
      double max = row[0], sum = 0;
      for (size_t v = 0; v < vocab; ++v) max = std::max(max, double(row[v]));
      for (size_t v = 0; v < vocab; ++v) sum += std::exp(double(row[v]) - max);
      total += std::log(sum) + max - row[window[p]];
      ++scored;
    }
  }
  return total / double(scored);
}

}  // namespace smoe::test
