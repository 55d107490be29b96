// PEtab (version 1) parameter-estimation problems: an SBML model, its
// measurements, observables with their noise models, conditions and the
// parameter table (https://petab.readthedocs.io, format version 1).
//
// Read: the problem YAML with one problem; the parameter table (parameterId,
// parameterScale lin|log|log10, lowerBound, upperBound, nominalValue,
// estimate); observables (observableFormula, noiseFormula, optional
// observableTransformation lin|log|log10 and noiseDistribution
// normal|laplace); measurements (observableId, simulationConditionId,
// measurement, time, optional observableParameters and noiseParameters, each a
// ';'-separated list of numbers or parameter ids); conditions (columns
// overriding model parameters by number or parameter id). Refused with a
// message naming file, line and column: condition columns
// that are not model parameters, unknown observables, conditions or
// parameters, and anything that is not a number where a number must be.
//
// Preequilibration (a measurement's preequilibrationConditionId): the model,
// with that condition's parameters, is integrated from its initial state until
// it is at steady state (every |dx/dt| <= atol + rtol |x|, checked at times
// 10^-2 ... 10^10), and the simulation condition starts from that state. A
// measurement at time inf is taken at the simulation condition's steady state,
// reached the same way from the condition's start.
//
// The log-likelihood is PEtab's: for y = h(x(t), theta) and a measurement m
// with noise sigma, normal: -1/2 log(2 pi sigma^2) - (m - y)^2 / (2 sigma^2);
// laplace: -log(2 sigma) - |m - y| / sigma; with a log or log10
// transformation, on log m and log y, less log m (times ln 10 for log10).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"
#include "physynth/domains/kinetics/sbml_model.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::domains::kinetics {

// A parameter's objective prior (objectivePriorType, objectivePriorParameters): its log-density
// is added to the log-likelihood where a calibration maximises the posterior.
//   normal (mean; sd), laplace (location; scale), uniform (lower; upper): of the value;
//   logNormal, logLaplace: of ln(value) (mean and scale of ln), with the density's 1/value;
//   parameterScaleNormal, parameterScaleLaplace, parameterScaleUniform: of the value on the
//   parameter's scale (log10 of it for a log10 parameter).
struct PetabPrior {
  std::string type;  // empty: none
  double a = 0.0, b = 0.0;
  // The prior's kind, by its type's name.
  bool uniform() const { return type == "uniform" || type == "parameterScaleUniform"; }
  bool laplace() const { return type == "laplace" || type == "logLaplace" || type == "parameterScaleLaplace"; }
  bool of_log() const { return type == "logNormal" || type == "logLaplace"; }  // its density has the 1/value
  // The variable the prior is a density of, at `value` (linear scale) of a parameter on `scale`,
  // its derivative by the value, and the value at a given variable.
  double variable(double value, const std::string& scale) const;
  double variable_derivative(double value, const std::string& scale) const;
  double value_at(double variable, const std::string& scale) const;
  // The log-density at `value`; -inf outside a uniform's range; 0 without a prior.
  double log_density(double value, const std::string& scale) const;
};

struct PetabParameter {
  std::string id;
  std::string scale = "lin";  // lin, log or log10
  double lower = 0, upper = 0, nominal = 0;
  bool estimate = false;
  PetabPrior prior;
};

struct PetabObservable {
  std::string id;
  std::unique_ptr<SbmlFormula> formula, noise;
  std::string transformation = "lin";    // lin, log or log10
  std::string distribution = "normal";   // normal or laplace
  std::string formula_text, noise_text;  // as the table writes them
  std::string file;                      // the observable table and line it comes from
  int line = 0;
};

// A number, or the PEtab parameter it names.
struct PetabValue {
  double number = 0.0;
  int parameter = -1;  // index into PetabProblem::parameters, or -1 for the number
};

struct PetabMeasurement {
  int observable = -1, condition = -1;
  int preequilibration = -1;  // the condition the model is first brought to steady state under, or -1
  double time = 0.0, value = 0.0;
  std::vector<PetabValue> observable_parameters, noise_parameters;
  std::string file;  // the measurement table it comes from
  int line = 0;
};

struct PetabCondition {
  std::string id;
  std::vector<std::pair<int, PetabValue>> overrides;  // model parameter index -> value
};

