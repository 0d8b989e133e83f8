// smoe-chat: chat with a .smoe model in a terminal, or generate once from a prompt.
//
//   smoe-chat -m model.smoe                                   interactive chat
//   smoe-chat -m model.smoe -p "text" -n 32 --greedy --raw --json
//   smoe-chat -m model.smoe --messages chat.json [--tools tools.json] [--render]
//   smoe-chat -m model.smoe --tokenize "text"                 token ids as a JSON array
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "chat_options.h"
#include "interactive.h"
#include "smoe/smoe.h"
#include "weight_loading_flags.h"

namespace {

using namespace smoe;

// JSON text that is always valid UTF-8 (generated text is; this guards what a model file holds).
std::string json_text(const nlohmann::json& json) { return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string read_text_file(const std::string& path, const char* what) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw Error(path, std::string("cannot open the ") + what);
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (!stream.good() && !stream.eof()) throw Error(path, std::string("cannot read the ") + what);
  return contents.str();
}

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::eos: return "end_token";
    case StopReason::max_tokens: return "max_tokens";
    case StopReason::callback: return "stopped";
    case StopReason::context_full: return "context_full";
  }
  return "unknown";
}

int run_tokenize(const Model& model, const chat::ChatOptions& options) {
  const Tokenizer& tokenizer = model.tokenizer();
  const std::vector<int32_t> ids = options.parse_special ? tokenizer.encode_with_special(options.tokenize_text, true)
                                                         : tokenizer.encode(options.tokenize_text, true);
  std::cout << json_text(ids) << "\n";
  return 0;
}

// The conversation of --messages, or the one -p (with --system) makes.
std::vector<ChatMessage> conversation(const chat::ChatOptions& options) {
  if (!options.messages_path.empty()) {
    return chat_messages_from_json(read_text_file(options.messages_path, "messages file"), options.messages_path);
  }
  std::vector<ChatMessage> messages;
  if (!options.system_prompt.empty()) messages.push_back({"system", options.system_prompt});
  messages.push_back({"user", options.prompt});
  return messages;
}

int run_render(const Model& model, const chat::ChatOptions& options) {
  const ChatPrompt prompt = model.apply_chat_template(conversation(options), options.rendering);
  std::cout << json_text({{"text", prompt.text}, {"prompt_ids", prompt.ids}}) << "\n";
  return 0;
}

