// The machinery a calibration shares with a population fit (internal to physynth::anchor):
// where the free parameters sit in the fitted vector, one unit's solves with sensitivities, and
// one unit's negative log-likelihood terms as Ceres residuals.
#pragma once

#include <ceres/ceres.h>
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "physynth/anchor/calibration.h"
#include "physynth/core/diagnostics.h"

namespace physynth::anchor::detail {

inline constexpr double kLn2Pi = 1.8378770664093453;

// The Laplace covariance (J^T J)^-1 of a fit's residual Jacobian J (fitted space), by
// eigendecomposition: directions the data do not determine (eigenvalues below 1e-14 of the
// largest) get an infinite variance on every entry that moves along them.
inline Eigen::MatrixXd laplace_covariance(const Eigen::MatrixXd& J) {
  const Eigen::Index P = J.cols();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(J.transpose() * J);
  const Eigen::VectorXd lambda = eig.eigenvalues();
  const double top = P > 0 ? lambda.maxCoeff() : 0.0;
  const auto determined = [&](Eigen::Index i) { return lambda(i) > top * 1e-14 && lambda(i) > 0.0; };
  Eigen::VectorXd inv = Eigen::VectorXd::Zero(P);
  for (Eigen::Index i = 0; i < P; ++i)
    if (determined(i)) inv(i) = 1.0 / lambda(i);
  Eigen::MatrixXd C = eig.eigenvectors() * inv.asDiagonal() * eig.eigenvectors().transpose();
  for (Eigen::Index i = 0; i < P; ++i)
    if (!determined(i))
      for (Eigen::Index k = 0; k < P; ++k)
        if (std::abs(eig.eigenvectors()(k, i)) > 1e-6) C(k, k) = std::numeric_limits<double>::infinity();
  return C;
}

// After a first solve (usable or not): Levenberg-Marquardt's steps projected onto a bound are
// mostly rejected, and its trust region collapses short of an optimum that sits on a bound. So the
// entries of x (fitted space) that end within 1e-9 of the box's width of a bound are held there
// and the rest solved again, up to 3 rounds; then, where the cost falls moving inside from a held
// bound (its gradient points inside: the KKT conditions fail), everything is solved once more
// free. solve(held) runs one solve (held: one flag per entry, empty: none) and says whether it
// is usable; gradient(g) fills the cost's gradient at x, false where it cannot be evaluated.
// Returns whether the last solve is usable; *extra_solves counts the solves after the first.
template <class Solve, class Gradient>
bool solve_with_bounds_held(bool usable, const std::vector<double>& x, const std::vector<double>& lo,
                            const std::vector<double>& hi, Solve&& solve, Gradient&& gradient, int* extra_solves) {
  const auto tolerance = [&](std::size_t i) { return 1e-9 * std::max(1.0, hi[i] - lo[i]); };
  std::vector<bool> held;
  int rounds = 0;
  for (; rounds < 3 && usable; ++rounds) {
    std::vector<bool> now(x.size(), false);
    for (std::size_t i = 0; i < x.size(); ++i)
      now[i] = hi[i] > lo[i] && (x[i] <= lo[i] + tolerance(i) || x[i] >= hi[i] - tolerance(i));
    if (now == held || std::none_of(now.begin(), now.end(), [](bool b) { return b; })) break;
    held = now;
    usable = solve(held);
  }
  if (usable && !held.empty()) {
    std::vector<double> g;
    bool release = !gradient(g);
    for (std::size_t i = 0; i < x.size() && !release; ++i)
      release = held[i] && (x[i] <= lo[i] + tolerance(i) ? g[i] < 0.0 : g[i] > 0.0);
    if (release) {
      usable = solve(std::vector<bool>());
      ++rounds;
    }
  }
  *extra_solves = rounds;
  return usable;
}

inline double to_fit(double v, bool log) { return log ? std::log(v) : v; }
inline double from_fit(double x, bool log) { return log ? std::exp(x) : x; }

// Where everything sits in the fitted vector: a global block (shared parameters, then ln σ of
// each estimated observable, with ln σ_p after it for combined noise) and one block per unit
// (its per-unit parameters). A σ is estimated where it is not given and some reading of the
// observable has no sd of its own: with none, nothing in the fit depends on it (not_estimated).
struct Layout {
  std::vector<int> shared, per_unit;             // indices into problem.parameters
  std::vector<int> sigma_of;                     // per observable: its entry in the global block, or -1
  std::vector<double> sigma_lower, sigma_upper;  // ln σ bounds per observable
  std::vector<int> proportional_of;              // combined noise: the entry of ln σ_p, else -1
  static constexpr double kProportionalLower = -18.420680743952367,
                          kProportionalUpper = 6.907755278982137;  // ln 1e-8, ln 1e3
  std::vector<double> offset;                    // c per observable: ln σ_i + c >= 1 inside the bounds
  std::vector<double> floor;                     // proportional: |f| is taken as at least this
  std::size_t global = 0, unit = 0, units = 0;

