// What calibration (smoe-convert --imatrix) needs from a session beyond the public API: every
// weight matrix's input as it is multiplied. Internal to the library and its tools.
#pragma once

#include "model/transformer.h"
#include "smoe/session.h"

namespace smoe::runtime {

// `observer` sees each weight matrix and its input x (n_tokens, in) before every product the
// session evaluates from now on (empty: stop observing).
void set_activation_observer(Session& session, model::ActivationObserver observer);

}  // namespace smoe::runtime
