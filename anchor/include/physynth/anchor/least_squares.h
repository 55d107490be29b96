// Fitting model parameters to measured trajectories by least squares.
//
// A fit estimates a vector theta shared by several experiments. Each
// experiment binds some entries of theta to parameters of the model (so a
// parameter can be common to all experiments, or differ between groups of
// them, such as a wear coefficient per workpiece material), fixes the other
// parameters, and measures one state at some times. Residuals are
// model - measurement; their Jacobian is exact, from CVODES forward
// sensitivities of the templated model; Ceres minimises the sum of squares
// (Levenberg-Marquardt). Entries of theta can be fitted in log space, which
// keeps rates positive and well scaled.
//
// This is the first piece of the reality anchor (issue 7): noise models,
// multi-start, population distributions and uncertainty come with it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "physynth/core/model.h"
#include "physynth/solvers/ode_solver.h"

namespace physynth::anchor {

// Ceres logs a failed start through glog ("Residual and Jacobian evaluation failed"); the
// anchor reports each start's outcome itself (fit.json, failed_starts). Programs call this once
// so that only fatal messages print.
void quiet_solver_log();

struct Experiment {
  std::string name;
  std::vector<double> parameters;             // every model parameter; bound entries are overwritten from theta
  std::vector<std::pair<int, int>> bindings;  // (theta index, model parameter index)
  double t0 = 0.0;
  int state = 0;               // the measured state
  std::vector<double> times;   // strictly increasing, >= t0
  std::vector<double> values;  // measurements at `times`
};

// A Gaussian prior on one entry of theta, in the space it is fitted in (ln of
// the value for a log-scaled entry): adds ((x - mean) / sd)^2 to the sum of
// squares. Weak priors keep parameters the data cannot pin down (such as the
// shape of a wear stage the calibration runs never reach) at plausible values.
struct Prior {
  int index = 0;
  double mean = 0.0;
  double sd = 1.0;
};

struct FitOptions {
  std::vector<bool> log_scale;  // per theta entry; empty: none
  std::vector<Prior> priors;
  solvers::OdeOptions ode;  // tolerances of the solves inside the fit
  int max_iterations = 200;
  double function_tolerance = 1e-12;
};

struct FitSummary {
  bool converged = false;
  std::string message;           // Ceres' report line, or why the fit could not run
  std::vector<double> estimate;  // theta, in the model's units (not log)
  double final_cost = 0.0;       // half the sum of squared residuals
  int iterations = 0;
};

// Fits theta, starting from `initial` (model units; > 0 where log-scaled).
FitSummary fit_least_squares(std::shared_ptr<const core::Model> model, const std::vector<Experiment>& experiments,
                             const std::vector<double>& initial, const FitOptions& options);

// The model's prediction of an experiment's measured state at its times,
// with theta bound into it; NaN where the solve did not reach.
std::vector<double> predict(std::shared_ptr<const core::Model> model, const Experiment& experiment,
                            const std::vector<double>& theta, const solvers::OdeOptions& ode);

// Root-mean-square of prediction - measurement.
double rmse(const std::vector<double>& prediction, const std::vector<double>& measured);

}  // namespace physynth::anchor
