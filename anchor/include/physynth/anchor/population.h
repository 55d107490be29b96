// Population (nonlinear mixed-effects) calibration: per-unit parameters drawn from a population
// and estimated jointly from every unit, as NONMEM, Monolix and nlmixr2 do.
//
// The problem is a CalibrationProblem whose per-unit parameters are the random ones. In the
// fitted space (ln θ where the parameter is fitted in logs), unit i of group g has
//   φ_i = μ_g + Σ_c β_c x_ic + η_i,   η_i ~ N(0, Ω),
// where x_ic is a covariate (a model parameter set per unit from the data, such as a dose or a
// load), centred on a reference (the units' median unless given) and taken as ln(z / z_ref) where
// `log` is set; μ_g is one value per group for parameters listed in `per_group`, else one value.
// Shared parameters are fixed effects (one value, or one per group where listed); σ per
// observable as in calibration.h. Ω is diagonal or full (a Cholesky factor, so it stays positive
// definite).
//
// Estimation is FOCE-I (first-order conditional estimation with interaction), i.e. the Laplace
// approximation with a Gauss-Newton Hessian: for each unit, the mode φ̂_i of
//   -ln p(y_i | φ) + ½ (φ - m_i)ᵀ Ω⁻¹ (φ - m_i)
// (Levenberg-Marquardt with the exact sensitivities of calibration.h), and
//   -ln p(y_i) ≈ -ln p(y_i | φ̂_i) + ½ (φ̂_i - m_i)ᵀ Ω⁻¹ (φ̂_i - m_i) + ½ ln|Ω| + ½ ln|Ω⁻¹ + Jᵢᵀ Jᵢ|,
// with J_i the weighted residuals' Jacobian at φ̂_i (the residual variance is evaluated at the mode:
// the "interaction"). The sum over units is minimised over the population parameters by BFGS
// with central-difference gradients (steps 1e-3 in ψ); each evaluation starts the units' modes
// from those of the last point BFGS asked for, converges them until a step would move no entry
// by 1e-9 or gain 1e-11, and solves the ODEs at rtol <= 1e-9 (atol / 10), so that the solver's
// own error stays far below the differences.
// Start: the pooled fit (every unit with the same parameters, calibration.h, one local start
// from the free parameters' starts) and ω = 0.5; BFGS runs in variables scaled by the
// objective's curvature there. Like NONMEM's and nlmixr2's, the fit is local: it finds the
// optimum near the starts (the scenario's prior medians), not a distant one. Uncertainty: the inverse
// of the objective's Hessian (central second differences) at the optimum, normal quantiles, and
// the delta method for Ω's standard deviations and correlations.
#pragma once

#include <string>
#include <vector>

#include "physynth/anchor/calibration.h"

namespace physynth::anchor {

struct CovariateEffect {
  std::string parameter;  // a per-unit (random) free parameter's name
  std::string covariate;  // the model parameter that carries the covariate, set per unit
  int covariate_index = -1;
  bool log = false;        // the effect is on ln(z / reference) (z > 0), else on z - reference
  double reference = 0.0;  // 0 with `log`, or NaN: the median over units
};

struct PopulationSpec {
  std::vector<CovariateEffect> covariates;
  bool full_covariance = false;        // else Ω is diagonal
  std::vector<std::string> per_group;  // free parameters with one value (or mean) per group
  std::vector<std::string> unit_group;  // the group of each unit (empty: one group)
};

// The fitted population as a generator of new units: everything needed to draw a unit's
// parameters (and its typical parameters, η = 0) from its covariates and group.
struct PopulationModel {
  std::vector<std::string> groups;  // group labels, in order of first appearance (one "" if none)
  struct Fixed {
    std::string name;
    int index = -1;  // model parameter
    bool log = false;
    std::vector<double> value;  // per group (one entry when not per group), model units
  };
  std::vector<Fixed> shared;
  struct Random {
    std::string name;
    int index = -1;  // model parameter
    bool log = false;
    std::vector<double> mean;  // μ per group (one entry when not per group), fitted space
    double lower = 0.0, upper = 0.0;  // the free parameter's bounds, model units
  };
  std::vector<Random> random;
  struct Effect {
    int random = 0;  // into `random`
    std::string covariate;
    int covariate_index = -1;
    bool log = false;
    double reference = 0.0;
    double beta = 0.0;
  };
  std::vector<Effect> effects;
  std::vector<double> omega;     // q x q covariance of η, row-major
  std::vector<double> cholesky;  // its lower Cholesky factor, row-major

  int group_index(const std::string& label) const;  // -1 if unknown
  // A unit's model parameters with η given (q entries, fitted space; null: η = 0, the typical
  // unit), from its other parameters (covariates already set) and group (-1: the first).
  std::vector<double> parameters(std::vector<double> unit, int group, const double* eta = nullptr) const;
};

struct PopulationSummary {
  bool success = false;
  std::string message;
  double log_likelihood = 0.0;  // FOCE-I, every constant included
  double objective = 0.0;       // -2 log-likelihood
  std::size_t readings = 0, units = 0;
  // Estimates in model units with intervals (asymmetric where fitted in logs); `unit` holds the
  // group label where the parameter is per group.
  std::vector<ParameterEstimate> fixed;    // shared parameters, then each random parameter's typical value
  std::vector<ParameterEstimate> effects;  // covariate coefficients β (fitted space per covariate unit)
  std::vector<ParameterEstimate> omega;    // standard deviation of each random effect (fitted space)
  std::vector<ParameterEstimate> correlations;  // full Ω: "a~b" for each pair
  std::vector<ParameterEstimate> sigmas;        // estimated noise σ
  std::vector<double> sigma;                    // σ per observable (given or estimated)
  PopulationModel model;
  std::vector<std::vector<double>> unit_parameters;  // each unit's model parameters at its mode (EBE)
  std::vector<std::vector<double>> eta;              // each unit's η̂ (fitted space)
  std::vector<double> shrinkage;                     // per random effect: 1 - sd(η̂) / ω
  CalibrationSummary pooled;                         // the start: every unit with the same parameters
  int iterations = 0;
  int evaluations = 0;  // of the population objective
  bool covariance_ok = false;
  double seconds = 0.0;
};

PopulationSummary fit_population(const CalibrationProblem& problem, const PopulationSpec& spec,
                                 const CalibrationOptions& options);

}  // namespace physynth::anchor
