// NDF: the numerical differentiation formulas of orders 1 to 5, a variable-order multistep
// method for small stiff systems at tight tolerances (issue 27).
//
// Klopfenstein's NDFs as Shampine & Reichelt give them (1997, "The MATLAB ODE Suite", SIAM J.
// Sci. Comput. 18:1-22, section 2, the method of MATLAB's ode15s): BDFs of order k with the
// extra term κ γ_k (y_{n+1} - y^(0)_{n+1}), κ = -0.1850, -1/9, -0.0823, -0.0415, 0 for k = 1..5,
// as stable as the BDFs at up to 26 % larger steps. The history is kept as backward
// differences D_0..D_k of the solution at equally spaced points (quasi-constant step size); a
// change of step by a factor r maps them by the matrices R(r) U of the paper's section 2.3,
// so the formulas keep their fixed coefficients. One step from t to t + h:
//
//   y^(0) = sum_{i<=k} D_i,  ψ = (1/α_k) sum_{i=1..k} γ_i D_i,  c = h / α_k,
//   solve  c f(t + h, y^(0) + d) - ψ - d = 0  for d by simplified Newton with (I - c J),
//   error  = (κ γ_k + 1/(k+1)) d in the weighted RMS norm (w_i = atol_i + rtol |y_i|),
//
// with γ_k = sum_{j<=k} 1/j and α_k = (1 - κ) γ_k. The Newton iteration stops when its
// estimated error (rate/(1 - rate) |Δ|) is below max(10 eps/rtol, min(0.03, sqrt(rtol))) and
// gives up after 4 iterations or a rate at or above 1: then the Jacobian is refreshed once at
// the predicted point, and after that the step is halved. After k + 1 steps of one size the
// order moves to whichever of k - 1, k, k + 1 allows the largest next step (errors estimated
// from D_k and D_{k+2}), the step growing at most 10 times, shrinking at most 5 times on a
// rejection, times a safety factor that falls with the Newton iterations used. The Jacobian is
// kept across steps (exact, from the model) and I - c J refactorised only when c changes.
// Dense output: the Newton backward-difference polynomial through the last k + 1 points.
// (SciPy's solve_ivp "BDF" implements the same scheme in Python; its step counts served as a
// check, not its code.)
//
// Why beside Rodas5P: at rtol 1e-8 Rodas5P takes ~720 steps of 8 stages on the Michaelis-Menten
// scenario, the NDF ~650 steps of 2 to 3 function evaluations and a back substitution each:
// a step a third of the price. Rodas5P stays for loose tolerances, sensitivities and short
// solves (docs/PERFORMANCE.md measures both). Same System interface as Rodas5P (rosenbrock.h),
// the same results type and events on the dense output (step_events.h); no sensitivities.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/rosenbrock.h"
#include "physynth/solvers/small_lu.h"
#include "physynth/solvers/step_events.h"

namespace physynth::solvers {

namespace ndf {
inline constexpr int kMaxOrder = 5;
inline constexpr int kNewtonIterations = 4;
inline constexpr double kKappa[kMaxOrder + 1] = {0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0};
// γ_k = sum_{j=1..k} 1/j.
inline constexpr double kGammaSum[kMaxOrder + 2] = {0.0, 1.0, 1.5, 1.5 + 1.0 / 3.0, 1.5 + 1.0 / 3.0 + 0.25,
                                                    1.5 + 1.0 / 3.0 + 0.25 + 0.2,
                                                    1.5 + 1.0 / 3.0 + 0.25 + 0.2 + 1.0 / 6.0};
inline double alpha(int k) { return (1.0 - kKappa[k]) * kGammaSum[k]; }
// The local error constant of order k (k = 0..kMaxOrder + 1; κ is 0 past kMaxOrder).
inline double error_constant(int k) { return (k <= kMaxOrder ? kKappa[k] : 0.0) * kGammaSum[k] + 1.0 / (k + 1); }
}  // namespace ndf

template <int N>
class Ndf {
 public:
  using Vec = Eigen::Matrix<double, N, 1>;
  using Mat = Eigen::Matrix<double, N, N>;