int run_once(const Model& model, const chat::ChatOptions& options) {
  std::vector<int32_t> prompt;
  if (options.raw) {
    prompt = options.parse_special ? model.tokenizer().encode_with_special(options.prompt, true)
                                   : model.tokenizer().encode(options.prompt, true);
  } else {
    prompt = model.tokenize_chat(conversation(options), options.rendering);
  }
  auto session = model.create_session();
  std::string text;
  const GenerateResult result = session->generate(prompt, options.generate, [&](int32_t, std::string_view piece) {
    text += piece;
    if (!options.json) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  const RunStats& stats = session->stats();
  if (options.json) {
    const nlohmann::json out = {
        {"prompt_ids", prompt},
        {"generated_ids", result.tokens},
        {"text", text},
        {"stop_reason", stop_reason_name(result.stop_reason)},
        {"prompt_tokens_per_s", stats.prompt_tokens_per_second()},
        {"gen_tokens_per_s", stats.generated_tokens_per_second()},
    };
    std::cout << json_text(out) << "\n";
  } else {
    std::printf("\n");
    std::fprintf(stderr, "[prompt %zu tokens at %.1f tok/s; generated %zu tokens at %.1f tok/s; stop: %s]\n", prompt.size(),
                 stats.prompt_tokens_per_second(), result.tokens.size(), stats.generated_tokens_per_second(),
                 stop_reason_name(result.stop_reason));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smoe-chat: chat with a Mixtral-family model stored as .smoe", "smoe-chat"};
  app.set_version_flag("--version", std::string("smoe-chat ") + kVersionString);
  chat::ChatOptions options;
  options.generate.max_tokens = 512;
  bool greedy = false;
  std::string kv = "f16";
  app.add_option("-m,--model", options.model_path, "the .smoe file")->required();
  app.add_option("-p,--prompt", options.prompt, "generate once from this prompt and exit");
  app.add_option("--system", options.system_prompt, "system prompt (a first message with role system)");
  app.add_option("--messages", options.messages_path,
                 "answer the conversation in FILE: a JSON list of {role, content[, tool_calls, tool_call_id, name]}");
  std::string tools_path, template_path;
  app.add_option("--tools", tools_path, "tool definitions for the template: a JSON list in OpenAI's form");
  app.add_flag("--render", options.render,
               "with -p or --messages: print {\"text\", \"prompt_ids\"} of the rendered chat and exit");
  app.add_option("--chat-template", template_path, "use the Jinja chat template in FILE instead of the model's");
  app.add_flag("--special-in-content", options.rendering.parse_special_in_content,
               "treat special-token strings inside messages (\"[INST]\", \"<|im_end|>\") as special tokens, as "
               "Hugging Face does (default: they stay text)");
  auto* tokenize = app.add_option("--tokenize", options.tokenize_text, "print the token ids of TEXT (with BOS) as JSON and exit");
  app.add_flag("--parse-special", options.parse_special,
               "--tokenize and --raw: recognize special-token strings (\"<s>\", \"[INST]\") in the text");
  app.add_flag("--raw", options.raw, "use the prompt as is, without the chat template");
  app.add_option("--session", options.session_path,
                 "interactive: resume the conversation saved in FILE (if it exists) and save it after every answer");
  app.add_flag("--json", options.json, "with -p: print one JSON object");
  app.add_flag("-v,--verbose", options.verbose, "print model details");
  app.add_option("-n,--n-predict", options.generate.max_tokens, "maximum new tokens per answer")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("-t,--threads", options.model.threads, "compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("-c,--ctx-size", options.model.context_size, "context size in tokens (0 = min(model, 4096))");
  app.add_option("--kv", kv, "KV cache type: f16, f32, or q8 (about half of f16, for long contexts)")
      ->check(CLI::IsMember({"f16", "f32", "q8"}))->capture_default_str();
  app.add_option("--gpu-mem", options.model.gpu_memory,
                 "accelerator memory for the hottest experts, e.g. 8G (needs the backend plugin; 0 = CPU only)")
      ->transform(CLI::AsSizeValue(false));
  cli::WeightLoadingFlags weight_flags;
  weight_flags.add_to(app, options.model);
  app.add_option("--ram", options.model.ram_budget,
                 "memory smoe may use for the weights it reads in and the KV cache, e.g. 12G (default: the process's "
                 "real limit, its cgroup's or the free memory)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--backend", options.model.backend, "backend plugin name (libsmoe-NAME.so)")->capture_default_str();
  app.add_option("--moe-min-weight", options.model.moe_min_weight,
                 "skip chosen experts after the first whose routing weight is below this: fewer bytes per token, "
                 "some quality (0 = off; docs/QUANTIZATION.md)")
      ->check(CLI::Range(0.0f, 0.999f));
  SamplerOptions& sampler = options.generate.sampler;
  app.add_flag("--greedy", greedy, "always pick the most likely token (same as --temp 0)");
  app.add_option("--temp", sampler.temperature, "temperature (0 = greedy)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--top-k", sampler.top_k, "top-k (0 = off)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", sampler.top_p, "top-p (1 = off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--min-p", sampler.min_p, "min-p (0 = off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--repeat-penalty", sampler.repeat_penalty, "repetition penalty (1 = off)")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", sampler.seed, "random seed")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (greedy) {
    sampler.temperature = 0;
    sampler.repeat_penalty = 1;
  }
  options.tokenize = tokenize->count() > 0;
  options.model.weight_loading = weight_flags.loading();
  options.model.kv_type = *parse_kv_type(kv);  // --kv accepts only these names
  try {
    if (!tools_path.empty()) options.rendering.tools = read_text_file(tools_path, "tools file");
    if (!template_path.empty()) {
      options.model.chat_template = read_text_file(template_path, "chat template");
      if (options.model.chat_template.empty()) throw Error(template_path, "the chat template is empty");
    }
    options.model.load_progress = terminal_load_progress(options.model_path);
    const auto model = Model::load(options.model_path, options.model);
    if (options.verbose) {
      const ModelInfo& info = model->info();
      std::fprintf(stderr, "memory budget %.2f GiB (%s)\n", double(info.memory_budget) / (1 << 30),
                   info.memory_budget_source.c_str());
      std::fprintf(stderr,
                   "model %s: %.1f MiB (%s), recipe %s, context %u, KV %s (%.1f MiB), %d threads, kernels %s, prompt "
                   "products %s\n",
                   info.path.c_str(), double(info.file_bytes) / (1 << 20),
                   describe_weight_loading(info).c_str(), info.recipe.c_str(),
                   info.context_size, std::string(kv_type_name(info.kv_type)).c_str(),
                   double(info.kv_cache_bytes) / (1 << 20), info.threads, info.kernels.c_str(),
                   info.prompt_products.c_str());
      if (!info.backend.empty()) {
        std::fprintf(stderr, "backend %s: %u experts (%.1f MiB) resident\n", info.backend.c_str(), info.offloaded_experts,
                     double(info.offloaded_bytes) / (1 << 20));
      }
    }
    if (options.tokenize) return run_tokenize(*model, options);
    if (options.render) {
      if (options.prompt.empty() && options.messages_path.empty()) throw Error("--render", "give -p TEXT or --messages FILE");
      return run_render(*model, options);
    }
    if (!options.prompt.empty() || !options.messages_path.empty()) return run_once(*model, options);
    return chat::run_interactive(*model, options);
  } catch (const Error& error) {
    std::fprintf(stderr, "smoe-chat: error: %s\n", error.what());
    return 1;
  }
}
