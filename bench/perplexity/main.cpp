// smoe-perplexity: perplexity of a model over token windows, each window scored on its own
// (positions 1..N-1 predicted from the prefix, as the reference files define it).
//
//   smoe-perplexity -m model.smoe --tokens windows.i32 --window 256 [--json]
//   smoe-perplexity -m model.smoe --text passages.txt --window 256   (BOS before each line)
//   smoe-perplexity -m q4.smoe --tokens w.i32 --kl-base f32.smoe     (KL divergence to a base model)
//   smoe-perplexity -m f32.smoe --tokens w.i32 --save-logits base.f32 (then --kl-base base.f32)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "smoe/smoe.h"
#include "token_scores.h"
#include "util/token_file.h"

namespace {

using namespace smoe;

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

bool is_container(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  char magic[8] = {};
  stream.read(magic, sizeof(magic));
  return stream && std::string_view(magic, 4) == "SMOE";
}

// Base logits for --kl-base: from a model run on the same windows, or from a file saved by
// --save-logits (f32, windows x (window - 1) x vocab).
class BaseLogits {
 public:
  BaseLogits(const std::string& path, const ModelOptions& options, size_t windows, size_t window, size_t vocab)
      : path_(path), vocab_(vocab), window_(window) {
    if (is_container(path)) {
      model_ = Model::load(path, options);
      if (model_->info().hyperparameters.vocab_size != vocab) throw Error(path, "base model has another vocabulary");
      session_ = model_->create_session();
      return;
    }
    stream_.open(path, std::ios::binary | std::ios::ate);
    if (!stream_) throw Error(path, "cannot open");
    const uint64_t expected = uint64_t(windows) * (window - 1) * vocab * sizeof(float);
    if (static_cast<uint64_t>(stream_.tellg()) != expected) {
      throw Error(path, "holds " + std::to_string(static_cast<uint64_t>(stream_.tellg())) + " bytes; these windows need " +
                            std::to_string(expected) + " (saved with other windows or another model?)");
    }
    stream_.seekg(0);
  }

  // Logits predicting positions 1..window-1 of this window: (window - 1, vocab).
  const float* next(std::span<const int32_t> ids) {
    if (session_) {
      session_->reset();
      return session_->eval_all(ids).data();
    }
    buffer_.resize((window_ - 1) * vocab_);
    stream_.read(reinterpret_cast<char*>(buffer_.data()), static_cast<std::streamsize>(buffer_.size() * sizeof(float)));
    if (!stream_) throw Error(path_, "read error");
    return buffer_.data();
  }