  Layout(const CalibrationProblem& pr) : units(pr.units.size()) {
    for (std::size_t j = 0; j < pr.parameters.size(); ++j)
      (pr.parameters[j].per_unit ? per_unit : shared).push_back(static_cast<int>(j));
    global = shared.size();
    const std::size_t O = pr.observables.size();
    sigma_of.assign(O, -1);
    proportional_of.assign(O, -1);
    sigma_lower.assign(O, 0.0);
    sigma_upper.assign(O, 0.0);
    offset.assign(O, 0.0);
    floor.assign(O, 1.0);
    std::vector<double> sum2(O, 0.0), biggest(O, 0.0);
    std::vector<std::size_t> count(O, 0), without_sd(O, 0);
    for (const auto& u : pr.units)
      for (const auto& m : u.measurements) {
        const auto o = static_cast<std::size_t>(m.observable);
        sum2[o] += m.value * m.value;
        biggest[o] = std::max(biggest[o], std::abs(m.value));
        ++count[o];
        if (m.sd <= 0.0) ++without_sd[o];
      }
    for (std::size_t o = 0; o < O; ++o) {
      const auto& ob = pr.observables[o];
      double scale = 1.0;
      if ((ob.noise == NoiseKind::kAdditive || ob.noise == NoiseKind::kCombined) && count[o] > 0 && sum2[o] > 0.0)
        scale = std::sqrt(sum2[o] / static_cast<double>(count[o]));
      if (ob.noise == NoiseKind::kProportional && biggest[o] > 0.0) floor[o] = 1e-6 * biggest[o];
      if (ob.sigma > 0.0) {
        sigma_lower[o] = sigma_upper[o] = std::log(ob.sigma);
      } else if (without_sd[o] == 0) {
        sigma_lower[o] = sigma_upper[o] = 0.0;  // not estimated: no reading depends on it
      } else {
        sigma_lower[o] = std::log(scale * 1e-8);
        sigma_upper[o] = std::log(scale * 1e3);
        sigma_of[o] = static_cast<int>(global++);
        if (ob.noise == NoiseKind::kCombined) proportional_of[o] = static_cast<int>(global++);
      }
      offset[o] = 1.0 - sigma_lower[o] - (ob.noise == NoiseKind::kProportional ? std::log(floor[o]) : 0.0);
    }
    unit = per_unit.size();
  }

