// The interactive chat loop of smoe-chat: line editing and history (libedit), streaming
// answers, Ctrl-C to stop an answer (twice to quit), /reset, /stats, /help, /quit.
#pragma once

#include "chat_options.h"
#include "smoe/model.h"

namespace smoe::chat {

int run_interactive(const Model& model, const ChatOptions& options);

}  // namespace smoe::chat