 private:
  std::string path_;
  size_t vocab_, window_;
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Session> session_;
  std::ifstream stream_;
  std::vector<float> buffer_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smoe-perplexity: perplexity over token windows", "smoe-perplexity"};
  std::string model_path, tokens_path, text_path, kv = "f16";
  uint32_t window = 256;
  int threads = 0;
  std::string kl_base_path, save_logits_path;
  bool json = false;
  app.add_option("-m,--model", model_path, "the .smoe file")->required();
  auto* tokens_option = app.add_option("--tokens", tokens_path, "little-endian int32 token ids, cut into windows");
  app.add_option("--text", text_path, "text file, one passage a line (BOS before each)")->excludes(tokens_option);
  app.add_option("--window", window, "tokens per window")->capture_default_str()->check(CLI::Range(2u, 1u << 20));
  app.add_option("-t,--threads", threads, "compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--kv", kv, "KV cache type: f16, f32, or q8 (about half of f16, for long contexts)")
      ->check(CLI::IsMember({"f16", "f32", "q8"}))->capture_default_str();
  app.add_option("--kl-base", kl_base_path, "base .smoe (or --save-logits file): report KL divergence and top-1 agreement");
  app.add_option("--save-logits", save_logits_path, "save this model's logits (f32) for a later --kl-base");
  float moe_min_weight = 0.0f;
  app.add_option("--moe-min-weight", moe_min_weight,
                 "skip chosen experts after the first whose routing weight is below this (0 = off; the --kl-base "
                 "model always runs every chosen expert)")
      ->check(CLI::Range(0.0f, 0.999f));
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
    options.kv_type = *parse_kv_type(kv);  // --kv accepts only these names
    ModelOptions test_options = options;
    test_options.moe_min_weight = moe_min_weight;
    const auto model = Model::load(model_path, test_options);
    const std::vector<int32_t> tokens =
        tokens_path.empty() ? tokenize_text_file(model->tokenizer(), text_path) : read_token_file(tokens_path);
    const size_t windows = tokens.size() / window;
    if (windows == 0) {
      throw Error(tokens_path.empty() ? text_path : tokens_path,
                  "fewer than one window of " + std::to_string(window) + " tokens");
    }
    const size_t vocab = model->info().hyperparameters.vocab_size;
    auto session = model->create_session();
    std::unique_ptr<BaseLogits> base;
    if (!kl_base_path.empty()) base = std::make_unique<BaseLogits>(kl_base_path, options, windows, window, vocab);
    std::ofstream saved;
    if (!save_logits_path.empty()) {
      saved.open(save_logits_path, std::ios::binary | std::ios::trunc);
      if (!saved) throw Error(save_logits_path, "cannot write");
    }
    bench::KlAccumulator kl;
    double total_nll = 0;
    size_t scored = 0;
    const auto start = std::chrono::steady_clock::now();
    for (size_t w = 0; w < windows; ++w) {
      session->reset();
      const std::span<const int32_t> ids(&tokens[w * window], window);
      const std::span<const float> logits = session->eval_all(ids);
      for (size_t p = 1; p < window; ++p) {
        total_nll += bench::negative_log_likelihood(&logits[(p - 1) * vocab], vocab, ids[p]);
      }
      if (saved) {
        saved.write(reinterpret_cast<const char*>(logits.data()),
                    static_cast<std::streamsize>((window - 1) * vocab * sizeof(float)));
      }
      if (base) {
        const std::vector<float> test_logits(logits.begin(), logits.begin() + long((window - 1) * vocab));
        const float* base_logits = base->next(ids);
        for (size_t p = 0; p + 1 < window; ++p) kl.add(&base_logits[p * vocab], &test_logits[p * vocab], vocab);
      }
      scored += window - 1;
      if (!json) std::fprintf(stderr, "[%zu/%zu] ppl so far %.4f\n", w + 1, windows, std::exp(total_nll / double(scored)));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mean_nll = total_nll / double(scored);
    std::printf("ppl %.6f  mean_nll %.6f  tokens %zu  windows %zu  (%.1f tokens/s)\n", std::exp(mean_nll), mean_nll,
                scored, windows, double(windows * window) / seconds);
    nlohmann::json result = {{"ppl", std::exp(mean_nll)}, {"mean_nll", mean_nll}, {"tokens", scored},
                             {"windows", windows}, {"tokens_per_s", double(windows * window) / seconds}};
    if (moe_min_weight > 0) {
      const RunStats& stats = session->stats();
      uint64_t run = 0;
      for (const uint64_t count : stats.expert_counts) run += count;
      const double skipped = double(stats.skipped_experts) / double(std::max<uint64_t>(1, run + stats.skipped_experts));
      std::printf("experts skipped %.2f%% of the chosen (--moe-min-weight %g)\n", 100 * skipped, moe_min_weight);
      result["experts_skipped_share"] = skipped;
    }
    if (base) {
      std::printf("kld_mean %.6f  kld_p99 %.6f  top1_agreement %.4f  (against %s)\n", kl.mean(), kl.percentile(0.99),
                  kl.top1_agreement(), kl_base_path.c_str());
      result["kld_mean"] = kl.mean();
      result["kld_p99"] = kl.percentile(0.99);
      result["top1_agreement"] = kl.top1_agreement();
    }
    if (json) std::cout << result.dump() << "\n";
  } catch (const Error& error) {
    std::fprintf(stderr, "smoe-perplexity: error: %s\n", error.what());
    return 1;
  }
  return 0;
}
