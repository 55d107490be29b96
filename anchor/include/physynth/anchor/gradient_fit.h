// Multi-start, bounded minimisation of a scalar objective with its gradient: a PEtab problem's
// negative log-posterior with adjoint gradients (one backward solve whatever the parameter
// count), where a least-squares fit (residual_fit.h) would need every residual's Jacobian.
//
// Each start runs L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995, SIAM J. Sci. Comput. 16:1190; version
// 3.0, Morales & Nocedal 2011, ACM TOMS 38:7: Debian's liblbfgsb, the code SciPy's L-BFGS-B
// wrapped until 1.15) in the fitted space (ln θ where an entry is log-scaled), inside the box.
// Starts as in residual_fit.h: the given start first (unless told not to), then a Sobol design;
// each start's result depends only on its own start point, whatever the thread count.
//
// Options (ResidualFitOptions): starts, first_at_start, seed, threads and work_budget as there;
// max_iterations counts L-BFGS-B's iterations (accepted points); a start has converged once an
// iteration lowers the objective by at most function_tolerance relative to max(|f|, 1) (the
// code's factr = function_tolerance / machine epsilon) or the projected gradient's largest
// entry is at most gradient_tolerance (in objective units per unit of the fitted space).
// analytic_jacobian and relative_step are not used. A run that stalls (its line search fails,
// or an iteration lowers the objective by no more than that tolerance) starts again from where
// it is with an empty quasi-Newton memory, up to 5 times while each run still lowers the
// objective: ODE solves' noise in the gradient makes such stalls common far from an optimum.
//
// A point the objective cannot be evaluated at (a failed solve) counts as a point far uphill
// (the last accepted value + 1 + its magnitude, a zero gradient), so the line search shortens
// its step; after 20 such points in a row the start stops where it is. The result's covariance
// is left empty: a gradient alone does not give one (residual_covariance does, from residuals).
#pragma once

#include <functional>
#include <vector>

#include "physynth/anchor/residual_fit.h"

namespace physynth::anchor {

// Fills `value` (to be minimised) and `gradient` (d value / dθ, θ in model units, one per box
// entry) at θ; false where it cannot be evaluated. Where `work` is not null, adds the
// evaluation's work to it (integrator steps: a count that depends only on θ, for work budgets).
using ObjectiveFunction =
    std::function<bool(const std::vector<double>& theta, double& value, std::vector<double>& gradient, long* work)>;

// ResidualFitResult's costs are the objective's values.
ResidualFitResult fit_objective(const ObjectiveFunction& f, const std::vector<BoxParameter>& box,
                                const ResidualFitOptions& options);

}  // namespace physynth::anchor
