#include "physynth/anchor/residual_fit.h"

#include <ceres/ceres.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "physynth/core/diagnostics.h"
#include "multistart.h"
#include "unit_cost.h"

namespace physynth::anchor {

using detail::from_fit;
using detail::to_fit;

namespace {

// The residuals at x (fitted space), through the user's function at θ (model units), with its
// own Jacobian (analytic) or one by central differences, step relative_step * max(|x_i|, 1): Ceres' own numeric
// differences scale the step with |x_i| alone, which near x_i = 0 (θ = 1 in ln) makes it so small
// that the solver's error dominates the difference.
class Residuals final : public ceres::DynamicCostFunction {
 public:
  Residuals(const ResidualFunction& f, std::size_t num_residuals, const std::vector<BoxParameter>& box,
            double relative_step, bool analytic, long* work, long budget)
      : f_(f), box_(box), step_(relative_step), analytic_(analytic), work_(work), budget_(budget) {
    AddParameterBlock(static_cast<int>(box.size()));
    SetNumResiduals(static_cast<int>(num_residuals));
  }
  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    const std::size_t D = box_.size(), R = static_cast<std::size_t>(num_residuals());
    std::vector<double> x(parameters[0], parameters[0] + D);
    if (analytic_ && jacobians && jacobians[0]) {  // dr/dx = dr/dθ dθ/dx, dθ/dx = θ where fitted in ln
      std::vector<double> J;
      if (!values(x, residuals, &J) || J.size() != R * D) return false;
      for (std::size_t k = 0; k < R; ++k)
        for (std::size_t i = 0; i < D; ++i) {
          const double v = J[k * D + i] * (box_[i].log ? from_fit(x[i], true) : 1.0);
          if (!std::isfinite(v)) return false;
          jacobians[0][k * D + i] = v;
        }
      return true;
    }
    if (!values(x, residuals)) return false;
    if (!jacobians || !jacobians[0]) return true;
    std::vector<double> plus(R), minus(R);
    for (std::size_t i = 0; i < D; ++i) {
      const double h = step_ * std::max(std::fabs(x[i]), 1.0), xi = x[i];
      x[i] = xi + h;
      const bool ok_plus = values(x, plus.data());
      x[i] = xi - h;
      const bool ok_minus = values(x, minus.data());
      x[i] = xi;
      if (!ok_plus || !ok_minus) return false;
      for (std::size_t k = 0; k < R; ++k) jacobians[0][k * D + i] = (plus[k] - minus[k]) / (2.0 * h);
    }
    return true;
  }

 private:
  bool values(const std::vector<double>& x, double* out, std::vector<double>* jacobian = nullptr) const {
    std::vector<double> theta(box_.size());
    for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = from_fit(x[i], box_[i].log);
    std::vector<double> r(static_cast<std::size_t>(num_residuals()), 0.0);
    // A spent budget refuses further evaluations: Ceres' line search on a bounded problem can
    // spend dozens of them inside one iteration, before any callback hears of it.
    if (work_ && budget_ > 0 && *work_ >= budget_) return false;
    if (!f_(theta, r, jacobian, work_) || r.size() != static_cast<std::size_t>(num_residuals())) return false;
    for (std::size_t k = 0; k < r.size(); ++k) {
      if (!std::isfinite(r[k])) return false;
      out[k] = r[k];
    }
    return true;
  }
  const ResidualFunction& f_;
  const std::vector<BoxParameter>& box_;
  double step_;
  bool analytic_;
  long* work_;  // the start's work so far, or null
  long budget_;
};

ceres::CostFunction* cost_function(const ResidualFunction& f, std::size_t num_residuals,
                                   const std::vector<BoxParameter>& box, const ResidualFitOptions& opt,
                                   long* work = nullptr) {
  return new Residuals(f, num_residuals, box, opt.relative_step, opt.analytic_jacobian, work,
                       work ? opt.work_budget : 0);
}

// Stops a start's Levenberg-Marquardt at the end of the iteration in which its work budget ran
// out; the evaluations refused after it (Residuals) may end the solve sooner, as a failure. Either
// way the start keeps the last point Ceres accepted, scored again without the budget.
class BudgetCallback final : public ceres::IterationCallback {
 public:
  BudgetCallback(const long* work, long budget) : work_(work), budget_(budget) {}
  ceres::CallbackReturnType operator()(const ceres::IterationSummary&) override {
    return spent() ? ceres::SOLVER_TERMINATE_SUCCESSFULLY : ceres::SOLVER_CONTINUE;
  }
  bool spent() const { return budget_ > 0 && *work_ >= budget_; }

