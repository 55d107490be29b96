#include "physynth/anchor/calibration.h"

#include <ceres/ceres.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <Eigen/Dense>
#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>
#include <tuple>

#include "physynth/core/diagnostics.h"
#include "physynth/core/random.h"
#include "physynth/core/sampling.h"
#include "unit_cost.h"

namespace physynth::anchor {

namespace {

using namespace detail;

class StateObservation : public ObservationFunction {
 public:
  StateObservation(int state, std::size_t n, std::size_t m) : state_(state), n_(n), m_(m) {}
  double evaluate(double, const double* y, const double*, double* dh_dy, double* dh_dp) const override {
    if (dh_dy) {
      std::fill(dh_dy, dh_dy + n_, 0.0);
      dh_dy[state_] = 1.0;
    }
    if (dh_dp) std::fill(dh_dp, dh_dp + m_, 0.0);
    return y[state_];
  }
  std::unique_ptr<ObservationFunction> clone() const override { return std::make_unique<StateObservation>(*this); }

 private:
  int state_;
  std::size_t n_, m_;
};

struct Problem {
  ceres::Problem problem;
  std::vector<double*> blocks;  // global (if any), then one per unit (if any)
};

// The bounds of every entry of the fitted vector.
void entry_bounds(const CalibrationProblem& pr, const Layout& L, std::vector<double>& lo, std::vector<double>& hi) {
  lo.assign(L.size(), 0.0);
  hi.assign(L.size(), 0.0);
  for (std::size_t j = 0; j < L.shared.size(); ++j) {
    const auto& fp = pr.parameters[static_cast<std::size_t>(L.shared[j])];
    lo[j] = to_fit(fp.lower, fp.log);
    hi[j] = to_fit(fp.upper, fp.log);
  }
  for (std::size_t o = 0; o < pr.observables.size(); ++o)
    if (L.sigma_of[o] >= 0) {
      lo[static_cast<std::size_t>(L.sigma_of[o])] = L.sigma_lower[o];
      hi[static_cast<std::size_t>(L.sigma_of[o])] = L.sigma_upper[o];
      if (L.proportional_of[o] >= 0) {
        lo[static_cast<std::size_t>(L.proportional_of[o])] = Layout::kProportionalLower;
        hi[static_cast<std::size_t>(L.proportional_of[o])] = Layout::kProportionalUpper;
      }
    }
  for (std::size_t u = 0; u < L.units && L.unit > 0; ++u)
    for (std::size_t j = 0; j < L.per_unit.size(); ++j) {
      const auto& fp = pr.parameters[static_cast<std::size_t>(L.per_unit[j])];
      lo[L.unit_start(u) + j] = to_fit(fp.lower, fp.log);
      hi[L.unit_start(u) + j] = to_fit(fp.upper, fp.log);
    }
}

// Builds the Ceres problem over x (which it then owns the values of through `x`'s storage).
// Entries marked in `held` (empty: none) stay where they are.
void build(const CalibrationProblem& pr, const Layout& L, std::vector<double>& x, Problem& out,
           const std::vector<bool>& held = {}) {
  const auto add_block = [&](std::size_t first, std::size_t size) {
    double* block = x.data() + first;
    out.blocks.push_back(block);
    std::vector<int> constant;
    for (std::size_t i = 0; i < size && !held.empty(); ++i)
      if (held[first + i]) constant.push_back(static_cast<int>(i));
    if (constant.empty())
      out.problem.AddParameterBlock(block, static_cast<int>(size));
    else
      out.problem.AddParameterBlock(block, static_cast<int>(size),
                                    new ceres::SubsetManifold(static_cast<int>(size), constant));
  };
  if (L.global > 0) add_block(0, L.global);
  if (L.unit > 0)
    for (std::size_t u = 0; u < L.units; ++u) add_block(L.unit_start(u), L.unit);
  for (std::size_t u = 0; u < L.units; ++u) {
    std::vector<double*> bs;
    if (L.global > 0) bs.push_back(x.data());
    if (L.unit > 0) bs.push_back(x.data() + L.unit_start(u));
    out.problem.AddResidualBlock(new UnitCost(pr, L, u), nullptr, bs);
  }
  std::vector<double> lo, hi;
  entry_bounds(pr, L, lo, hi);
  for (std::size_t b = 0; b < out.blocks.size(); ++b) {
    const std::size_t first = static_cast<std::size_t>(out.blocks[b] - x.data());
    const std::size_t size = first < L.global ? L.global : L.unit;
    for (std::size_t i = 0; i < size; ++i) {
      out.problem.SetParameterLowerBound(out.blocks[b], static_cast<int>(i), lo[first + i]);
      out.problem.SetParameterUpperBound(out.blocks[b], static_cast<int>(i), hi[first + i]);
    }
  }
}

struct Fit {
  std::vector<double> x;
  double log_likelihood = -std::numeric_limits<double>::infinity();
  bool usable = false;
  int iterations = 0;
  std::string message;
};

// Starts estimated σ at their maximum-likelihood values for the start's predictions.
void start_sigmas(const CalibrationProblem& pr, const Layout& L, std::vector<double>& x) {
  std::vector<std::vector<double>> params(L.units);
  for (std::size_t u = 0; u < L.units; ++u) params[u] = unit_parameters(pr, L, u, x.data());
  std::vector<double> sigma, proportional;
  log_likelihood(pr, predict(pr, params), &sigma, &proportional);
  for (std::size_t o = 0; o < pr.observables.size(); ++o)
    if (L.sigma_of[o] >= 0) {
      const double s =
          std::isfinite(sigma[o]) && sigma[o] > 0.0 ? std::log(sigma[o]) : 0.5 * (L.sigma_lower[o] + L.sigma_upper[o]);
      x[static_cast<std::size_t>(L.sigma_of[o])] = std::clamp(s, L.sigma_lower[o], L.sigma_upper[o]);
      if (L.proportional_of[o] >= 0) {
        const double p =
            std::isfinite(proportional[o]) && proportional[o] > 0.0 ? std::log(proportional[o]) : std::log(0.1);
        x[static_cast<std::size_t>(L.proportional_of[o])] =
            std::clamp(p, Layout::kProportionalLower, Layout::kProportionalUpper);
      }
    }
}

// The readings' own scatter per observable, in its noise scale: the median |difference| of a
// unit's successive readings over 0.6745 sqrt(2), which a smooth trend hardly moves (the MAD of
// first differences). NaN where fewer than 8 differences exist (single readings per unit).
std::vector<double> reading_scatter(const CalibrationProblem& pr, const Layout& L) {
  const std::size_t O = pr.observables.size();
  std::vector<std::vector<double>> diffs(O);
  for (const auto& u : pr.units) {
    std::vector<std::vector<std::pair<double, double>>> series(O);
    for (const auto& m : u.measurements) series[static_cast<std::size_t>(m.observable)].push_back({m.time, m.value});
    for (std::size_t o = 0; o < O; ++o) {
      auto& s = series[o];
      std::sort(s.begin(), s.end());
      for (std::size_t i = 1; i < s.size(); ++i) {
        const double a = s[i - 1].second, b = s[i].second;
        double d = std::numeric_limits<double>::quiet_NaN();
        switch (pr.observables[o].noise) {
          case NoiseKind::kAdditive:
            d = b - a;
            break;
          case NoiseKind::kProportional:
            d = (b - a) / std::max(0.5 * (std::abs(a) + std::abs(b)), L.floor[o]);
            break;
          case NoiseKind::kCombined:  // two scales: no one scatter to stage σ at
            break;
          default:
            if (a > 0.0 && b > 0.0) d = std::log(b) - std::log(a);
        }
        if (std::isfinite(d)) diffs[o].push_back(std::abs(d));
      }
    }
  }
  std::vector<double> out(O, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t o = 0; o < O; ++o) {
    auto& d = diffs[o];
    if (d.size() < 8) continue;
    std::nth_element(d.begin(), d.begin() + static_cast<long>(d.size() / 2), d.end());
    out[o] = d[d.size() / 2] / (0.6745 * std::sqrt(2.0));
  }
  return out;
}

// Each unit's own parameters first, each unit alone (in parallel), with the shared ones and σ held at the
// start: when units differ widely (one bearing fails at 640 h, another at 1,700 h) the joint
// solve then begins near every unit's optimum rather than with one start for all. Each unit
// tries its start and then each of `more` (unit blocks, fitted space) and keeps the lowest cost;
// a unit whose every solve fails keeps its start.
void prefit_units(const CalibrationProblem& pr, const Layout& L, std::vector<double>& x,
                  const ceres::Solver::Options& so, int& iterations, const std::vector<std::vector<double>>& more) {
  if (L.unit == 0 || L.units < 2) return;
  std::vector<double> lo, hi;
  entry_bounds(pr, L, lo, hi);
  ceres::Solver::Options one = so;
  one.linear_solver_type = ceres::DENSE_QR;
  std::vector<int> unit_iterations(L.units, 0);
  // Units are independent here (disjoint blocks, the global one constant): in parallel, and
  // each unit's result does not depend on the thread that fits it.
  tbb::parallel_for(std::size_t{0}, L.units, [&](std::size_t u) {
    const std::size_t first = L.unit_start(u);
    double* xu = x.data() + first;
    std::vector<std::vector<double>> tries = {std::vector<double>(xu, xu + L.unit)};
    tries.insert(tries.end(), more.begin(), more.end());
    std::vector<double> best = tries.front();
    std::vector<double> global(x.begin(), x.begin() + static_cast<long>(L.global));
    double best_cost = std::numeric_limits<double>::infinity();
    for (const auto& start : tries) {
      std::copy(start.begin(), start.end(), xu);
      ceres::Problem P;
      std::vector<double*> blocks;
      if (L.global > 0) {  // this unit's own copy: Ceres writes every block back when it ends
        P.AddParameterBlock(global.data(), static_cast<int>(L.global));
        P.SetParameterBlockConstant(global.data());
        blocks.push_back(global.data());
      }
      P.AddParameterBlock(xu, static_cast<int>(L.unit));
      for (std::size_t i = 0; i < L.unit; ++i) {
        P.SetParameterLowerBound(xu, static_cast<int>(i), lo[first + i]);
        P.SetParameterUpperBound(xu, static_cast<int>(i), hi[first + i]);
      }
      blocks.push_back(xu);
      P.AddResidualBlock(new UnitCost(pr, L, u), nullptr, blocks);
      ceres::Solver::Summary cs;
      ceres::Solve(one, &P, &cs);
      unit_iterations[u] += static_cast<int>(cs.iterations.size());
      if (cs.IsSolutionUsable() && std::isfinite(cs.final_cost) && cs.final_cost < best_cost) {
        best_cost = cs.final_cost;
        best.assign(xu, xu + L.unit);
      }
    }
    std::copy(best.begin(), best.end(), xu);
  });
  for (const int n : unit_iterations) iterations += n;
}

// One start. Ceres projects a step that leaves the box back onto it, so where the optimum has
// parameters on their bounds (a rate that the data only bound from one side), its steps along
// the rest shrink and it stops short. So after each solve the entries it left on a bound are
// held there and the others solved again (an active set, at most three rounds); then, if the
// cost falls moving inside from any held bound, every entry is released for a last solve.
Fit run_start(const CalibrationProblem& pr, const Layout& L, std::vector<double> x, const CalibrationOptions& opt,
              const std::vector<std::vector<double>>& unit_starts = {}) {
  Fit fit;
  start_sigmas(pr, L, x);
  std::vector<double> lo, hi;
  entry_bounds(pr, L, lo, hi);
  ceres::Solver::Options so;
  so.minimizer_type = ceres::TRUST_REGION;
  so.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
  so.linear_solver_type = ceres::DENSE_QR;
  if (L.unit > 0 && L.units > 8 && ceres::IsSparseLinearAlgebraLibraryTypeAvailable(ceres::SUITE_SPARSE))
    so.linear_solver_type = ceres::SPARSE_NORMAL_CHOLESKY;
  so.max_num_iterations = opt.max_iterations;
  // Short first steps: Ceres' default (1e4) makes the first steps Gauss-Newton ones, which along a
  // valley of correlated parameters (a bearing's Paris coefficient, onset and impact gain) leave
  // the box and are projected onto a corner where the model no longer depends on them (the defect
  // starting after the last reading), and stay there. The radius grows after each good step.
  so.initial_trust_region_radius = 1.0;
  so.function_tolerance = opt.function_tolerance;
  so.gradient_tolerance = opt.gradient_tolerance;
  so.parameter_tolerance = opt.parameter_tolerance;
  so.num_threads = 1;
  so.check_gradients = opt.check_gradients;
  so.gradient_check_relative_precision = 1e-3;
  so.logging_type = ceres::SILENT;
  ceres::Solver::Summary cs;
  const auto solve = [&](const std::vector<bool>& held) {
    Problem P;
    build(pr, L, x, P, held);
    ceres::Solve(so, &P.problem, &cs);
    fit.iterations += static_cast<int>(cs.iterations.size());
    return cs.IsSolutionUsable() && std::isfinite(cs.final_cost);
  };
  // A start far from a trend the readings follow (a bearing's growth starting too late) explains
  // it away with a large σ and stalls there, where the trend parameters hardly matter. So where the
  // start's σ is over twice the readings' own scatter, the first solve holds σ at the scatter,
  // which leaves the misfit nowhere to go but into the model; then σ is freed.
  const std::vector<double> scatter = reading_scatter(pr, L);
  std::vector<bool> sigma_held(x.size(), false);
  bool staged = false;
  for (std::size_t o = 0; o < pr.observables.size(); ++o)
    if (L.sigma_of[o] >= 0) {
      const auto k = static_cast<std::size_t>(L.sigma_of[o]);
      sigma_held[k] = true;
      if (L.proportional_of[o] >= 0) sigma_held[static_cast<std::size_t>(L.proportional_of[o])] = true;
      if (std::isfinite(scatter[o]) && scatter[o] > 0.0 && std::log(scatter[o]) < x[k] - std::log(2.0)) {
        x[k] = std::clamp(std::log(scatter[o]), L.sigma_lower[o], L.sigma_upper[o]);
        staged = true;
      }
    }
  prefit_units(pr, L, x, so, fit.iterations, unit_starts);
  double initial_cost = 0.0;
  if (staged) {
    solve(sigma_held);
    initial_cost = cs.initial_cost;
    start_sigmas(pr, L, x);
  }
  fit.usable = solve({});
  if (!staged) initial_cost = cs.initial_cost;
  int rounds = 0;
  fit.usable = solve_with_bounds_held(
      fit.usable, x, lo, hi, solve,
      [&](std::vector<double>& gradient) {
        Problem P;
        build(pr, L, x, P);
        ceres::Problem::EvaluateOptions eo;
        eo.parameter_blocks = P.blocks;
        double cost = 0.0;
        return P.problem.Evaluate(eo, &cost, nullptr, &gradient, nullptr);
      },
      &rounds);
  std::ostringstream report;
  report << "Ceres " << (staged ? "(σ held at the readings' scatter first) " : "")
         << (rounds > 0 ? std::to_string(rounds + 1) + " solves (entries left on a bound held)"
                        : std::string("1 solve"))
         << ": iterations " << fit.iterations << ", initial cost " << initial_cost << ", final cost " << cs.final_cost
         << ", termination " << ceres::TerminationTypeToString(cs.termination_type);
  fit.message = report.str();
  if (fit.usable) fit.log_likelihood = log_likelihood_of_cost(pr, L, cs.final_cost);
  fit.x = x;
  return fit;
}

// J at x, dense, rows = every residual, columns = the fitted vector.
Eigen::MatrixXd jacobian(const CalibrationProblem& pr, const Layout& L, std::vector<double> x, bool* ok) {
  Problem P;
  build(pr, L, x, P);
  ceres::Problem::EvaluateOptions eo;
  eo.parameter_blocks = P.blocks;
  eo.apply_loss_function = false;
  ceres::CRSMatrix crs;
  double cost = 0.0;
  *ok = P.problem.Evaluate(eo, &cost, nullptr, nullptr, &crs);
  Eigen::MatrixXd J = Eigen::MatrixXd::Zero(crs.num_rows, crs.num_cols);
  for (int r = 0; r < crs.num_rows; ++r)
    for (int k = crs.rows[static_cast<std::size_t>(r)]; k < crs.rows[static_cast<std::size_t>(r) + 1]; ++k)
      J(r, crs.cols[static_cast<std::size_t>(k)]) = crs.values[static_cast<std::size_t>(k)];
  return J;
}

class FeatureObservation : public ObservationFunction {
 public:
  FeatureObservation(std::shared_ptr<const core::Model> model, std::size_t feature)
      : model_(std::move(model)), feature_(feature) {}
  double evaluate(double t, const double* y, const double* p, double* dh_dy, double* dh_dp) const override {
    return model_->derived_partials(feature_, t, y, p, dh_dy, dh_dp);
  }
  std::unique_ptr<ObservationFunction> clone() const override { return std::make_unique<FeatureObservation>(*this); }