  // n: the state count (must equal N unless N is Eigen::Dynamic).
  Ndf(int n, RosenbrockOptions options) : n_(n), o_(std::move(options)), lu_(n) {
    for (auto* v : {&yp_, &psi_, &d_, &dy_, &f_, &w_, &u_}) v->resize(n_);
    for (auto& v : D_) v.resize(n_);
    for (auto& v : tmp_) v.resize(n_);
    J_.resize(n_, n_);
  }

  // Integrates from (t0, y0) through `times` (non-decreasing, >= t0), writing each state at each
  // time into out (row-major, times.size() x n); rows not reached are NaN. Events as Rodas5P's.
  template <class System>
  RosenbrockResult solve(const System& sys, double t0, const double* y0, const std::vector<double>& times, double* out,
                         const std::vector<Event>& events = {}, const double* p = nullptr) {
    RosenbrockResult r = solve_steps(sys, t0, y0, times, out, events, p);
    const Vec& last = r.status == RosenbrockStatus::kStoppedByEvent ? u_ : D_[0];
    r.final_state.assign(last.data(), last.data() + n_);
    return r;
  }

 private:
  template <class System>
  RosenbrockResult solve_steps(const System& sys, double t0, const double* y0, const std::vector<double>& times,
                               double* out, const std::vector<Event>& events, const double* p) {
    using namespace ndf;
    RosenbrockResult r;
    r.t_reached = t0;
    const std::size_t T = times.size();
    std::fill(out, out + T * static_cast<std::size_t>(n_), std::numeric_limits<double>::quiet_NaN());
    for (int i = 0; i < n_; ++i) D_[0][i] = y0[i];
    double t = t0;
    std::size_t next = 0;
    while (next < T && times[next] <= t0) write(out, next++, D_[0]);
    if (next == T) {
      r.rows_written = T;
      return r;
    }
    const double t_end = times.back();
    events_.start(events, t, D_[0].data(), p);
    sys.rhs(t, D_[0], f_);
    ++r.stats.rhs_evals;
    if (!f_.allFinite()) return fail(r, RosenbrockStatus::kNonFinite, t, next);
    double h = o_.initial_step_size > 0.0 ? o_.initial_step_size : initial_step(sys, t, t_end, r);
    h = std::min(h, t_end - t);
    if (o_.max_step_size > 0.0) h = std::min(h, o_.max_step_size);
    D_[1] = h * f_;
    for (int i = 2; i < kMaxOrder + 3; ++i) D_[static_cast<std::size_t>(i)].setZero();
    order_ = 1;
    int equal_steps = 0;
    sys.jacobian(t, D_[0], J_);
    ++r.stats.jacobian_evals;
    bool lu_valid = false;
    int singular = 0;
    const double newton_tol =
        std::max(10.0 * std::numeric_limits<double>::epsilon() / o_.rtol, std::min(0.03, std::sqrt(o_.rtol)));
    while (next < T) {
      const double resolution = 16.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(t));
      if (t_end - t <= resolution) {
        while (next < T) write(out, next++, D_[0]);
        break;
      }
      if (r.stats.steps >= o_.max_steps) return fail(r, RosenbrockStatus::kTooMuchWork, t, next);
      // The step this time: within the largest allowed and not past the end (nor short of it by
      // a sliver). Any change rescales the differences.
      double h_new = h;
      if (o_.max_step_size > 0.0) h_new = std::min(h_new, o_.max_step_size);
      if (t + h_new > t_end || t_end - (t + h_new) <= resolution) h_new = t_end - t;
      if (h_new != h) {
        rescale(h_new / h);
        h = h_new;
        equal_steps = 0;
        lu_valid = false;
      }
      if (h <= resolution) return fail(r, RosenbrockStatus::kStepTooSmall, t, next);
      bool jacobian_current = false;
      // Attempts at this step until one passes the Newton iteration and the error test.
      for (;;) {
        const double t_new = t + h;
        const int k = order_;
        yp_ = D_[0];
        for (int i = 1; i <= k; ++i) yp_ += D_[static_cast<std::size_t>(i)];
        psi_.setZero();
        for (int i = 1; i <= k; ++i) psi_ += kGammaSum[i] * D_[static_cast<std::size_t>(i)];
        const double a = alpha(k);
        psi_ /= a;
        const double c = h / a;
        bool converged = false;
        int iterations = 0;
        if (!lu_valid) {
          lu_.matrix() = -c * J_;
          lu_.matrix().diagonal().array() += 1.0;
          ++r.stats.factorizations;
          lu_valid = lu_.factorize();
          if (lu_valid) singular = 0;
        }
        if (lu_valid) {
          for (int i = 0; i < size(); ++i) w_[i] = 1.0 / (atol(i) + o_.rtol * std::abs(yp_[i]));
          d_.setZero();
          u_ = yp_;
          double previous = 0.0;
          for (int it = 0; it < kNewtonIterations; ++it) {
            iterations = it + 1;
            sys.rhs(t_new, u_, f_);
            ++r.stats.rhs_evals;
            if (!f_.allFinite()) break;
            dy_ = c * f_ - psi_ - d_;
            lu_.solve(dy_.data());
            const double norm = rms(dy_);
            // From the second iteration on, the contraction rate says whether the iteration will
            // converge in the iterations left (rate^left as products: pow was 14 % of a run).
            const double rate = it > 0 ? norm / previous : 0.0;
            if (it > 0) {
              double rate_power = rate;
              for (int left = kNewtonIterations - it; left > 1; --left) rate_power *= rate;
              if (!(rate < 1.0) || rate_power / (1.0 - rate) * norm > newton_tol) break;
            }
            u_ += dy_;
            d_ += dy_;
            if (norm == 0.0 || (it > 0 && rate / (1.0 - rate) * norm < newton_tol)) {
              converged = true;
              break;
            }
            previous = norm;
          }
        } else if (++singular > 10) {
          return fail(r, RosenbrockStatus::kSingularMatrix, t, next);
        }
        if (!converged) {
          if (!jacobian_current) {  // first: a fresh Jacobian at the predicted point
            sys.jacobian(t_new, yp_, J_);
            ++r.stats.jacobian_evals;
            if (!J_.allFinite()) return fail(r, RosenbrockStatus::kNonFinite, t, next);
            jacobian_current = true;
            lu_valid = false;
            continue;
          }
          ++r.stats.rejected;  // then: half the step
          rescale(0.5);
          h *= 0.5;
          equal_steps = 0;
          lu_valid = false;
          if (h <= resolution) return fail(r, RosenbrockStatus::kStepTooSmall, t, next);
          continue;
        }
        const double safety = 0.9 * (2 * kNewtonIterations + 1) / (2 * kNewtonIterations + iterations);
        for (int i = 0; i < size(); ++i) w_[i] = 1.0 / (atol(i) + o_.rtol * std::abs(u_[i]));
        const double error = error_constant(k) * rms(d_);
        if (!(error <= 1.0)) {
          ++r.stats.rejected;
          const double factor =
              std::isfinite(error) ? std::max(0.2, safety * std::pow(error, -1.0 / (k + 1))) : 0.2;
          rescale(factor);
          h *= factor;
          equal_steps = 0;
          lu_valid = false;
          if (h <= resolution) return fail(r, RosenbrockStatus::kStepTooSmall, t, next);
          continue;
        }
        // Accepted: the differences take in y(t + h) (D_0 becomes it).
        ++r.stats.steps;
        D_[static_cast<std::size_t>(k + 2)] = d_ - D_[static_cast<std::size_t>(k + 1)];
        D_[static_cast<std::size_t>(k + 1)] = d_;
        for (int i = k; i >= 0; --i) D_[static_cast<std::size_t>(i)] += D_[static_cast<std::size_t>(i + 1)];
        // The events inside (t, t + h], then the outputs there, from the interpolating polynomial.
        if (!events.empty()) {
          const double theta_stop = events_.locate(events, p, t, h, D_[0].data(),
                                                     [&](double theta) { return dense(theta, k).data(); }, r.events);
          if (theta_stop >= 0.0) {
            const double te = t + theta_stop * h;
            for (; next < T && times[next] < te; ++next) write(out, next, dense((times[next] - t) / h, k));
            dense(theta_stop, k);  // u_ = y(te), the final state
            r.status = RosenbrockStatus::kStoppedByEvent;
            r.t_reached = te;
            r.rows_written = next;
            return r;
          }
          events_.advance();
        }
        for (; next < T && times[next] <= t_new; ++next) {
          const double theta = (times[next] - t) / h;
          write(out, next, theta >= 1.0 ? D_[0] : dense(theta, k));
        }
        t = t_new;
        r.t_reached = t;
        // After k + 1 steps of one size: the order whose next step is largest, and that step.
        if (++equal_steps >= k + 1) {
          const double inf = std::numeric_limits<double>::infinity();
          const double lower = k > 1 ? error_constant(k - 1) * rms(D_[static_cast<std::size_t>(k)]) : inf;
          const double higher =
              k < kMaxOrder ? error_constant(k + 1) * rms(D_[static_cast<std::size_t>(k + 2)]) : inf;
          const double f_lower = std::pow(lower, -1.0 / k), f_same = std::pow(error, -1.0 / (k + 1)),
                       f_higher = std::pow(higher, -1.0 / (k + 2));
          double best = f_same;
          int change = 0;
          if (f_lower > best) best = f_lower, change = -1;
          if (f_higher > best) best = f_higher, change = 1;
          order_ = k + change;
          const double factor = std::min(10.0, safety * best);
          rescale(factor);
          h *= factor;
          equal_steps = 0;
          lu_valid = false;
        }
        break;
      }
    }
    r.rows_written = T;
    return r;
  }

