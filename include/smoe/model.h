// A loaded model: the memory-mapped container, its tokenizer and chat template.
// Immutable after load and thread-safe: many sessions on many threads share one Model.
//
//   auto model = smoe::Model::load("mixtral-q4.smoe", {.threads = 8});
//   auto session = model->create_session();
//   auto prompt = model->tokenize_chat({{"user", "Hello!"}});
//   session->generate(prompt, {}, [](int32_t, std::string_view text) { std::cout << text; return true; });
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "smoe/chat.h"
#include "smoe/hyperparameters.h"
#include "smoe/options.h"
#include "smoe/tokenizer.h"

namespace smoe {

class Session;

// A chat rendered by the model's template and tokenized.
struct ChatPrompt {
  std::string text;             // the rendered template (message content exactly as given)
  std::vector<int32_t> ids;     // its tokens: special-token strings as their ids, the rest by SentencePiece
};

struct ModelInfo {
  std::string path;                  // the .smoe file
  uint64_t file_bytes = 0;           // its size
  Hyperparameters hyperparameters;   // as in config.json
  std::string recipe;                // quantization recipe name, e.g. "q4"
  uint32_t context_size = 0;         // tokens per session (ModelOptions::context_size resolved)
  KvType kv_type = KvType::f16;      // KV cache element type
  float moe_min_weight = 0.0f;        // ModelOptions::moe_min_weight (0: every chosen expert runs)
  int threads = 1;                   // compute threads (ModelOptions::threads resolved)
  uint64_t kv_cache_bytes = 0;       // KV cache memory of one session
  std::string kernels;  // kernels in use: instruction set and prefetch variant, e.g. "avx512-vnni", "avx2+prefetch", "scalar"
  std::string
      prompt_products;  // how prompts multiply quantized weights: "int8 (avx512-vnni)", "bf16 (oneDNN)", "f32 (oneDNN)"
  std::string backend;               // the accelerator backend in use ("" = CPU only), e.g. "cuda (NVIDIA ...)"
  uint32_t offloaded_experts = 0;    // experts resident on it at load
  uint64_t offloaded_bytes = 0;      // their bytes
  WeightLoading weight_loading = WeightLoading::map;  // how the weights were loaded: map, read or expert_cache
  uint64_t resident_weight_bytes = 0;  // weights read into memory (read: the file; expert_cache: all but the experts)
  uint32_t expert_cache_slots = 0;     // expert_cache: experts held in memory at once
  uint64_t expert_slot_bytes = 0;      // the bytes of one slot (the largest expert)
  bool direct_reads = false;           // expert_cache: reads bypass the page cache (O_DIRECT)
  uint64_t memory_budget = 0;        // bytes the load decided with (0 = unknown)
  std::string memory_budget_source;  // where that came from: "MemAvailable", "cgroup v1 limit 1.20 GiB", "--ram 8.00 GiB"
};

// What the accelerator did since the model was loaded (all zero on the CPU alone).
struct OffloadStats {
  uint64_t device_runs = 0;       // expert runs served by the accelerator
  uint64_t cpu_runs = 0;          // expert runs on the CPU
  uint64_t concurrent_steps = 0;  // MoE steps in which both ran at the same time
  uint32_t resident_experts = 0;  // experts on the device now
  uint64_t resident_bytes = 0;    // their bytes
};

// How the weights were loaded, for a log line: "read into memory", "mapped", or "expert cache:
// 303 MB in memory, experts from disk into 5 slots of 101 MB".
std::string describe_weight_loading(const ModelInfo& info);

// What the expert cache did since the model was loaded (WeightLoading::expert_cache; else zero).
struct ExpertCacheStats {
  uint64_t chosen = 0;          // experts the CPU ran, per MoE step
  uint64_t hits = 0;            // of those, already in memory or being read ahead when chosen
  uint64_t bytes_read = 0;      // read from disk (an accelerator's uploads included: they read through the cache)
  double read_seconds = 0;      // time with at least one read in flight (bytes_read / read_seconds = the disk's rate)
  double wait_seconds = 0;      // time the forward pass (and an accelerator's uploads) waited for reads
  uint64_t lookahead_reads = 0;     // experts read because the lookahead predicted them
  uint64_t lookahead_checked = 0;   // chosen experts in steps the lookahead had predicted
  uint64_t lookahead_correct = 0;   // of those, predicted
  double hit_rate() const { return chosen ? double(hits) / double(chosen) : 0; }
  double lookahead_accuracy() const { return lookahead_checked ? double(lookahead_correct) / double(lookahead_checked) : 0; }
};

class Model {
 public:
  // Maps and validates `path`; throws smoe::Error naming the file and the problem.
  static std::shared_ptr<const Model> load(const std::string& path, const ModelOptions& options = {});
  ~Model();

  const ModelInfo& info() const;
  // Share (0..1) of the weights' resident bytes that sit in 2 MiB pages, from /proc/self/smaps
  // (call after some decoding: a mapping's pages are counted once touched); -1 where unknown.
  double weights_in_huge_pages() const;
  // Accelerator statistics (hit rate = device_runs / (device_runs + cpu_runs)); thread-safe.
  OffloadStats offload_stats() const;
  // Expert cache statistics (WeightLoading::expert_cache); thread-safe.
  ExpertCacheStats expert_cache_stats() const;
  const Tokenizer& tokenizer() const;
  const ChatTemplate& chat_template() const;
  // Renders `messages` with the chat template and tokenizes the text as Hugging Face does
  // (special-token strings matched first; no BOS added beyond what the template writes). With
  // options.parse_special_in_content off (the default), special strings inside message
  // content stay text. Throws smoe::Error when the template raises (e.g. roles out of order).
  ChatPrompt apply_chat_template(const std::vector<ChatMessage>& messages, const ChatOptions& options = {}) const;
  // apply_chat_template(messages, options).ids: ready for generation.
  std::vector<int32_t> tokenize_chat(const std::vector<ChatMessage>& messages, const ChatOptions& options = {}) const;
  // Context shifting for chats: drops the oldest user/assistant turns (never a leading system
  // message, never the last user message) until the chat takes at most `max_tokens` tokens.
  // Returns how many messages were dropped. Throws smoe::Error when even the system message
  // and the last user message alone do not fit. The dropped turns are recomputed from, not
  // patched: the next eval re-evaluates from the first changed token, so positions and RoPE
  // stay exact.
  size_t fit_chat(std::vector<ChatMessage>& messages, uint32_t max_tokens, const ChatOptions& options = {}) const;
  // A new conversation with its own KV cache. The session keeps the model alive.
  std::unique_ptr<Session> create_session() const;

  struct Impl;

 private:
  friend struct ModelInternals;  // lib/'s access to the implementation (runtime/model_impl.h)
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::weak_ptr<const Model> self_;
};

}  // namespace smoe
