// Parses the tool calls models write (see tool_calls.h).
#include "tool_calls.h"

#include <nlohmann/json.hpp>

#include "random_id.h"

namespace smoe::server {
namespace {

using nlohmann::json;

constexpr std::string_view kMistralMarker = "[TOOL_CALLS]";
constexpr std::string_view kHermesOpen = "<tool_call>", kHermesClose = "</tool_call>";

// {"name": string, "arguments": object or JSON text} -> a call; nullopt for anything else.
std::optional<ToolCall> call_of(const json& object) {
  if (!object.is_object()) return std::nullopt;
  const auto name = object.find("name");
  if (name == object.end() || !name->is_string() || name->get<std::string>().empty()) return std::nullopt;
  std::string arguments = "{}";
  if (const auto given = object.find("arguments"); given != object.end()) {
    if (given->is_string()) {
      arguments = given->get<std::string>();
    } else if (given->is_object()) {
      arguments = given->dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
      return std::nullopt;
    }
  }
  return ToolCall{random_id("", 9), name->get<std::string>(), std::move(arguments)};
}

std::optional<json> parse_json(std::string_view text) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string_view trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// After [TOOL_CALLS]: a list of calls, or one call.
std::optional<std::vector<ToolCall>> mistral_calls(std::string_view rest) {
  const std::optional<json> value = parse_json(trimmed(rest));
  if (!value) return std::nullopt;
  std::vector<ToolCall> calls;
  if (value->is_array()) {
    for (const json& item : *value) {
      std::optional<ToolCall> call = call_of(item);
      if (!call) return std::nullopt;
      calls.push_back(std::move(*call));
    }
  } else if (std::optional<ToolCall> call = call_of(*value)) {
    calls.push_back(std::move(*call));
  }
  if (calls.empty()) return std::nullopt;
  return calls;
}

// From the first <tool_call>: one or more blocks, nothing but white space between them (a
// missing final close is accepted: the end token may come first).
std::optional<std::vector<ToolCall>> hermes_calls(std::string_view rest) {
  std::vector<ToolCall> calls;
  while (!(rest = trimmed(rest)).empty()) {
    if (rest.substr(0, kHermesOpen.size()) != kHermesOpen) return std::nullopt;
    rest.remove_prefix(kHermesOpen.size());
    const size_t close = rest.find(kHermesClose);
    const std::optional<json> value = parse_json(rest.substr(0, close));
    if (!value) return std::nullopt;
    std::optional<ToolCall> call = call_of(*value);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
    rest = close == std::string_view::npos ? std::string_view() : rest.substr(close + kHermesClose.size());
  }
  if (calls.empty()) return std::nullopt;
  return calls;
}

// Where the first marker starts (npos = none).
size_t first_marker(std::string_view text) {
  size_t first = std::string_view::npos;
  for (std::string_view marker : tool_call_markers()) first = std::min(first, text.find(marker));
  return first;
}

}  // namespace

const std::vector<std::string_view>& tool_call_markers() {
  static const std::vector<std::string_view> markers = {kMistralMarker, kHermesOpen};
  return markers;
}

std::optional<ToolCallAnswer> parse_tool_calls(std::string_view text) {
  const size_t at = first_marker(text);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = text.substr(at);
  std::optional<std::vector<ToolCall>> calls = rest.substr(0, kMistralMarker.size()) == kMistralMarker
                                                   ? mistral_calls(rest.substr(kMistralMarker.size()))
                                                   : hermes_calls(rest);
  if (!calls) return std::nullopt;
  return ToolCallAnswer{std::string(trimmed(text.substr(0, at))), std::move(*calls)};
}

std::string ToolCallHoldBack::push(std::string_view text) {
  whole_ += text;
  if (in_call_) return {};
  const std::string_view unsent = std::string_view(whole_).substr(streamed_);
  size_t end = first_marker(unsent);
  if (end != std::string_view::npos) {
    in_call_ = true;
  } else {
    // Hold back a tail that may be the start of a marker.
    end = unsent.size();
    for (std::string_view marker : tool_call_markers()) {
      for (size_t length = std::min(marker.size() - 1, unsent.size()); length > 0; --length) {
        if (unsent.substr(unsent.size() - length) == marker.substr(0, length)) {
          end = std::min(end, unsent.size() - length);
          break;
        }
      }
    }
  }
  std::string out(unsent.substr(0, end));
  streamed_ += end;
  return out;
}

std::string ToolCallHoldBack::release() {
  std::string rest = whole_.substr(streamed_);
  streamed_ = whole_.size();
  return rest;
}

}  // namespace smoe::server
