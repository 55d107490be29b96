// The gradient of a sum of terms, each a function of the state at one output time, by adjoint
// sensitivities (CVODES' adjoint module): one forward solve that keeps checkpoints, then one
// backward solve of the n adjoint states and K quadratures, whatever K is. Forward sensitivities
// (OdeSolver with sensitivity_parameters) cost K extra state vectors over the whole solve; the
// adjoint costs about the same for any K, so it pays where parameters are many (PEtab problems
// with dozens of them).
//
// For G = sum_j g_j(y(t_j)), the adjoint lambda solves lambda' = -J^T lambda backwards from the
// last output time, jumping by dg_j/dy at each t_j; then
//   dG/dp_k = lambda(t0)^T dy0/dp_k + integral from t0 to t_last of lambda^T df/dp_k dt,
// the first term left to the caller (its y0 may come from a steady state, say).
//
//   AdjointResult r = solve_adjoint(model, options, p, y0, t0, times, {0, 3, 4},
//       [&](std::size_t j, const double* y, double* dg_dy) { ... });
//
// Models with jumps or switch times, events and KLU are not handled here (OdeSolver's forward
// sensitivities are): adjoint_refusal says why a model or solve cannot take this path.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "physynth/core/model.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::solvers {

struct AdjointResult {
  SolveStatus status = SolveStatus::kSuccess;  // kSuccess or kFailed
  std::string flag_name, message;              // the failing CVODES call's flag and message
  std::vector<double> states;                  // times.size() x n, row-major (NaN past a failure)
  std::vector<double> lambda0;                 // dG/dy(t0): n
  std::vector<double> parameter_gradient;      // per parameters[k]: the integral of lambda^T df/dp_k
  long steps_forward = 0, steps_backward = 0;  // integrator steps of each pass
};

// Empty when solve_adjoint can take `model` under p with these options; otherwise why not
// ("the model has jumps", ...).
std::string adjoint_refusal(const core::Model& model, const double* p, const OdeOptions& options);

// Forward from (t0, y0) to times.back() (times non-decreasing, times[0] >= t0), writing the
// states; then `dg_dy(j, y_j, out)` gives dg_j/dy (n) at each output row j (called for every
// row, from the last to the first, after the forward pass); then the backward pass. The forward
// pass takes options' rtol, atol (or atol_per_state) and max_step_size; the backward pass and its
// quadratures take rtol and atol (their units are not the states'); max_steps bounds each output
// interval of either pass (CVODES' own meaning); options.method must be kBdf, its linear solver
// dense; max_order and initial_step_size are not used.
// Never throws for a numerical failure: status and message say what failed.
AdjointResult solve_adjoint(const core::Model& model, const OdeOptions& options, const double* p, const double* y0,
                            double t0, const std::vector<double>& times, const std::vector<int>& parameters,
                            const std::function<void(std::size_t, const double*, double*)>& dg_dy);

}  // namespace physynth::solvers
