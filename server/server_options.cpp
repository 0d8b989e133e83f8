// CLI11 definitions of smoe-server's options. The model and memory options keep smoe-chat's
// names and meanings, so a model that runs in smoe-chat runs here with the same flags.
#include "server_options.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "smoe/version.h"
#include "weight_loading_flags.h"

namespace smoe::server {
namespace {

std::string model_name_of(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.size() > 5 && name.ends_with(".smoe")) name.resize(name.size() - 5);
  return name;
}

}  // namespace

std::optional<int> parse_server_options(int argc, char** argv, ServerOptions& options) {
  CLI::App app{"smoe-server: an OpenAI-compatible HTTP server for a Mixtral-family model stored as .smoe", "smoe-server"};
  app.set_version_flag("--version", std::string("smoe-server ") + kVersionString);
  ModelOptions& model = options.model;
  std::string kv = "f16", template_path;
  bool quiet = false;
  app.add_option("-m,--model", options.model_path, "the .smoe file")->required();
  app.add_option("--alias", options.model_name, "the model name clients send and /v1/models lists (default: the "
                                                "file name without .smoe)");
  app.add_option("--host", options.host, "address to listen on (0.0.0.0: every interface)")->capture_default_str();
  app.add_option("--port", options.port, "port to listen on (0 = any free port)")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--api-key", options.api_key, "require \"Authorization: Bearer KEY\" on every endpoint but /health");
  app.add_option("-t,--threads", model.threads, "compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("-c,--ctx-size", model.context_size, "context size in tokens of each slot (0 = min(model, 4096))");
  app.add_option("--parallel", options.scheduler.slots, "slots: requests generating at once, each with its own KV cache")
      ->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--max-queue", options.scheduler.max_queued,
                 "requests that may wait while every slot is busy (0: none waits); more get 503")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--prefill-chunk", options.scheduler.prefill_chunk,
                 "prompt tokens a slot evaluates per step (the other slots wait one step for it)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--join-prompts", options.scheduler.joined_prompt_tokens,
                 "prompt chunks of up to N tokens join the other slots' decoding pass, each token computed as alone "
                 "(longer chunks: on their own, with the faster prompt products; 1 = prompts always on their own)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-body", options.max_body_bytes, "largest request body, e.g. 4M (larger: 413)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--max-tokens", options.max_tokens,
                 "most new tokens one request may ask for (more: 400; a request without max_tokens gets at most "
                 "this many; 0 = the rest of the slot's context)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", options.request_timeout_s, "seconds a request may take, queued and generating")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--shutdown-timeout", options.shutdown_timeout_s,
                 "on SIGTERM, seconds to let requests in flight finish before cancelling them")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--quiet", quiet, "do not log one line per request on stderr");
  app.add_option("--kv", kv, "KV cache type: f16, f32, or q8 (about half of f16, for long contexts)")
      ->check(CLI::IsMember({"f16", "f32", "q8"}))->capture_default_str();
  app.add_option("--gpu-mem", model.gpu_memory,
                 "accelerator memory for the hottest experts, e.g. 8G (needs the backend plugin; 0 = CPU only)")
      ->transform(CLI::AsSizeValue(false));
  cli::WeightLoadingFlags weight_flags;
  weight_flags.add_to(app, model);
  app.add_option("--moe-min-weight", model.moe_min_weight,
                 "skip chosen experts after the first whose routing weight is below this (0 = off)")
      ->check(CLI::Range(0.0f, 0.999f));
  app.add_option("--ram", model.ram_budget,
                 "memory smoe may use for the weights it reads in and the KV caches, e.g. 12G (default: the process's "
                 "real limit, its cgroup's or the free memory)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--backend", model.backend, "backend plugin name (libsmoe-NAME.so)")->capture_default_str();
  app.add_option("--chat-template", template_path, "use the Jinja chat template in FILE instead of the model's");
  // Defaults for requests that leave a field out: OpenAI's (temperature 1, no cut-offs, no penalty).
  SamplerOptions& sampler = options.sampler;
  sampler = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .repeat_penalty = 1.0f};
  app.add_option("--temp", sampler.temperature, "default temperature")->capture_default_str()
      ->check(CLI::Range(0.0, 2.0));
  app.add_option("--top-k", sampler.top_k, "default top-k (0 = off)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", sampler.top_p, "default top-p (1 = off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--min-p", sampler.min_p, "default min-p (0 = off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--repeat-penalty", sampler.repeat_penalty, "default repetition penalty (1 = off)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  model.weight_loading = weight_flags.loading();
  model.kv_type = *parse_kv_type(kv);  // --kv accepts only these names
  model.planned_sessions = options.scheduler.slots;  // one KV cache per slot
  options.log_requests = !quiet;
  if (options.model_name.empty()) options.model_name = model_name_of(options.model_path);
  if (!template_path.empty()) {
    std::ifstream stream(template_path, std::ios::binary);
    std::ostringstream text;
    text << stream.rdbuf();
    if (!stream || text.str().empty()) {
      std::cerr << "smoe-server: error: " << template_path << ": cannot read the chat template (or it is empty)\n";
      return 2;
    }
    model.chat_template = text.str();
  }
  return std::nullopt;
}

}  // namespace smoe::server
