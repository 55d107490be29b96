#include "physynth/anchor/petab_calibration.h"

#include "physynth/anchor/gradient_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace physynth::anchor {

namespace {
constexpr double kSigmaOffset = 30.0;  // c: ln σ + c > 0 for every σ > e^-30
}

bool petab_residuals(const domains::kinetics::PetabProblem& problem, const domains::kinetics::PetabEvaluation& e,
                     std::vector<double>& residuals, const std::vector<bool>& sigma_varies) {
  const auto& measurements = problem.measurements();
  residuals.assign(2 * measurements.size(), 0.0);
  if (e.failed) return false;
  for (std::size_t k = 0; k < measurements.size(); ++k) {
    const bool laplace =
        problem.observables()[static_cast<std::size_t>(measurements[k].observable)].distribution == "laplace";
    const double z = e.residuals[k], sigma = e.sigmas[k];
    const double log_term = std::log(laplace ? 2.0 * sigma : sigma) + kSigmaOffset;
    if (!std::isfinite(z) || !(sigma > 0.0) || !(log_term >= 0.0)) return false;
    residuals[2 * k] = laplace ? std::copysign(std::sqrt(2.0 * std::fabs(z)), z) : z;
    // A σ that no estimated parameter moves adds a constant: left out (0), it would only dilute
    // the cost that Ceres' relative tolerances compare changes with.
    residuals[2 * k + 1] = sigma_varies.empty() || sigma_varies[k] ? std::sqrt(2.0 * log_term) : 0.0;
  }
  return true;
}

bool petab_jacobian(const domains::kinetics::PetabProblem& problem, const domains::kinetics::PetabEvaluation& e,
                    const std::vector<bool>& sigma_varies, const std::vector<int>& fitted,
                    std::vector<double>& jacobian) {
  const auto& measurements = problem.measurements();
  const std::size_t M = measurements.size(), D = fitted.size();
  if (e.failed || !e.has_gradient) return false;
  const std::size_t P = e.misfit_gradient.size() / M;
  jacobian.assign(2 * M * D, 0.0);
  for (std::size_t k = 0; k < M; ++k) {
    const bool laplace =
        problem.observables()[static_cast<std::size_t>(measurements[k].observable)].distribution == "laplace";
    const double z = e.residuals[k], sigma = e.sigmas[k];
    const double log_term = std::log(laplace ? 2.0 * sigma : sigma) + kSigmaOffset;
    for (std::size_t i = 0; i < D; ++i) {
      const auto q = static_cast<std::size_t>(fitted[i]);
      const double de = e.misfit_gradient[k * P + q], ds = e.sigma_gradient[k * P + q];
      const double dz = (de - z * ds) / sigma;  // z = e / σ
      // r = z (normal) or sign(z) sqrt(2 |z|) (Laplace); the σ residual sqrt(2 (ln σ + c)).
      jacobian[(2 * k) * D + i] = laplace ? dz / std::max(std::sqrt(2.0 * std::fabs(z)), 1e-8) : dz;
      if (sigma_varies.empty() || sigma_varies[k])
        jacobian[(2 * k + 1) * D + i] = ds / sigma / std::max(std::sqrt(2.0 * log_term), 1e-8);
    }
  }
  return true;
}

namespace {

// A noise parameter whose σ has a closed-form maximum given everything else (Loos et al. 2018,
// "Hierarchical optimization for the efficient parametrization of ODE models", Bioinformatics
// 34:4266): σ of its measurements is exactly the parameter, and it moves no simulation.
struct Profiled {
  int parameter = -1;             // into problem.parameters()
  std::vector<std::size_t> rows;  // the measurements whose σ it is
  bool laplace = false;
  double lower = 0.0, upper = 0.0;
};

// σ's maximum given the other parameters, from an evaluation at any σ: e = r σ is the
// misfit on the transformed scale; normal: sqrt(mean e²), Laplace: mean |e|, within the bounds.
void profile_sigmas(const std::vector<Profiled>& profiled, domains::kinetics::PetabEvaluation& e,
                    std::vector<double>* values) {
  for (const auto& g : profiled) {
    double sum = 0.0;
    for (std::size_t k : g.rows) {
      const double misfit = e.residuals[k] * e.sigmas[k];
      sum += g.laplace ? std::fabs(misfit) : misfit * misfit;
    }
    const double n = static_cast<double>(g.rows.size());
    const double raw = g.laplace ? sum / n : std::sqrt(sum / n);
    const double sigma = std::clamp(raw, g.lower, g.upper);
    if (e.has_gradient) {  // dσ/dθ: through the misfits (0 where σ sits on a bound)
      const std::size_t P = e.misfit_gradient.size() / e.residuals.size();
      std::vector<double> d(P, 0.0);
      if (raw == sigma && raw > 0.0)
        for (std::size_t k : g.rows) {
          const double misfit = e.residuals[k] * e.sigmas[k];
          const double w = g.laplace ? (misfit > 0 ? 1.0 : misfit < 0 ? -1.0 : 0.0) / n : misfit / (n * raw);
          for (std::size_t q = 0; q < P; ++q) d[q] += w * e.misfit_gradient[k * P + q];
        }
      for (std::size_t k : g.rows) std::copy(d.begin(), d.end(), e.sigma_gradient.begin() + static_cast<long>(k * P));
    }
    for (std::size_t k : g.rows) {
      e.residuals[k] *= e.sigmas[k] / sigma;
      e.sigmas[k] = sigma;
    }
    if (values) (*values)[static_cast<std::size_t>(g.parameter)] = sigma;
  }
}

}  // namespace

