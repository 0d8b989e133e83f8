// Internals of smoe::Model and smoe::Session shared by lib/runtime.
#pragma once

#include <memory>

#include "format/container.h"
#include "model/model_weights.h"
#include "model/transformer.h"
#include "runtime/kv_cache.h"
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
};

struct Session::Impl {
  std::shared_ptr<const Model> model;  // keeps the mapping alive
  runtime::KvCache cache;
  model::Transformer transformer;
  std::vector<int32_t> tokens;
  std::vector<float> logits;
  RunStats stats;
  RoutingCallback routing_callback;
};

// Access to a session's implementation for library-internal tools (calibration).
struct SessionInternals {
  static Session::Impl& of(Session& session) { return *session.impl_; }
};

}  // namespace smoe