  std::size_t size() const { return global + unit * units; }
  std::size_t unit_start(std::size_t u) const { return global + unit * u; }
};

// One unit's solves: its readings' times, a CVODES instance (with sensitivities to every free
// parameter when asked) and its own copies of the observation functions. A stepped model is
// simulated instead, and its sensitivities are central differences (see CalibrationProblem).
class UnitSolver {
 public:
  UnitSolver(const CalibrationProblem& pr, std::size_t u, bool sensitivities)
      : pr_(pr), unit_(pr.units[u]), index_(u), stepped_(dynamic_cast<const core::SteppedModel*>(pr.model.get())) {
    for (const auto& m : unit_.measurements) times_.push_back(m.time);
    std::sort(times_.begin(), times_.end());
    times_.erase(std::unique(times_.begin(), times_.end()), times_.end());
    for (const auto& m : unit_.measurements)
      row_.push_back(static_cast<std::size_t>(std::lower_bound(times_.begin(), times_.end(), m.time) - times_.begin()));
    for (const auto& ob : pr.observables) {
      functions_.push_back(ob.function->clone());
      functions_.back()->set_unit(u);
    }
    if (stepped_) return;
    solvers::OdeOptions o = pr.ode;
    o.sensitivity_parameters.clear();
    // With sensitivities the plain solves take the same integrator as the sensitive ones (Rodas5P
    // for the NDF), so that costs with and without a Jacobian compare like for like.
    if (sensitivities) o.method = solvers::with_sensitivities(o.method);
    if (pr.stop_events) events_ = pr.stop_events();
    plain_ = std::make_unique<solvers::OdeSolver>(pr.model, o);
    if (!events_.empty()) stopping_plain_ = std::make_unique<solvers::OdeSolver>(pr.model, o, events_);
    if (sensitivities) {
      for (const auto& fp : pr.parameters) o.sensitivity_parameters.push_back(fp.index);
      sensitive_ = std::make_unique<solvers::OdeSolver>(pr.model, o);
      if (!events_.empty()) stopping_sensitive_ = std::make_unique<solvers::OdeSolver>(pr.model, o, events_);
    }
  }

  // Solves with model parameters p; false if the solve did not reach every time.
  bool solve(const std::vector<double>& p, bool sensitivities) {
    const std::size_t n = pr_.model->num_states(), T = times_.size(), K = pr_.parameters.size();
    y_.assign(T * n, 0.0);
    s_.assign(sensitivities ? T * K * n : 0, 0.0);
    if (stepped_) return simulate(p, y_.data()) && (!sensitivities || differentiate(p));
    std::vector<double> y0(n);
    pr_.model->initial_state(p.data(), y0.data());
    auto& solver = sensitivities ? *sensitive_ : *plain_;
    double* s = sensitivities ? s_.data() : nullptr;
    const auto r = solver.solve(p.data(), y0.data(), pr_.t0, times_, y_.data(), s);
    if (r.status == solvers::SolveStatus::kSuccess || events_.empty())
      return r.status == solvers::SolveStatus::kSuccess;
    // The solve failed (a crack that runs away in finite time): solved again with the scenario's
    // terminal events, the unit stops at its failure threshold and continues past it at its rate
    // there. A unit whose solve succeeds is fitted to its solution, events or not: readings past
    // a threshold (a battery cycled beyond its end of life) are the model's to explain.
    auto& stopping = sensitivities ? *stopping_sensitive_ : *stopping_plain_;
    const auto stopped = stopping.solve(p.data(), y0.data(), pr_.t0, times_, y_.data(), s);
    return stopped.status == solvers::SolveStatus::kStoppedByEvent && !stopped.events.empty() &&
           stopped.final_state.size() == n && continue_past_failure(p, y0, stopped, sensitivities);
  }

  // Prediction of measurement i; with dfdp (K entries), its derivative by each free parameter
  // (model units), from the last solve with sensitivities.
  double predict(std::size_t i, const std::vector<double>& p, double* dfdp) {
    const std::size_t n = pr_.model->num_states(), K = pr_.parameters.size(), t = row_[i];
    const auto& m = unit_.measurements[i];
    auto& h = *functions_[static_cast<std::size_t>(m.observable)];
    if (!dfdp) return h.evaluate(m.time, &y_[t * n], p.data(), nullptr, nullptr);
    dhdy_.resize(n);
    dhdp_.resize(p.size());
    const double f = h.evaluate(m.time, &y_[t * n], p.data(), dhdy_.data(), dhdp_.data());
    for (std::size_t k = 0; k < K; ++k) {
      double d = dhdp_[static_cast<std::size_t>(pr_.parameters[k].index)];
      const double* s = &s_[(t * K + k) * n];
      for (std::size_t j = 0; j < n; ++j) d += dhdy_[j] * s[j];
      dfdp[k] = d;
    }
    return f;
  }

