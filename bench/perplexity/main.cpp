// smoe-perplexity: perplexity of a model over token windows, each window scored on its own
// (positions 1..N-1 predicted from the prefix, as the reference files define it).
//
//   smoe-perplexity -m model.smoe --tokens windows.i32 --window 256 [--json]
//   smoe-perplexity -m model.smoe --text passages.txt --window 256   (BOS before each line)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "smoe/smoe.h"

namespace {

using namespace smoe;

std::vector<int32_t> read_token_file(const std::string& path) {
  std::ifstream stream(path, std::ios::binary | std::ios::ate);
  if (!stream) throw Error(path, "cannot open");
  const auto bytes = static_cast<size_t>(stream.tellg());
  if (bytes % 4 != 0) throw Error(path, "size " + std::to_string(bytes) + " is not a multiple of 4 (int32 token ids)");
  std::vector<int32_t> tokens(bytes / 4);
  stream.seekg(0);
  stream.read(reinterpret_cast<char*>(tokens.data()), static_cast<std::streamsize>(bytes));
  return tokens;
}

std::vector<int32_t> tokenize_text_file(const Tokenizer& tokenizer, const std::string& path) {
  std::ifstream stream(path);
  if (!stream) throw Error(path, "cannot open");
  std::vector<int32_t> tokens;
  std::string line;
  while (std::getline(stream, line)) {
    if (line.empty()) continue;
    const std::vector<int32_t> ids = tokenizer.encode(line, true);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
  }
  return tokens;
}

// -log softmax(logits)[target], computed stably in double.
double negative_log_likelihood(const float* logits, size_t vocab, int32_t target) {
  double max = logits[0], sum = 0;
  for (size_t v = 1; v < vocab; ++v) max = std::max(max, double(logits[v]));
  for (size_t v = 0; v < vocab; ++v) sum += std::exp(double(logits[v]) - max);
  return std::log(sum) + max - logits[target];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smoe-perplexity: perplexity over token windows", "smoe-perplexity"};
  std::string model_path, tokens_path, text_path, kv = "f16";
  uint32_t window = 256;
  int threads = 0;
  bool json = false;
  app.add_option("-m,--model", model_path, "the .smoe file")->required();
  auto* tokens_option = app.add_option("--tokens", tokens_path, "little-endian int32 token ids, cut into windows");
  app.add_option("--text", text_path, "text file, one passage a line (BOS before each)")->excludes(tokens_option);
  app.add_option("--window", window, "tokens per window")->capture_default_str()->check(CLI::Range(2u, 1u << 20));
  app.add_option("-t,--threads", threads, "compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--kv", kv, "KV cache type: f16 or f32")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
  app.add_flag("--json", json, "end with one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (tokens_path.empty() == text_path.empty()) {
    std::fprintf(stderr, "smoe-perplexity: give --tokens FILE or --text FILE\n");
    return 2;
  }
  try {
    ModelOptions options;
    options.threads = threads;
    options.context_size = window;
    options.kv_type = kv == "f32" ? KvType::f32 : KvType::f16;
    const auto model = Model::load(model_path, options);
    const std::vector<int32_t> tokens =
        tokens_path.empty() ? tokenize_text_file(model->tokenizer(), text_path) : read_token_file(tokens_path);
    const size_t windows = tokens.size() / window;
    if (windows == 0) {
      throw Error(tokens_path.empty() ? text_path : tokens_path,
                  "fewer than one window of " + std::to_string(window) + " tokens");
    }
    const size_t vocab = model->info().hyperparameters.vocab_size;
    auto session = model->create_session();
    double total_nll = 0;
    size_t scored = 0;
    const auto start = std::chrono::steady_clock::now();
    for (size_t w = 0; w < windows; ++w) {
      session->reset();
      const std::span<const int32_t> ids(&tokens[w * window], window);
      const std::span<const float> logits = session->eval_all(ids);
      for (size_t p = 1; p < window; ++p) total_nll += negative_log_likelihood(&logits[(p - 1) * vocab], vocab, ids[p]);
      scored += window - 1;
      if (!json) std::fprintf(stderr, "[%zu/%zu] ppl so far %.4f\n", w + 1, windows, std::exp(total_nll / double(scored)));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mean_nll = total_nll / double(scored);
    std::printf("ppl %.6f  mean_nll %.6f  tokens %zu  windows %zu  (%.1f tokens/s)\n", std::exp(mean_nll), mean_nll,
                scored, windows, double(windows * window) / seconds);
    if (json) {
      std::cout << nlohmann::json{{"ppl", std::exp(mean_nll)}, {"mean_nll", mean_nll}, {"tokens", scored},
                                  {"windows", windows}, {"tokens_per_s", double(windows * window) / seconds}}
                       .dump()
                << "\n";
    }
  } catch (const Error& error) {
    std::fprintf(stderr, "smoe-perplexity: error: %s\n", error.what());
    return 1;
  }
  return 0;
}