 private:
  std::shared_ptr<const core::Model> model_;
  std::size_t feature_;
};

// The mean of `replicas` draws of a random feature, each draw keyed on (seed mixed with the
// reading time, unit, draw): common random numbers, so differences see only θ move. Forward
// differences: the cost is in the draws (a waveform each), and Gauss-Newton needs no more.
class RandomFeatureObservation : public ObservationFunction {
 public:
  RandomFeatureObservation(std::shared_ptr<const core::Model> model, std::size_t feature, std::vector<int> free,
                           std::uint64_t seed, int replicas)
      : model_(std::move(model)),
        feature_(feature),
        free_(std::move(free)),
        seed_(seed),
        replicas_(std::max(1, replicas)),
        y_(model_->num_states()),
        p_(model_->num_parameters()) {}

  void set_unit(std::size_t unit) override { unit_ = unit; }

  double evaluate(double t, const double* y, const double* p, double* dh_dy, double* dh_dp) const override {
    std::copy(y, y + y_.size(), y_.begin());
    std::copy(p, p + p_.size(), p_.begin());
    const double h = mean(t);
    if (!dh_dy) return h;
    std::fill(dh_dp, dh_dp + p_.size(), 0.0);
    const auto forward = [&](double& v) {
      const double v0 = v, step = 1e-6 * std::max(std::abs(v0), 1e-6);
      v = v0 + step;
      const double up = mean(t);
      v = v0;
      return (up - h) / step;
    };
    for (std::size_t i = 0; i < y_.size(); ++i) dh_dy[i] = forward(y_[i]);
    for (const int j : free_) dh_dp[static_cast<std::size_t>(j)] = forward(p_[static_cast<std::size_t>(j)]);
    return h;
  }
  std::unique_ptr<ObservationFunction> clone() const override {
    return std::make_unique<RandomFeatureObservation>(*this);
  }

