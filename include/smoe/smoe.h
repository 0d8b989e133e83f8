// The whole public API of smoe in one include.
#pragma once

#include "smoe/chat.h"
#include "smoe/error.h"
#include "smoe/hyperparameters.h"
#include "smoe/model.h"
#include "smoe/options.h"
#include "smoe/sampler.h"
#include "smoe/session.h"
#include "smoe/tokenizer.h"
#include "smoe/version.h"
