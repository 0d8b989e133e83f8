// Loading a model: map and validate the container, bind weights, load the tokenizer.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "ops/cpu_plan.h"
#include "runtime/model_impl.h"
#include "runtime/weight_placement.h"
#include "smoe/error.h"
#include "util/memory.h"

namespace smoe {

namespace {

// The SentencePiece model with the container's special tokens. Generation also ends at the
// template's turn end ("<|im_end|>" in ChatML) and at the string the template calls eos_token,
// when they are special tokens the template writes.
std::unique_ptr<Tokenizer> load_tokenizer(const format::Container& container, const std::string& path,
                                          const std::string& template_source) {
  const format::Metadata& metadata = container.metadata();
  const Hyperparameters& hp = metadata.hyperparameters;
  TokenizerConfig config = metadata.tokenizer;
  config.vocab_size = static_cast<int32_t>(hp.vocab_size);
  config.bos_id = static_cast<int32_t>(hp.bos_token_id);
  config.eos_id = static_cast<int32_t>(hp.eos_token_id);
  const std::span<const std::byte> bytes = container.tokenizer_model();
  const std::string_view model_bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto tokenizer = std::make_unique<Tokenizer>(model_bytes, path, config);
  std::vector<std::string> turn_ends = {"<|im_end|>", "<|eot_id|>", "<|end|>", "<|end_of_turn|>", "<end_of_turn>"};
  if (const auto eos = metadata.template_variables.find("eos_token"); eos != metadata.template_variables.end()) {
    turn_ends.push_back(eos->second);
  }
  const size_t configured = config.end_ids.size();
  for (const std::string& end : turn_ends) {
    const int32_t id = tokenizer->special_id(end);
    if (id >= 0 && template_source.find(end) != std::string::npos && !tokenizer->is_end(id)) config.end_ids.push_back(id);
  }
  if (config.end_ids.size() == configured) return tokenizer;
  return std::make_unique<Tokenizer>(model_bytes, path, config);
}

}  // namespace

namespace {

// ModelOptions' CPU overrides where set, else the environment's; a bad name or a level this
// CPU lacks is the caller's error.
ops::CpuPlan resolve_cpu_plan(const ModelOptions& options, const std::string& path) {
  try {
    const ops::CpuOverrides given{.isa = ops::parse_isa_override(options.isa),
                                  .prefetch = ops::parse_prefetch_override(options.prefetch),
                                  .prompt = ops::parse_prompt_override(options.prompt_products)};
    return ops::make_cpu_plan(quant::cpu_features(), ops::merge(given, ops::cpu_overrides_from_environment()));
  } catch (const std::invalid_argument& e) {
    throw Error(path, std::string("CPU options: ") + e.what());
  }
}

}  // namespace

std::string describe_weight_loading(const ModelInfo& info) {
  switch (info.weight_loading) {
    case WeightLoading::read:
      return "read into memory";
    case WeightLoading::expert_cache: {
      char text[160];
      std::snprintf(text, sizeof(text), "expert cache: %.0f MB in memory, experts from disk into %u slots of %.0f MB",
                    double(info.resident_weight_bytes) / 1e6, info.expert_cache_slots, double(info.expert_slot_bytes) / 1e6);
      return text;
    }
    default:
      return "mapped";
  }
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& path, const ModelOptions& options) {
  if (options.threads < 0) throw Error(path, "threads must be 0 (all cores) or positive, got " + std::to_string(options.threads));
  if (!(options.moe_min_weight >= 0.0f && options.moe_min_weight < 1.0f)) {
    throw Error(path, "moe_min_weight must be in [0, 1), got " + std::to_string(options.moe_min_weight));
  }
  const MemoryBudget budget = memory_budget(options.ram_budget);
  format::Container container = format::Container::open(path);  // mapped: validated before deciding
  const Hyperparameters hp = container.metadata().hyperparameters;
  const uint32_t context = session_context(hp, options);
  if (context > hp.max_position_embeddings) {
    throw Error(path, "context size " + std::to_string(context) + " exceeds the model's maximum of " +
                          std::to_string(hp.max_position_embeddings) + " positions");
  }
  const uint64_t kv_cache_bytes = session_kv_cache_bytes(hp, context, options.kv_type);
  const WeightPlacement placement =
      place_weights(options, budget,
                    {.file_bytes = container.file_bytes(),
                     .non_expert_bytes = container.non_expert_bytes(),
                     .expert_slot_bytes = backend::ExpertCache::slot_bytes(container),
                     .kv_cache_bytes = kv_cache_bytes * std::max<uint32_t>(1, options.planned_sessions),
                     .experts = static_cast<uint32_t>(container.expert_ranges().size()),
                     .experts_per_token = hp.num_experts_per_tok},
                    path);
  uint64_t resident_weight_bytes = 0;
  if (placement.loading != WeightLoading::map) {
    resident_weight_bytes = container.read_into_memory(placement.loading == WeightLoading::read, options.load_progress);
  }

  auto impl = std::unique_ptr<Impl>(new Impl{.container = std::move(container), .ram_option = options.ram_budget});
  impl->cpu_plan = resolve_cpu_plan(options, path);
  impl->weights = model::ModelWeights::bind(impl->container);
  impl->routing_statistics = std::make_unique<model::RoutingStatistics>(hp.num_hidden_layers, hp.num_local_experts);
  // A calibration's routing counts, where the converter stored them, are the statistics' start:
  // the tiers place by them before the first token.
  impl->routing_statistics->seed_profile(format::routing_profile(impl->container.metadata()), hp.num_experts_per_tok);
  const format::Metadata& metadata = impl->container.metadata();
  const std::string& template_source = options.chat_template.empty() ? metadata.chat_template : options.chat_template;
  impl->tokenizer = load_tokenizer(impl->container, path, template_source);
  std::map<std::string, std::string> variables = metadata.template_variables;
  for (const auto& [name, id] : {std::pair{"bos_token", hp.bos_token_id}, std::pair{"eos_token", hp.eos_token_id}}) {
    if (!variables.contains(name)) variables[name] = impl->tokenizer->token_bytes(int32_t(id), true);
  }
  try {
    impl->chat_template = ChatTemplate(template_source, std::move(variables));
  } catch (const Error& error) {
    throw Error(path, std::string(options.chat_template.empty() ? "its chat template: " : "the given chat template: ") +
                          error.what());
  }
  ModelInfo& info = impl->info;
  info.path = path;
  info.file_bytes = impl->container.file_bytes();
  info.hyperparameters = hp;
  info.recipe = impl->container.metadata().recipe.value("type", "");
  info.context_size = context;
  info.kv_type = options.kv_type;
  info.moe_min_weight = options.moe_min_weight;
  info.threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  info.kv_cache_bytes = kv_cache_bytes;
  info.kernels = impl->cpu_plan.kernels_name();
  info.prompt_products = impl->cpu_plan.prompt_products();
  info.weight_loading = placement.loading;
  info.resident_weight_bytes = resident_weight_bytes;
  if (placement.loading == WeightLoading::expert_cache) {
    impl->expert_cache =
        std::make_unique<backend::ExpertCache>(impl->container, placement.expert_slots, options.expert_cache_policy,
                                               options.expert_lookahead, *impl->routing_statistics);
    info.expert_cache_slots = impl->expert_cache->slots();
    info.expert_slot_bytes = impl->expert_cache->slot_size();
    info.direct_reads = impl->expert_cache->direct_reads();
  }
  info.memory_budget = budget.bytes.value_or(0);
  info.memory_budget_source = budget.source;
  if (options.gpu_memory > 0) {
    std::string why;
    std::unique_ptr<backend::Plugin> plugin = backend::Plugin::load(options.backend, why);
    if (!plugin) {
      std::fprintf(stderr, "smoe: no %s backend (%s); running on the CPU\n", options.backend.c_str(), why.c_str());
    } else {
      // The top tier over the expert cache, when there is one: uploads read experts through its
      // slots (never a second path to the file), and its slots go to the experts the CPU runs.
      impl->offload = std::make_unique<backend::ExpertOffload>(
          std::move(plugin), impl->info.hyperparameters, impl->weights, options.gpu_memory, *impl->routing_statistics,
          format::routing_profile(impl->container.metadata()), impl->expert_cache.get());
      info.backend = impl->offload->description();
      info.offloaded_experts = impl->offload->resident_experts();
      info.offloaded_bytes = impl->offload->resident_bytes();
    }
  }

  auto model = std::shared_ptr<Model>(new Model(std::move(impl)));
  model->self_ = model;
  return model;
}

const ModelInfo& Model::info() const { return impl_->info; }
OffloadStats Model::offload_stats() const {
  OffloadStats stats;
  if (const backend::ExpertOffload* offload = impl_->offload.get()) {
    stats.device_runs = offload->hits();
    stats.cpu_runs = offload->misses();
    stats.concurrent_steps = offload->concurrent_steps();
    stats.resident_experts = offload->resident_experts();
    stats.resident_bytes = offload->resident_bytes();
  }
  return stats;
}

ExpertCacheStats Model::expert_cache_stats() const {
  return impl_->expert_cache ? impl_->expert_cache->stats() : ExpertCacheStats{};
}

double Model::weights_in_huge_pages() const { return impl_->container.mapping().huge_page_fraction(); }
const Tokenizer& Model::tokenizer() const { return *impl_->tokenizer; }
const ChatTemplate& Model::chat_template() const { return impl_->chat_template; }

std::unique_ptr<Session> Model::create_session() const {
  const std::shared_ptr<const Model> self = self_.lock();
  const Hyperparameters& hp = impl_->info.hyperparameters;
  // Checked before allocating: a context too large for this machine is an error, not an OOM kill.
  require_memory(impl_->info.kv_cache_bytes, memory_budget(impl_->ram_option).bytes, impl_->info.path,
                 "the KV cache for a context of " + std::to_string(impl_->info.context_size) + " tokens",
                 "use a smaller context (-c) or --kv q8");
  try {
    auto impl = std::unique_ptr<Session::Impl>(new Session::Impl{
        .model = self,
        .model_impl = impl_.get(),
        .cache = model::KvCache(hp.num_hidden_layers, impl_->info.context_size, hp.num_key_value_heads * hp.head_dim,
                                hp.head_dim, impl_->info.kv_type),
        .transformer = model::Transformer(hp, impl_->weights, impl_->info.moe_min_weight),
    });
    impl->stats.expert_counts.assign(size_t{hp.num_hidden_layers} * hp.num_local_experts, 0);
    impl->transformer.set_expert_runner(impl_->offload.get());
    impl->transformer.set_expert_store(impl_->expert_cache.get());
    impl->transformer.set_routing_statistics(impl_->routing_statistics.get());
    return std::unique_ptr<Session>(new Session(std::move(impl)));
  } catch (const std::bad_alloc&) {
    throw Error(impl_->info.path, "not enough memory for a KV cache of " + std::to_string(impl_->info.kv_cache_bytes) +
                                      " bytes (lower the context size)");
  }
}

}  // namespace smoe