 private:
  double mean(double t) const {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &t, sizeof bits);
    const std::uint64_t key = core::mix64(seed_ ^ core::mix64(bits));
    double sum = 0.0;
    for (int r = 0; r < replicas_; ++r) {
      core::CounterRng rng(key, unit_, core::stream::kCalibrationDraws + static_cast<std::uint32_t>(r));
      sum += model_->evaluate_derived_channel(feature_, t, y_.data(), p_.data(), rng);
    }
    return sum / replicas_;
  }

  std::shared_ptr<const core::Model> model_;
  std::size_t feature_;
  std::vector<int> free_;
  std::uint64_t seed_;
  int replicas_;
  std::size_t unit_ = 0;
  mutable std::vector<double> y_, p_;
};

}  // namespace

std::unique_ptr<ObservationFunction> observe_random_feature(std::shared_ptr<const core::Model> model,
                                                            std::size_t feature, std::vector<int> free,
                                                            std::uint64_t seed, int replicas) {
  return std::make_unique<RandomFeatureObservation>(std::move(model), feature, std::move(free), seed, replicas);
}

std::unique_ptr<ObservationFunction> observe_feature(std::shared_ptr<const core::Model> model, std::size_t feature) {
  return std::make_unique<FeatureObservation>(std::move(model), feature);
}

