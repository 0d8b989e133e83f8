// Errors as OpenAI's API reports them: an HTTP status and
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// Request handling throws ApiError; the routes turn it into that response.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace smoe::server {

class ApiError : public std::runtime_error {
 public:
  // `type` is OpenAI's error class ("invalid_request_error", "authentication_error", "server_error"...);
  // `param` the request field at fault ("" = none, null in JSON); `code` a stable machine-readable
  // name ("context_length_exceeded", "model_not_found"; "" = null).
  ApiError(int status, std::string message, std::string type, std::string param = "", std::string code = "")
      : std::runtime_error(message), status_(status), type_(std::move(type)), param_(std::move(param)),
        code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // The response body: {"error": {...}}.
  nlohmann::json to_json() const;

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
};

// The usual ones, named once so each status carries the same type everywhere.
ApiError bad_request(std::string message, std::string param = "", std::string code = "");
ApiError unavailable(std::string message, std::string code);
// 503: the server stopped taking requests (SIGTERM) or is cancelling those in flight.
ApiError shutting_down_error();
// 504: a request that ran past --timeout (queued or generating).
ApiError timeout_error();

}  // namespace smoe::server