namespace {

constexpr double kLogOffset = 50.0;  // C: ln x + C > 0 for every x > e^-50

// How many residuals a prior adds: normal and Laplace kinds 1, their log kinds 2 (the density's
// 1/x as sqrt(2 (ln x + C))), uniform ones none (a constant within the range the box keeps).
std::size_t prior_residual_count(const domains::kinetics::PetabPrior& prior) {
  if (prior.type.empty() || prior.uniform()) return 0;
  return prior.of_log() ? 2 : 1;
}

// The prior's residuals at x (linear scale), 1/2 Σ r² = -log density + const, and where `d` is
// not null their derivatives by x (written every `stride` entries: down a Jacobian's column).
bool prior_residuals(const domains::kinetics::PetabPrior& prior, const std::string& scale, double x, double* r,
                     double* d, std::size_t stride) {
  const std::size_t n = prior_residual_count(prior);
  if (n == 0) return true;
  const double v = prior.variable(x, scale), dv = prior.variable_derivative(x, scale);
  if (!std::isfinite(v)) return false;
  if (prior.laplace()) {
    const double root = std::sqrt(2.0 * std::fabs(v - prior.a) / prior.b);
    r[0] = std::copysign(root, v - prior.a);
    if (d) d[0] = dv / (prior.b * std::max(root, 1e-8));
  } else {
    r[0] = (v - prior.a) / prior.b;
    if (d) d[0] = dv / prior.b;
  }
  if (n == 2) {
    const double term = std::log(x) + kLogOffset;
    if (!(term >= 0.0)) return false;
    r[1] = std::sqrt(2.0 * term);
    if (d) d[stride] = 1.0 / (x * std::max(r[1], 1e-8));
  }
  return true;
}

}  // namespace