std::unique_ptr<ObservationFunction> observe_state(int state, std::size_t num_states, std::size_t num_parameters) {
  return std::make_unique<StateObservation>(state, num_states, num_parameters);
}

std::vector<std::string> undetermined(const CalibrationSummary& summary) {
  std::vector<std::string> names;
  for (const auto& e : summary.shared)
    if (!e.determined) names.push_back(e.name);
  for (const auto& e : summary.sigmas)
    if (!e.determined) names.push_back(e.name);
  for (const auto& e : summary.per_unit)
    if (!e.determined) names.push_back(e.name + "[" + e.unit + "]");
  return names;
}

std::vector<std::string> sigma_not_estimated(const CalibrationProblem& problem, const CalibrationSummary& summary) {
  std::vector<std::string> names;
  for (std::size_t o = 0; o < problem.observables.size() && o < summary.sigma.size(); ++o)
    if (!(problem.observables[o].sigma > 0.0) && std::isnan(summary.sigma[o]))
      names.push_back(problem.observables[o].name);
  return names;
}

const char* noise_name(NoiseKind k) {
  switch (k) {
    case NoiseKind::kAdditive:
      return "additive";
    case NoiseKind::kProportional:
      return "proportional";
    case NoiseKind::kLogNormal:
      return "log_normal";
    case NoiseKind::kCombined:
      return "combined";
  }
  return "?";
}

