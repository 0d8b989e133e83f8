// POST /v1/chat/completions and /v1/completions: parse, render and tokenize the prompt, check
// it against the context, queue the generation, then answer as one JSON object or stream
// server-sent events ("data: {chunk}" lines, then "data: [DONE]").
#pragma once

#include "http_routes.h"
#include "openai_response.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace smoe::server {

// Throws ApiError for requests it refuses before generating.
void handle_completion(const httplib::Request& request, httplib::Response& response, ServerContext& context,
                       Endpoint endpoint);

}  // namespace smoe::server
