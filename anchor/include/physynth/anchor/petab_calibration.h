// Calibration of a PEtab problem (domains/kinetics/petab.h): maximum likelihood of its
// estimated parameters within their bounds, on their scales (log and log10 entries are fitted in
// ln, which is the same search up to a constant factor), multi-start, by one of
// - least squares (residual_fit.h: Levenberg-Marquardt) with exact Jacobians: the evaluation's
//   forward sensitivities (PetabEvaluation::misfit_gradient, sigma_gradient), or central
//   differences where it cannot form them (PetabFit::gradient says which, and why);
// - L-BFGS-B (gradient_fit.h) on the negative log-posterior with the log-likelihood's gradient
//   (PetabProblem::log_likelihood_gradient: adjoint sensitivities, one backward solve per
//   condition whatever the parameter count, or forward ones).
// Least squares is the default. Which is faster depends on the problem in ways not read off its
// size (domains/kinetics/README.md: on one start of Bachmann 2011 L-BFGS-B with the adjoint got
// far further in the same time; on Zheng 2012 least squares found the better optimum), so
// nothing picks L-BFGS-B for the user.
//
// Both profile plain noise parameters in closed form (below) and add the priors; the optimum's
// 95 % intervals come from the least-squares residuals' Jacobian at the best optimum either way
// (with L-BFGS-B by forward sensitivities where they were its gradient, else central differences).
//
// PEtab's negative log-likelihood is written as a sum of squares exactly: per measurement the
// residual r = (data - y) / σ (normal; sqrt(2 |r|) for Laplace) and, because σ may depend on the
// parameters, one more residual sqrt(2 (ln σ + c)) (ln 2σ for Laplace), c = 30, so that
//   1/2 Σ residuals² = -log-likelihood + K
// with K a constant of the data (σ residuals that no estimated parameter moves are left at 0). A point where σ < e^-30 (or a solve fails) cannot be
// evaluated; Ceres shortens the step there.
#pragma once

#include <vector>

#include "physynth/anchor/residual_fit.h"
#include "physynth/domains/kinetics/petab.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::anchor {

enum class PetabOptimizer { kLeastSquares, kLbfgsb };

struct PetabFitOptions {
  ResidualFitOptions fit;  // starts, seed, iterations, threads; fit.first_at_start: start 0 at the nominal values
  solvers::OdeOptions ode;  // tolerances of every solve inside the fit
  bool central_differences = false;  // least squares: central differences even where exact gradients can be formed
  PetabOptimizer optimizer = PetabOptimizer::kLeastSquares;
  // L-BFGS-B's gradient, iterations and convergence (gradient_fit.h), in place of fit's
  // max_iterations, function_tolerance and gradient_tolerance.
  domains::kinetics::GradientMethod gradient = domains::kinetics::GradientMethod::kAuto;
  int lbfgsb_iterations = 1000;
  double lbfgsb_function_tolerance = 1e-15;  // relative decrease of -log-posterior in one iteration
  double lbfgsb_gradient_tolerance = 1e-5;   // projected gradient, per unit of ln θ (or θ where linear)
};

struct PetabFit {
  ResidualFitResult fit;                       // in the order of `fitted`
  std::vector<int> estimated;                  // indices into problem.parameters() of the estimated ones:
  std::vector<int> fitted, profiled;           //   fitted numerically, and noise parameters in closed form
  std::vector<double> values;                  // every PEtab parameter at the best optimum, linear scale
  double nominal_log_likelihood = 0.0;         // at the nominal values, with the fit's tolerances
  double nominal_log_prior = 0.0;              // the objective priors there (0 without any)
  double log_likelihood = 0.0, log_prior = 0.0;  // at the best optimum, with the fit's tolerances
  double objective = 0.0;                      // log_likelihood + log_prior: what the fit maximises
  std::vector<double> start_objectives;        // per start, where it ended (-inf where unusable)
  std::string message;                         // why nothing was fitted, when fit.success is false
  std::string gradient;                        // how the Jacobians or gradients were computed (and why)
  std::string optimizer;                       // "least squares (Levenberg-Marquardt)" or "L-BFGS-B"
};

PetabFit calibrate_petab(const domains::kinetics::PetabProblem& problem, const PetabFitOptions& options);

// Their Jacobian by the `fitted` PEtab parameters (2M x D row-major, linear scale), from an
// evaluation with gradients; false without them.
bool petab_jacobian(const domains::kinetics::PetabProblem& problem, const domains::kinetics::PetabEvaluation& e,
                    const std::vector<bool>& sigma_varies, const std::vector<int>& fitted, std::vector<double>& jacobian);

// The residuals above for one evaluation (2 per measurement; the σ residual is 0 where
// sigma_varies is given and false: a constant); false where one is not finite.
bool petab_residuals(const domains::kinetics::PetabProblem& problem, const domains::kinetics::PetabEvaluation& e,
                     std::vector<double>& residuals, const std::vector<bool>& sigma_varies = {});

}  // namespace physynth::anchor