 private:
  // A solve stopped by a terminal event at t_e (the unit failed): a reading after it sees the
  // first-order continuation y(t_e) + f(t_e) (t - t_e), as if the unit kept going at its rate at
  // failure. That is continuous and differentiable in θ where t_e crosses a reading (where the
  // solution itself is y(t_e) + f (t - t_e) + ...), and it has no finite-time blow-up (a Paris
  // crack's), so a fit that predicts failure too early sees its predictions keep growing.
  // Sensitivities: d/dθ = s(t_e) + dF (t - t_e), dF the total derivative of f(t_e, y(t_e), θ)
  // along t_e(θ) (dt_e/dθ = -(∇g·s + ∂g/∂θ) / (∇g·f), g the event function), all by central
  // differences; s(t_e) from a second solve, without the events, to t_e (the one that failed
  // did so later).
  bool continue_past_failure(const std::vector<double>& p, const std::vector<double>& y0, const solvers::SolveResult& r,
                             bool sensitivities) {
    const std::size_t n = pr_.model->num_states(), T = times_.size(), K = pr_.parameters.size();
    const double te = r.t_reached;
    const std::size_t first = std::min(r.rows_written, T);
    std::vector<double> Y = r.final_state, S(K * n, 0.0), dF(K * n, 0.0), F(n);
    if (sensitivities) {
      std::vector<double> t(times_.begin(), times_.begin() + static_cast<long>(first));
      t.push_back(te);
      std::vector<double> y(t.size() * n), sv(t.size() * K * n);
      const auto again = sensitive_->solve(p.data(), y0.data(), pr_.t0, t, y.data(), sv.data());
      if (again.status != solvers::SolveStatus::kSuccess) return false;
      std::copy(y.end() - static_cast<long>(n), y.end(), Y.begin());
      std::copy(sv.end() - static_cast<long>(K * n), sv.end(), S.begin());
    }
    pr_.model->rhs(te, Y.data(), p.data(), F.data());
    if (sensitivities) {
      const auto& g = events_[static_cast<std::size_t>(r.events.back().event)].function;
      std::vector<double> grad(n), z = Y, q = p, fp(n), fm(n), zp(n), zm(n);
      double gf = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const double h = 1e-7 * std::max(1.0, std::abs(Y[i]));
        z[i] = Y[i] + h;
        const double up = g(te, z.data(), p.data());
        z[i] = Y[i] - h;
        grad[i] = (up - g(te, z.data(), p.data())) / (2.0 * h);
        z[i] = Y[i];
        gf += grad[i] * F[i];
      }
      for (std::size_t k = 0; k < K; ++k) {
        const auto j = static_cast<std::size_t>(pr_.parameters[k].index);
        const double* Sk = &S[k * n];
        const double h = 1e-6 * std::max(std::abs(p[j]), 1e-300);
        q[j] = p[j] + h;
        const double up = g(te, Y.data(), q.data());
        q[j] = p[j] - h;
        double dg = (up - g(te, Y.data(), q.data())) / (2.0 * h);
        for (std::size_t i = 0; i < n; ++i) dg += grad[i] * Sk[i];
        const double dte = gf != 0.0 ? -dg / gf : 0.0;
        // f along (t_e, y(t_e), θ_k) moving together: θ_k by ±h, t_e by ±h dte, y by ±h (s + f dte).
        for (std::size_t i = 0; i < n; ++i) {
          const double dY = Sk[i] + F[i] * dte;
          zp[i] = Y[i] + h * dY, zm[i] = Y[i] - h * dY;
        }
        q[j] = p[j] + h;
        pr_.model->rhs(te + h * dte, zp.data(), q.data(), fp.data());
        q[j] = p[j] - h;
        pr_.model->rhs(te - h * dte, zm.data(), q.data(), fm.data());
        q[j] = p[j];
        for (std::size_t i = 0; i < n; ++i) dF[k * n + i] = (fp[i] - fm[i]) / (2.0 * h);
      }
    }
    for (std::size_t t = first; t < T; ++t) {
      const double dt = times_[t] - te;
      for (std::size_t i = 0; i < n; ++i) y_[t * n + i] = Y[i] + F[i] * dt;
      if (sensitivities)
        for (std::size_t k = 0; k < K; ++k)
          for (std::size_t i = 0; i < n; ++i) s_[(t * K + k) * n + i] = S[k * n + i] + dF[k * n + i] * dt;
    }
    return true;
  }

