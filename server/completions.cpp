// The completion endpoints. The HTTP thread waits on its Job for text; the scheduler thread
// produces it. A client that goes away cancels its job, freeing its slot at the next step: a
// streaming one by a failed write, a socket that is no longer writable, or httplib's release
// callback; a non-streaming one by its socket's hang-up (client_socket.h).
#include "completions.h"

#include <httplib.h>

#include <algorithm>
#include <optional>

#include "client_socket.h"
#include "openai_request.h"
#include "smoe/error.h"
#include "tool_calls.h"

namespace smoe::server {
namespace {

using namespace std::chrono_literals;

// How often a waiting HTTP thread looks at its client and its deadline.
constexpr auto kPollInterval = 200ms;
// Past the deadline, the scheduler fails the job at its next step; this long after it, the
// HTTP thread gives up on its own (a scheduler stuck in one long step).
constexpr auto kDeadlineGrace = 5s;
// A non-streaming answer starts watching for its client leaving after this long.
constexpr auto kLookForClientAfter = 1s;

struct Prepared {
  GenerationRequest generation;
  CompletionParams params;
  bool offers_tools = false;  // the answer may be tool calls (tool_calls.h)
};

Prepared prepare(const httplib::Request& request, const ServerContext& context, Endpoint endpoint) {
  const ServerOptions& options = context.options;
  const Model& model = *context.model;
  Prepared out;
  std::vector<int32_t>& prompt = out.generation.prompt;
  if (endpoint == Endpoint::chat) {
    ChatRequest chat = parse_chat_request(request.body, options.sampler);
    out.params = std::move(chat.params);
    if (!out.params.model.empty() && out.params.model != options.model_name) {
      throw ApiError(404, "The model '" + out.params.model + "' does not exist", "invalid_request_error", "model",
                     "model_not_found");
    }
    out.offers_tools = !chat.chat.tools.empty();
    if (out.offers_tools) {
      for (std::string_view marker : tool_call_markers()) {
        if (const int32_t id = model.tokenizer().special_id(marker); id >= 0) out.generation.shown_special.push_back(id);
      }
    }
    try {
      prompt = model.tokenize_chat(chat.messages, chat.chat);
    } catch (const Error& error) {  // the template raised: roles out of order, a tool without a call...
      throw bad_request(error.what(), "messages");
    }
  } else {
    TextRequest text = parse_completion_request(request.body, options.sampler);
    out.params = std::move(text.params);
    if (!out.params.model.empty() && out.params.model != options.model_name) {
      throw ApiError(404, "The model '" + out.params.model + "' does not exist", "invalid_request_error", "model",
                     "model_not_found");
    }
    prompt = model.tokenizer().encode(text.prompt, true);
  }
  // Refused rather than clamped, as OpenAI refuses: the client learns its request cannot be met.
  const int64_t limit = options.max_tokens;  // the server's own cap (0 = none)
  if (limit > 0 && out.params.max_tokens && *out.params.max_tokens > limit) {
    throw bad_request("max_tokens is too large: " + std::to_string(*out.params.max_tokens) +
                          ". This server generates at most " + std::to_string(limit) + " tokens per request.",
                      "max_tokens", "max_tokens_exceeded");
  }
  const uint32_t context_size = model.info().context_size;
  if (prompt.size() >= context_size) {
    throw bad_request("This model's maximum context length is " + std::to_string(context_size) +
                          " tokens, but the prompt has " + std::to_string(prompt.size()) + " tokens.",
                      endpoint == Endpoint::chat ? "messages" : "prompt", "context_length_exceeded");
  }
  const int64_t room = int64_t(context_size) - int64_t(prompt.size());
  if (out.params.max_tokens && *out.params.max_tokens > room) {
    throw bad_request("This model's maximum context length is " + std::to_string(context_size) + " tokens. However, " +
                          "you requested " + std::to_string(prompt.size() + size_t(*out.params.max_tokens)) +
                          " tokens (" + std::to_string(prompt.size()) + " in the prompt, " +
                          std::to_string(*out.params.max_tokens) + " in the completion).",
                      "max_tokens", "context_length_exceeded");
  }
  // Without max_tokens: a chat answer may take the rest of the context (or the server's cap); a
  // text completion gets OpenAI's documented default of 16 tokens.
  int64_t default_max = endpoint == Endpoint::chat ? room : std::min<int64_t>(16, room);
  if (limit > 0) default_max = std::min(default_max, limit);
  out.generation.max_tokens = out.params.max_tokens ? *out.params.max_tokens : int32_t(default_max);
  out.generation.sampler = out.params.sampler;
  out.generation.stop = out.params.stop;
  out.generation.ignore_eos = out.params.ignore_eos;
  out.generation.deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.request_timeout_s));
  return out;
}

