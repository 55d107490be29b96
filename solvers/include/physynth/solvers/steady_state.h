// A model's steady state by Newton's method: f(y, p) = 0 with its linear invariants (conservation
// laws) held at their totals at the start, as AMICI's Newton solver finds preequilibrations before
// it falls back to simulation.
//
// Each iteration solves [J; C] dy = [-f; c0 - C y] (C the invariants' weights, c0 their totals at
// the start) by column-pivoting QR and damps the step (halving) until the largest weighted
// residual max_i |f_i| / (atol_i + rtol |y_i|) falls and no state the model keeps non-negative
// goes below -atol_i. The point is accepted only if
//   - that residual is at most 1 (the test a simulated steady state passes too),
//   - [J; C] has full column rank there (an isolated steady state, not one of a continuum), and
//   - it is stable: no eigenvalue of J has a positive real part beyond rounding, so a simulation
//     would stay there rather than leave it (an unstable steady state of a bistable model is
//     refused, and the caller integrates instead).
// It cannot tell which of several stable steady states a simulation from y0 would reach: a
// multistable model's caller that must know integrates (petab's `--steady-state simulation`).
#pragma once

#include <string>
#include <vector>

#include "physynth/core/model.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::solvers {

struct NewtonSteadyState {
  bool found = false;
  int iterations = 0;
  double residual = 0.0;  // the largest weighted |f| at the end
  std::string why;        // when not found
};

// From y (replaced by the steady state when found), tolerances from options (rtol, atol or
// atol_per_state).
NewtonSteadyState newton_steady_state(const core::Model& model, const double* p, const OdeOptions& options,
                                      std::vector<double>& y, int max_iterations = 50);

}  // namespace physynth::solvers
