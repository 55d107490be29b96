// Multi-start, bounded least squares of a residual function: a PEtab problem's negative
// log-likelihood written as a sum of squares, or any model. Each start runs Levenberg-Marquardt
// (Ceres) in the fitted space (ln θ where an entry is log-scaled), inside the box of bounds, with
// the function's own Jacobian where it gives one, else central differences.
//
// Starts: the given start first (unless told not to), then a Sobol design over the box (fitted
// space, digital shift `seed`). Starts run in parallel; each start's result depends only on its
// own start point, so the results do not depend on the thread count.
//
// Uncertainty: the Laplace approximation at the best optimum, (J^T J)^-1 of the residuals'
// Jacobian in the fitted space (for a negative log-likelihood written as 1/2 Σ r², this is the
// inverse observed Fisher information of the Gauss-Newton approximation).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace physynth::anchor {

struct BoxParameter {
  std::string name;
  double lower = 0.0, upper = 0.0;  // model units; lower < upper
  bool log = false;                 // fitted in ln θ (needs lower > 0)
  double start = 0.0;               // the first start, in [lower, upper]
};

// Fills `residuals` (its size fixed for the problem) at θ (model units); false where the function
// cannot be evaluated there (a solve that failed): Ceres then shortens the step. Where `jacobian`
// is not null (only with ResidualFitOptions::analytic_jacobian), also dr/dθ, residuals x
// parameters, row-major, by θ in model units. Where `work` is not null, adds the evaluation's
// work to it (integrator steps, say: a count that depends only on θ, for work budgets).
using ResidualFunction = std::function<bool(const std::vector<double>& theta, std::vector<double>& residuals,
                                            std::vector<double>* jacobian, long* work)>;

struct ResidualFitOptions {
  int starts = 10;
  bool first_at_start = true;  // start 0 at BoxParameter::start; else every start from the Sobol design
  std::uint64_t seed = 0;
  int max_iterations = 200;
  double function_tolerance = 1e-12;
  double gradient_tolerance = 1e-12;
  double parameter_tolerance = 1e-10;
  // Central differences: step = relative_step * max(|x|, 1) in the fitted space. The residuals
  // of ODE solves carry the solver's error, so the step must be far above it (1e-8 at rtol 1e-10
  // needs steps of 1e-4, not Ceres' 1e-6).
  double relative_step = 1e-4;
  int threads = 0;  // 0: every core
  bool analytic_jacobian = false;  // the function gives dr/dθ; else central differences
  // Per start: once its evaluations' work (ResidualFunction) reaches this, the start stops where
  // it is, with what it has reached (0: no budget). Work counts are deterministic, so a budget
  // gives the same starts and optima on any machine and thread count, as a time limit would not.
  long work_budget = 0;
  // Every violated constraint, as "field must ..., got ..." messages; empty if valid.
  std::vector<std::string> validate(const std::vector<BoxParameter>& box) const;
};

struct ResidualFitStart {
  int index = 0;
  std::vector<double> start, optimum;  // model units
  double cost = 0.0;                   // 1/2 Σ r² at the optimum
  bool usable = false;                 // Ceres returned a finite optimum
  int iterations = 0;
  double seconds = 0.0;
  std::string message;  // Ceres' reason for stopping
  long work = 0;              // its evaluations' work, summed
  bool budget_spent = false;  // it stopped at ResidualFitOptions::work_budget
};

struct ResidualFitResult {
  bool success = false;
  std::string message;
  std::vector<ResidualFitStart> starts;
  int best_start = -1;
  std::vector<double> best;        // model units
  double best_cost = 0.0;
  std::vector<double> covariance;  // Laplace, row-major, fitted space; infinite where undetermined
  std::vector<bool> at_bound;      // per entry: the optimum lies on a bound
  double seconds = 0.0;
};

ResidualFitResult fit_residuals(const ResidualFunction& f, std::size_t num_residuals,
                                const std::vector<BoxParameter>& box, const ResidualFitOptions& options);

// The Laplace covariance above at θ (model units; row-major, fitted space), from f's Jacobian
// there (its own, or central differences, as options.analytic_jacobian says).
std::vector<double> residual_covariance(const ResidualFunction& f, std::size_t num_residuals,
                                        const std::vector<BoxParameter>& box, const ResidualFitOptions& options,
                                        const std::vector<double>& theta);

}  // namespace physynth::anchor