  // y(t + θ h) into u_ for the step just taken from t with size h at order k: D_ holds the
  // differences at its end, t + h, so the polynomial is D_0 + sum_j D_j prod_{m<j} x_m with
  // x_m = (θ - 1 + m) / (m + 1).
  const Vec& dense(double theta, int k) {
    u_ = D_[0];
    double product = 1.0;
    for (int j = 1; j <= k; ++j) {
      product *= (theta - 1.0 + (j - 1)) / j;
      u_ += product * D_[static_cast<std::size_t>(j)];
    }
    return u_;
  }

  // The differences D_0..D_order for a step r times the current one (Shampine & Reichelt 1997,
  // section 2.3): D <- (R U)^T D with R_ij = prod_{l=1..i} (l - 1 - r j) / l (row 0: ones,
  // column 0 below it: zeros) and U = R at r = 1.
  void rescale(double factor) {
    using Table = std::array<std::array<double, ndf::kMaxOrder + 1>, ndf::kMaxOrder + 1>;
    const int k = order_;
    const auto fill = [](int order, double rr, Table& M) {
      for (int j = 0; j <= order; ++j) M[0][static_cast<std::size_t>(j)] = 1.0;
      for (int i = 1; i <= order; ++i) {
        M[static_cast<std::size_t>(i)][0] = 0.0;
        for (int j = 1; j <= order; ++j)
          M[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] =
              M[static_cast<std::size_t>(i - 1)][static_cast<std::size_t>(j)] * (i - 1 - rr * j) / i;
      }
    };
    // U depends on the order alone: once per order, for the process.
    static const std::array<Table, ndf::kMaxOrder + 1> kU = [&] {
      std::array<Table, ndf::kMaxOrder + 1> u{};
      for (int order = 1; order <= ndf::kMaxOrder; ++order) fill(order, 1.0, u[static_cast<std::size_t>(order)]);
      return u;
    }();
    const Table& U = kU[static_cast<std::size_t>(k)];
    Table R{}, RU{};
    fill(k, factor, R);
    for (int i = 1; i <= k; ++i)
      for (int j = 1; j <= k; ++j) {
        double s = 0.0;
        for (int l = 1; l <= k; ++l) s += R[static_cast<std::size_t>(i)][static_cast<std::size_t>(l)] *
                                          U[static_cast<std::size_t>(l)][static_cast<std::size_t>(j)];
        RU[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] = s;
      }
    // D_0 is unchanged (column 0 of R U is e_0); D_j for j >= 1 from D_1..D_k.
    for (int j = 1; j <= k; ++j) {
      Vec& v = tmp_[static_cast<std::size_t>(j)];
      v = RU[1][static_cast<std::size_t>(j)] * D_[1];
      for (int m = 2; m <= k; ++m)
        v += RU[static_cast<std::size_t>(m)][static_cast<std::size_t>(j)] * D_[static_cast<std::size_t>(m)];
    }
    for (int j = 1; j <= k; ++j) D_[static_cast<std::size_t>(j)] = tmp_[static_cast<std::size_t>(j)];
  }

