#include "physynth/anchor/population.h"
#include "physynth/core/constants.h"

#include <ceres/ceres.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <Eigen/Dense>
#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "unit_cost.h"

namespace physynth::anchor {

namespace {

using namespace detail;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Where the population parameters sit in the outer vector ψ: shared fixed effects (one per group
// where per group), ln σ of each estimated observable, the random parameters' means μ (one per
// group where per group), covariate coefficients β, then Ω (ln of the Cholesky diagonal, then the
// strictly lower entries row by row when full).
struct Outer {
  std::size_t G = 0, q = 0, groups = 1, size = 0;
  std::vector<std::size_t> shared_at, mu_at;    // first entry of each
  std::vector<bool> shared_grouped, mu_grouped;  // one entry per group?
  std::vector<std::size_t> sigma_at;            // per observable: entry or kNone
  std::size_t beta_at = 0, omega_at = 0;
  bool full = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? kNaN : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

double covariate_value(const PopulationModel::Effect& e, const std::vector<double>& unit) {
  const double z = unit[static_cast<std::size_t>(e.covariate_index)];
  return e.log ? std::log(z / e.reference) : z - e.reference;
}

class Fitter {
 public:
  Fitter(const CalibrationProblem& pr, const PopulationSpec& spec, const CalibrationOptions& opt)
      : pr_(pr),
        spec_(spec),
        L_(pr),
        arena_(opt.threads > 0 ? opt.threads : tbb::this_task_arena::max_concurrency()) {}

  // Checks the specification and lays out ψ; an error message, or empty.
  std::string prepare() {
    if (L_.per_unit.empty()) return "a population fit needs at least one per-unit (random) parameter";
    for (const auto& ob : pr_.observables)
      if (ob.noise == NoiseKind::kCombined)
        return "observable '" + ob.name +
               "': a population fit takes additive, proportional or log_normal noise, not combined (yet)";
    const std::size_t U = pr_.units.size();
    if (U < 2) return "a population fit needs at least 2 units, got " + std::to_string(U);
    if (!spec_.unit_group.empty() && spec_.unit_group.size() != U)
      return "unit_group has " + std::to_string(spec_.unit_group.size()) + " entries for " + std::to_string(U) +
             " units";
    group_.assign(U, 0);
    if (spec_.unit_group.empty()) {
      model_.groups = {""};
    } else {
      for (std::size_t u = 0; u < U; ++u) {
        const auto it = std::find(model_.groups.begin(), model_.groups.end(), spec_.unit_group[u]);
        group_[u] = static_cast<int>(it - model_.groups.begin());
        if (it == model_.groups.end()) model_.groups.push_back(spec_.unit_group[u]);
      }
    }
    const auto grouped = [&](const std::string& name) {
      return std::find(spec_.per_group.begin(), spec_.per_group.end(), name) != spec_.per_group.end();
    };
    for (const auto& name : spec_.per_group) {
      const bool known = std::any_of(pr_.parameters.begin(), pr_.parameters.end(),
                                     [&](const FreeParameter& fp) { return fp.name == name; });
      if (!known) return "per_group names '" + name + "', which is not a free parameter";
      if (spec_.unit_group.empty()) return "per_group names '" + name + "' but the units have no groups";
    }
    O_.G = L_.global;
    O_.q = L_.per_unit.size();
    O_.groups = model_.groups.size();
    O_.full = spec_.full_covariance;
    std::size_t at = 0;
    for (const int k : L_.shared) {
      const auto& fp = pr_.parameters[static_cast<std::size_t>(k)];
      O_.shared_at.push_back(at);
      O_.shared_grouped.push_back(grouped(fp.name));
      at += grouped(fp.name) ? O_.groups : 1;
      model_.shared.push_back({fp.name, fp.index, fp.log, {}});
    }
    O_.sigma_at.assign(pr_.observables.size(), kNone);
    for (std::size_t o = 0; o < pr_.observables.size(); ++o)
      if (L_.sigma_of[o] >= 0) O_.sigma_at[o] = at++;
    for (const int k : L_.per_unit) {
      const auto& fp = pr_.parameters[static_cast<std::size_t>(k)];
      O_.mu_at.push_back(at);
      O_.mu_grouped.push_back(grouped(fp.name));
      at += grouped(fp.name) ? O_.groups : 1;
      model_.random.push_back({fp.name, fp.index, fp.log, {}, fp.lower, fp.upper});
    }
    O_.beta_at = at;
    for (const auto& c : spec_.covariates) {
      int r = -1;
      for (std::size_t j = 0; j < model_.random.size(); ++j)
        if (model_.random[j].name == c.parameter) r = static_cast<int>(j);
      if (r < 0) return "covariate '" + c.covariate + "' acts on '" + c.parameter + "', which is not a per-unit parameter";
      if (c.covariate_index < 0 || static_cast<std::size_t>(c.covariate_index) >= pr_.model->num_parameters())
        return "covariate '" + c.covariate + "' is not a model parameter";
      std::vector<double> z;
      for (const auto& u : pr_.units) z.push_back(u.parameters[static_cast<std::size_t>(c.covariate_index)]);
      if (c.log && std::any_of(z.begin(), z.end(), [](double v) { return !(v > 0.0); }))
        return "covariate '" + c.covariate + "' enters as ln(z / reference), so every unit's value must be > 0";
      double ref = c.reference;
      if (!std::isfinite(ref) || (c.log && ref == 0.0)) ref = median(z);
      if (c.log && !(ref > 0.0)) return "covariate '" + c.covariate + "': reference must be > 0";
      model_.effects.push_back({r, c.covariate, c.covariate_index, c.log, ref, 0.0});
      ++at;
    }
    O_.omega_at = at;
    at += O_.q + (O_.full ? O_.q * (O_.q - 1) / 2 : 0);
    O_.size = at;
    x_.assign(U, {});
    for (std::size_t u = 0; u < U; ++u)
      for (const auto& e : model_.effects) x_[u].push_back(covariate_value(e, pr_.units[u].parameters));
    for (std::size_t u = 0; u < U; ++u) costs_.push_back(std::make_unique<UnitCost>(pr_, L_, u));
    return {};
  }

  std::size_t size() const { return O_.size; }

  Eigen::MatrixXd cholesky(const double* psi) const {
    const std::size_t q = O_.q;
    Eigen::MatrixXd C = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(q), static_cast<Eigen::Index>(q));
    std::size_t at = O_.omega_at;
    for (std::size_t k = 0; k < q; ++k) C(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k)) = std::exp(psi[at++]);
    if (O_.full)
      for (std::size_t r = 1; r < q; ++r)
        for (std::size_t c = 0; c < r; ++c) C(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = psi[at++];
    return C;
  }

  // Unit u's global block (shared fitted values of its group, ln σ).
  std::vector<double> global_of(const double* psi, std::size_t u) const {
    std::vector<double> xg(O_.G, 0.0);
    for (std::size_t j = 0; j < L_.shared.size(); ++j)
      xg[j] = psi[O_.shared_at[j] + (O_.shared_grouped[j] ? static_cast<std::size_t>(group_[u]) : 0)];
    for (std::size_t o = 0; o < pr_.observables.size(); ++o)
      if (O_.sigma_at[o] != kNone) xg[static_cast<std::size_t>(L_.sigma_of[o])] = psi[O_.sigma_at[o]];
    return xg;
  }

  Eigen::VectorXd mean_of(const double* psi, std::size_t u) const {
    Eigen::VectorXd m(static_cast<Eigen::Index>(O_.q));
    for (std::size_t k = 0; k < O_.q; ++k)
      m(static_cast<Eigen::Index>(k)) = psi[O_.mu_at[k] + (O_.mu_grouped[k] ? static_cast<std::size_t>(group_[u]) : 0)];
    for (std::size_t e = 0; e < model_.effects.size(); ++e)
      m(model_.effects[e].random) += psi[O_.beta_at + e] * x_[u][e];
    return m;
  }

  // -ln p(y_u) by FOCE-I; phi: the mode's start in, the mode out. NaN where the solve fails.
  // The mode is found by Gauss-Newton with a backtracking line search inside the free parameters'
  // bounds (q is small, so the q x q normal equations are solved directly); it stops when a step
  // would move no entry by 1e-9 or gain less than 1e-11, and the objective's terms are those of
  // that point.
  double unit_objective(const double* psi, std::size_t u, std::vector<double>& phi, const Eigen::MatrixXd& W,
                        double log_det_omega_half) const {
    std::vector<double> xg = global_of(psi, u);
    const Eigen::VectorXd m = mean_of(psi, u);
    const auto q = static_cast<Eigen::Index>(O_.q);
    const auto& cost = *costs_[u];
    const int rows = cost.num_residuals();
    std::vector<double> r(static_cast<std::size_t>(rows)), Jg(static_cast<std::size_t>(rows) * O_.G),
        Jp(static_cast<std::size_t>(rows) * O_.q);
    Eigen::VectorXd lo(q), hi(q);
    for (Eigen::Index k = 0; k < q; ++k) {
      const auto& fp = pr_.parameters[static_cast<std::size_t>(L_.per_unit[static_cast<std::size_t>(k)])];
      lo(k) = to_fit(fp.lower, fp.log);
      hi(k) = to_fit(fp.upper, fp.log);
    }
    Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(phi.data(), q).cwiseMax(lo).cwiseMin(hi);
    // Evaluates the data residuals at x (with the Jacobian by φ when asked); the inner cost, or NaN.
    const auto evaluate = [&](const Eigen::VectorXd& at, bool jacobian) {
      std::vector<const double*> in;
      std::vector<double*> jac;
      if (O_.G > 0) in.push_back(xg.data()), jac.push_back(jacobian ? Jg.data() : nullptr);
      in.push_back(at.data());
      jac.push_back(jacobian ? Jp.data() : nullptr);
      if (!cost.Evaluate(in.data(), r.data(), jacobian ? jac.data() : nullptr)) return kNaN;
      double c = 0.0;
      for (const double v : r) c += 0.5 * v * v;
      const double v = c + 0.5 * (W * (at - m)).squaredNorm();
      return std::isfinite(v) ? v : kNaN;
    };
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::MatrixXd WtW = W.transpose() * W;
    double c = evaluate(x, true);
    if (!std::isfinite(c)) return kNaN;
    for (int it = 0; it < 100; ++it) {
      const Eigen::Map<const RowMajor> J(Jp.data(), rows, q);
      const Eigen::Map<const Eigen::VectorXd> rv(r.data(), rows);
      const Eigen::VectorXd g = J.transpose() * rv + WtW * (x - m);
      const Eigen::MatrixXd H = J.transpose() * J + WtW;
      // Newton step with the entries held whose step would leave their bound (an active set).
      std::vector<bool> held(O_.q, false);
      Eigen::VectorXd d = Eigen::VectorXd::Zero(q);
      for (std::size_t pass = 0; pass <= O_.q; ++pass) {
        std::vector<Eigen::Index> free;
        for (Eigen::Index k = 0; k < q; ++k)
          if (!held[static_cast<std::size_t>(k)]) free.push_back(k);
        d.setZero();
        if (free.empty()) break;
        const auto nf = static_cast<Eigen::Index>(free.size());
        Eigen::MatrixXd Hf(nf, nf);
        Eigen::VectorXd gf(nf);
        for (Eigen::Index a = 0; a < nf; ++a) {
          gf(a) = g(free[static_cast<std::size_t>(a)]);
          for (Eigen::Index b = 0; b < nf; ++b) Hf(a, b) = H(free[static_cast<std::size_t>(a)], free[static_cast<std::size_t>(b)]);
        }
        const Eigen::VectorXd df = -Hf.ldlt().solve(gf);
        for (Eigen::Index a = 0; a < nf; ++a) d(free[static_cast<std::size_t>(a)]) = df(a);
        bool more = false;
        for (Eigen::Index k = 0; k < q; ++k) {
          const bool out = (x(k) <= lo(k) && d(k) < 0.0) || (x(k) >= hi(k) && d(k) > 0.0);
          if (out && !held[static_cast<std::size_t>(k)]) held[static_cast<std::size_t>(k)] = more = true;
        }
        if (!more) break;
      }
      if (!d.allFinite()) return kNaN;
      // Converged: the step is below what the solver's tolerances resolve, or would gain nothing.
      if (d.cwiseAbs().maxCoeff() < 1e-9 || -0.5 * g.dot(d) < 1e-11) break;
      // Trial points are evaluated with the Jacobian too (the first is nearly always taken), so
      // that every cost compared comes from the same solver configuration.
      double t = 1.0, ct = kNaN;
      Eigen::VectorXd y;
      for (int k = 0; k < 30; ++k, t *= 0.5) {
        y = (x + t * d).cwiseMax(lo).cwiseMin(hi);
        ct = evaluate(y, true);
        if (std::isfinite(ct) && ct <= c) break;
      }
      if (!(std::isfinite(ct) && ct <= c)) {
        if (-0.5 * g.dot(d) > 1e-6) return kNaN;  // far from a mode and no way down: not trusted
        c = evaluate(x, true);                    // the residuals and Jacobian of x again
        break;
      }
      const bool moved = (y - x).cwiseAbs().maxCoeff() >= 1e-9;
      x = y;
      c = ct;
      if (!moved) break;
    }
    Eigen::Map<Eigen::VectorXd>(phi.data(), q) = x;
    // r and the Jacobian are those of x.
    double data_cost = 0.0;  // ½ Σ r² over readings, plus ln σ_i + c (= ½ ρ²) per σ row
    for (const double v : r) data_cost += 0.5 * v * v;
    const double data_nll = -log_likelihood_of_cost(pr_, L_, data_cost, static_cast<int>(u));
    const Eigen::Map<const RowMajor> J(Jp.data(), rows, q);
    const Eigen::VectorXd rp = W * (x - m);
    const Eigen::MatrixXd H = J.transpose() * J + WtW;
    const Eigen::LLT<Eigen::MatrixXd> llt(H);
    if (llt.info() != Eigen::Success) return kNaN;
    double log_det_h_half = 0.0;
    for (Eigen::Index k = 0; k < H.rows(); ++k) log_det_h_half += std::log(llt.matrixL()(k, k));
    const double v = data_nll + 0.5 * rp.squaredNorm() + log_det_omega_half + log_det_h_half;
    return std::isfinite(v) ? v : kNaN;
  }

  // Σ_u -ln p(y_u) at ψ, starting each unit's mode from `modes` (updated when `keep`).
  double objective(const double* psi, std::vector<std::vector<double>>& modes, bool keep) const {
    ++evaluations_;
    const Eigen::MatrixXd C = cholesky(psi);
    const Eigen::MatrixXd W = C.triangularView<Eigen::Lower>().solve(
        Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(O_.q), static_cast<Eigen::Index>(O_.q)));
    double log_det_half = 0.0;
    for (Eigen::Index k = 0; k < C.rows(); ++k) log_det_half += std::log(C(k, k));
    if (!W.allFinite() || !std::isfinite(log_det_half)) return kNaN;
    const std::size_t U = pr_.units.size();
    std::vector<double> parts(U, kNaN);
    std::vector<std::vector<double>> out = modes;
    const auto one = [&](std::size_t u) { parts[u] = unit_objective(psi, u, out[u], W, log_det_half); };
    arena_.execute([&] {
      tbb::parallel_for(std::size_t{0}, U, [&](std::size_t u) { one(u); }, tbb::simple_partitioner());
    });
    double total = 0.0;
    for (const double p : parts) total += p;  // in unit order: the same sum for any thread count
    if (keep && std::isfinite(total)) modes = std::move(out);
    return std::isfinite(total) ? total : kNaN;
  }

  // Difference steps in ψ (ln of rates and standard deviations, mostly): large enough that the ODE
  // solutions' own error (rtol 1e-10) is far below the differences, small enough that the
  // truncation error (h² for central differences) is too.
  double step(double v) const { return 1e-3 * std::max(1.0, std::abs(v)); }

  bool gradient(const double* psi, std::vector<std::vector<double>>& modes, double* g) const {
    std::vector<double> p(psi, psi + O_.size);
    for (std::size_t j = 0; j < O_.size; ++j) {
      const double h = step(psi[j]);
      p[j] = psi[j] + h;
      const double up = objective(p.data(), modes, false);
      p[j] = psi[j] - h;
      const double down = objective(p.data(), modes, false);
      p[j] = psi[j];
      if (!std::isfinite(up) || !std::isfinite(down)) return false;
      g[j] = (up - down) / (2.0 * h);
    }
    return true;
  }

  // The objective's Hessian by central second differences.
  Eigen::MatrixXd hessian(const std::vector<double>& psi, std::vector<std::vector<double>>& modes, double f0,
                          bool* ok) const {
    const std::size_t P = O_.size;
    Eigen::MatrixXd H = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(P), static_cast<Eigen::Index>(P));
    std::vector<double> p = psi;
    *ok = true;
    const auto f = [&](std::size_t i, double di, std::size_t j, double dj) {
      p = psi;
      p[i] += di;
      p[j] += dj;
      const double v = objective(p.data(), modes, false);
      if (!std::isfinite(v)) *ok = false;
      return v;
    };
    std::vector<double> h(P);
    for (std::size_t i = 0; i < P; ++i) h[i] = 10.0 * step(psi[i]);  // 1 % of ln σ, ln ω, μ
    for (std::size_t i = 0; i < P && *ok; ++i) {
      const auto I = static_cast<Eigen::Index>(i);
      H(I, I) = (f(i, h[i], i, 0.0) - 2.0 * f0 + f(i, -h[i], i, 0.0)) / (h[i] * h[i]);
      for (std::size_t j = 0; j < i && *ok; ++j) {
        const auto Jx = static_cast<Eigen::Index>(j);
        H(I, Jx) = H(Jx, I) = (f(i, h[i], j, h[j]) - f(i, h[i], j, -h[j]) - f(i, -h[i], j, h[j]) +
                               f(i, -h[i], j, -h[j])) /
                              (4.0 * h[i] * h[j]);
      }
    }
    return H;
  }

