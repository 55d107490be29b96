#include "physynth/anchor/petab_calibration.h"

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
    const bool laplace = problem.observables()[static_cast<std::size_t>(measurements[k].observable)].distribution ==
                         "laplace";
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
                    const std::vector<bool>& sigma_varies, const std::vector<int>& fitted, std::vector<double>& jacobian) {
  const auto& measurements = problem.measurements();
  const std::size_t M = measurements.size(), D = fitted.size();
  if (e.failed || !e.has_gradient) return false;
  const std::size_t P = e.misfit_gradient.size() / M;
  jacobian.assign(2 * M * D, 0.0);
  for (std::size_t k = 0; k < M; ++k) {
    const bool laplace = problem.observables()[static_cast<std::size_t>(measurements[k].observable)].distribution ==
                         "laplace";
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
    bool plain = !moved.failed && p.lower > 0.0;
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
                                  return std::any_of(g.rows.begin(), g.rows.end(), [&](std::size_t k) { return owners[k] > 1; });
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
    b.log = p.scale != "lin";
    b.start = std::clamp(p.nominal, p.lower, p.upper);
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
  // K = cost + log-likelihood, the same at every point: from the nominal values.
  std::vector<double> r;
  if (!petab_residuals(problem, at_nominal, r, sigma_varies)) {
    out.message = "the log-likelihood at the nominal values cannot be computed: a residual is not finite";
    return out;
  }
  double cost = 0.0;
  for (double x : r) cost += 0.5 * x * x;
  const double K = cost + at_nominal.log_likelihood;
  out.nominal_log_likelihood = at_nominal.log_likelihood;
  // Exact Jacobians where the evaluation can give them (it says why not, say a parameter that
  // moves only a preequilibration), else central differences.
  const auto probe = problem.evaluate(nominal, options.ode, true);
  ResidualFitOptions fit_options = options.fit;
  fit_options.analytic_jacobian = probe.has_gradient && !probe.failed;
  out.gradient = fit_options.analytic_jacobian ? "exact (forward sensitivities)"
                                               : "central differences (" + probe.no_gradient + ")";
  const ResidualFunction f = [&](const std::vector<double>& theta, std::vector<double>& res,
                                 std::vector<double>* jacobian) {
    auto e = problem.evaluate(full(theta), options.ode, jacobian != nullptr);
    if (!e.failed) profile_sigmas(profiled, e, nullptr);
    if (!petab_residuals(problem, e, res, sigma_varies)) return false;
    return !jacobian || petab_jacobian(problem, e, sigma_varies, out.fitted, *jacobian);
  };
  if (box.empty()) {  // only noise parameters: their closed form is the answer
    out.fit.success = true;
    out.fit.starts.resize(1);
  } else {
    out.fit = fit_residuals(f, r.size(), box, fit_options);
  }
  for (const auto& s : out.fit.starts)
    out.start_log_likelihoods.push_back(s.usable || box.empty() ? K - s.cost : -std::numeric_limits<double>::infinity());
  if (!out.fit.success) {
    out.message = out.fit.message;
    return out;
  }
  out.values = full(out.fit.best);
  auto e = problem.evaluate(out.values, options.ode);
  if (!e.failed) profile_sigmas(profiled, e, &out.values);
  out.log_likelihood = problem.evaluate(out.values, options.ode).log_likelihood;
  if (box.empty()) out.start_log_likelihoods = {out.log_likelihood};
  return out;
}

}  // namespace physynth::anchor