std::vector<std::string> CalibrationOptions::validate() const {
  std::vector<std::string> errors;
  if (starts < 1) errors.push_back("starts must be >= 1, got " + std::to_string(starts));
  if (max_iterations < 1) errors.push_back("max_iterations must be >= 1, got " + std::to_string(max_iterations));
  if (!(confidence > 0.0 && confidence < 1.0))
    errors.push_back("confidence must be in (0, 1), got " + core::format_number(confidence));
  if (threads < 0) errors.push_back("threads must be >= 0, got " + std::to_string(threads));
  return errors;
}

std::vector<std::vector<double>> predict(const CalibrationProblem& pr,
                                         const std::vector<std::vector<double>>& unit_parameters) {
  std::vector<std::vector<double>> out(pr.units.size());
  for (std::size_t u = 0; u < pr.units.size(); ++u) {
    UnitSolver s(pr, u, false);
    const bool ok = s.solve(unit_parameters[u], false);
    for (std::size_t i = 0; i < pr.units[u].measurements.size(); ++i)
      out[u].push_back(ok ? s.predict(i, unit_parameters[u], nullptr) : std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

namespace {
// σ and σ_p of combined noise (variance σ² + σ_p² f²) at their maximum likelihood for readings
// with residuals d_i = f_i - m_i: Newton's method in (ln σ, ln σ_p), inside the fit's bounds
// (ln σ in [la_lo, la_hi], Layout's for the observable), each step halved until the likelihood rises.
std::pair<double, double> combined_sigmas(const std::vector<double>& f, const std::vector<double>& d, double la_lo,
                                          double la_hi) {
  const double lb_lo = Layout::kProportionalLower, lb_hi = Layout::kProportionalUpper;
  const std::size_t n = f.size();
  const auto value = [&](double la, double lb) {
    const double a2 = std::exp(2.0 * la), b2 = std::exp(2.0 * lb);
    double g = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double s = a2 + b2 * f[i] * f[i];
      g -= 0.5 * std::log(s) + 0.5 * d[i] * d[i] / s;
    }
    return g;
  };
  // Start: each part alone at its own root-mean-square, shared half and half.
  double sa = 0.0, sb = 0.0;
  std::size_t nb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sa += d[i] * d[i];
    if (f[i] != 0.0) sb += d[i] * d[i] / (f[i] * f[i]), ++nb;
  }
  double la = std::clamp(0.5 * std::log(std::max(sa / static_cast<double>(n), 1e-300) / 2.0), la_lo, la_hi);
  double lb = std::clamp(nb > 0 ? 0.5 * std::log(std::max(sb / static_cast<double>(nb), 1e-300) / 2.0) : std::log(0.1),
                         lb_lo, lb_hi);
  double g = value(la, lb);
  for (int it = 0; it < 200; ++it) {
    const double a2 = std::exp(2.0 * la), b2 = std::exp(2.0 * lb);
    double ga = 0.0, gb = 0.0, haa = 0.0, hab = 0.0, hbb = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double s = a2 + b2 * f[i] * f[i], u = a2 / s, v = 1.0 - u, w = d[i] * d[i] / s;
      ga += u * (w - 1.0);
      gb += v * (w - 1.0);
      haa += 2.0 * u * (v * (w - 1.0) - u * w);
      hab -= 2.0 * u * v * (2.0 * w - 1.0);
      hbb += 2.0 * v * (u * (w - 1.0) - v * w);
    }
    // Newton where the Hessian is negative definite, else a gradient step.
    double da = ga, db = gb;
    const double det = haa * hbb - hab * hab;
    if (haa < 0.0 && det > 0.0) {
      da = -(hbb * ga - hab * gb) / det;
      db = -(haa * gb - hab * ga) / det;
    } else {
      const double norm = std::sqrt(ga * ga + gb * gb);
      if (norm > 0.0) da /= norm, db /= norm;
    }
    bool moved = false;
    for (double t = 1.0; t > 1e-12; t *= 0.5) {
      const double na = std::clamp(la + t * da, la_lo, la_hi), nb2 = std::clamp(lb + t * db, lb_lo, lb_hi);
      const double ng = value(na, nb2);
      if (ng > g) {
        moved = std::abs(na - la) + std::abs(nb2 - lb) > 1e-13;
        la = na, lb = nb2, g = ng;
        break;
      }
    }
    if (!moved) break;
  }
  return {std::exp(la), std::exp(lb)};
}
}  // namespace