PetabFit calibrate_petab(const domains::kinetics::PetabProblem& problem, const PetabFitOptions& options) {
  PetabFit out;
  const auto& parameters = problem.parameters();
  const std::vector<double> nominal = problem.nominal_values();
  for (std::size_t q = 0; q < parameters.size(); ++q)
    if (parameters[q].estimate) out.estimated.push_back(static_cast<int>(q));
  if (out.estimated.empty()) {
    out.message = "the parameter table estimates nothing (no row with estimate 1)";
    return out;
  }
  const auto at_nominal = problem.evaluate(nominal, options.ode);
  if (at_nominal.failed) {
    out.message = "the log-likelihood at the nominal values cannot be computed: " + at_nominal.message;
    return out;
  }
  // Move each estimated parameter by 10 % within its bounds: which measurements' σ it moves (a
  // noise parameter, or a noise formula over states), and whether it is a plain noise parameter
  // (profiled in closed form).
  const std::size_t M = problem.measurements().size();
  std::vector<bool> sigma_varies(M, false);
  std::vector<Profiled> profiled;
  for (const int q : out.estimated) {
    const auto& p = parameters[static_cast<std::size_t>(q)];
    auto v = nominal;
    double& x = v[static_cast<std::size_t>(q)];
    x = p.nominal * 1.1 <= p.upper ? p.nominal * 1.1 : p.nominal * 0.9;
    if (x == p.nominal || x < p.lower) x = p.nominal + 0.1 * (p.upper - p.lower);
    const auto moved = problem.evaluate(v, options.ode);
    Profiled g;
    g.parameter = q;
    g.lower = p.lower, g.upper = p.upper;
    bool plain = !moved.failed && p.lower > 0.0 && p.prior.type.empty();  // a prior moves σ's maximum
    for (std::size_t k = 0; k < M; ++k) {
      if (moved.failed || moved.sigmas[k] != at_nominal.sigmas[k]) {
        sigma_varies[k] = true;
        g.rows.push_back(k);
        plain = plain && at_nominal.sigmas[k] == p.nominal && moved.sigmas[k] == x;
      }
      if (!moved.failed && moved.simulations[k] != at_nominal.simulations[k]) plain = false;
    }
    if (plain && !g.rows.empty()) {
      const auto& m = problem.measurements();
      g.laplace = problem.observables()[static_cast<std::size_t>(m[g.rows[0]].observable)].distribution == "laplace";
      for (std::size_t k : g.rows)
        plain = plain && (problem.observables()[static_cast<std::size_t>(m[k].observable)].distribution == "laplace") ==
                             g.laplace;
    }
    if (plain && !g.rows.empty()) profiled.push_back(g);
  }
  // A measurement in two groups (σ moved by two parameters) is not a plain noise parameter's.
  std::vector<int> owners(M, 0);
  for (const auto& g : profiled)
    for (std::size_t k : g.rows) ++owners[k];
  profiled.erase(std::remove_if(profiled.begin(), profiled.end(),
                                [&](const Profiled& g) {
                                  return std::any_of(g.rows.begin(), g.rows.end(),
                                                     [&](std::size_t k) { return owners[k] > 1; });
                                }),
                 profiled.end());
  std::vector<BoxParameter> box;
  for (const int q : out.estimated) {
    if (std::any_of(profiled.begin(), profiled.end(), [&](const Profiled& g) { return g.parameter == q; })) {
      out.profiled.push_back(q);
      continue;
    }
    const auto& p = parameters[static_cast<std::size_t>(q)];
    out.fitted.push_back(q);
    BoxParameter b;
    b.name = p.id;
    b.lower = p.lower, b.upper = p.upper;
    if (p.prior.uniform()) {  // zero density outside its range
      b.lower = std::max(b.lower, p.prior.value_at(p.prior.a, p.scale));
      b.upper = std::min(b.upper, p.prior.value_at(p.prior.b, p.scale));
    }
    b.log = p.scale != "lin";
    b.start = std::clamp(p.nominal, b.lower, b.upper);
    box.push_back(b);
  }
  if (const auto problems = options.fit.validate(box); !box.empty() && !problems.empty()) {
    out.message = "the parameter table cannot be fitted: " + problems.front();
    return out;
  }
  const auto full = [&](const std::vector<double>& theta) {
    std::vector<double> v = nominal;
    for (std::size_t i = 0; i < theta.size(); ++i) v[static_cast<std::size_t>(out.fitted[i])] = theta[i];
    return v;
  };
  std::vector<double> r;
  if (!petab_residuals(problem, at_nominal, r, sigma_varies)) {
    out.message = "the log-likelihood at the nominal values cannot be computed: a residual is not finite";
    return out;
  }
  out.nominal_log_likelihood = at_nominal.log_likelihood;
  out.nominal_log_prior = problem.log_prior(nominal);
  // The fitted parameters' priors as residuals after the measurements'.
  std::vector<std::size_t> prior_rows;  // per fitted parameter: its first prior residual
  std::size_t rows = r.size();
  for (const int q : out.fitted) {
    prior_rows.push_back(rows);
    rows += prior_residual_count(parameters[static_cast<std::size_t>(q)].prior);
  }
  const bool lbfgsb = options.optimizer == PetabOptimizer::kLbfgsb;
  out.optimizer = lbfgsb ? "L-BFGS-B" : "least squares (Levenberg-Marquardt)";
  // Least squares: exact Jacobians where the evaluation can give them (it says why not, say a
  // parameter that moves only a preequilibration), else central differences. L-BFGS-B: the
  // log-likelihood's gradient, and the same Jacobians at its optimum for the intervals.
  const std::string why_forward = lbfgsb ? problem.why_forward(nominal, options.ode, options.gradient) : "";
  const auto probe = options.central_differences || lbfgsb
                         ? domains::kinetics::PetabEvaluation{}
                         : problem.evaluate(nominal, options.ode, true);
  ResidualFitOptions fit_options = options.fit;
  fit_options.analytic_jacobian = !options.central_differences && probe.has_gradient && !probe.failed;
  if (lbfgsb)
    out.gradient = why_forward.empty() ? "adjoint sensitivities (gradient)" : "forward sensitivities (gradient; " + why_forward + ")";
  else
    out.gradient = fit_options.analytic_jacobian ? "exact (forward sensitivities)"
                   : options.central_differences ? "central differences (as asked)"
                                                 : "central differences (" + probe.no_gradient + ")";
  const std::size_t D = out.fitted.size();
  const ResidualFunction f = [&](const std::vector<double>& theta, std::vector<double>& res,
                                 std::vector<double>* jacobian, long* work) {
    auto e = problem.evaluate(full(theta), options.ode, jacobian != nullptr);
    if (work) *work += e.steps;
    if (!e.failed) profile_sigmas(profiled, e, nullptr);
    std::vector<double> measured;
    if (!petab_residuals(problem, e, measured, sigma_varies)) return false;
    std::copy(measured.begin(), measured.end(), res.begin());
    if (jacobian) {
      std::vector<double> J;
      if (!petab_jacobian(problem, e, sigma_varies, out.fitted, J)) return false;
      jacobian->assign(rows * D, 0.0);
      std::copy(J.begin(), J.end(), jacobian->begin());
    }
    for (std::size_t i = 0; i < D; ++i) {
      const auto& p = parameters[static_cast<std::size_t>(out.fitted[i])];
      double* d = jacobian ? &(*jacobian)[prior_rows[i] * D + i] : nullptr;
      if (!prior_residuals(p.prior, p.scale, theta[i], &res[prior_rows[i]], d, D)) return false;
    }
    return true;
  };
  // L-BFGS-B's objective: -log-likelihood at the noise parameters' maxima (their gradient is
  // the partial one there: the profiled σ is optimal, or held on a bound) plus the priors' 1/2 Σ r².
  const ObjectiveFunction negative_log_posterior = [&](const std::vector<double>& theta, double& value,
                                                       std::vector<double>& gradient, long* work) {
    std::vector<double> v = full(theta);
    if (!profiled.empty()) {
      auto e = problem.evaluate(v, options.ode);
      if (work) *work += e.steps;
      if (e.failed) return false;
      profile_sigmas(profiled, e, &v);
    }
    const auto g = problem.log_likelihood_gradient(v, options.ode, options.gradient);
    if (work) *work += g.steps;
    if (g.failed || !std::isfinite(g.log_likelihood)) return false;
    value = -g.log_likelihood;
    for (std::size_t i = 0; i < D; ++i) {
      gradient[i] = -g.gradient[static_cast<std::size_t>(out.fitted[i])];
      const auto& p = parameters[static_cast<std::size_t>(out.fitted[i])];
      double pr[2] = {0.0, 0.0}, dr[2] = {0.0, 0.0};
      if (!prior_residuals(p.prior, p.scale, theta[i], pr, dr, 1)) return false;
      value += 0.5 * (pr[0] * pr[0] + pr[1] * pr[1]);
      gradient[i] += pr[0] * dr[0] + pr[1] * dr[1];
    }
    return true;
  };
  if (box.empty()) {  // only noise parameters: their closed form is the answer
    out.fit.success = true;
    out.fit.starts.resize(1);
    out.fit.starts[0].usable = true;
  } else if (lbfgsb) {
    ResidualFitOptions o = options.fit;
    o.max_iterations = options.lbfgsb_iterations;
    o.function_tolerance = options.lbfgsb_function_tolerance;
    o.gradient_tolerance = options.lbfgsb_gradient_tolerance;
    out.fit = fit_objective(negative_log_posterior, box, o);
    // The intervals: the residuals' Jacobian at the best optimum, by forward sensitivities where
    // they were the gradient (cheap there) and the evaluation can form them, else by central
    // differences.
    if (out.fit.success) {
      fit_options.analytic_jacobian = false;
      if (!why_forward.empty()) {
        const auto at = problem.evaluate(full(out.fit.best), options.ode, true);
        fit_options.analytic_jacobian = at.has_gradient && !at.failed;
      }
      out.fit.covariance = residual_covariance(f, rows, box, fit_options, out.fit.best);
    }
  } else {
    out.fit = fit_residuals(f, rows, box, fit_options);
  }
  // Each start's objective, evaluated where it ended (with its noise parameters' maxima).
  const auto objective = [&](const std::vector<double>& theta, std::vector<double>* values_out, double* llh) {
    std::vector<double> v = full(theta);
    auto e = problem.evaluate(v, options.ode);
    if (e.failed) return -std::numeric_limits<double>::infinity();
    profile_sigmas(profiled, e, &v);
    const auto at = problem.evaluate(v, options.ode);
    if (values_out) *values_out = v;
    if (llh) *llh = at.log_likelihood;
    return at.failed ? -std::numeric_limits<double>::infinity() : at.log_likelihood + problem.log_prior(v);
  };
  for (const auto& s : out.fit.starts)
    out.start_objectives.push_back(s.usable ? objective(s.optimum, nullptr, nullptr)
                                            : -std::numeric_limits<double>::infinity());
  if (!out.fit.success) {
    out.message = out.fit.message;
    return out;
  }
  out.objective = objective(out.fit.best, &out.values, &out.log_likelihood);
  out.log_prior = problem.log_prior(out.values);
  return out;
}

}  // namespace physynth::anchor
