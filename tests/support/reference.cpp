// Loading the reference files and caching converted containers for the golden tests.
#include "support/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "convert/convert_checkpoint.h"
#include "convert/plan.h"
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

namespace {

const std::string& convert_tiny(const std::string& input_file, const std::string& type, uint64_t max_panel_columns,
                                bool interleave = false) {
  static TempDir dir;
  static std::map<std::string, std::string> converted;
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  const std::string key =
      (input_file.empty() ? type : input_file + "-" + type) +
      (max_panel_columns == convert::kDefaultPanelColumns ? "" : "-panels" + std::to_string(max_panel_columns)) +
      (interleave ? "-x8" : "");
  auto it = converted.find(key);
  if (it == converted.end()) {
    convert::ConvertOptions options;
    options.input = input_file.empty() ? tiny_model_dir() : tiny_model_dir() + "/" + input_file;
    options.output = dir.file("tiny-" + key + ".smoe");
    options.recipe = convert::make_recipe(type);
    options.hash_sources = false;
    options.max_panel_columns = max_panel_columns;
    options.interleave = interleave;  // plain q4k rows unless asked: both layouts stay covered
    convert::convert_checkpoint(options);
    it = converted.emplace(key, options.output).first;
  }
  return it->second;
}

}  // namespace

const std::string& tiny_container_from(const std::string& input_file, const std::string& type) {
  return convert_tiny(input_file, type, convert::kDefaultPanelColumns);
}

const std::string& tiny_container_interleaved(const std::string& type) {
  return convert_tiny("", type, convert::kDefaultPanelColumns, true);
}

const std::string& tiny_container_in_panels(const std::string& type, uint64_t max_panel_columns) {
  return convert_tiny("", type, max_panel_columns);
}

std::shared_ptr<const Model> load_for_comparison(const std::string& path) {
  ModelOptions options;
  options.kv_type = KvType::f32;
  options.context_size = 512;
  return Model::load(path, options);
}

LogitAgreement compare_logits(const Model& a, const Model& b) {
  double total = 0;
  size_t values = 0, positions = 0, same_top = 0;
  for (const nlohmann::json& prompt : tiny_reference().json["prompts"]) {
    const std::vector<int32_t> ids = prompt["ids"].get<std::vector<int32_t>>();
    auto first = a.create_session(), second = b.create_session();
    const std::span<const float> left = first->eval_all(ids), right = second->eval_all(ids);
    const size_t vocab = a.info().hyperparameters.vocab_size;
    for (size_t i = 0; i < left.size(); ++i) total += std::fabs(left[i] - right[i]);
    values += left.size();
    for (size_t t = 0; t < ids.size(); ++t) {
      const auto l = left.subspan(t * vocab, vocab), r = right.subspan(t * vocab, vocab);
      same_top += std::max_element(l.begin(), l.end()) - l.begin() == std::max_element(r.begin(), r.end()) - r.begin();
      ++positions;
    }
  }
  return {total / double(values), double(same_top) / double(positions)};
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
