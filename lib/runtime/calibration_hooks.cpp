// Calibration's access to a session's forward pass (runtime/calibration_hooks.h).
#include "runtime/calibration_hooks.h"

#include "runtime/model_impl.h"

namespace smoe::runtime {

void set_activation_observer(Session& session, model::ActivationObserver observer) {
  SessionInternals::of(session).transformer.set_activation_observer(std::move(observer));
}

}  // namespace smoe::runtime