 private:
  const long* work_;
  long budget_;
};

}  // namespace

std::vector<std::string> ResidualFitOptions::validate(const std::vector<BoxParameter>& box) const {
  std::vector<std::string> v;
  if (starts < 1) v.push_back("starts must be >= 1, got " + std::to_string(starts));
  if (max_iterations < 1) v.push_back("max_iterations must be >= 1, got " + std::to_string(max_iterations));
  if (!(relative_step > 0.0 && relative_step < 0.1))
    v.push_back("relative_step must be in (0, 0.1), got " + core::format_number(relative_step));
  if (box.empty()) v.push_back("there must be at least one parameter to fit");
  for (const auto& b : box) {
    if (!(b.lower < b.upper) || !std::isfinite(b.lower) || !std::isfinite(b.upper))
      v.push_back(b.name + ": bounds must be finite with lower < upper, got [" + core::format_number(b.lower) + ", " +
                  core::format_number(b.upper) + "]");
    if (b.log && !(b.lower > 0.0))
      v.push_back(b.name + ": a log-scaled parameter needs lower > 0, got " + core::format_number(b.lower));
    if (!(b.start >= b.lower && b.start <= b.upper))
      v.push_back(b.name + ": start must lie within the bounds, got " + core::format_number(b.start));
  }
  return v;
}

namespace {

// The Laplace covariance at x (fitted space), from the residuals' Jacobian there.
std::vector<double> covariance_at(const ResidualFunction& f, std::size_t num_residuals,
                                  const std::vector<BoxParameter>& box, const ResidualFitOptions& opt,
                                  std::vector<double> x) {
  const std::size_t D = box.size();
  std::unique_ptr<ceres::CostFunction> cost(cost_function(f, num_residuals, box, opt));
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> J(static_cast<Eigen::Index>(num_residuals),
                                                                           static_cast<Eigen::Index>(D));
  std::vector<double> r(num_residuals);
  const double* params[] = {x.data()};
  double* jac[] = {J.data()};
  Eigen::MatrixXd C = Eigen::MatrixXd::Constant(static_cast<Eigen::Index>(D), static_cast<Eigen::Index>(D),
                                                std::numeric_limits<double>::infinity());
  if (cost->Evaluate(params, r.data(), jac)) C = detail::laplace_covariance(J);
  return {C.data(), C.data() + C.size()};  // symmetric: row- and column-major agree
}

}  // namespace

