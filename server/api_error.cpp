// OpenAI-shaped error bodies.
#include "api_error.h"

namespace smoe::server {

nlohmann::json ApiError::to_json() const {
  const auto or_null = [](const std::string& text) { return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text); };
  return {{"error", {{"message", what()}, {"type", type_}, {"param", or_null(param_)}, {"code", or_null(code_)}}}};
}

ApiError bad_request(std::string message, std::string param, std::string code) {
  return ApiError(400, std::move(message), "invalid_request_error", std::move(param), std::move(code));
}

ApiError unavailable(std::string message, std::string code) {
  return ApiError(503, std::move(message), "server_error", "", std::move(code));
}

ApiError shutting_down_error() { return unavailable("the server is shutting down", "shutting_down"); }

ApiError timeout_error() { return ApiError(504, "the request timed out", "server_error", "", "timeout"); }

}  // namespace smoe::server
