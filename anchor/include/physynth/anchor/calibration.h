// Calibration: maximum likelihood estimates of a model's parameters from
// measured trajectories, with per-unit parameters and their population.
//
// The data are units (a tool, a field plot, an assay well). Each unit has the
// model's full parameter vector (covariates such as a substrate load already
// in it) and measurements of observables h(t, y, p). The free parameters are
//   shared     one value for every unit (a material constant), and
//   per unit   one value per unit (a wear coefficient that varies from tool to tool);
// each is bounded, and fitted in ln θ where `log` is set (the default for
// positive bounds): rates stay positive and decades are scaled alike.
//
// Noise models, per observable, for a reading m of a prediction f:
//   additive      m = f + σ e                 r = (f - m) / σ
//   proportional  m = f (1 + σ e)             r = (f - m) / (σ |f|)
//   log_normal    ln m = ln f + σ e           r = (ln f - ln m) / σ        (m, f > 0)
//   combined      m = f + sqrt(σ² + (σ_p f)²) e   r = (f - m) / sqrt(σ² + (σ_p f)²)
// with e ~ N(0, 1). σ is either given, or estimated with the parameters (in ln σ); the
// combined model's two (an additive floor σ and a proportional part σ_p, NONMEM's and
// Monolix's "combined" error model; the variance of physynth's own sensor noise with both
// additive_sd and multiplicative_sd) are always estimated. A reading with its own sd uses
// r = (f - m) / sd instead.
//
// The negative log-likelihood is Σ r²/2 + Σ ln σ_i + constants. Ceres minimises
// a sum of squares, so every ln σ_i that depends on the parameters enters as
// one more residual sqrt(2 (ln σ_i + c)) (c a constant that keeps it real):
// the likelihood is exact, and Levenberg-Marquardt still applies. The
// Jacobian is exact: dh/dy times CVODES forward sensitivities dy/dθ of the
// templated model, plus dh/dθ.
//
// Multi-start: the first start is the given one, the rest a Sobol design over
// the box of bounds (fitted space). In each start, every unit's own parameters are first fitted
// alone with the shared ones held (in the first start also from up to 4 Sobol points of the
// unit's box), so that the joint solve begins near each unit's optimum. Uncertainty: the Laplace approximation
// (J^T J)^-1 at the best optimum; with an estimated σ, scaled by N / (N - k)
// (k parameters, N readings) and with Student-t quantiles, as nls does, so
// that small data sets get honest intervals. The population of a per-unit
// parameter is two-stage: the mean and spread of its unit estimates in the
// fitted space, with the spread corrected for the estimates' own uncertainty.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "physynth/core/model.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::anchor {

// An observable h(t, y, p) and its partial derivatives.
class ObservationFunction {
 public:
  virtual ~ObservationFunction() = default;
  // h; when dh_dy (num_states entries) and dh_dp (num_parameters entries) are not null, also its
  // partial derivatives. Calls on one object come from one thread at a time (see clone).
  virtual double evaluate(double t, const double* y, const double* p, double* dh_dy, double* dh_dp) const = 0;
  // An independent copy, for another thread.
  virtual std::unique_ptr<ObservationFunction> clone() const = 0;
  // The unit (its index in the problem) the next calls are for: the key of a random feature's
  // common random numbers. Deterministic functions ignore it.
  virtual void set_unit(std::size_t /*unit*/) {}
};

// h = y[state].
std::unique_ptr<ObservationFunction> observe_state(int state, std::size_t num_states, std::size_t num_parameters);
// h = the model's deterministic derived feature (a user model's definition), with the exact
// partial derivatives the model gives (core::Model::derived_partials).
std::unique_ptr<ObservationFunction> observe_feature(std::shared_ptr<const core::Model> model, std::size_t feature);
// h = the mean over `replicas` draws of one of the model's random derived features (a vibration
// feature of a synthesised snapshot): the function `run` writes, averaged. Each draw's randomness
// is keyed on (seed, unit, reading time, draw), so the same noise comes back at every θ (common
// random numbers) and h is a smooth function of y and p. Its partial derivatives are forward
// differences (step 1e-6, relative): by every state, and by the model parameters in `free`
// (the others get 0).
std::unique_ptr<ObservationFunction> observe_random_feature(std::shared_ptr<const core::Model> model,
                                                            std::size_t feature, std::vector<int> free,
                                                            std::uint64_t seed, int replicas);

enum class NoiseKind { kAdditive, kProportional, kLogNormal, kCombined };
const char* noise_name(NoiseKind k);

struct CalibrationObservable {
  std::string name;
  std::shared_ptr<const ObservationFunction> function;
  NoiseKind noise = NoiseKind::kAdditive;
  double sigma = 0.0;  // > 0: known; 0: estimated with the parameters
};

struct FreeParameter {
  std::string name;
  int index = -1;  // into the model's parameters
  double lower = 0.0, upper = 0.0;
  bool log = true;        // fitted in ln θ (needs lower > 0)
  bool per_unit = false;  // one value per unit, else shared
  double start = 0.0;     // the first start; in [lower, upper]
};

struct Measurement {
  int observable = 0;  // into CalibrationProblem::observables
  double time = 0.0;
  double value = 0.0;
  double sd = 0.0;  // > 0: this reading's own standard deviation
};

struct CalibrationUnit {
  std::string id;
  std::vector<double> parameters;  // every model parameter; free ones are overwritten
  std::vector<Measurement> measurements;
};

