// The q4 grid search's outer loop and least-squares solve (block_q4.h's search_q4_grid_ref),
// shared by the scalar reference and the vectorized versions, which differ only in the passes
// over the 32 weights. Everything here is file-local to each includer: those files are
// compiled with different instruction set flags, and one shared instantiation would carry one
// file's flags into the others.
#pragma once

#include <cstddef>

#include "quant/formats/block_q4.h"

namespace smoe::quant {
namespace {

constexpr float kQ4Levels = 15.0f;  // q in [0, 15]

// The weighted 2x2 least-squares (d, m) for an assignment of q with sums q_total = sum w q,
// qq_total = sum w q^2, qx_total = sum w q x, weight_sum = sum w, weighted_x_sum = sum w x.
// False when it is singular or d <= 0.
inline bool solve_q4_least_squares(double weight_sum, double weighted_x_sum, double q_total, double qq_total,
                                   double qx_total, float* d, float* m) {
  const double determinant = weight_sum * qq_total - q_total * q_total;
  if (!(determinant > 0)) return false;
  *d = static_cast<float>((weight_sum * qx_total - q_total * weighted_x_sum) / determinant);
  *m = static_cast<float>((weighted_x_sum - *d * q_total) / weight_sum);
  return *d > 0.0f;
}

constexpr int kQ4GridSteps = 21;  // grid densities tried around the min/max one

// The inverse grid step of density `step` (0 .. kQ4GridSteps - 1) for values spanning `range`.
inline float q4_step_inverse(int step, float range) { return (kQ4Levels - 1.0f + 0.1f * float(step)) / range; }

// The largest error a fit may have: one min/max step.
inline float q4_allowed_error(float range) { return range / kQ4Levels * 1.0001f; }

// sum w and sum w x over the block, in double.
inline void q4_weight_sums(const float* x, const float* weight, double* weight_sum, double* weighted_x_sum) {
  *weight_sum = 0;
  *weighted_x_sum = 0;
  for (size_t i = 0; i < BlockQ4::kElements; ++i) {
    *weight_sum += weight[i];
    *weighted_x_sum += double(weight[i]) * x[i];
  }
}

// Tries kQ4GridSteps grid densities around the min/max one, refits each by least squares, and
// keeps the lowest squared error whose worst element stays within one min/max step.
// least_squares(inverse_d, weight_sum, weighted_x_sum, &d, &m): quantizes x on (1 / inverse_d,
// lo) and solves for (d, m); evaluate(d, m): that grid's Q4GridFit.
template <class LeastSquares, class Evaluate>
Q4GridFit search_q4_grid_steps(const float* x, const float* weight, float lo, float hi, LeastSquares least_squares,
                               Evaluate evaluate) {
  const float range = hi - lo;
  Q4GridFit best = evaluate(range / kQ4Levels, lo);
  const float allowed_error = q4_allowed_error(range);
  double weight_sum = 0, weighted_x_sum = 0;
  q4_weight_sums(x, weight, &weight_sum, &weighted_x_sum);
  for (int step = 0; step < kQ4GridSteps; ++step) {
    const float inverse_d = q4_step_inverse(step, range);
    float d = 0.0f, m = 0.0f;
    if (!least_squares(inverse_d, weight_sum, weighted_x_sum, &d, &m)) continue;
    const Q4GridFit fit = evaluate(d, m);
    if (fit.squared_error < best.squared_error && fit.max_error <= allowed_error) best = fit;
  }
  return best;
}

}  // namespace
}  // namespace smoe::quant
