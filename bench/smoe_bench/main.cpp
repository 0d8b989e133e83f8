// smoe-bench: prompt and generation speed like llama-bench, plus the machine's measured read
// bandwidth and how close decoding comes to it.
//
//   smoe-bench -m FILE -p 512 -n 128 [-d DEPTH] -t T [-r REPS] [--json]
//
// Decode bandwidth efficiency = (weight bytes read per generated token x tokens/s) / measured
// read bandwidth, per repetition with a bandwidth pass right after it; the median is reported.
// At a depth, also with the KV cache bytes attention reads per token added to the weights'. Bytes per token: every non-expert matrix, k experts per layer (the router's
// top-k; each expert's bytes are the average over its layer), one embedding row.
//
// Prefill compute efficiency = (2 x weights multiplied per token x prompt tokens/s) / the
// prompt path's measured peak: ops::gemm on this file's first expert matrix with 512 tokens,
// the same decode-and-multiply the prompt runs, in the same run.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "format/container.h"
#include "disk_bandwidth.h"
#include "expert_cache_report.h"
#include "memory_bandwidth.h"
#include "weight_loading_flags.h"
#include "ops/gemm.h"
#include "runtime/model_impl.h"
#include "util/memory.h"
#include "smoe/smoe.h"

namespace {

using namespace smoe;
using Clock = std::chrono::steady_clock;

struct Summary {
  double median = 0, min = 0, max = 0;
};

Summary summarize(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {values[values.size() / 2], values.front(), values.back()};
}

// Weight bytes one decoded token reads.
double weight_bytes_per_token(const format::Container& container) {
  const Hyperparameters& hp = container.metadata().hyperparameters;
  double bytes = 0;
  for (const format::TensorView& tensor : container.tensors()) {
    if (tensor.name.find(".experts.") != std::string::npos || tensor.type == quant::TensorType::u8) continue;
    if (tensor.name == "token_embd") {
      bytes += double(tensor.bytes) / double(tensor.shape[0]);  // one row
      continue;
    }
    bytes += double(tensor.bytes);
  }
  for (const format::ExpertRange& range : container.expert_ranges()) {
    bytes += double(range.bytes) * hp.num_experts_per_tok / hp.num_local_experts;
  }
  return bytes;
}

// Bytes of the file's weights by stored type ("q4k_x8", "q8", ...): which layouts a run
// measured (files from converters before the interleaved layouts decode slower, docs/FORMAT.md).
std::map<std::string, uint64_t> weight_bytes_by_type(const format::Container& container) {
  std::map<std::string, uint64_t> bytes;
  for (const format::TensorView& tensor : container.tensors()) {
    if (tensor.type != quant::TensorType::u8) bytes[std::string(quant::type_name(tensor.type))] += tensor.bytes;
  }
  return bytes;
}

// Multiply-adds x 2 per token of a prompt: every matrix but the embedding (a row lookup),
// k experts per layer.
double weight_flops_per_token(const format::Container& container) {
  const Hyperparameters& hp = container.metadata().hyperparameters;
  double weights = 0;
  for (const format::TensorView& tensor : container.tensors()) {
    if (tensor.shape.size() != 2 || tensor.name == "token_embd" || tensor.type == quant::TensorType::u8) continue;
    const double elements = double(tensor.shape[0]) * double(tensor.shape[1]);
    weights += tensor.name.find(".experts.") != std::string::npos
                   ? elements * hp.num_experts_per_tok / hp.num_local_experts
                   : elements;
  }
  return 2 * weights;
}

// FLOP/s of the prompt path (ops::gemm) on the first expert's w1 with `tokens` tokens.
double measure_prompt_peak(const format::Container& container, size_t tokens, const ops::CpuContext& cpu) {
  const format::TensorView& w = *container.expert_range(0, 0).w1;
  const size_t rows = w.shape[0], in = w.shape[1];
  std::vector<float> x(tokens * in), y(tokens * rows);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 17) - 8) * 0.01f;
  std::vector<double> rates;
  for (int pass = 0; pass < 4; ++pass) {
    const auto start = Clock::now();
    ops::gemm(w, x.data(), tokens, y.data(), cpu);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (pass > 0) rates.push_back(2.0 * double(tokens) * double(rows) * double(in) / seconds);  // pass 0 warms up
  }
  return summarize(rates).median;
}