  // The stepped model's states at every time; false if it failed or ended before the last one.
  bool simulate(const std::vector<double>& p, double* y) const {
    const auto r = stepped_->simulate(p.data(), pr_.seed, index_, times_, y);
    return !r.failed && r.rows_written == times_.size();
  }

  // s_ by central differences, each free parameter stepped by 1e-3 of its value (1e-3 at 0):
  // wide enough to average over a daily model's thresholds, narrow against its curvature.
  bool differentiate(const std::vector<double>& p) {
    const std::size_t n = pr_.model->num_states(), T = times_.size(), K = pr_.parameters.size();
    std::vector<double> q = p, up(T * n), down(T * n);
    for (std::size_t k = 0; k < K; ++k) {
      const auto j = static_cast<std::size_t>(pr_.parameters[k].index);
      const double h = 1e-3 * (p[j] != 0.0 ? std::abs(p[j]) : 1.0);
      q[j] = p[j] + h;
      if (!simulate(q, up.data())) return false;
      q[j] = p[j] - h;
      if (!simulate(q, down.data())) return false;
      q[j] = p[j];
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < n; ++i) s_[(t * K + k) * n + i] = (up[t * n + i] - down[t * n + i]) / (2.0 * h);
    }
    return true;
  }

  const CalibrationProblem& pr_;
  const CalibrationUnit& unit_;
  std::size_t index_;
  const core::SteppedModel* stepped_;  // or null: an ODE model
  std::vector<double> times_;
  std::vector<std::size_t> row_;
  std::vector<solvers::Event> events_;                                       // the problem's terminal events
  std::unique_ptr<solvers::OdeSolver> plain_, sensitive_;                    // without and with sensitivities
  std::unique_ptr<solvers::OdeSolver> stopping_plain_, stopping_sensitive_;  // the same with the events
  std::vector<std::unique_ptr<ObservationFunction>> functions_;
  std::vector<double> y_, s_, dhdy_, dhdp_;
};

// Unit u's model parameters from its global block xg (shared entries first) and its unit block
// xu; chain, when not null, receives d(model value)/d(fitted value) per free parameter.
inline std::vector<double> bind(const CalibrationProblem& pr, const Layout& L, std::size_t u, const double* xg,
                                const double* xu, std::vector<double>* chain = nullptr) {
  std::vector<double> p = pr.units[u].parameters;
  if (chain) chain->assign(pr.parameters.size(), 1.0);
  const auto set = [&](int k, double x) {
    const auto& fp = pr.parameters[static_cast<std::size_t>(k)];
    p[static_cast<std::size_t>(fp.index)] = from_fit(x, fp.log);
    if (chain && fp.log) (*chain)[static_cast<std::size_t>(k)] = std::exp(x);
  };
  for (std::size_t j = 0; j < L.shared.size(); ++j) set(L.shared[j], xg[j]);
  for (std::size_t j = 0; j < L.per_unit.size(); ++j) set(L.per_unit[j], xu[j]);
  return p;
}

// The model parameters of unit u for the whole fitted vector x.
inline std::vector<double> unit_parameters(const CalibrationProblem& pr, const Layout& L, std::size_t u,
                                           const double* x) {
  return bind(pr, L, u, x, x + L.unit_start(u));
}

// Does reading m carry a ln σ_i that depends on the fitted vector?
inline bool has_log_sigma_term(const CalibrationObservable& ob, const Measurement& m) {
  return m.sd <= 0.0 && (ob.sigma <= 0.0 || ob.noise == NoiseKind::kProportional || ob.noise == NoiseKind::kCombined);
}