  // The weighted RMS norm with the weights in w_ (their inverses).
  double rms(const Vec& v) const {
    const int n = size();
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += (v[i] * w_[i]) * (v[i] * w_[i]);
    return std::sqrt(s / n);
  }

  // The state count as a compile-time constant where there is one (fixed-size loops unroll).
  int size() const { return N == Eigen::Dynamic ? n_ : N; }

  // Hairer, Nørsett & Wanner's starting step (Solving ODEs I, II.4) for order 1: h0 from |y|
  // and |f| in the weighted norm, refined by an estimate of the second derivative.
  template <class System>
  double initial_step(const System& sys, double t, double t_end, RosenbrockResult& r) {
    for (int i = 0; i < n_; ++i) w_[i] = 1.0 / (atol(i) + o_.rtol * std::abs(D_[0][i]));
    const double d0 = rms(D_[0]), d1 = rms(f_);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    h0 = std::min(h0, t_end - t);
    u_ = D_[0] + h0 * f_;
    sys.rhs(t + h0, u_, dy_);
    ++r.stats.rhs_evals;
    double h1 = 0.0;
    if (dy_.allFinite()) {
      const double d2 = rms(dy_ - f_) / h0;
      const double m = std::max(d1, d2);
      h1 = m <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::sqrt(0.01 / m);
    } else {
      h1 = h0 * 1e-3;
    }
    const double h = std::min({100.0 * h0, h1, t_end - t});
    return std::max(h, 1e-12 * std::max(1.0, std::abs(t)));
  }

  double atol(int i) const { return state_atol(o_, i); }
  void write(double* out, std::size_t row, const Vec& y) const { write_row(out, row, n_, y); }
  static RosenbrockResult& fail(RosenbrockResult& r, RosenbrockStatus s, double t, std::size_t next) {
    return r.stop(s, t, next);
  }

  int n_;
  RosenbrockOptions o_;
  SmallLu<N> lu_;  // I - c J and, after factorize(), its LU factors
  Mat J_;
  std::array<Vec, ndf::kMaxOrder + 3> D_;  // backward differences; D_0 is y at the current time
  std::array<Vec, ndf::kMaxOrder + 1> tmp_;
  Vec yp_, psi_, d_, dy_, f_, w_, u_;
  int order_ = 1;
  StepEvents events_;
};

}  // namespace physynth::solvers