std::vector<int32_t> synthetic_prompt(size_t count, uint32_t vocab) {
  std::vector<int32_t> tokens(count);
  for (size_t i = 0; i < count; ++i) tokens[i] = static_cast<int32_t>(3 + (i * 7919) % (vocab - 3));
  return tokens;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smoe-bench: prompt and generation speed against the machine's memory bandwidth", "smoe-bench"};
  std::string model_path;
  size_t prompt_tokens = 512, generate_tokens = 128, depth = 0;
  int threads = 0, repetitions = 3;
  bool json = false;
  app.add_option("-m,--model", model_path, "the .smoe file")->required();
  app.add_option("-p,--n-prompt", prompt_tokens, "prompt tokens evaluated as one batch (0 = skip)")->capture_default_str();
  app.add_option("-n,--n-gen", generate_tokens, "tokens generated one by one (0 = skip)")->capture_default_str();
  app.add_option("-d,--depth", depth, "tokens already in the context before measuring")->capture_default_str();
  app.add_option("-t,--threads", threads, "threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("-r,--repetitions", repetitions, "repetitions (median reported)")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", json, "print one JSON object");
  std::string kv = "f16";
  uint64_t gpu_memory = 0;
  ModelOptions options;
  cli::WeightLoadingFlags weight_flags;
  weight_flags.add_to(app, options);
  bool no_lookahead = false;
  std::string cache_policy = "frequency";
  app.add_option("--cache-policy", cache_policy, "expert cache replacement: frequency, lru or random")
      ->check(CLI::IsMember({"frequency", "lru", "random"}))
      ->capture_default_str();
  app.add_flag("--no-lookahead", no_lookahead, "expert cache: do not read the next layer's likely experts ahead");
  app.add_option("--gpu-mem", gpu_memory, "accelerator memory for the hottest experts, e.g. 8G (0 = CPU only)")
      ->transform(CLI::AsSizeValue(false));
  uint64_t ram = 0;
  app.add_option("--ram", ram, "memory for the weights read in and the KV cache, e.g. 12G (default: the cgroup's "
                               "limit or the free memory)")
      ->transform(CLI::AsSizeValue(false));
  std::string backend = "cuda";
  app.add_option("--backend", backend, "backend plugin name (libsmoe-NAME.so)")->capture_default_str();
  size_t batch = 1;
  app.add_option("-b,--batch", batch,
                 "sessions decoded together (Session::eval_together): aggregate generation tokens/s of all of them")
      ->capture_default_str()->check(CLI::PositiveNumber);
  float moe_min_weight = 0.0f;
  app.add_option("--moe-min-weight", moe_min_weight,
                 "skip chosen experts after the first whose routing weight is below this (0 = off)")
      ->check(CLI::Range(0.0f, 0.999f));
  std::string isa, prefetch, prompt_products;
  app.add_option("--isa", isa, "kernel level below this CPU's best: scalar, avx2, avx2-vnni, avx512, avx512-vnni, neon, "
                               "neon-dotprod (default: the best; SMOE_ISA where set)");
  app.add_option("--prefetch", prefetch, "x86 kernels' prefetch variant: software or hardware (default: this CPU's "
                                         "measured choice; SMOE_PREFETCH where set)");
  app.add_option("--prompt-products", prompt_products,
                 "how prompts multiply quantized weights: amx (the best), int8 (never AMX) or onednn (SMOE_PROMPT)");
  app.add_option("--kv", kv, "KV cache type: f16, f32 or q8")->check(CLI::IsMember({"f16", "f32", "q8"}))->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  try {
    options.threads = threads;
    options.kv_type = *parse_kv_type(kv);  // --kv accepts only these names
    options.gpu_memory = gpu_memory;
    options.ram_budget = ram;
    options.backend = backend;
    options.isa = isa;
    options.moe_min_weight = moe_min_weight;
    options.prefetch = prefetch;
    options.prompt_products = prompt_products;
    options.weight_loading = weight_flags.loading();
    options.planned_sessions = static_cast<uint32_t>(batch);
    options.expert_cache_policy = cache_policy == "lru"      ? ExpertCachePolicy::lru
                                  : cache_policy == "random" ? ExpertCachePolicy::random
                                                             : ExpertCachePolicy::frequency;
    options.expert_lookahead = !no_lookahead;
    options.context_size = static_cast<uint32_t>(std::max<size_t>(depth + prompt_tokens + generate_tokens + 2, 16));
    if (!json) options.load_progress = terminal_load_progress(model_path);
    const auto load_start = Clock::now();
    const auto model = Model::load(model_path, options);
    const double load_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
    const format::Container container = format::Container::open(model_path);
    const ModelInfo& info = model->info();
    const uint32_t vocab = info.hyperparameters.vocab_size;
    const std::vector<int32_t> context = synthetic_prompt(depth, vocab);
    const std::vector<int32_t> prompt = synthetic_prompt(prompt_tokens, vocab);
    auto session = model->create_session();
    // The other sessions of a batch (--batch): each decodes its own sequence beside `session`.
    std::vector<std::unique_ptr<Session>> others;
    for (size_t i = 1; i < batch; ++i) others.push_back(model->create_session());
    // The read probe's buffer: 1 GiB, or a quarter of what the memory budget still allows after
    // loading (at least 64 MiB, well beyond the caches), so that under a memory limit the
    // benchmark is not killed by its own probe.
    const uint64_t left = memory_budget(ram).bytes.value_or(uint64_t{1} << 30);
    const bench::ReadBandwidthProbe probe(info.threads,
                                          std::clamp<uint64_t>(left / 4, uint64_t{64} << 20, uint64_t{1} << 30));

    const bool from_disk = info.weight_loading == WeightLoading::expert_cache;
    std::unique_ptr<bench::DiskReadProbe> disk_probe;
    if (from_disk) disk_probe = std::make_unique<bench::DiskReadProbe>(container);
    // Per generation repetition with an expert cache: its statistics' change, the disk's rate.
    std::vector<ExpertCacheStats> cache_runs;
    std::vector<double> disk_rates, generate_seconds;

    // The read bandwidth is measured after every generation repetition, and each repetition's
    // efficiency uses its own measurement (a shared machine's speed drifts over a run).
    std::vector<double> prompt_rates, generate_rates, bandwidths, efficiencies, efficiencies_with_kv;
    // The depth context is evaluated once and restored before every measurement.
    session->reset();
    if (depth > 0) session->eval(context);
    const SessionSnapshot at_depth = session->snapshot();
    const auto restore_depth = [&] { session->restore(at_depth); };
    const double bytes_per_token = weight_bytes_per_token(container);
    // Attention reads the cache of every position before the new one: on average depth plus
    // half the generated tokens. At depth, efficiency counting these bytes too shows whether
    // decoding slows by more than the extra bytes explain.
    const double kv_bytes_per_position = double(info.kv_cache_bytes) / double(info.context_size);
    const double kv_bytes_per_token = kv_bytes_per_position * (double(depth) + 1 + double(generate_tokens) / 2);
    for (int repetition = 0; repetition <= repetitions; ++repetition) {  // repetition 0 warms up
      if (prompt_tokens > 0) {
        restore_depth();
        const auto start = Clock::now();
        session->eval(prompt);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (repetition > 0) prompt_rates.push_back(double(prompt_tokens) / seconds);
      }
      if (generate_tokens > 0 && batch > 1) {
        // Every session at the same depth, each starting from its own token, then greedy
        // decoding of all of them together.
        std::vector<Session*> sessions = {session.get()};
        for (auto& other : others) sessions.push_back(other.get());
        std::vector<int32_t> tokens(batch);
        for (size_t i = 0; i < batch; ++i) {
          sessions[i]->restore(at_depth);
          const int32_t first[1] = {static_cast<int32_t>(1 + i)};
          sessions[i]->eval(first);
          tokens[i] = static_cast<int32_t>(3 + i);
        }
        const auto start = Clock::now();
        for (size_t step = 0; step < generate_tokens; ++step) {
          Session::eval_together(sessions, tokens);
          for (size_t i = 0; i < batch; ++i) {
            const std::span<const float> logits = sessions[i]->logits();
            tokens[i] = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
          }
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (repetition > 0) {
          generate_rates.push_back(double(generate_tokens * batch) / seconds);
          bandwidths.push_back(probe.measure(5));
          efficiencies.push_back(0);
          efficiencies_with_kv.push_back(0);
        }
      } else if (generate_tokens > 0) {
        restore_depth();
        const std::vector<int32_t> first = {1};
        session->eval(first);
        int32_t token = 3;
        const ExpertCacheStats cache_before = model->expert_cache_stats();
        const auto start = Clock::now();
        for (size_t i = 0; i < generate_tokens; ++i) {
          const int32_t next[1] = {token};
          const std::span<const float> logits = session->eval(next);
          token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (repetition > 0) {
          generate_rates.push_back(double(generate_tokens) / seconds);
          bandwidths.push_back(probe.measure(5));
          efficiencies.push_back(bytes_per_token * generate_rates.back() / bandwidths.back());
          efficiencies_with_kv.push_back((bytes_per_token + kv_bytes_per_token) * generate_rates.back() / bandwidths.back());
          generate_seconds.push_back(seconds);
          if (from_disk) {
            cache_runs.push_back(bench::difference(model->expert_cache_stats(), cache_before));
            disk_rates.push_back(disk_probe->measure());
          }
        }
      }
    }
    if (bandwidths.empty()) bandwidths.push_back(probe.measure());
    const double bandwidth = summarize(bandwidths).median;
    const double huge_pages = model->weights_in_huge_pages();
    const std::map<std::string, uint64_t> bytes_by_type = weight_bytes_by_type(container);
    nlohmann::json result = {
        {"model", model_path},
        {"file_bytes", info.file_bytes},
        {"threads", info.threads},
        {"isa", info.kernels.substr(0, info.kernels.find('+'))},
        {"prompt_products", info.prompt_products},
        {"prefetch", info.kernels.find("+prefetch") != std::string::npos ? "software" : "hardware"},
        {"depth", depth},
        {"kv", kv},
        {"backend", info.backend},
        {"weights", info.weight_loading == WeightLoading::read ? "read" : "mapped"},
        {"load_seconds", load_seconds},
        {"memory_budget_bytes", info.memory_budget},
        {"memory_budget_source", info.memory_budget_source},
        {"weights_in_huge_pages", huge_pages},
        {"offloaded_experts", info.offloaded_experts},
        {"kv_cache_bytes", info.kv_cache_bytes},
        {"read_bandwidth_gb_s", bandwidth / 1e9},
        {"weight_bytes_per_token", bytes_per_token},
        {"weight_bytes_by_type", bytes_by_type},
    };
    if (!prompt_rates.empty()) {
      const Summary pp = summarize(prompt_rates);
      const double peak = measure_prompt_peak(container, std::max<size_t>(prompt_tokens, ops::kGemmMinTokens),
                                             {ModelInternals::of(*model).cpu_plan, info.threads});
      const double flops_per_token = weight_flops_per_token(container);
      result["prompt_gemm_peak_gflop_s"] = peak / 1e9;
      result["prompt_flops_per_token"] = flops_per_token;
      result["prompt_gflop_s"] = flops_per_token * pp.median / 1e9;
      result["prompt_compute_efficiency"] = flops_per_token * pp.median / peak;
      result["prompt_tokens"] = prompt_tokens;
      result["prompt_tokens_per_s"] = pp.median;
      result["prompt_tokens_per_s_min"] = pp.min;
      result["prompt_tokens_per_s_max"] = pp.max;
    }
    if (!generate_rates.empty()) {
      const Summary tg = summarize(generate_rates);
      result["gen_tokens"] = generate_tokens;
      result["batch"] = batch;
      result["gen_tokens_per_s"] = tg.median;
      result["gen_tokens_per_s_min"] = tg.min;
      result["gen_tokens_per_s_max"] = tg.max;
      result["decode_bandwidth_gb_s"] = bytes_per_token * tg.median / 1e9;
      result["decode_bandwidth_efficiency"] = summarize(efficiencies).median;
      result["kv_bytes_per_token"] = kv_bytes_per_token;
      result["decode_bandwidth_efficiency_with_kv"] = summarize(efficiencies_with_kv).median;
      result["kv_cache_in_huge_pages"] = session->kv_cache_in_huge_pages();
      if (moe_min_weight > 0) {  // the share of chosen experts adaptive top-k skipped
        const RunStats& stats = session->stats();
        uint64_t run = 0;
        for (const uint64_t count : stats.expert_counts) run += count;
        result["experts_skipped_share"] =
            double(stats.skipped_experts) / double(std::max<uint64_t>(1, run + stats.skipped_experts));
      }
    }
    if (from_disk) {
      result["weights"] = "expert cache";
      result["resident_weight_bytes"] = info.resident_weight_bytes;
      result["expert_cache_slots"] = info.expert_cache_slots;
      result["expert_slot_bytes"] = info.expert_slot_bytes;
      result["direct_reads"] = info.direct_reads;
      result["cache_policy"] = cache_policy;
      result["lookahead"] = !no_lookahead;
      if (!cache_runs.empty()) bench::add_expert_cache_results(result, cache_runs, disk_rates, generate_seconds, generate_tokens);
    }
    if (gpu_memory > 0) {
      // Hot placement beats blind placement when the device serves a larger share of the
      // expert runs than it holds of the expert bytes.
      const OffloadStats stats = model->offload_stats();
      double expert_bytes = 0;
      for (const format::ExpertRange& range : container.expert_ranges()) expert_bytes += double(range.bytes);
      const uint64_t runs = stats.device_runs + stats.cpu_runs;
      result["device_resident_experts"] = stats.resident_experts;
      result["device_expert_byte_share"] = expert_bytes > 0 ? double(stats.resident_bytes) / expert_bytes : 0.0;
      result["device_hit_rate"] = runs > 0 ? double(stats.device_runs) / double(runs) : 0.0;
      result["device_concurrent_steps"] = stats.concurrent_steps;
    }
    if (json) {
      std::cout << result.dump() << "\n";
    } else {
      std::printf("model %s (%.2f GiB), %d threads, kernels %s, prompt products %s, depth %zu\n", model_path.c_str(),
                  double(info.file_bytes) / (1u << 30), info.threads, info.kernels.c_str(),
                  info.prompt_products.c_str(), depth);
      std::printf("memory budget            %.2f GiB (%s)\n", double(info.memory_budget) / (1u << 30),
                  info.memory_budget_source.c_str());
      if (from_disk) {
        std::printf("weights                  %.0f MB read into memory; experts from disk into %u slots of %.0f MB (%s "
                    "reads), policy %s, lookahead %s\n",
                    double(info.resident_weight_bytes) / 1e6, info.expert_cache_slots, double(info.expert_slot_bytes) / 1e6,
                    info.direct_reads ? "direct" : "buffered", cache_policy.c_str(), no_lookahead ? "off" : "on");
      } else {
        std::printf("weights                  %s, %.0f%% in 2 MiB pages\n",
                    info.weight_loading == WeightLoading::read ? "read into memory" : "mapped", 100 * std::max(0.0, huge_pages));
      }
      std::printf("load                     %.2f s (%.2f GB/s of weights read into memory)\n", load_seconds,
                  double(info.resident_weight_bytes) / 1e9 / load_seconds);
      std::printf("memory read bandwidth    %8.1f GB/s (measured beside each repetition: median over %zu)\n",
                  bandwidth / 1e9, bandwidths.size());
      std::printf("weight bytes per token   %8.1f MB\n", bytes_per_token / 1e6);
      std::string types;
      uint64_t total = 0;
      for (const auto& [type, bytes] : bytes_by_type) total += bytes;
      for (const auto& [type, bytes] : bytes_by_type) {
        char share[64];
        std::snprintf(share, sizeof(share), "%s%s %.1f%%", types.empty() ? "" : ", ", type.c_str(),
                      100.0 * double(bytes) / double(std::max<uint64_t>(total, 1)));
        types += share;
      }
      std::printf("weight types             %s of the weight bytes\n", types.c_str());
      if (gpu_memory > 0) {
        std::printf("backend                  %s: %u experts resident (%.0f%% of expert bytes), served %.0f%% of expert "
                    "runs, %llu steps with CPU and device experts at once\n",
                    info.backend.empty() ? "none" : info.backend.c_str(), result["device_resident_experts"].get<uint32_t>(),
                    100 * result["device_expert_byte_share"].get<double>(), 100 * result["device_hit_rate"].get<double>(),
                    static_cast<unsigned long long>(result["device_concurrent_steps"].get<uint64_t>()));
      }
      if (!prompt_rates.empty()) {
        std::printf("pp%-5zu %10.2f tok/s  (min %.2f, max %.2f, %d runs)  %.0f GFLOP/s = %.0f%% of the prompt path's "
                    "peak (%.0f GFLOP/s)\n",
                    prompt_tokens, result["prompt_tokens_per_s"].get<double>(),
                    result["prompt_tokens_per_s_min"].get<double>(), result["prompt_tokens_per_s_max"].get<double>(),
                    repetitions, result["prompt_gflop_s"].get<double>(),
                    100 * result["prompt_compute_efficiency"].get<double>(), result["prompt_gemm_peak_gflop_s"].get<double>());
      }
      if (!generate_rates.empty() && batch > 1) {
        std::printf("tg%-5zu %10.2f tok/s  (min %.2f, max %.2f, %d runs), %zu sessions decoded together, all of them\n",
                    generate_tokens, result["gen_tokens_per_s"].get<double>(), result["gen_tokens_per_s_min"].get<double>(),
                    result["gen_tokens_per_s_max"].get<double>(), repetitions, batch);
      } else if (!generate_rates.empty()) {
        std::printf("tg%-5zu %10.2f tok/s  (min %.2f, max %.2f, %d runs)  %.1f GB/s = %.0f%% of read bandwidth (median of runs)\n",
                    generate_tokens, result["gen_tokens_per_s"].get<double>(), result["gen_tokens_per_s_min"].get<double>(),
                    result["gen_tokens_per_s_max"].get<double>(), repetitions,
                    result["decode_bandwidth_gb_s"].get<double>(), 100 * result["decode_bandwidth_efficiency"].get<double>());
        if (result.contains("expert_cache_hit_rate")) bench::print_expert_cache_results(result);
        if (result.contains("experts_skipped_share")) {
          std::printf("       experts skipped by --moe-min-weight: %.1f%% of the chosen\n",
                      100 * result["experts_skipped_share"].get<double>());
        }
        if (depth > 0) {
          std::printf("       with the KV cache's %.1f MB per token: %.0f%% of read bandwidth (cache %.0f%% in 2 MiB pages)\n",
                      kv_bytes_per_token / 1e6, 100 * result["decode_bandwidth_efficiency_with_kv"].get<double>(),
                      100 * std::max(0.0, result["kv_cache_in_huge_pages"].get<double>()));
        }
      }
    }
  } catch (const Error& error) {
    std::fprintf(stderr, "smoe-bench: error: %s\n", error.what());
    return 1;
  }
  return 0;
}
