// Interactive chat. The conversation is re-rendered with the chat template each turn; the
// session keeps the KV cache of the longest common prefix, so only new tokens are evaluated.
// When the chat outgrows the context, the oldest turns are dropped (Model::fit_chat) and the
// rest is re-evaluated from the first changed token. With --session the whole state is saved
// after every answer and resumed at start.
#include "interactive.h"

#include <editline/readline.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "smoe/error.h"
#include "smoe/session.h"

namespace smoe::chat {
namespace {

std::atomic<bool> g_generating{false};
std::atomic<bool> g_stop_requested{false};

extern "C" void on_interrupt(int) {
  if (g_generating.load() && !g_stop_requested.load()) {
    g_stop_requested.store(true);  // first Ctrl-C: stop the answer
    return;
  }
  std::signal(SIGINT, SIG_DFL);  // second Ctrl-C (or at the prompt): quit
  std::raise(SIGINT);
}

bool read_line(bool terminal, std::string& line) {
  if (!terminal) return static_cast<bool>(std::getline(std::cin, line));
  char* input = readline("> ");
  if (!input) return false;
  line = input;
  if (!line.empty()) add_history(input);
  std::free(input);
  return true;
}

void print_help() {
  std::printf("Type a message and press Enter. Commands:\n"
              "  /reset  start a new conversation\n"
              "  /stats  tokens/s and expert usage\n"
              "  /help   this text\n"
              "  /quit   leave (or Ctrl-D)\n"
              "Ctrl-C stops an answer; a second Ctrl-C quits.\n");
}

void print_stats(const Model& model, const Session& session) {
  const RunStats& stats = session.stats();
  std::printf("context %u/%u tokens; prompt %llu tokens at %.1f tok/s; generated %llu tokens at %.1f tok/s\n",
              session.position(), session.context_size(), static_cast<unsigned long long>(stats.prompt_tokens),
              stats.prompt_tokens_per_second(), static_cast<unsigned long long>(stats.generated_tokens),
              stats.generated_tokens_per_second());
  const Hyperparameters& hp = model.info().hyperparameters;
  std::printf("expert selections per layer (experts 0..%u):\n", hp.num_local_experts - 1);
  for (uint32_t layer = 0; layer < hp.num_hidden_layers; ++layer) {
    std::printf("  layer %2u:", layer);
    for (uint32_t e = 0; e < hp.num_local_experts; ++e) {
      std::printf(" %6llu", static_cast<unsigned long long>(stats.expert_counts[layer * hp.num_local_experts + e]));
    }
    std::printf("\n");
  }
}

}  // namespace

int run_interactive(const Model& model, const ChatOptions& options) {
  const bool terminal = ::isatty(STDIN_FILENO);
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, nullptr);
  auto session = model.create_session();
  std::vector<ChatMessage> messages;
  if (!options.system_prompt.empty()) messages.push_back({"system", options.system_prompt});
  const bool saving = !options.session_path.empty();
  if (saving && std::filesystem::exists(options.session_path)) {
    messages = session->load(options.session_path);
    std::fprintf(stderr, "(resumed %zu messages, %u tokens, from %s)\n", messages.size(), session->position(),
                 options.session_path.c_str());
  }
  auto save = [&] {
    if (saving) session->save(options.session_path, messages);
  };
  if (terminal) {
    std::printf("smoe-chat: %s (%u layers, %u experts, top-%u). /help for commands.\n", model.info().path.c_str(),
                model.info().hyperparameters.num_hidden_layers, model.info().hyperparameters.num_local_experts,
                model.info().hyperparameters.num_experts_per_tok);
  }
  std::string line;
  while (read_line(terminal, line)) {
    if (line.empty()) continue;
    if (line == "/quit" || line == "/exit") break;
    if (line == "/help") { print_help(); continue; }
    if (line == "/stats") { print_stats(model, *session); continue; }
    if (line == "/reset") {
      session->reset();
      messages.clear();
      if (!options.system_prompt.empty()) messages.push_back({"system", options.system_prompt});
      save();
      std::printf("(new conversation)\n");
      continue;
    }
    messages.push_back({"user", line});
    // Leave room for the answer: drop the oldest turns when the chat would not.
    const uint32_t reserve = std::min<uint32_t>(uint32_t(options.generate.max_tokens), session->context_size() / 4);
    try {
      const size_t dropped = model.fit_chat(messages, session->context_size() - reserve, options.rendering);
      if (dropped > 0) std::printf("(context full: dropped the %zu oldest messages)\n", dropped);
    } catch (const Error& error) {  // too long for the context, or the template refused the chat
      std::printf("(%s)\n", error.what());
      messages.pop_back();
      continue;
    }
    std::vector<int32_t> ids = model.tokenize_chat(messages, options.rendering);
    // Reuse the KV cache of the common prefix; evaluate the rest.
    const std::vector<int32_t>& cached = session->tokens();
    const auto mismatch = std::mismatch(cached.begin(), cached.end(), ids.begin(), ids.end());
    auto common = static_cast<uint32_t>(mismatch.first - cached.begin());
    if (common == ids.size()) --common;  // at least one token must be evaluated for fresh logits
    session->rewind(common);
    const std::vector<int32_t> fresh(ids.begin() + common, ids.end());

    std::string answer;
    g_stop_requested = false;
    g_generating = true;
    const uint64_t generated_before = session->stats().generated_tokens;
    const double seconds_before = session->stats().generate_seconds;
    const GenerateResult result = session->generate(fresh, options.generate, [&](int32_t, std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      answer += text;
      return !g_stop_requested.load();
    });
    g_generating = false;
    const uint64_t produced = session->stats().generated_tokens - generated_before;
    const double seconds = session->stats().generate_seconds - seconds_before;
    std::printf("\n");
    if (result.stop_reason == StopReason::callback) std::printf("[stopped]\n");
    if (result.stop_reason == StopReason::context_full) std::printf("[context full: older turns are dropped next]\n");
    std::fprintf(stderr, "[%llu tokens, %.1f tok/s]\n", static_cast<unsigned long long>(produced),
                 seconds > 0 ? double(produced) / seconds : 0.0);
    // Trim the leading space the tokenizer's word marker produces at the start of an answer.
    if (!answer.empty() && answer.front() == ' ') answer.erase(0, 1);
    messages.push_back({"assistant", answer});
    save();
  }
  return 0;
}

}  // namespace smoe::chat
