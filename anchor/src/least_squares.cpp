#include "physynth/anchor/least_squares.h"

#include <ceres/ceres.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace physynth::anchor {

void quiet_solver_log() { FLAGS_minloglevel = google::GLOG_FATAL; }

namespace {

std::vector<double> bound_parameters(const Experiment& e, const std::vector<double>& theta) {
  std::vector<double> p = e.parameters;
  for (const auto& [j, k] : e.bindings) p[static_cast<std::size_t>(k)] = theta[static_cast<std::size_t>(j)];
  return p;
}

// Residuals of one experiment; Jacobian columns from sensitivities.
class ExperimentCost : public ceres::CostFunction {
 public:
  ExperimentCost(std::shared_ptr<const core::Model> model, const Experiment& e, std::vector<bool> log_scale,
                 const solvers::OdeOptions& ode, int theta_size)
      : model_(std::move(model)), e_(e), log_scale_(std::move(log_scale)) {
    set_num_residuals(static_cast<int>(e.times.size()));
    mutable_parameter_block_sizes()->push_back(theta_size);
    solvers::OdeOptions o = ode;
    for (const auto& b : e.bindings) o.sensitivity_parameters.push_back(b.second);
    o.method = solvers::with_sensitivities(o.method);
    solver_ = std::make_unique<solvers::OdeSolver>(model_, o);
  }

  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    const std::size_t K = parameter_block_sizes()[0], T = e_.times.size(), n = model_->num_states();
    const std::size_t B = e_.bindings.size();
    std::vector<double> theta(parameters[0], parameters[0] + K);
    for (std::size_t j = 0; j < K; ++j)
      if (j < log_scale_.size() && log_scale_[j]) theta[j] = std::exp(theta[j]);
    const auto p = bound_parameters(e_, theta);
    std::vector<double> y0(n), out(T * n), sens(T * B * n);
    model_->initial_state(p.data(), y0.data());
    const auto r = solver_->solve(p.data(), y0.data(), e_.t0, e_.times, out.data(), sens.data());
    if (r.status != solvers::SolveStatus::kSuccess) return false;  // Ceres shrinks the step and retries
    const auto s = static_cast<std::size_t>(e_.state);
    for (std::size_t i = 0; i < T; ++i) residuals[i] = out[i * n + s] - e_.values[i];
    if (jacobians && jacobians[0]) {
      double* J = jacobians[0];  // row-major T x K
      std::fill(J, J + T * K, 0.0);
      for (std::size_t b = 0; b < B; ++b) {
        const auto j = static_cast<std::size_t>(e_.bindings[b].first);
        const double chain = (j < log_scale_.size() && log_scale_[j]) ? theta[j] : 1.0;
        for (std::size_t i = 0; i < T; ++i) J[i * K + j] += sens[(i * B + b) * n + s] * chain;
      }
    }
    return true;
  }

 private:
  std::shared_ptr<const core::Model> model_;
  Experiment e_;
  std::vector<bool> log_scale_;
  std::unique_ptr<solvers::OdeSolver> solver_;  // Evaluate is const to Ceres; the solver's memory is reused
};

// (x[index] - mean) / sd, as one residual.
class PriorCost : public ceres::CostFunction {
 public:
  PriorCost(const Prior& prior, int theta_size) : prior_(prior), size_(theta_size) {
    set_num_residuals(1);
    mutable_parameter_block_sizes()->push_back(theta_size);
  }
  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    residuals[0] = (parameters[0][prior_.index] - prior_.mean) / prior_.sd;
    if (jacobians && jacobians[0]) {
      std::fill(jacobians[0], jacobians[0] + size_, 0.0);
      jacobians[0][prior_.index] = 1.0 / prior_.sd;
    }
    return true;
  }

 private:
  Prior prior_;
  int size_;
};

}  // namespace

FitSummary fit_least_squares(std::shared_ptr<const core::Model> model, const std::vector<Experiment>& experiments,
                             const std::vector<double>& initial, const FitOptions& options) {
  FitSummary summary;
  const std::size_t K = initial.size();
  std::vector<double> x(initial);
  for (std::size_t j = 0; j < K; ++j)
    if (j < options.log_scale.size() && options.log_scale[j]) {
      if (!(initial[j] > 0.0)) {
        summary.message = "initial value of log-scaled entry " + std::to_string(j) + " must be > 0";
        return summary;
      }
      x[j] = std::log(initial[j]);
    }
  ceres::Problem problem;
  for (const auto& e : experiments) {
    if (e.times.size() != e.values.size() || e.times.empty()) {
      summary.message = "experiment '" + e.name + "' needs as many values as times, and at least one";
      return summary;
    }
    problem.AddResidualBlock(new ExperimentCost(model, e, options.log_scale, options.ode, static_cast<int>(K)), nullptr,
                             x.data());
  }
  for (const auto& prior : options.priors) {
    if (prior.index < 0 || prior.index >= static_cast<int>(K) || !(prior.sd > 0.0)) {
      summary.message =
          "prior on entry " + std::to_string(prior.index) + " needs 0 <= index < " + std::to_string(K) + " and sd > 0";
      return summary;
    }
    problem.AddResidualBlock(new PriorCost(prior, static_cast<int>(K)), nullptr, x.data());
  }
  ceres::Solver::Options so;
  so.linear_solver_type = ceres::DENSE_QR;
  so.max_num_iterations = options.max_iterations;
  so.function_tolerance = options.function_tolerance;
  so.logging_type = ceres::SILENT;
  ceres::Solver::Summary cs;
  ceres::Solve(so, &problem, &cs);
  summary.converged = cs.termination_type == ceres::CONVERGENCE;
  summary.message = cs.BriefReport();
  summary.final_cost = cs.final_cost;
  summary.iterations = static_cast<int>(cs.iterations.size());
  summary.estimate = x;
  for (std::size_t j = 0; j < K; ++j)
    if (j < options.log_scale.size() && options.log_scale[j]) summary.estimate[j] = std::exp(x[j]);
  return summary;
}

std::vector<double> predict(std::shared_ptr<const core::Model> model, const Experiment& e,
                            const std::vector<double>& theta, const solvers::OdeOptions& ode) {
  const std::size_t n = model->num_states(), T = e.times.size();
  const auto p = bound_parameters(e, theta);
  std::vector<double> y0(n), out(T * n);
  model->initial_state(p.data(), y0.data());
  solvers::OdeSolver solver(model, ode);
  solver.solve(p.data(), y0.data(), e.t0, e.times, out.data());
  std::vector<double> v(T);
  for (std::size_t i = 0; i < T; ++i) v[i] = out[i * n + static_cast<std::size_t>(e.state)];
  return v;
}

double rmse(const std::vector<double>& prediction, const std::vector<double>& measured) {
  if (prediction.size() != measured.size() || measured.empty())
    throw std::invalid_argument("rmse: sizes differ or are zero");
  double sum = 0.0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const double d = prediction[i] - measured[i];
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(measured.size()));
}

}  // namespace physynth::anchor