// The negative log-likelihood's terms of one unit, as Ceres residuals: r per reading, then
// sqrt(2 (ln σ_i + c)) per reading whose σ_i depends on the fitted vector.
class UnitCost : public ceres::CostFunction {
 public:
  UnitCost(const CalibrationProblem& pr, const Layout& L, std::size_t u) : pr_(pr), L_(L), u_(u), solver_(pr, u, true) {
    std::size_t extra = 0;
    for (const auto& m : pr.units[u].measurements)
      if (has_log_sigma_term(pr.observables[static_cast<std::size_t>(m.observable)], m)) ++extra;
    set_num_residuals(static_cast<int>(pr.units[u].measurements.size() + extra));
    if (L.global > 0) mutable_parameter_block_sizes()->push_back(static_cast<int>(L.global));
    if (L.unit > 0) mutable_parameter_block_sizes()->push_back(static_cast<int>(L.unit));
  }

  bool Evaluate(double const* const* blocks, double* residuals, double** jacobians) const override {
    const std::size_t G = L_.global, U = L_.unit, K = pr_.parameters.size();
    const double* xg = G > 0 ? blocks[0] : nullptr;
    const double* xu = U > 0 ? blocks[G > 0 ? 1 : 0] : nullptr;
    double* Jg = jacobians && G > 0 ? jacobians[0] : nullptr;
    double* Ju = jacobians && U > 0 ? jacobians[G > 0 ? 1 : 0] : nullptr;
    const bool want = Jg || Ju;
    std::vector<double> chain;
    const std::vector<double> p = bind(pr_, L_, u_, xg, xu, &chain);
    if (!solver_.solve(p, want)) return false;  // Ceres shrinks the step and retries
    const std::size_t rows = static_cast<std::size_t>(num_residuals());
    if (Jg) std::fill(Jg, Jg + rows * G, 0.0);
    if (Ju) std::fill(Ju, Ju + rows * U, 0.0);
    std::vector<double> dfdp(K);
    const auto& ms = pr_.units[u_].measurements;
    std::size_t extra = ms.size();
    // Writes d(residual row)/d(f) * df/dθ into the Jacobian blocks.
    const auto by_theta = [&](std::size_t row, double dr_df) {
      for (std::size_t j = 0; j < L_.shared.size(); ++j) {
        const auto k = static_cast<std::size_t>(L_.shared[j]);
        if (Jg) Jg[row * G + j] = dr_df * dfdp[k] * chain[k];
      }
      for (std::size_t j = 0; j < L_.per_unit.size(); ++j) {
        const auto k = static_cast<std::size_t>(L_.per_unit[j]);
        if (Ju) Ju[row * U + j] = dr_df * dfdp[k] * chain[k];
      }
    };
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const auto& m = ms[i];
      const auto o = static_cast<std::size_t>(m.observable);
      const auto& ob = pr_.observables[o];
      const double f = solver_.predict(i, p, want ? dfdp.data() : nullptr);
      if (!std::isfinite(f)) return false;
      const int s_entry = L_.sigma_of[o], p_entry = L_.proportional_of[o];
      // (A σ that is neither given nor estimated has only readings with their own sd.)
      const double ls = s_entry >= 0 ? xg[s_entry] : L_.sigma_lower[o];
      const double sigma = std::exp(ls);
      // Combined noise: σ_i² = σ² + σ_p² f²; share_a and share_p = 1 - share_a are the two parts'
      // shares of it, d ln σ_i / d ln σ and / d ln σ_p.
      double sigma_i = sigma, share_a = 1.0, share_p = 0.0, p2 = 0.0;
      if (ob.noise == NoiseKind::kCombined && p_entry >= 0) {
        p2 = std::exp(2.0 * xg[p_entry]);
        const double v = sigma * sigma + p2 * f * f;
        sigma_i = std::sqrt(v);
        share_a = sigma * sigma / v;
        share_p = 1.0 - share_a;
      }
      double r = 0.0, dr_df = 0.0;
      if (m.sd > 0.0) {
        r = (f - m.value) / m.sd;
        dr_df = 1.0 / m.sd;
      } else if (ob.noise == NoiseKind::kAdditive) {
        r = (f - m.value) / sigma;
        dr_df = 1.0 / sigma;
      } else if (ob.noise == NoiseKind::kProportional) {
        const double a = std::max(std::abs(f), L_.floor[o]);
        const double sign = std::abs(f) >= L_.floor[o] ? (f >= 0.0 ? 1.0 : -1.0) : 0.0;
        r = (f - m.value) / (sigma * a);
        dr_df = (a - (f - m.value) * sign) / (sigma * a * a);
      } else if (ob.noise == NoiseKind::kCombined) {
        r = (f - m.value) / sigma_i;
        dr_df = 1.0 / sigma_i - r * p2 * f / (sigma_i * sigma_i);
      } else {
        if (!(f > 0.0)) return false;
        r = (std::log(f) - std::log(m.value)) / sigma;
        dr_df = 1.0 / (sigma * f);
      }
      residuals[i] = r;
      if (want) {
        by_theta(i, dr_df);
        if (Jg && s_entry >= 0 && m.sd <= 0.0) Jg[i * G + static_cast<std::size_t>(s_entry)] = -r * share_a;
        if (Jg && p_entry >= 0 && m.sd <= 0.0) Jg[i * G + static_cast<std::size_t>(p_entry)] = -r * share_p;
      }
      if (!has_log_sigma_term(ob, m)) continue;
      double log_sigma_i = ls + L_.offset[o], dlog_df = 0.0;
      if (ob.noise == NoiseKind::kProportional) {
        const double a = std::max(std::abs(f), L_.floor[o]);
        log_sigma_i += std::log(a);
        if (std::abs(f) >= L_.floor[o]) dlog_df = 1.0 / f;
      } else if (ob.noise == NoiseKind::kCombined) {
        log_sigma_i += std::log(sigma_i) - ls;
        dlog_df = p2 * f / (sigma_i * sigma_i);
      }
      if (!(log_sigma_i > 0.0)) return false;
      const double rho = std::sqrt(2.0 * log_sigma_i);
      residuals[extra] = rho;
      if (want) {
        by_theta(extra, dlog_df / rho);
        if (Jg && s_entry >= 0) Jg[extra * G + static_cast<std::size_t>(s_entry)] = share_a / rho;
        if (Jg && p_entry >= 0) Jg[extra * G + static_cast<std::size_t>(p_entry)] = share_p / rho;
      }
      ++extra;
    }
    return true;
  }

 private:
  const CalibrationProblem& pr_;
  const Layout& L_;
  std::size_t u_;
  mutable UnitSolver solver_;  // Evaluate is const to Ceres; the solver's memory is reused
};