// One evaluation: the likelihood and what went into it.
struct PetabEvaluation {
  double log_likelihood = 0.0;
  double chi2 = 0.0;                // sum of ((m - y) / sigma)^2
  std::vector<double> simulations;  // y per measurement, in table order
  // Per measurement: the residual (data - y) / sigma on the observable's transformed scale, and
  // sigma; log_likelihood is the sum over measurements of
  //   normal:  -1/2 log(2 pi sigma^2) - residual^2 / 2 - jacobian,
  //   laplace: -log(2 sigma) - |residual| - jacobian,
  // with jacobian the measurement's log (lin: 0; log: log m; log10: log(m ln 10)).
  std::vector<double> residuals, sigmas, jacobians;
  // With `gradient` asked of evaluate: per measurement, the derivatives by every PEtab parameter
  // (linear scale; M x P row-major) of its misfit e = data - simulation on the transformed scale
  // (residual = e / sigma) and of sigma. Exact: CVODES forward sensitivities of the states (through
  // preequilibration and steady states, by integrating them with the states), chained through the
  // condition table and the observable's and noise formula's partial derivatives (Jets).
  bool has_gradient = false;
  std::vector<double> misfit_gradient, sigma_gradient;
  std::string no_gradient;  // why the gradient could not be formed, where it was asked for and is absent
  bool failed = false;
  std::string message;  // why it failed; a non-finite term names its measurement's file and line
  long steps = 0;       // integrator steps of every solve in it (steady states too): its work
};

// The log-likelihood's gradient (PetabProblem::log_likelihood_gradient).
enum class GradientMethod {
  kAuto,     // adjoint where every simulation allows it and its solves succeed, forward sensitivities otherwise
  kForward,  // forward sensitivities (evaluate's)
  kAdjoint,  // adjoint sensitivities, forward where a simulation does not allow them (why_forward says)
};
struct PetabGradient {
  double log_likelihood = 0.0;
  std::vector<double> gradient;  // d log-likelihood / d value per PEtab parameter, linear scale
  std::string method;            // "adjoint" or "forward": what computed it
  std::string why_forward;       // where the adjoint was asked for or chosen and forward used: why
  bool failed = false;
  std::string message;
  long steps = 0;  // integrator steps, forward and backward
};

class PetabProblem {
 public:
  // Reads the problem file and everything it lists; nullptr after reporting problems to diags.
  // `sbml` sets the model's unit policy (SbmlOptions::units, 'warn' by default).
  static std::unique_ptr<PetabProblem> read(const std::string& problem_yaml, core::Diagnostics& diags,
                                            const SbmlOptions& sbml = {});

  const SbmlModel& model() const { return *model_; }
  std::shared_ptr<const SbmlModel> model_ptr() const { return model_; }
  const std::vector<PetabParameter>& parameters() const { return parameters_; }
  const std::vector<PetabObservable>& observables() const { return observables_; }
  const std::vector<PetabMeasurement>& measurements() const { return measurements_; }
  const std::vector<PetabCondition>& conditions() const { return conditions_; }
  std::vector<double> nominal_values() const;  // per parameter, linear scale
  // The sum of the estimated parameters' objective priors' log-densities at `values` (0 without any).
  double log_prior(const std::vector<double>& values) const;
  bool has_priors() const;
  // The files the problem was read from, by the problem file's keys (sbml_files,
  // condition_files, measurement_files, observable_files, parameter_file), as paths joined to
  // the problem file's folder.
  const std::map<std::string, std::vector<std::string>>& files() const { return files_; }

  // The log-likelihood with the PEtab parameters at `values` (linear scale, one per parameter).
  // With `gradient`, also the derivatives above (options.sensitivity_parameters is ignored: the
  // model parameters that PEtab parameters set are the sensitivity parameters).
  // With `rows_instead`, the simulations are of those rows (measurement rows of this problem's
  // observables and conditions, any times) instead of the measurement table's: a simulation on a
  // grid. Its likelihood then scores their `value`s.
  // With `row_states`, also the model's state at each row's time (rows x num_states, row-major;
  // NaN for the rows of a (preequilibration, condition) pair whose simulation failed, and for
  // every later pair when the evaluation stops there).
  PetabEvaluation evaluate(const std::vector<double>& values, const solvers::OdeOptions& options, bool gradient = false,
                           const std::vector<PetabMeasurement>* rows_instead = nullptr,
                           std::vector<double>* row_states = nullptr) const;

  // The log-likelihood at `values` (as evaluate's, without priors) and its gradient by every
  // PEtab parameter. The adjoint (solvers/adjoint.h) takes one backward solve per condition
  // whatever the parameter count, from a preequilibration's steady state too, and measurements at
  // time inf (steady states' derivatives by the implicit function theorem); it does not take
  // measurements at time inf after a preequilibration, jumps or switch times, nor KLU, and solves
  // with CVODES' BDF whatever options.method says: there, where a steady state's Jacobian is
  // singular, and with kForward, the gradient comes from evaluate's forward sensitivities.
  PetabGradient log_likelihood_gradient(const std::vector<double>& values, const solvers::OdeOptions& options,
                                        GradientMethod method = GradientMethod::kAuto) const;
  // Which sensitivities log_likelihood_gradient(values, options, method) uses: empty for the
  // adjoint, else why forward ones (kForward: as asked; kAuto and kAdjoint: where the adjoint
  // refuses).
  std::string why_forward(const std::vector<double>& values, const solvers::OdeOptions& options,
                          GradientMethod method) const;
  // Why the adjoint cannot compute this problem's gradient under `options` (empty: it can).
  std::string adjoint_refusal(const std::vector<double>& values, const solvers::OdeOptions& options) const;

