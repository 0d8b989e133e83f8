// Options of a loaded model and of sampling. One comment and one default per field.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace smoe {

// Element type of the KV cache.
enum class KvType : uint8_t {
  f16,  // half the memory of f32; the default
  f32,  // exact
  q8,   // int8 with one f32 scale per head and position: about a quarter of f32, for long contexts
};

// How the weights get into memory. Decoding streams every weight once per token; in 2 MiB
// pages the hardware prefetchers and the TLB stop restarting every 4 KiB. Reading the file into
// huge-page memory gets those pages for certain; a mapping gets them only when the kernel
// filled the file's page cache in 2 MiB folios (smoe asks for them; not always granted).
enum class WeightLoading : uint8_t {
  automatic,  // read when the file fits in available memory with room to spare, else map
  map,        // map the file: instant when cached, pages shared with other processes (--mmap)
  read,       // read into memory with huge pages (llama.cpp's --no-mmap)
  // Everything but the experts read into memory; experts read from disk on demand into an
  // expert cache sized by the memory budget (--expert-cache): for models larger than memory.
  expert_cache,
};

// Which expert an expert cache evicts for a new one (docs/PERFORMANCE.md, "Models larger than
// memory", compares them on real routing).
enum class ExpertCachePolicy : uint8_t {
  frequency,  // the one chosen least often lately (routing counts with exponential decay)
  lru,        // the least recently chosen
  random,     // a random one
};

// Called while a model's file is read into memory (WeightLoading::read, or automatic when it
// reads), after each piece, with the bytes read so far and the file's size; the last call has
// done == total. Not called for a mapped file (its pages are read on first use).
using LoadProgress = std::function<void(uint64_t done, uint64_t total)>;

// A LoadProgress for command-line tools: once loading has taken a second, one line on stderr,
// redrawn in place ("loading NAME: 45% of 3.1 GB, 1.2 GB/s"), ended when done. Prints nothing
// when stderr is not a terminal.
LoadProgress terminal_load_progress(std::string name);

// "f16", "f32" or "q8": the names the CLIs' --kv and saved sessions use.
std::string_view kv_type_name(KvType type);
// The inverse; std::nullopt for any other name.
std::optional<KvType> parse_kv_type(std::string_view name);

struct ModelOptions {
  int threads = 0;          // compute threads; 0 = all cores (OpenMP's default)
  uint32_t context_size = 0;  // tokens per session; 0 = min(model maximum, 4096)
  KvType kv_type = KvType::f16;  // KV cache element type
  // Bytes of accelerator memory for the hottest experts (0 = CPU only). Needs the backend
  // plugin libsmoe-<backend>.so; without it (or without a device) the model runs on the CPU
  // after one warning.
  uint64_t gpu_memory = 0;
  // automatic reads the file into memory when its size plus max(1 GiB, 1/8 of it) fits the
  // memory budget (decoding measured up to 16% faster than from a mapping split into 4 KiB
  // pages), and maps it otherwise, so a model larger than the free memory still runs.
  WeightLoading weight_loading = WeightLoading::automatic;
  // Bytes of memory smoe may use for the weights it reads in and the KV cache (--ram); 0 = the
  // process's real limit: its memory cgroup's (a container's or a pod's limit minus its usage)
  // or MemAvailable, whichever is smaller.
  uint64_t ram_budget = 0;
  // WeightLoading::expert_cache (which automatic picks when the file does not fit the budget but
  // everything except the experts does, with room for a few experts): expert slots in memory
  // (0 = as many as the budget holds), the replacement policy, and lookahead (while a layer
  // computes, the next layer's router is applied to the current hidden state and the experts it
  // would choose are read ahead).
  uint32_t expert_cache_slots = 0;
  // Sessions whose KV caches the load leaves room for in the budget (a server's slots).
  uint32_t planned_sessions = 1;
  ExpertCachePolicy expert_cache_policy = ExpertCachePolicy::frequency;
  bool expert_lookahead = true;
  std::string backend = "cuda";
  // Jinja source that replaces the container's chat template ("" = the container's own).
  std::string chat_template;
  // Which CPU kernels run, for comparisons and tests ("" = this CPU's best; then the
  // environment variables SMOE_ISA, SMOE_PREFETCH and SMOE_PROMPT, where set, decide). An
  // unknown name, or a level this CPU lacks, is an error at load.
  std::string isa;              // "scalar", "avx2", "avx2-vnni", "avx512", "avx512-vnni", "neon", "neon-dotprod"
  std::string prefetch;         // "software" or "hardware": the x86 dot kernels' prefetch variant
  std::string prompt_products;  // "amx" (the best), "int8" (never AMX) or "onednn" (bf16 or f32)
  // Adaptive top-k, a dial between quality and bytes per token: a chosen expert after the
  // first whose routing weight (the softmax over the top-k logits) is below this is skipped,
  // and the weights of the experts that run are scaled to sum to 1. Fewer experts read and
  // computed per token; 0 = off (Mixtral's own top-k). In [0, 1). docs/QUANTIZATION.md has its
  // measured KL divergence.
  float moe_min_weight = 0.0f;
  // Reports reading the file into memory (see LoadProgress); empty: silent.
  LoadProgress load_progress;
};

struct SamplerOptions {
  float temperature = 0.8f;     // 0 = greedy (always the most likely token)
  int32_t top_k = 40;           // keep the k most likely tokens; 0 = all
  float top_p = 0.95f;          // keep the smallest set with this much probability; 1 = all
  float min_p = 0.05f;          // drop tokens below min_p x the top probability; 0 = off
  float repeat_penalty = 1.1f;  // divide (or multiply, if negative) logits of recent tokens; 1 = off
  int32_t repeat_last_n = 64;   // how many recent tokens the penalty looks at
  uint64_t seed = 0x5eed;       // random seed: the same seed gives the same output
};

}  // namespace smoe
