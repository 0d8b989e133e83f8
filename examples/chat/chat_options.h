// Command-line options of smoe-chat, shared by its one-shot and interactive modes.
#pragma once

#include <string>

#include "smoe/chat.h"
#include "smoe/options.h"
#include "smoe/session.h"

namespace smoe::chat {

struct ChatOptions {
  std::string model_path;       // -m
  std::string prompt;           // -p: one-shot mode
  std::string system_prompt;    // --system
  std::string tokenize_text;    // --tokenize
  bool tokenize = false;        // --tokenize given (its text may be empty)
  bool parse_special = false;   // --parse-special: --tokenize and --raw prompts recognize special-token strings
  std::string messages_path;    // --messages: an OpenAI-style JSON list of messages
  bool render = false;          // --render: print the rendered chat and its ids, do not generate
  smoe::ChatOptions rendering;  // --tools, --special-in-content
  std::string session_path;     // --session: resume from and save to this file
  bool raw = false;             // --raw: prompt without the chat template
  bool json = false;            // --json: one JSON object on stdout
  bool verbose = false;         // --verbose
  ModelOptions model;           // -t, -c, --kv
  GenerateOptions generate;     // -n, sampling flags
};

}  // namespace smoe::chat