  const Outer& outer() const { return O_; }
  const Layout& layout() const { return L_; }
  PopulationModel& model() { return model_; }
  int group(std::size_t u) const { return group_[u]; }
  int evaluations() const { return evaluations_; }

 private:
  const CalibrationProblem& pr_;
  const PopulationSpec& spec_;
  Layout L_;
  Outer O_;
  PopulationModel model_;
  std::vector<int> group_;
  std::vector<std::vector<double>> x_;  // covariates per unit, centred and transformed
  std::vector<std::unique_ptr<UnitCost>> costs_;
  mutable int evaluations_ = 0;
  mutable tbb::task_arena arena_;  // the units' modes run in it, every evaluation
};

// The population objective over ξ = ψ / scale, with its central-difference gradient.
class OuterFunction : public ceres::FirstOrderFunction {
 public:
  OuterFunction(const Fitter& f, std::vector<std::vector<double>>& modes, std::vector<double> scale)
      : f_(f), modes_(modes), scale_(std::move(scale)) {}
  bool Evaluate(const double* xi, double* cost, double* gradient) const override {
    std::vector<double> psi(scale_.size());
    for (std::size_t j = 0; j < psi.size(); ++j) psi[j] = xi[j] * scale_[j];
    *cost = f_.objective(psi.data(), modes_, true);
    if (!std::isfinite(*cost)) return false;
    if (!gradient) return true;
    if (!f_.gradient(psi.data(), modes_, gradient)) return false;
    for (std::size_t j = 0; j < psi.size(); ++j) gradient[j] *= scale_[j];
    return true;
  }
  int NumParameters() const override { return static_cast<int>(f_.size()); }