void answer_whole(const httplib::Request& request, httplib::Response& response, const std::shared_ptr<Job>& job,
                  const ResponseHeader& header, bool offers_tools) {
  std::string text;
  // Looked up once the answer takes a while: most requests never need it.
  std::optional<std::optional<ClientSocket>> client;
  const Clock::time_point start = Clock::now();
  for (;;) {
    JobUpdate update = job->wait_update(kPollInterval);
    text += update.text;
    if (update.done) {
      if (update.error) throw *update.error;
      if (offers_tools) {
        if (const std::optional<ToolCallAnswer> calls = parse_tool_calls(text)) {
          response.set_content(json_text(tool_call_answer_json(header, *calls, update.usage)), "application/json");
          return;
        }
      }
      response.set_content(json_text(answer_json(header, text, *update.finish, update.usage)), "application/json");
      return;
    }
    if (Clock::now() - start > kLookForClientAfter) {
      if (!client) client = ClientSocket::find(request.remote_addr, request.remote_port, request.local_port);
      if (*client && (*client)->gone()) {
        job->cancel();  // its slot is freed at the next step; nobody reads the answer
        throw ApiError(499, "the client closed the connection", "client_closed_request");
      }
    }
    if (Clock::now() > job->request().deadline + kDeadlineGrace) {
      job->cancel();
      throw timeout_error();
    }
  }
}

// One server-sent event per chunk. Streams keep their connection for their whole answer.
class EventStream {
 public:
  EventStream(std::shared_ptr<Job> job, ResponseHeader header, bool include_usage, bool offers_tools)
      : job_(std::move(job)), header_(std::move(header)), include_usage_(include_usage) {
    if (offers_tools) hold_back_.emplace();
  }

  // httplib's content provider: called until it returns false (the stream failed) or calls sink.done().
  bool pump(httplib::DataSink& sink) {
    if (!started_ && header_.endpoint == Endpoint::chat) {
      if (!send(sink, chunk_json(header_, "", true, std::nullopt))) return false;
    }
    started_ = true;
    const JobUpdate update = job_->wait_update(kPollInterval);
    // With tools offered, text that may begin a call is held back until the answer is complete.
    const std::string text = hold_back_ ? hold_back_->push(update.text) : update.text;
    if (!text.empty() && !update.done && !send(sink, chunk_json(header_, text, false, std::nullopt))) return false;
    if (update.done) {
      if (update.error) {  // headers (200) are gone already: the error travels as an event, as OpenAI's does
        if (!send(sink, update.error->to_json())) return false;
      } else {
        std::string last = text;
        std::optional<FinishReason> finish = update.finish;
        if (hold_back_) {
          const std::string held = hold_back_->release();
          if (const std::optional<ToolCallAnswer> calls = parse_tool_calls(hold_back_->whole())) {
            // The text before the calls went out as content; the calls follow in one chunk.
            if (!last.empty() && !send(sink, chunk_json(header_, last, false, std::nullopt))) return false;
            if (!send(sink, tool_call_chunk_json(header_, calls->calls))) return false;
            last.clear();
            finish = FinishReason::tool_calls;
          } else {
            last += held;  // not calls after all: the held text is content
          }
        }
        if (!send(sink, chunk_json(header_, last, false, finish))) return false;
        if (include_usage_ && !send(sink, usage_chunk_json(header_, update.usage))) return false;
      }
      if (!write(sink, "data: [DONE]\n\n")) return false;
      sink.done();
      return true;
    }
    if (update.text.empty() && !sink.is_writable()) return cancel();
    if (Clock::now() > job_->request().deadline + kDeadlineGrace) {
      job_->cancel();
      send(sink, timeout_error().to_json());
      write(sink, "data: [DONE]\n\n");
      sink.done();
    }
    return true;
  }

  bool cancel() {
    job_->cancel();
    return false;
  }

 private:
  bool send(httplib::DataSink& sink, const nlohmann::json& event) { return write(sink, "data: " + json_text(event) + "\n\n"); }
  bool write(httplib::DataSink& sink, const std::string& text) {
    return sink.write(text.data(), text.size()) || cancel();
  }

  std::shared_ptr<Job> job_;
  ResponseHeader header_;
  bool include_usage_;
  bool started_ = false;
  std::optional<ToolCallHoldBack> hold_back_;  // when the request offers tools
};

}  // namespace

void handle_completion(const httplib::Request& request, httplib::Response& response, ServerContext& context,
                       Endpoint endpoint) {
  // Not ready: loading, shutting down, or a load that failed (no model or scheduler to use).
  switch (context.phase.load()) {
    case ServerContext::Phase::loading:
      throw unavailable("the model is loading", "model_loading");
    case ServerContext::Phase::draining:
      throw shutting_down_error();
    case ServerContext::Phase::ready:
      break;
  }
  Prepared prepared = prepare(request, context, endpoint);
  auto job = std::make_shared<Job>(std::move(prepared.generation));
  // A stream counts as open from before its job exists for the scheduler, so shutdown cannot
  // cancel the job and stop the server between the two; released with the response, once its
  // last byte is written (or with this function when it throws).
  std::shared_ptr<void> open = prepared.params.stream ? context.open_streams.open() : nullptr;
  context.scheduler->submit(job);
  const ResponseHeader header = make_header(endpoint, context.options.model_name);
  if (!prepared.params.stream) return answer_whole(request, response, job, header, prepared.offers_tools);
  auto stream = std::make_shared<EventStream>(job, header, prepared.params.include_usage, prepared.offers_tools);
  response.set_header("Cache-Control", "no-cache");
  response.set_header("X-Accel-Buffering", "no");  // nginx: pass each event on at once
  response.set_chunked_content_provider(
      "text/event-stream", [stream](size_t, httplib::DataSink& sink) { return stream->pump(sink); },
      [job, open](bool success) {
        if (!success) job->cancel();
      });
}

}  // namespace smoe::server