std::vector<double> residual_covariance(const ResidualFunction& f, std::size_t num_residuals,
                                        const std::vector<BoxParameter>& box, const ResidualFitOptions& opt,
                                        const std::vector<double>& theta) {
  std::vector<double> x(box.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = to_fit(theta[i], box[i].log);
  return covariance_at(f, num_residuals, box, opt, x);
}

ResidualFitResult fit_residuals(const ResidualFunction& f, std::size_t num_residuals,
                                const std::vector<BoxParameter>& box, const ResidualFitOptions& opt) {
  const auto began = std::chrono::steady_clock::now();
  ResidualFitResult R;
  detail::StartDesign design;
  if (!detail::begin_fit(R, box, opt, design)) return R;
  const std::size_t D = box.size(), starts = R.starts.size();
  const std::vector<double>&lo = design.lower, &hi = design.upper;
  const auto& points = design.points;

  std::vector<std::vector<double>> optima(starts);
  const auto one = [&](std::size_t s) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> x = points[s];
    ceres::Solver::Options so;
    so.linear_solver_type = ceres::DENSE_QR;
    so.max_num_iterations = opt.max_iterations;
    so.initial_trust_region_radius = 1.0;  // short first steps, as in calibration.cpp
    so.function_tolerance = opt.function_tolerance;
    so.gradient_tolerance = opt.gradient_tolerance;
    so.parameter_tolerance = opt.parameter_tolerance;
    so.num_threads = 1;
    so.logging_type = ceres::SILENT;
    long work = 0;
    BudgetCallback budget(&work, opt.work_budget);
    so.callbacks.push_back(&budget);
    ceres::Solver::Summary summary;
    int iterations = 0;
    // The cost (and gradient) at x, outside any solve and any budget.
    const auto evaluate_at = [&](std::vector<double>& at, double* cost, std::vector<double>* gradient) {
      ceres::Problem problem;
      problem.AddResidualBlock(cost_function(f, num_residuals, box, opt), nullptr, at.data());
      return problem.Evaluate(ceres::Problem::EvaluateOptions(), cost, nullptr, gradient, nullptr);
    };
    // One solve with the entries in `held` constant (unit_cost.h's solve_with_bounds_held drives it).
    const auto solve = [&](const std::vector<bool>& held) {
      if (budget.spent()) return true;  // stays where the budget ran out
      ceres::Problem problem;
      problem.AddResidualBlock(cost_function(f, num_residuals, box, opt, &work), nullptr, x.data());
      for (std::size_t i = 0; i < D; ++i) {
        problem.SetParameterLowerBound(x.data(), static_cast<int>(i), lo[i]);
        problem.SetParameterUpperBound(x.data(), static_cast<int>(i), hi[i]);
      }
      std::vector<int> constant;
      for (std::size_t i = 0; i < held.size(); ++i)
        if (held[i]) constant.push_back(static_cast<int>(i));
      if (constant.size() == D) return true;
      if (!constant.empty()) problem.SetManifold(x.data(), new ceres::SubsetManifold(static_cast<int>(D), constant));
      ceres::Solve(so, &problem, &summary);
      iterations += static_cast<int>(summary.iterations.size());
      return summary.IsSolutionUsable() && std::isfinite(summary.final_cost);
    };
    int extra = 0;
    const bool usable = detail::solve_with_bounds_held(
        solve({}), x, lo, hi, solve,
        [&](std::vector<double>& gradient) {
          double cost = 0.0;
          return evaluate_at(x, &cost, &gradient);
        },
        &extra);
    double cost_at_x = summary.final_cost;
    if (budget.spent()) {  // the solve ended on the budget: its point and cost, evaluated without it
      double c = 0.0;
      cost_at_x = evaluate_at(x, &c, nullptr) && std::isfinite(c) ? c : std::numeric_limits<double>::infinity();
    }
    ResidualFitStart& r = R.starts[s];
    r.index = static_cast<int>(s);
    for (std::size_t i = 0; i < D; ++i) {
      r.start.push_back(from_fit(points[s][i], box[i].log));
      r.optimum.push_back(from_fit(x[i], box[i].log));
    }
    r.usable = budget.spent() ? std::isfinite(cost_at_x) : usable;
    r.cost = r.usable ? cost_at_x : std::numeric_limits<double>::infinity();
    r.iterations = iterations;
    r.work = work;
    r.budget_spent = budget.spent();
    r.message = (r.budget_spent ? "work budget spent (" + std::to_string(work) + " of " +
                                      std::to_string(opt.work_budget) + "): "
                                : std::string()) +
                (extra > 0 ? std::to_string(extra + 1) + " solves (entries on a bound held): " : std::string()) +
                summary.message;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    optima[s] = x;
  };
  detail::for_each_start(starts, opt.threads, one);
  if (!detail::pick_best(R, optima, design, began)) return R;
  R.covariance = covariance_at(f, num_residuals, box, opt, optima[static_cast<std::size_t>(R.best_start)]);
  R.success = true;
  R.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return R;
}

}  // namespace physynth::anchor