 private:
  const Fitter& f_;
  std::vector<std::vector<double>>& modes_;
  std::vector<double> scale_;
};

}  // namespace

int PopulationModel::group_index(const std::string& label) const {
  const auto it = std::find(groups.begin(), groups.end(), label);
  return it == groups.end() ? -1 : static_cast<int>(it - groups.begin());
}

std::vector<double> PopulationModel::parameters(std::vector<double> unit, int group, const double* eta) const {
  const auto g = static_cast<std::size_t>(std::max(group, 0));
  const auto pick = [&](const std::vector<double>& v) { return v.size() > 1 ? v[std::min(g, v.size() - 1)] : v[0]; };
  for (const auto& s : shared) unit[static_cast<std::size_t>(s.index)] = pick(s.value);
  std::vector<double> phi(random.size());
  for (std::size_t k = 0; k < random.size(); ++k) phi[k] = pick(random[k].mean) + (eta ? eta[k] : 0.0);
  for (const auto& e : effects) phi[static_cast<std::size_t>(e.random)] += e.beta * covariate_value(e, unit);
  for (std::size_t k = 0; k < random.size(); ++k)
    unit[static_cast<std::size_t>(random[k].index)] = from_fit(phi[k], random[k].log);
  return unit;
}

PopulationSummary fit_population(const CalibrationProblem& pr, const PopulationSpec& spec,
                                 const CalibrationOptions& opt) {
  const auto started = std::chrono::steady_clock::now();
  PopulationSummary S;
  if (const std::string why = refusal(pr, opt); !why.empty()) {
    S.message = why;
    return S;
  }
  // The objective is differenced, so the solves must be far more precise than its differences.
  CalibrationProblem tight = pr;
  tight.ode.rtol = std::min(pr.ode.rtol, 1e-9);
  tight.ode.atol *= 1e-1;
  for (auto& a : tight.ode.atol_per_state) a *= 1e-1;
  Fitter F(tight, spec, opt);
  if (const std::string why = F.prepare(); !why.empty()) {
    S.message = why;
    return S;
  }
  const Outer& O = F.outer();
  const Layout& L = F.layout();
  const std::size_t U = pr.units.size(), q = O.q;
  S.units = U;
  for (const auto& u : pr.units) S.readings += u.measurements.size();

  // Start: the pooled fit (every unit with the same parameters) from the free parameters' starts
  // (a local fit, so that an alternative optimum far from them, such as a flip-flop of absorption
  // and elimination, is not taken for the population's), and
  // every random effect's standard deviation at 0.5 (in ln θ: a factor of 1.6 either way).
  CalibrationProblem pooled = pr;
  for (auto& fp : pooled.parameters) fp.per_unit = false;
  CalibrationOptions one = opt;
  one.starts = 1;  // a local fit from the given starts: the population optimum is sought near them
  S.pooled = calibrate(pooled, one);
  std::vector<double> psi(O.size, 0.0);
  {
    std::vector<double> value(pr.parameters.size());
    for (std::size_t j = 0; j < pr.parameters.size(); ++j) {
      const auto& fp = pr.parameters[j];
      value[j] = to_fit(S.pooled.success ? S.pooled.shared[j].estimate : fp.start, fp.log);
    }
    for (std::size_t j = 0; j < L.shared.size(); ++j)
      for (std::size_t g = 0; g < (O.shared_grouped[j] ? O.groups : 1); ++g)
        psi[O.shared_at[j] + g] = value[static_cast<std::size_t>(L.shared[j])];
    for (std::size_t k = 0; k < q; ++k) {
      for (std::size_t g = 0; g < (O.mu_grouped[k] ? O.groups : 1); ++g)
        psi[O.mu_at[k] + g] = value[static_cast<std::size_t>(L.per_unit[k])];
      psi[O.omega_at + k] = std::log(0.5);
    }
    std::vector<double> sigma = S.pooled.sigma;
    if (!S.pooled.success) {
      std::vector<std::vector<double>> start(U, pr.units[0].parameters);
      for (std::size_t u = 0; u < U; ++u) {
        start[u] = pr.units[u].parameters;
        for (const auto& fp : pr.parameters) start[u][static_cast<std::size_t>(fp.index)] = fp.start;
      }
      log_likelihood(pr, predict(pr, start), &sigma);
    }
    for (std::size_t o = 0; o < pr.observables.size(); ++o)
      if (O.sigma_at[o] != kNone)
        psi[O.sigma_at[o]] = std::isfinite(sigma[o]) && sigma[o] > 0.0 ? std::log(sigma[o]) : 0.0;
  }
  std::vector<std::vector<double>> modes(U);
  for (std::size_t u = 0; u < U; ++u) {
    const Eigen::VectorXd m = F.mean_of(psi.data(), u);
    modes[u].assign(m.data(), m.data() + m.size());
  }

  // BFGS over ξ = ψ / scale, scale_j = 1 / sqrt(∂²f/∂ψ_j²) at the start, so that its first steps
  // are of the right size along every direction (ln σ and μ are curved far more than ln ω).
  const double f_start = F.objective(psi.data(), modes, true);
  if (!std::isfinite(f_start)) {
    S.message = "the population objective is not finite at the start (the pooled fit: " + S.pooled.message + ")";
    return S;
  }
  std::vector<double> scale(O.size, 1.0);
  for (std::size_t j = 0; j < O.size; ++j) {
    std::vector<double> p = psi;
    const double h = 10.0 * F.step(psi[j]);
    p[j] = psi[j] + h;
    const double up = F.objective(p.data(), modes, false);
    p[j] = psi[j] - h;
    const double down = F.objective(p.data(), modes, false);
    const double curvature = (up - 2.0 * f_start + down) / (h * h);
    if (std::isfinite(curvature) && curvature > 1e-8) scale[j] = 1.0 / std::sqrt(curvature);
  }
  std::vector<double> xi(O.size);
  for (std::size_t j = 0; j < O.size; ++j) xi[j] = psi[j] / scale[j];
  ceres::GradientProblem problem(new OuterFunction(F, modes, scale));
  ceres::GradientProblemSolver::Options go;
  go.line_search_direction_type = ceres::BFGS;
  go.max_num_iterations = opt.max_iterations;
  go.function_tolerance = 1e-12;
  go.gradient_tolerance = 1e-6;
  go.parameter_tolerance = 1e-10;
  go.logging_type = ceres::SILENT;
  ceres::GradientProblemSolver::Summary gs;
  ceres::Solve(go, problem, xi.data(), &gs);
  for (std::size_t j = 0; j < O.size; ++j) psi[j] = xi[j] * scale[j];
  S.iterations = static_cast<int>(gs.iterations.size());
  const double f0 = F.objective(psi.data(), modes, true);
  if (!std::isfinite(f0)) {
    S.message = "the population objective is not finite at the optimum (" + gs.message + ")";
    return S;
  }
  S.log_likelihood = -f0;
  S.objective = 2.0 * f0;

  // Uncertainty.
  bool ok = false;
  const Eigen::MatrixXd H = F.hessian(psi, modes, f0, &ok);
  Eigen::MatrixXd cov = Eigen::MatrixXd::Constant(static_cast<Eigen::Index>(O.size), static_cast<Eigen::Index>(O.size),
                                                  std::numeric_limits<double>::infinity());
  if (ok) {
    const Eigen::LDLT<Eigen::MatrixXd> ldlt(H);
    if (ldlt.info() == Eigen::Success && ldlt.isPositive() && (ldlt.vectorD().array() > 0.0).all()) {
      cov = ldlt.solve(Eigen::MatrixXd::Identity(H.rows(), H.cols()));
      S.covariance_ok = cov.allFinite();
    }
  }
  const double z = boost::math::quantile(boost::math::normal(), 0.5 + 0.5 * opt.confidence);
  const auto se_of = [&](std::size_t i) {
    const double v = cov(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i));
    return S.covariance_ok && v >= 0.0 ? std::sqrt(v) : std::numeric_limits<double>::infinity();
  };
  const auto estimate = [&](const std::string& name, const std::string& label, double x, double se, bool log) {
    ParameterEstimate e;
    e.name = name;
    e.unit = label;
    e.log = log;
    e.se = se;
    e.estimate = from_fit(x, log);
    e.lower = from_fit(x - z * se, log);
    e.upper = from_fit(x + z * se, log);
    if (!log && !std::isfinite(se)) e.lower = -std::numeric_limits<double>::infinity();
    return e;
  };
  auto& M = F.model();
  const auto label = [&](bool grouped, std::size_t g) { return grouped ? M.groups[g] : std::string(); };
  for (std::size_t j = 0; j < L.shared.size(); ++j) {
    const auto& fp = pr.parameters[static_cast<std::size_t>(L.shared[j])];
    for (std::size_t g = 0; g < (O.shared_grouped[j] ? O.groups : 1); ++g) {
      const std::size_t i = O.shared_at[j] + g;
      auto e = estimate(fp.name, label(O.shared_grouped[j], g), psi[i], se_of(i), fp.log);
      e.at_bound = e.estimate < fp.lower || e.estimate > fp.upper;
      S.fixed.push_back(e);
      M.shared[j].value.push_back(e.estimate);
    }
  }
  for (std::size_t k = 0; k < q; ++k) {
    const auto& fp = pr.parameters[static_cast<std::size_t>(L.per_unit[k])];
    for (std::size_t g = 0; g < (O.mu_grouped[k] ? O.groups : 1); ++g) {
      const std::size_t i = O.mu_at[k] + g;
      S.fixed.push_back(estimate(fp.name, label(O.mu_grouped[k], g), psi[i], se_of(i), fp.log));
      M.random[k].mean.push_back(psi[i]);
    }
  }
  for (std::size_t e = 0; e < M.effects.size(); ++e) {
    const std::size_t i = O.beta_at + e;
    M.effects[e].beta = psi[i];
    S.effects.push_back(estimate(M.random[static_cast<std::size_t>(M.effects[e].random)].name + "~" +
                                     M.effects[e].covariate,
                                 "", psi[i], se_of(i), false));
  }
  S.sigma.assign(pr.observables.size(), 0.0);
  for (std::size_t o = 0; o < pr.observables.size(); ++o) {
    if (O.sigma_at[o] == kNone) {  // given, or not estimated (no reading without its own sd): NaN
      S.sigma[o] = pr.observables[o].sigma > 0.0 ? pr.observables[o].sigma : std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    const std::size_t i = O.sigma_at[o];
    S.sigmas.push_back(estimate(pr.observables[o].name, "", psi[i], se_of(i), true));
    S.sigma[o] = std::exp(psi[i]);
  }
  // Ω: standard deviations and correlations, with the delta method over Ω's entries of ψ.
  const std::size_t nw = O.size - O.omega_at;
  const auto derived = [&](const double* p) {
    const Eigen::MatrixXd C = F.cholesky(p);
    const Eigen::MatrixXd Om = C * C.transpose();
    std::vector<double> d;
    for (std::size_t k = 0; k < q; ++k) d.push_back(0.5 * std::log(Om(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k))));
    if (O.full)
      for (std::size_t r = 1; r < q; ++r)
        for (std::size_t c = 0; c < r; ++c) {
          const auto R = static_cast<Eigen::Index>(r), Cc = static_cast<Eigen::Index>(c);
          d.push_back(Om(R, Cc) / std::sqrt(Om(R, R) * Om(Cc, Cc)));
        }
    return d;
  };
  const std::vector<double> d0 = derived(psi.data());
  std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (row, column) of each correlation in d0
  if (O.full)
    for (std::size_t r = 1; r < q; ++r)
      for (std::size_t c = 0; c < r; ++c) pairs.emplace_back(r, c);
  Eigen::MatrixXd D(static_cast<Eigen::Index>(d0.size()), static_cast<Eigen::Index>(nw));
  for (std::size_t j = 0; j < nw; ++j) {
    std::vector<double> p = psi;
    const double h = 1e-6 * std::max(1.0, std::abs(psi[O.omega_at + j]));
    p[O.omega_at + j] += h;
    const auto up = derived(p.data());
    p[O.omega_at + j] -= 2.0 * h;
    const auto down = derived(p.data());
    for (std::size_t i = 0; i < d0.size(); ++i) D(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = (up[i] - down[i]) / (2.0 * h);
  }
  const Eigen::MatrixXd cw = cov.bottomRightCorner(static_cast<Eigen::Index>(nw), static_cast<Eigen::Index>(nw));
  const Eigen::MatrixXd cd = S.covariance_ok ? Eigen::MatrixXd(D * cw * D.transpose())
                                             : Eigen::MatrixXd::Constant(D.rows(), D.rows(), std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < d0.size(); ++i) {
    const auto I = static_cast<Eigen::Index>(i);
    const double se = cd(I, I) >= 0.0 ? std::sqrt(cd(I, I)) : std::numeric_limits<double>::infinity();
    if (i < q) {
      S.omega.push_back(estimate(M.random[i].name, "", d0[i], se, true));
    } else {
      const auto [r, c] = pairs[i - q];
      auto e = estimate(M.random[c].name + "~" + M.random[r].name, "", d0[i], se, false);
      e.lower = std::max(-1.0, e.lower);
      e.upper = std::min(1.0, e.upper);
      S.correlations.push_back(e);
    }
  }
  {
    const Eigen::MatrixXd C = F.cholesky(psi.data());
    const Eigen::MatrixXd Om = C * C.transpose();
    M.omega.assign(Om.data(), Om.data() + Om.size());  // symmetric: row- and column-major agree
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Cr = C;
    M.cholesky.assign(Cr.data(), Cr.data() + Cr.size());
  }
  // Each unit at its mode.
  S.eta.assign(U, std::vector<double>(q, 0.0));
  std::vector<double> sum(q, 0.0), sum2(q, 0.0);
  for (std::size_t u = 0; u < U; ++u) {
    const Eigen::VectorXd m = F.mean_of(psi.data(), u);
    const std::vector<double> xg = F.global_of(psi.data(), u);
    S.unit_parameters.push_back(bind(pr, L, u, xg.data(), modes[u].data()));
    for (std::size_t k = 0; k < q; ++k) {
      S.eta[u][k] = modes[u][k] - m(static_cast<Eigen::Index>(k));
      sum[k] += S.eta[u][k];
      sum2[k] += S.eta[u][k] * S.eta[u][k];
    }
  }
  for (std::size_t k = 0; k < q; ++k) {
    const double mean = sum[k] / static_cast<double>(U);
    const double sd = std::sqrt(std::max(0.0, (sum2[k] - static_cast<double>(U) * mean * mean) / static_cast<double>(U - 1)));
    S.shrinkage.push_back(1.0 - sd / std::exp(d0[k]));
  }
  S.model = M;
  S.evaluations = F.evaluations();
  std::ostringstream msg;
  msg << "FOCE-I: BFGS " << S.iterations << " iterations, " << S.evaluations << " objective evaluations, "
      << ceres::TerminationTypeToString(gs.termination_type) << " (" << gs.message << ")";
  if (!S.covariance_ok) msg << "; the objective's Hessian is not positive definite at the optimum, so no intervals";
  S.message = msg.str();
  S.success = gs.termination_type != ceres::FAILURE;
  S.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return S;
}

}  // namespace physynth::anchor
