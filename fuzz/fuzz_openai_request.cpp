// libFuzzer target: smoe-server's request bodies (the first byte picks /v1/chat/completions or
// /v1/completions), which arrive from the network, and the tool-call reader over the same bytes
// as model output. Refusals are ApiError (400); anything else escaping, or a crash, is a bug.
#include <string_view>

#include "api_error.h"
#include "openai_request.h"
#include "tool_calls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    if (data[0] & 1) {
      (void)smoe::server::parse_chat_request(body, {});
    } else {
      (void)smoe::server::parse_completion_request(body, {});
    }
  } catch (const smoe::server::ApiError&) {
  }
  (void)smoe::server::parse_tool_calls(body);
  return 0;
}