  // Each (preequilibration, simulation) condition pair `rows` name, in the order they first
  // appear (preequilibration -1: none): what evaluate() simulates, one solve per pair.
  static std::vector<std::pair<int, int>> condition_pairs(const std::vector<PetabMeasurement>& rows);

  // The model's parameter vector under condition c (an index into conditions()) with the PEtab
  // parameters at `values`: the model's written values, then the parameter table's, then the
  // condition table's.
  std::vector<double> model_parameters(const std::vector<double>& values, std::size_t c) const;

  // How steady states (preequilibrations, measurements at time inf) are found: Newton's method
  // first, simulation where it fails (the default, as AMICI), or simulation alone (a multistable
  // model, where which steady state a simulation reaches matters: solvers/steady_state.h).
  void set_newton_steady_states(bool on) { newton_ = on; }
  // How many steady states Newton's method found, and how many simulation, since the problem was
  // read (for the report).
  std::pair<long, long> steady_states_found() const { return {newton_found_, simulation_found_}; }

 private:
  // Per model parameter under condition c: the PEtab parameter that sets it, or -1 (a number).
  std::vector<int> sources(std::size_t c) const;
  // The rows of `table` simulated under (pre, cond), and their distinct times in order.
  static void rows_of(const std::vector<PetabMeasurement>& table, int pre, int cond, std::vector<std::size_t>& rows,
                      std::vector<double>& times);
  // The vector formulas read under one condition (p: the model's parameters there; src: the
  // PEtab parameter that sets each, or -1): p, then the PEtab-only parameters, then slots for
  // every observable's placeholders; and per entry the PEtab parameter it is, or -1.
  void extend(const std::vector<double>& values, const std::vector<double>& p, const std::vector<int>& src,
              std::vector<double>& extended, std::vector<int>& ext_source) const;
  // One measurement row observed at state y (its placeholders written into `extended`): the
  // simulation h, sigma, the residual and the log-likelihood term (see PetabEvaluation), and
  // d term = dterm_de de + dterm_dsigma dsigma for the misfit e = data - simulation on the
  // transformed scale. With `partials`, de and dsigma by the state (n) and by the PEtab
  // parameters the formulas read directly (direct_source, one entry per extended entry one sets).
  struct Observation {
    double h = 0.0, sigma = 0.0, residual = 0.0, term = 0.0, jacobian = 0.0;
    double dterm_de = 0.0, dterm_dsigma = 0.0;
    std::vector<double> de_dy, dsig_dy, de_direct, dsig_direct;
    std::vector<int> direct_source;
  };
  Observation observe(const std::vector<double>& values, const PetabMeasurement& meas, const double* y,
                      std::vector<double>& extended, std::vector<int>& ext_source, bool partials) const;

  // The state the model settles to with parameters p from the state y holds on entry (written
  // to y): by Newton's method (without sensitivities, for a model that does not read time), else
  // integrated by `solver` (the evaluation's own, built with `options`); false (and why) if it
  // has not settled by t = 1e10. Where the solver has K sensitivity parameters, `sens`
  // (K x n, parameter-major) holds the state's sensitivities on entry (empty: the model's dy0/dp)
  // and theirs at the steady state on return.
  bool steady_state(const std::vector<double>& p, const solvers::OdeOptions& options, solvers::OdeSolver& solver,
                    std::vector<double>& y, std::string* why, std::vector<double>* sens = nullptr) const;

  std::shared_ptr<SbmlModel> model_;
  std::vector<PetabParameter> parameters_;
  std::vector<int> model_index_;    // per PEtab parameter: its model parameter index, or -1
  std::vector<std::string> extra_;  // formula names beyond the model's parameters
  std::size_t placeholders_ = 0;    // observableParameterK_ and noiseParameterK_ names per observable
  std::vector<PetabObservable> observables_;
  std::vector<PetabMeasurement> measurements_;
  std::vector<PetabCondition> conditions_;
  std::map<std::string, std::vector<std::string>> files_;
  bool newton_ = true;
  mutable std::atomic<long> newton_found_{0}, simulation_found_{0};
};

}  // namespace physynth::domains::kinetics
