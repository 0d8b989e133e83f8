// Field-by-field checks of OpenAI request bodies. nlohmann's typed accessors would throw its own
// type_error; each field is checked here instead, so the message and `param` name it.
#include "openai_request.h"

#include <cmath>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "api_error.h"
#include "smoe/error.h"

namespace smoe::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxStopStrings = 16;
// Deeper bodies are refused while parsing: writing or walking a value recurses once per level,
// and a 4 MiB body of brackets would overflow the stack. Real requests nest a few levels.
constexpr int kMaxNesting = 64;

json parse_object(std::string_view body) {
  json root;
  const json::parser_callback_t limit_depth = [](int depth, json::parse_event_t event, json&) {
    if (depth >= kMaxNesting && (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start)) {
      throw bad_request("the body nests deeper than " + std::to_string(kMaxNesting) + " levels");
    }
    return true;
  };
  try {
    root = json::parse(body, limit_depth);
  } catch (const json::exception& error) {  // parse_error, or out_of_range for a number like 1e999
    throw bad_request(std::string("the body is not valid JSON: ") + error.what());
  }
  if (!root.is_object()) throw bad_request("the body must be a JSON object");
  return root;
}

// The field `name` when present and not null.
const json* field(const json& root, const char* name) {
  const auto it = root.find(name);
  return it == root.end() || it->is_null() ? nullptr : &*it;
}

double number_in(const json& root, const char* name, double low, double high, double fallback) {
  const json* value = field(root, name);
  if (!value) return fallback;
  if (!value->is_number()) throw bad_request(std::string("'") + name + "' must be a number", name);
  const double number = value->get<double>();
  if (!(number >= low && number <= high)) {
    throw bad_request(std::string("'") + name + "' must be within [" + json(low).dump() + ", " + json(high).dump() + "]",
                      name);
  }
  return number;
}

std::optional<int64_t> integer(const json& root, const char* name, int64_t low, int64_t high) {
  const json* value = field(root, name);
  if (!value) return std::nullopt;
  if (!value->is_number_integer()) throw bad_request(std::string("'") + name + "' must be an integer", name);
  if (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
    if (high == std::numeric_limits<int64_t>::max()) return high;
    throw bad_request(std::string("'") + name + "' is too large", name);
  }
  const int64_t number = value->get<int64_t>();
  if (number < low) throw bad_request(std::string("'") + name + "' must be at least " + std::to_string(low), name);
  if (number > high) throw bad_request(std::string("'") + name + "' must be at most " + std::to_string(high), name);
  return number;
}

bool boolean(const json& root, const char* name) {
  const json* value = field(root, name);
  if (!value) return false;
  if (!value->is_boolean()) throw bad_request(std::string("'") + name + "' must be true or false", name);
  return value->get<bool>();
}

CompletionParams parse_params(const json& root, const SamplerOptions& defaults) {
  CompletionParams params;
  if (const json* model = field(root, "model")) {
    if (!model->is_string()) throw bad_request("'model' must be a string", "model");
    params.model = model->get<std::string>();
  }
  if (const json* n = field(root, "n"); n && *n != 1) throw bad_request("only n = 1 is supported", "n");
  // max_completion_tokens is the newer name; either sets the cap. The upper bound is checked
  // against the context once the prompt's length is known.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (auto value = integer(root, name, 1, std::numeric_limits<int64_t>::max())) {
      params.max_tokens = int32_t(std::min<int64_t>(*value, std::numeric_limits<int32_t>::max()));
    }
  }
  SamplerOptions& s = params.sampler;
  s = defaults;
  s.temperature = float(number_in(root, "temperature", 0, 2, defaults.temperature));
  s.top_p = float(number_in(root, "top_p", 0, 1, defaults.top_p));
  s.min_p = float(number_in(root, "min_p", 0, 1, defaults.min_p));
  s.repeat_penalty = float(number_in(root, "repeat_penalty", 0.01, 100, defaults.repeat_penalty));
  if (auto top_k = integer(root, "top_k", 0, std::numeric_limits<int32_t>::max())) s.top_k = int32_t(*top_k);
  if (const json* seed = field(root, "seed")) {
    if (!seed->is_number_integer()) throw bad_request("'seed' must be an integer", "seed");
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : uint64_t(seed->get<int64_t>());
  } else {
    s.seed = std::random_device{}();  // as OpenAI: without a seed, each request samples afresh
  }
  // Accepted for compatibility with OpenAI's clients, which send them; not applied.
  number_in(root, "presence_penalty", -2, 2, 0);
  number_in(root, "frequency_penalty", -2, 2, 0);
  if (const json* stop = field(root, "stop")) {
    if (stop->is_string()) {
      params.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array() && stop->size() <= kMaxStopStrings) {
      for (const json& item : *stop) {
        if (!item.is_string()) throw bad_request("'stop' must be a string or a list of strings", "stop");
        params.stop.push_back(item.get<std::string>());
      }
    } else {
      throw bad_request("'stop' must be a string or a list of at most " + std::to_string(kMaxStopStrings) + " strings",
                        "stop");
    }
  }
  params.stream = boolean(root, "stream");
  params.ignore_eos = boolean(root, "ignore_eos");
  if (const json* options = field(root, "stream_options")) {
    if (!options->is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
    params.include_usage = boolean(*options, "include_usage");
  }
  return params;
}

}  // namespace

ChatRequest parse_chat_request(std::string_view body, const SamplerOptions& defaults) {
  const json root = parse_object(body);
  ChatRequest request;
  request.params = parse_params(root, defaults);
  const json* messages = field(root, "messages");
  if (!messages) throw bad_request("'messages' is required", "messages");
  if (!messages->is_array() || messages->empty()) throw bad_request("'messages' must be a non-empty list", "messages");
  try {
    request.messages = chat_messages_from_json(messages->dump(), "messages");
  } catch (const Error& error) {
    throw bad_request(error.what(), "messages");
  }
  // OpenAI's roles. "developer" is its newer name for the system message, which is what chat
  // templates know it as.
  for (size_t i = 0; i < request.messages.size(); ++i) {
    std::string& role = request.messages[i].role;
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      throw bad_request("messages[" + std::to_string(i) + "].role: '" + role +
                            "' is not one of system, developer, user, assistant, tool",
                        "messages");
    }
  }
  if (const json* tools = field(root, "tools")) {
    if (!tools->is_array()) throw bad_request("'tools' must be a list", "tools");
    if (!tools->empty()) request.chat.tools = tools->dump();
  }
  return request;
}

TextRequest parse_completion_request(std::string_view body, const SamplerOptions& defaults) {
  const json root = parse_object(body);
  TextRequest request;
  request.params = parse_params(root, defaults);
  const json* prompt = field(root, "prompt");
  if (!prompt) throw bad_request("'prompt' is required", "prompt");
  if (prompt->is_array() && prompt->size() == 1) prompt = &(*prompt)[0];
  if (!prompt->is_string()) throw bad_request("'prompt' must be a string (or a list of one string)", "prompt");
  request.prompt = prompt->get<std::string>();
  return request;
}

}  // namespace smoe::server
