// Route table, authentication, error bodies and the request log.
#include "http_routes.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <string_view>

#include "api_error.h"
#include "completions.h"
#include "openai_response.h"

namespace smoe::server {
namespace {

using nlohmann::json;

void send_error(httplib::Response& response, const ApiError& error) {
  response.status = error.status();
  response.set_content(json_text(error.to_json()), "application/json");
}

// Runs `handler`, turning ApiError (and anything unexpected) into OpenAI's error body.
template <class Handler>
httplib::Server::Handler guarded(Handler handler) {
  return [handler](const httplib::Request& request, httplib::Response& response) {
    try {
      handler(request, response);
    } catch (const ApiError& error) {
      send_error(response, error);
    } catch (const std::exception& error) {
      send_error(response, ApiError(500, error.what(), "server_error"));
    }
  };
}

// Comparison whose time does not depend on where the strings differ. `key` is not empty.
bool same_secret(std::string_view given, std::string_view key) {
  unsigned char difference = given.size() == key.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) difference |= static_cast<unsigned char>(given[i] ^ key[i % key.size()]);
  return difference == 0;
}

// The label /metrics counts a request under: a known route, or "other" (unbounded paths
// would make unbounded series).
std::string endpoint_label(const std::string& path) {
  for (const char* known : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"}) {
    if (path == known) return known;
  }
  if (path.starts_with("/v1/models/")) return "/v1/models/{model}";
  return "other";
}

// Bodies for the errors httplib answers itself (no route, a body over the limit, a request it
// cannot parse); responses that already carry a body pass unchanged.
httplib::Server::HandlerResponse fill_error(const httplib::Request& request, httplib::Response& response,
                                            const ServerOptions& options) {
  if (!response.body.empty() || response.content_length_ > 0) return httplib::Server::HandlerResponse::Unhandled;
  switch (response.status) {
    case 404:
      send_error(response, ApiError(404, "Unknown route: " + request.method + " " + request.path,
                                    "invalid_request_error", "", "unknown_url"));
      break;
    case 413:
      send_error(response, ApiError(413, "The request body exceeds the limit of " +
                                             std::to_string(options.max_body_bytes) + " bytes",
                                    "invalid_request_error", "", "request_too_large"));
      break;
    case 400:  // httplib could not parse the request (a malformed request line or header)
      send_error(response,
                 ApiError(400, "The request is not valid HTTP", "invalid_request_error", "", "invalid_http_request"));
      break;
    default:
      send_error(response, ApiError(response.status, "HTTP error " + std::to_string(response.status),
                                    response.status >= 500 ? "server_error" : "invalid_request_error"));
  }
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

void register_routes(httplib::Server& http, ServerContext& context) {
  const ServerOptions& options = context.options;
  http.set_payload_max_length(options.max_body_bytes);
  http.set_pre_routing_handler([&context](const httplib::Request& request, httplib::Response& response) {
    const std::string& key = context.options.api_key;
    if (key.empty() || request.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    const std::string header = request.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.starts_with(prefix) && same_secret(header.substr(prefix.size()), key)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    send_error(response, ApiError(401, header.empty() ? "Missing API key: send \"Authorization: Bearer KEY\""
                                                      : "Incorrect API key provided",
                                  "invalid_request_error", "", "invalid_api_key"));
    response.set_header("WWW-Authenticate", "Bearer");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [&options](const httplib::Request& request, httplib::Response& response) {
        return fill_error(request, response, options);
      }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
    send_error(response, ApiError(500, "internal error", "server_error"));
  });
  http.set_logger([&context](const httplib::Request& request, const httplib::Response& response) {
    context.metrics.count_request(endpoint_label(request.path), response.status);
    if (context.options.log_requests) {
      std::fprintf(stderr, "smoe-server: %s %s %d\n", request.method.c_str(), request.path.c_str(), response.status);
    }
  });

  http.Get("/health", [&context](const httplib::Request&, httplib::Response& response) {
    const ServerContext::Phase phase = context.phase.load();
    const char* status = phase == ServerContext::Phase::ready     ? "ok"
                         : phase == ServerContext::Phase::loading ? "loading"
                                                                  : "shutting_down";
    response.status = phase == ServerContext::Phase::ready ? 200 : 503;
    response.set_content(json_text({{"status", status}}), "application/json");
  });
  http.Get("/metrics", [&context](const httplib::Request&, httplib::Response& response) {
    ModelCounters counters;
    // The model is set before the phase becomes ready; after a failed load it may be unset.
    if (context.phase.load() != ServerContext::Phase::loading && context.model) {
      const Model& model = *context.model;
      const ModelInfo& info = model.info();
      if (info.weight_loading == WeightLoading::expert_cache) counters.expert_cache = model.expert_cache_stats();
      if (!info.backend.empty()) counters.accelerator = model.offload_stats();
    }
    response.set_content(context.metrics.prometheus_text(counters), "text/plain; version=0.0.4");
  });
  http.Get("/v1/models", guarded([&context](const httplib::Request&, httplib::Response& response) {
             response.set_content(json_text(models_json(context.options.model_name, context.created)),
                                  "application/json");
           }));
  http.Get(R"(/v1/models/(.+))", guarded([&context](const httplib::Request& request, httplib::Response& response) {
             const std::string name = request.matches[1];
             if (name != context.options.model_name) {
               throw ApiError(404, "The model '" + name + "' does not exist", "invalid_request_error", "model",
                              "model_not_found");
             }
             response.set_content(json_text(models_json(name, context.created)["data"][0]), "application/json");
           }));
  http.Post("/v1/chat/completions",
            guarded([&context](const httplib::Request& request, httplib::Response& response) {
              handle_completion(request, response, context, Endpoint::chat);
            }));
  http.Post("/v1/completions", guarded([&context](const httplib::Request& request, httplib::Response& response) {
              handle_completion(request, response, context, Endpoint::completion);
            }));
}

}  // namespace smoe::server