struct CalibrationProblem {
  // An ODE model, whose dy/dθ are CVODES sensitivities, or a stepped model (a crop season),
  // whose dy/dθ are central differences of its simulation with the same seed: the same
  // weather (generated weather is keyed on the seed and the unit's index) at every θ.
  std::shared_ptr<const core::Model> model;
  std::uint64_t seed = 0;  // of stepped models' generated inputs and random features' draws
  double t0 = 0.0;
  solvers::OdeOptions ode;  // tolerances of every solve (sensitivities are added)
  // The scenario's terminal events (a bearing's failure size), made afresh for each unit's
  // solver; empty: none. Used only where a unit's solve fails (a crack that runs away in finite
  // time): solved again with them, the unit stops at the threshold and its later readings see
  // the first-order continuation y(t_e) + f(t_e) (t - t_e) (unit_cost.h says why).
  std::function<std::vector<solvers::Event>()> stop_events;
  std::vector<CalibrationObservable> observables;
  std::vector<FreeParameter> parameters;
  std::vector<CalibrationUnit> units;
};

struct CalibrationOptions {
  int starts = 10;  // the given start plus starts - 1 Sobol points
  std::uint64_t seed = 0;
  int max_iterations = 200;  // Levenberg-Marquardt iterations per start
  double function_tolerance = 1e-10;
  double gradient_tolerance = 1e-12;
  double parameter_tolerance = 1e-10;
  double confidence = 0.95;  // of the intervals
  int threads = 0;           // starts run in parallel; 0: every core. Results do not depend on it.
  // Ceres compares every Jacobian with central differences and fails the start where they
  // differ by more than 1e-3 (relative, elementwise; the sensitivities themselves are only
  // as accurate as the solver tolerances): for tests, slow.
  bool check_gradients = false;
  // Every violated constraint, as "field must ..., got ..." messages; empty if valid.
  std::vector<std::string> validate() const;
};

struct ParameterEstimate {
  std::string name;
  std::string unit;  // empty for a shared parameter or a noise σ
  double estimate = 0.0;
  double lower = 0.0, upper = 0.0;  // confidence interval, model units (asymmetric for log)
  double se = 0.0;                  // standard error in the fitted space (of ln θ where log)
  bool log = false;
  bool at_bound = false;  // the estimate sits on a bound: its interval is not reliable
  // false: the readings do not determine it at this optimum (an infinite standard error, or an
  // interval that covers the whole [low, high] of its bounds): the predictions hardly change with
  // it there, e.g. a defect onset after the last reading, and the estimate is wherever the fit
  // left it, often its start.
  bool determined = true;
};

// A per-unit parameter's distribution across units, in the fitted space (ln θ where log):
// normal(mean, sd), mean within [mean_lower, mean_upper].
struct PopulationEstimate {
  std::string name;
  bool log = false;
  std::size_t units = 0;
  double mean = 0.0, sd = 0.0;
  double mean_lower = 0.0, mean_upper = 0.0;
  double raw_sd = 0.0;  // sd of the unit estimates before removing their own uncertainty
};

struct StartResult {
  int index = 0;
  std::vector<double> start;    // free parameters, model units (shared, then per unit for unit 0)
  std::vector<double> optimum;  // where the start ended, the same entries
  double log_likelihood = 0.0;
  bool usable = false;  // Ceres returned a finite optimum
  int iterations = 0;
  std::string message;
};

struct CalibrationSummary {
  bool success = false;
  std::string message;
  double log_likelihood = 0.0;  // at the best optimum, every constant included
  std::size_t readings = 0;
  std::size_t fitted = 0;  // free parameter values (shared + per unit x units), σ excluded
  std::vector<ParameterEstimate> shared;
  std::vector<ParameterEstimate> per_unit;  // unit-major
  std::vector<ParameterEstimate> sigmas;    // estimated noise σ, one per such observable
  // The Laplace covariance of the shared estimates (row-major, shared x shared, in the fitted
  // space: ln θ where fitted in logs); infinite along directions the data do not determine.
  std::vector<double> shared_covariance;
  std::vector<PopulationEstimate> population;
  std::vector<StartResult> starts;
  int best_start = -1;
  int starts_at_best = 0;                            // starts within 0.1 of the best log-likelihood
  std::vector<std::vector<double>> unit_parameters;  // each unit's model parameters at the estimate
  // σ per observable (given or estimated; NaN where not estimated: see sigma_not_estimated)
  std::vector<double> sigma;
  std::vector<double> sigma_proportional;  // σ_p per observable (combined noise; else 0)
  double seconds = 0.0;
};

CalibrationSummary calibrate(const CalibrationProblem& problem, const CalibrationOptions& options);

// The estimates (shared, σ, then per unit as "name[unit]") the readings do not determine.
std::vector<std::string> undetermined(const CalibrationSummary& summary);

// The observables whose σ is neither given nor estimated: no reading of them lacks an sd of its
// own (or the data has none of them), so nothing in the fit depends on it. Their σ in the
// summary is NaN; a calibrated scenario keeps their noise as it was.
std::vector<std::string> sigma_not_estimated(const CalibrationProblem& problem, const CalibrationSummary& summary);

// Predictions of every measurement (unit-major, in the units' order) with each unit's model
// parameters; NaN where the solve failed.
std::vector<std::vector<double>> predict(const CalibrationProblem& problem,
                                         const std::vector<std::vector<double>>& unit_parameters);

// The log-likelihood of the data given predictions, with every estimated σ at its maximum
// (the root-mean-square of the residuals in the noise model's space; for combined noise, σ and
// σ_p by Newton's method), every constant included. sigma_out and sigma_proportional_out, when
// not null, receive σ and σ_p (0 but for combined noise) per observable.
double log_likelihood(const CalibrationProblem& problem, const std::vector<std::vector<double>>& predictions,
                      std::vector<double>* sigma_out = nullptr, std::vector<double>* sigma_proportional_out = nullptr);

}  // namespace physynth::anchor