double log_likelihood(const CalibrationProblem& pr, const std::vector<std::vector<double>>& predictions,
                      std::vector<double>* sigma_out, std::vector<double>* sigma_proportional_out) {
  const std::size_t O = pr.observables.size();
  // Residuals in each noise model's space, over readings without their own sd.
  std::vector<double> sum2(O, 0.0);
  std::vector<std::size_t> count(O, 0);
  const auto z = [&](const CalibrationObservable& ob, double f, double m) {
    if (ob.noise == NoiseKind::kAdditive || ob.noise == NoiseKind::kCombined) return f - m;
    if (ob.noise == NoiseKind::kProportional) return (f - m) / std::abs(f);
    return std::log(f) - std::log(m);
  };
  for (std::size_t u = 0; u < pr.units.size(); ++u)
    for (std::size_t i = 0; i < pr.units[u].measurements.size(); ++i) {
      const auto& m = pr.units[u].measurements[i];
      const auto o = static_cast<std::size_t>(m.observable);
      if (m.sd > 0.0) continue;
      const double d = z(pr.observables[o], predictions[u][i], m.value);
      sum2[o] += d * d;
      ++count[o];
    }
  // σ of an observable with no reading to estimate it from (all have an sd of their own, or there
  // are none) is NaN: not estimated.
  constexpr double kNotEstimated = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> sigma(O), proportional(O, 0.0);
  for (std::size_t o = 0; o < O; ++o) {
    sigma[o] = pr.observables[o].sigma > 0.0
                   ? pr.observables[o].sigma
                   : (count[o] > 0 ? std::sqrt(sum2[o] / static_cast<double>(count[o])) : kNotEstimated);
    if (pr.observables[o].noise == NoiseKind::kCombined && count[o] == 0) proportional[o] = kNotEstimated;
  }
  std::optional<Layout> L;  // the fit's bounds of ln σ, for combined noise
  for (std::size_t o = 0; o < O; ++o) {
    if (pr.observables[o].noise != NoiseKind::kCombined || count[o] == 0) continue;
    if (!L) L.emplace(pr);
    std::vector<double> f, d;
    for (std::size_t u = 0; u < pr.units.size(); ++u)
      for (std::size_t i = 0; i < pr.units[u].measurements.size(); ++i) {
        const auto& m = pr.units[u].measurements[i];
        if (static_cast<std::size_t>(m.observable) != o || m.sd > 0.0) continue;
        f.push_back(predictions[u][i]);
        d.push_back(predictions[u][i] - m.value);
      }
    std::tie(sigma[o], proportional[o]) = combined_sigmas(f, d, L->sigma_lower[o], L->sigma_upper[o]);
  }
  double ll = 0.0;
  for (std::size_t u = 0; u < pr.units.size(); ++u)
    for (std::size_t i = 0; i < pr.units[u].measurements.size(); ++i) {
      const auto& m = pr.units[u].measurements[i];
      const auto& ob = pr.observables[static_cast<std::size_t>(m.observable)];
      const double f = predictions[u][i];
      double s = m.sd > 0.0 ? m.sd : sigma[static_cast<std::size_t>(m.observable)];
      double d = m.sd > 0.0 ? f - m.value : z(ob, f, m.value);
      if (m.sd <= 0.0 && ob.noise == NoiseKind::kProportional) s *= std::abs(f), d *= std::abs(f);
      if (m.sd <= 0.0 && ob.noise == NoiseKind::kCombined) {
        const double p = proportional[static_cast<std::size_t>(m.observable)];
        s = std::sqrt(s * s + p * p * f * f);
      }
      ll += -0.5 * kLn2Pi - std::log(s) - 0.5 * (d / s) * (d / s);
      if (m.sd <= 0.0 && ob.noise == NoiseKind::kLogNormal) ll -= std::log(m.value);
    }
  if (sigma_out) *sigma_out = sigma;
  if (sigma_proportional_out) *sigma_proportional_out = proportional;
  return std::isfinite(ll) ? ll : -std::numeric_limits<double>::infinity();
}