// Cost = Σ r²/2 + Σ (ln σ_i + c) over the terms in the residuals; the log-likelihood adds back
// what the residuals leave out.
// With unit >= 0, cost is that unit's alone and so is the log-likelihood.
inline double log_likelihood_of_cost(const CalibrationProblem& pr, const Layout& L, double cost, int unit = -1) {
  double ll = -cost;
  for (std::size_t k = 0; k < pr.units.size(); ++k) {
    if (unit >= 0 && k != static_cast<std::size_t>(unit)) continue;
    for (const auto& m : pr.units[k].measurements) {
      const auto o = static_cast<std::size_t>(m.observable);
      const auto& ob = pr.observables[o];
      ll -= 0.5 * kLn2Pi;
      if (has_log_sigma_term(ob, m))
        ll += L.offset[o];
      else
        ll -= std::log(m.sd > 0.0 ? m.sd : ob.sigma);
      if (m.sd <= 0.0 && ob.noise == NoiseKind::kLogNormal) ll -= std::log(m.value);
    }
  }
  return ll;
}

// Why the problem cannot be calibrated; empty if it can.
inline std::string check(const CalibrationProblem& pr) {
  if (!pr.model) return "the problem has no model";
  const std::size_t M = pr.model->num_parameters();
  if (pr.units.empty()) return "no units to calibrate on";
  if (pr.observables.empty()) return "no observables";
  for (const auto& ob : pr.observables) {
    if (!ob.function) return "observable '" + ob.name + "' has no observation function";
    if (!(ob.sigma >= 0.0)) return "observable '" + ob.name + "': sigma must be >= 0 (0: estimated)";
    if (ob.noise == NoiseKind::kCombined && ob.sigma > 0.0)
      return "observable '" + ob.name + "': combined noise estimates both of its sigmas, so sigma must be 0, got " +
             core::format_number(ob.sigma);
  }
  for (const auto& fp : pr.parameters) {
    if (fp.index < 0 || static_cast<std::size_t>(fp.index) >= M)
      return "parameter '" + fp.name + "': index " + std::to_string(fp.index) + " is not a model parameter";
    if (!(fp.lower < fp.upper) || !std::isfinite(fp.lower) || !std::isfinite(fp.upper))
      return "parameter '" + fp.name + "': bounds must be finite with lower < upper, got [" +
             core::format_number(fp.lower) + ", " + core::format_number(fp.upper) + "]";
    if (fp.log && !(fp.lower > 0.0))
      return "parameter '" + fp.name + "' is fitted in ln, so its lower bound must be > 0, got " +
             core::format_number(fp.lower);
    if (!(fp.start >= fp.lower && fp.start <= fp.upper))
      return "parameter '" + fp.name + "': start " + core::format_number(fp.start) + " is outside [" +
             core::format_number(fp.lower) + ", " + core::format_number(fp.upper) + "]";
  }
  for (const auto& u : pr.units) {
    if (u.parameters.size() != M)
      return "unit '" + u.id + "' has " + std::to_string(u.parameters.size()) + " parameters, the model " +
             std::to_string(M);
    if (u.measurements.empty()) return "unit '" + u.id + "' has no measurements";
    if (const auto* stepped = dynamic_cast<const core::SteppedModel*>(pr.model.get()))
      for (const auto& m : u.measurements) {
        const double steps = m.time / stepped->time_step();
        if (std::abs(steps - std::round(steps)) > 1e-9 * std::max(1.0, std::abs(steps)))
          return "unit '" + u.id + "': a measurement at t = " + core::format_number(m.time) + " falls between the " +
                 "steps of model '" + pr.model->name() + "', which advances in steps of " +
                 core::format_number(stepped->time_step());
      }
    for (const auto& m : u.measurements) {
      if (m.observable < 0 || static_cast<std::size_t>(m.observable) >= pr.observables.size())
        return "unit '" + u.id + "': a measurement names observable " + std::to_string(m.observable);
      if (!(m.time >= pr.t0) || !std::isfinite(m.time) || !std::isfinite(m.value))
        return "unit '" + u.id + "': a measurement at t = " + core::format_number(m.time) + " is before the start " +
               core::format_number(pr.t0) + " or not finite";
      if (pr.observables[static_cast<std::size_t>(m.observable)].noise == NoiseKind::kLogNormal && m.sd <= 0.0 &&
          !(m.value > 0.0))
        return "unit '" + u.id + "': observable '" + pr.observables[static_cast<std::size_t>(m.observable)].name +
               "' has log-normal noise, so its readings must be > 0, got " + core::format_number(m.value) +
               " at t = " + core::format_number(m.time);
    }
  }
  const bool any_sigma = std::any_of(pr.observables.begin(), pr.observables.end(),
                                     [](const CalibrationObservable& o) { return o.sigma <= 0.0; });
  if (pr.parameters.empty() && !any_sigma) return "nothing to fit: no free parameters and every sigma is known";
  return {};
}

// Why a calibration with these options cannot run: the options' errors, or the problem's; empty
// if it can.
inline std::string refusal(const CalibrationProblem& pr, const CalibrationOptions& opt) {
  if (const auto errors = opt.validate(); !errors.empty()) return core::join(errors, "; ");
  return check(pr);
}

}  // namespace physynth::anchor::detail
