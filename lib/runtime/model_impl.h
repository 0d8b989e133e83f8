// Internals of smoe::Model and smoe::Session shared by lib/runtime.
#pragma once

#include <memory>
#include <random>

#include "backend/expert_cache.h"
#include "backend/expert_offload.h"
#include "format/container.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/transformer.h"
#include "ops/cpu_plan.h"
#include "smoe/model.h"
#include "smoe/sampler.h"
#include "smoe/session.h"

namespace smoe {

struct Model::Impl {
  format::Container container;
  model::ModelWeights weights;
  ModelInfo info;
  std::unique_ptr<Tokenizer> tokenizer;
  ChatTemplate chat_template;
  ops::CpuPlan cpu_plan;                              // which kernels run, decided at load
  // How often each expert was chosen lately: the forward pass records, the offload and the
  // expert cache place by it. Behind a pointer: those two keep references to it.
  std::unique_ptr<model::RoutingStatistics> routing_statistics;
  // The expert tiers, VRAM -> RAM -> disk. The offload reads its uploads through the expert
  // cache when there is one, so it is declared after it (and destroyed before it).
  std::unique_ptr<backend::ExpertCache> expert_cache;  // WeightLoading::expert_cache only
  std::unique_ptr<backend::ExpertOffload> offload;     // null: CPU only
  uint64_t ram_option = 0;  // ModelOptions::ram_budget, for the KV cache check of each session
};

struct Session::Impl {
  std::shared_ptr<const Model> model;  // keeps the mapping alive
  const Model::Impl* model_impl = nullptr;  // model's
  model::KvCache cache;
  model::Transformer transformer;
  std::vector<int32_t> tokens;
  std::vector<float> logits;
  RunStats stats;
  RoutingCallback routing_callback;
  // The sampler's stream across generate() calls (see Session::generate).
  bool rng_started = false;
  uint64_t rng_seed = 0;
  std::mt19937_64 rng;
};

struct SessionSnapshot::Data {
  uint64_t model_checksum = 0;  // the container's index checksum: the model's identity
  uint64_t model_bytes = 0;
  KvType kv_type = KvType::f16;
  std::vector<int32_t> tokens;
  std::vector<float> logits;    // after the last token (vocab,), or empty
  std::vector<std::byte> kv;    // KvCache::export_positions(tokens.size())
  bool rng_started = false;
  uint64_t rng_seed = 0;
  std::mt19937_64 rng;
};

// Access to the implementations for lib/ and the tests.
struct ModelInternals {
  static const Model::Impl& of(const Model& model) { return *model.impl_; }
};
struct SessionInternals {
  static Session::Impl& of(Session& session) { return *session.impl_; }
};

}  // namespace smoe