CalibrationSummary calibrate(const CalibrationProblem& pr, const CalibrationOptions& opt) {
  const auto started = std::chrono::steady_clock::now();
  CalibrationSummary S;
  if (const std::string why = refusal(pr, opt); !why.empty()) {
    S.message = why;
    return S;
  }
  const Layout L(pr);
  for (const auto& u : pr.units) S.readings += u.measurements.size();
  S.fitted = L.shared.size() + L.per_unit.size() * L.units;

  // Starts: the given one, then Sobol points over the box of bounds (fitted space).
  const std::size_t D = L.shared.size() + L.per_unit.size();
  std::vector<int> order = L.shared;
  order.insert(order.end(), L.per_unit.begin(), L.per_unit.end());
  std::vector<core::Distribution> box;
  for (const int k : order) {
    const auto& fp = pr.parameters[static_cast<std::size_t>(k)];
    box.push_back(core::Distribution::uniform(to_fit(fp.lower, fp.log), to_fit(fp.upper, fp.log)));
  }
  const auto starts = static_cast<std::size_t>(opt.starts);
  std::vector<std::vector<double>> start_points(starts, std::vector<double>(D));
  for (std::size_t d = 0; d < D; ++d) {
    const auto& fp = pr.parameters[static_cast<std::size_t>(order[d])];
    start_points[0][d] = to_fit(fp.start, fp.log);
  }
  if (starts > 1 && D > 0) {
    const core::Sampler sobol(core::Design::kSobol, box, opt.seed, starts - 1);
    std::vector<double> pts((starts - 1) * D);
    sobol.sample(0, starts - 1, pts.data());
    for (std::size_t s = 1; s < starts; ++s) std::copy(&pts[(s - 1) * D], &pts[s * D], start_points[s].begin());
  }
  // The first start's units also try up to 4 Sobol points of their own box (prefit_units); each
  // try costs one more fit of every unit.
  std::vector<std::vector<double>> unit_starts;
  const std::size_t unit_tries = std::min<std::size_t>(starts - 1, 4);
  if (unit_tries > 0 && L.unit > 0 && L.units > 1) {
    std::vector<core::Distribution> unit_box(box.begin() + static_cast<long>(L.shared.size()), box.end());
    const core::Sampler sobol(core::Design::kSobol, unit_box, opt.seed + 1, unit_tries);
    std::vector<double> pts(unit_tries * L.unit);
    sobol.sample(0, unit_tries, pts.data());
    for (std::size_t s = 0; s < unit_tries; ++s)
      unit_starts.emplace_back(pts.begin() + static_cast<long>(s * L.unit),
                               pts.begin() + static_cast<long>((s + 1) * L.unit));
  }
  std::vector<Fit> fits(starts);
  const auto one = [&](std::size_t s) {
    std::vector<double> x(L.size(), 0.0);
    for (std::size_t j = 0; j < L.shared.size(); ++j) x[j] = start_points[s][j];
    for (std::size_t u = 0; u < L.units; ++u)
      for (std::size_t j = 0; j < L.per_unit.size(); ++j) x[L.unit_start(u) + j] = start_points[s][L.shared.size() + j];
    fits[s] = run_start(pr, L, std::move(x), opt, s == 0 ? unit_starts : std::vector<std::vector<double>>{});
  };
  // No more threads than TBB may use (more would not run at once; TBB warns at each request).
  tbb::task_arena arena(opt.threads > 0 ? std::min(opt.threads, tbb::info::default_concurrency())
                                        : tbb::task_arena::automatic);
  arena.execute([&] { tbb::parallel_for(std::size_t{0}, starts, one); });

  for (std::size_t s = 0; s < starts; ++s) {
    StartResult r;
    r.index = static_cast<int>(s);
    for (std::size_t d = 0; d < D; ++d)
      r.start.push_back(from_fit(start_points[s][d], pr.parameters[static_cast<std::size_t>(order[d])].log));
    for (std::size_t j = 0; j < L.shared.size(); ++j)
      r.optimum.push_back(from_fit(fits[s].x[j], pr.parameters[static_cast<std::size_t>(L.shared[j])].log));
    for (std::size_t j = 0; j < L.per_unit.size(); ++j)
      r.optimum.push_back(
          from_fit(fits[s].x[L.unit_start(0) + j], pr.parameters[static_cast<std::size_t>(L.per_unit[j])].log));
    r.log_likelihood = fits[s].log_likelihood;
    r.usable = fits[s].usable;
    r.iterations = fits[s].iterations;
    r.message = fits[s].message;
    S.starts.push_back(r);
    if (fits[s].usable &&
        (S.best_start < 0 || fits[s].log_likelihood > fits[static_cast<std::size_t>(S.best_start)].log_likelihood))
      S.best_start = static_cast<int>(s);
  }
  if (S.best_start < 0) {
    S.message = "no start reached a usable optimum (every solve failed or diverged); first start: " + fits[0].message;
    return S;
  }
  const Fit& best = fits[static_cast<std::size_t>(S.best_start)];
  for (const auto& f : fits)
    if (f.usable && f.log_likelihood >= best.log_likelihood - 0.1) ++S.starts_at_best;
  const std::vector<double>& x = best.x;
  for (std::size_t u = 0; u < L.units; ++u) S.unit_parameters.push_back(unit_parameters(pr, L, u, x.data()));
  S.log_likelihood = log_likelihood(pr, predict(pr, S.unit_parameters), &S.sigma, &S.sigma_proportional);

  // Laplace: covariance (J^T J)^-1 of the fitted vector.
  bool ok = false;
  const Eigen::MatrixXd J = jacobian(pr, L, x, &ok);
  const Eigen::Index P = static_cast<Eigen::Index>(L.size());
  Eigen::MatrixXd C = Eigen::MatrixXd::Constant(P, P, std::numeric_limits<double>::infinity());
  if (ok && P > 0) C = laplace_covariance(J);
  bool sigma_estimated = false;
  for (const int s : L.sigma_of) sigma_estimated |= s >= 0;
  const double N = static_cast<double>(S.readings), k = static_cast<double>(S.fitted);
  double scale = 1.0, q = 0.0;
  const double tail = 0.5 * (1.0 + opt.confidence);
  if (sigma_estimated && N > k) {
    scale = N / (N - k);
    q = boost::math::quantile(boost::math::students_t(N - k), tail);
  } else {
    q = boost::math::quantile(boost::math::normal(), tail);
  }
  const auto estimate = [&](std::size_t entry, const FreeParameter& fp, const std::string& unit) {
    ParameterEstimate e;
    e.name = fp.name;
    e.unit = unit;
    e.log = fp.log;
    e.estimate = from_fit(x[entry], fp.log);
    e.se = std::sqrt(C(static_cast<Eigen::Index>(entry), static_cast<Eigen::Index>(entry)) * scale);
    e.lower = std::max(from_fit(x[entry] - q * e.se, fp.log), fp.log ? 0.0 : -std::numeric_limits<double>::infinity());
    e.upper = from_fit(x[entry] + q * e.se, fp.log);
    const double lo = to_fit(fp.lower, fp.log), hi = to_fit(fp.upper, fp.log), tol = 1e-6 * (hi - lo);
    e.at_bound = x[entry] <= lo + tol || x[entry] >= hi - tol;
    e.determined = std::isfinite(e.se) && !(e.lower <= fp.lower && e.upper >= fp.upper);
    return e;
  };
  for (std::size_t j = 0; j < L.shared.size(); ++j)
    S.shared.push_back(estimate(j, pr.parameters[static_cast<std::size_t>(L.shared[j])], ""));
  for (std::size_t a = 0; a < L.shared.size(); ++a)
    for (std::size_t b = 0; b < L.shared.size(); ++b)
      S.shared_covariance.push_back(C(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) * scale);
  for (std::size_t o = 0; o < pr.observables.size(); ++o)
    if (L.sigma_of[o] >= 0) {
      FreeParameter fp;
      fp.name = "sigma_" + pr.observables[o].name;
      fp.log = true;
      fp.lower = std::exp(L.sigma_lower[o]);
      fp.upper = std::exp(L.sigma_upper[o]);
      ParameterEstimate e = estimate(static_cast<std::size_t>(L.sigma_of[o]), fp, "");
      S.sigmas.push_back(e);
      if (L.proportional_of[o] >= 0) {
        fp.name = "sigma_proportional_" + pr.observables[o].name;
        fp.lower = std::exp(Layout::kProportionalLower);
        fp.upper = std::exp(Layout::kProportionalUpper);
        S.sigmas.push_back(estimate(static_cast<std::size_t>(L.proportional_of[o]), fp, ""));
      }
    }
  for (std::size_t u = 0; u < L.units; ++u)
    for (std::size_t j = 0; j < L.per_unit.size(); ++j)
      S.per_unit.push_back(
          estimate(L.unit_start(u) + j, pr.parameters[static_cast<std::size_t>(L.per_unit[j])], pr.units[u].id));

  // Two-stage population of each per-unit parameter.
  for (std::size_t j = 0; j < L.per_unit.size(); ++j) {
    const auto& fp = pr.parameters[static_cast<std::size_t>(L.per_unit[j])];
    PopulationEstimate pe;
    pe.name = fp.name;
    pe.log = fp.log;
    pe.units = L.units;
    double sum = 0.0;
    for (std::size_t u = 0; u < L.units; ++u) sum += x[L.unit_start(u) + j];
    const double n = static_cast<double>(L.units);
    pe.mean = sum / n;
    double var = 0.0;
    for (std::size_t u = 0; u < L.units; ++u) var += std::pow(x[L.unit_start(u) + j] - pe.mean, 2);
    var = L.units > 1 ? var / (n - 1.0) : 0.0;
    pe.raw_sd = std::sqrt(var);
    // The estimates' own contribution to their sample variance: E[var] = sd² + tr(K Σ K) / (n - 1),
    // Σ the estimates' covariance across units and K the centring matrix. Uncertainty that moves
    // every unit together (through the shared parameters they are correlated with) adds no spread,
    // so it must not be subtracted: with independent estimates this is the mean of their variances.
    double trace = 0.0, total = 0.0, finite_se2 = 0.0;
    bool finite = true;
    for (std::size_t u = 0; u < L.units; ++u) {
      const auto iu = static_cast<Eigen::Index>(L.unit_start(u) + j);
      for (std::size_t v = 0; v < L.units; ++v) {
        const double c = C(iu, static_cast<Eigen::Index>(L.unit_start(v) + j)) * scale;
        finite = finite && std::isfinite(c);
        total += c;
        if (u == v) {
          trace += c;
          if (std::isfinite(c)) finite_se2 += c;
        }
      }
    }
    const double own = L.units < 2 ? 0.0 : finite ? (trace - total / n) / (n - 1.0) : finite_se2 / n;
    pe.sd = std::sqrt(std::max(var - own, 0.0));
    const double half = L.units > 1 ? boost::math::quantile(boost::math::students_t(n - 1.0), tail) * std::sqrt(var / n)
                                    : std::numeric_limits<double>::infinity();
    pe.mean_lower = pe.mean - half;
    pe.mean_upper = pe.mean + half;
    S.population.push_back(pe);
  }
  S.success = true;
  std::ostringstream msg;
  msg << "best of " << starts << " starts: start " << S.best_start << ", log-likelihood " << S.log_likelihood << "; "
      << S.starts_at_best << " of " << starts << " starts within 0.1 of it";
  S.message = msg.str();
  S.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return S;
}

}  // namespace physynth::anchor
