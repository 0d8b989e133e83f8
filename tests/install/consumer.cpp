// Built against an installed smoe: proves the exported package and public headers work.
#include <smoe/error.h>
#include <smoe/hyperparameters.h>
#include <smoe/version.h>

#include <cstdio>

int main() {
  smoe::Hyperparameters hp;
  std::printf("smoe %s, format %u, default rope_theta %.0f\n", smoe::kVersionString, smoe::kFormatVersion, hp.rope_theta);
  return 0;
}
