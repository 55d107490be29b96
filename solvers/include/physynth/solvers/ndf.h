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
// the same results type and events on the dense output (step_events.h); no sensitivities. The
// solve runs in phases (start, attempt, Newton iterations, finish_attempt) so that ndf_lanes.h
// can step several samples together with exactly these operations.
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
    RosenbrockResult r;
    if (start(sys, t0, y0, times, out, events, p, r)) {
      while (attempt(sys, r)) {
        bool converged = false;
        for (int it = 0; it < ndf::kNewtonIterations; ++it) {
          sys.rhs(t_new_, u_, f_);
          const Newton verdict = newton_iteration(it, f_, r);
          if (verdict == Newton::kIterate) continue;
          converged = verdict == Newton::kConverged;
          break;
        }
        if (!finish_attempt(sys, converged, r)) break;
      }
    }
    end(r);
    return r;
  }

  // The same solve in phases, for a driver that runs several samples' Newton iterations side by
  // side (ndf_lanes.h): start(), then while attempt() is true the Newton iterations, each a
  // right-hand side at (newton_time(), newton_point()) handed to newton_iteration() (or that
  // function's arithmetic done by the driver, and its norm handed to newton_verdict()) until the
  // verdict is other than kIterate, then finish_attempt(); end() at the finish. Exactly solve()'s
  // operations in solve()'s order.
  enum class Newton { kIterate, kConverged, kFailed };

  // The first state, the rows at t0, the first step size and Jacobian. False when the solve is
  // over already (every row at t0, or a non-finite start: r says which).
  template <class System>
  bool start(const System& sys, double t0, const double* y0, const std::vector<double>& times, double* out,
             const std::vector<Event>& events, const double* p, RosenbrockResult& r) {
    r = RosenbrockResult{};
    r.t_reached = t0;
    times_ = &times;
    out_ = out;
    event_list_ = &events;
    p_ = p;
    const std::size_t T = times.size();
    std::fill(out, out + T * static_cast<std::size_t>(n_), std::numeric_limits<double>::quiet_NaN());
    for (int i = 0; i < n_; ++i) D_[0][i] = y0[i];
    t_ = t0;
    next_ = 0;
    while (next_ < T && times[next_] <= t0) write(next_++, D_[0]);
    if (next_ == T) {
      r.rows_written = T;
      return false;
    }
    const double t_end = times.back();
    events_.start(events, t_, D_[0].data(), p);
    sys.rhs(t_, D_[0], f_);
    ++r.stats.rhs_evals;
    if (!f_.allFinite()) return fail(r, RosenbrockStatus::kNonFinite);
    double h = o_.initial_step_size > 0.0 ? o_.initial_step_size : initial_step(sys, t_, t_end, r);
    h = std::min(h, t_end - t_);
    if (o_.max_step_size > 0.0) h = std::min(h, o_.max_step_size);
    h_ = h;
    D_[1] = h_ * f_;
    for (int i = 2; i < ndf::kMaxOrder + 3; ++i) D_[static_cast<std::size_t>(i)].setZero();
    order_ = 1;
    equal_steps_ = 0;
    sys.jacobian(t_, D_[0], J_);
    ++r.stats.jacobian_evals;
    lu_valid_ = false;
    singular_ = 0;
    newton_tol_ = std::max(10.0 * std::numeric_limits<double>::epsilon() / o_.rtol, std::min(0.03, std::sqrt(o_.rtol)));
    at_step_ = true;
    return true;
  }

  // Up to the next attempt's Newton iteration: a new step's size (when the last was accepted),
  // the prediction, I - c J factorised. False when the solve is over (every row written, or a
  // failure: r says which).
  template <class System>
  bool attempt(const System& sys, RosenbrockResult& r) {
    using namespace ndf;
    const std::vector<double>& times = *times_;
    const std::size_t T = times.size();
    const double t_end = times.back();
    for (;;) {
      if (at_step_) {
        if (next_ >= T) {
          r.rows_written = T;
          return false;
        }
        resolution_ = 16.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(t_));
        if (t_end - t_ <= resolution_) {
          while (next_ < T) write(next_++, D_[0]);
          r.rows_written = T;
          return false;
        }
        if (r.stats.steps >= o_.max_steps) return fail(r, RosenbrockStatus::kTooMuchWork);
        // The step this time: within the largest allowed and not past the end (nor short of it by
        // a sliver). Any change rescales the differences.
        double h_new = h_;
        if (o_.max_step_size > 0.0) h_new = std::min(h_new, o_.max_step_size);
        if (t_ + h_new > t_end || t_end - (t_ + h_new) <= resolution_) h_new = t_end - t_;
        if (h_new != h_) {
          rescale(h_new / h_);
          h_ = h_new;
          equal_steps_ = 0;
          lu_valid_ = false;
        }
        if (h_ <= resolution_) return fail(r, RosenbrockStatus::kStepTooSmall);
        jacobian_current_ = false;
        at_step_ = false;
      }
      // An attempt at this step: the prediction, then the Newton iteration on I - c J.
      t_new_ = t_ + h_;
      const int k = order_;
      yp_ = D_[0];
      for (int i = 1; i <= k; ++i) yp_ += D_[static_cast<std::size_t>(i)];
      psi_.setZero();
      for (int i = 1; i <= k; ++i) psi_ += kGammaSum[i] * D_[static_cast<std::size_t>(i)];
      const double a = alpha(k);
      psi_ /= a;
      c_ = h_ / a;
      if (!lu_valid_) {
        lu_.matrix() = -c_ * J_;
        lu_.matrix().diagonal().array() += 1.0;
        ++r.stats.factorizations;
        lu_valid_ = lu_.factorize();
        if (lu_valid_) singular_ = 0;
      }
      if (lu_valid_) {
        for (int i = 0; i < size(); ++i) w_[i] = 1.0 / (atol(i) + o_.rtol * std::abs(yp_[i]));
        d_.setZero();
        u_ = yp_;
        previous_ = 0.0;
        return true;
      }
      if (++singular_ > 10) return fail(r, RosenbrockStatus::kSingularMatrix);
      if (!not_converged(sys, r)) return false;
    }
  }

  // Where the attempt's Newton iteration needs the right-hand side next.
  double newton_time() const { return t_new_; }
  const Vec& newton_point() const { return u_; }

  // Newton iteration `it` (0, 1, ...) of this attempt, given f at (newton_time(), newton_point()):
  // the correction, and whether the iteration has converged, goes on, or has failed.
  Newton newton_iteration(int it, const Vec& f, RosenbrockResult& r) {
    const bool finite = f.allFinite();
    double norm = 0.0;
    if (finite) {
      dy_ = c_ * f - psi_ - d_;
      lu_.solve(dy_.data());
      norm = rms(dy_);
      u_ += dy_;
      d_ += dy_;
    }
    return newton_verdict(it, finite, norm, r);
  }

  // After the iteration's correction (its weighted RMS norm; none if f was not finite) is in u_
  // and d_: whether the iteration has converged, goes on, or has failed. Where it has failed,
  // u_ and d_ are not used again.
  Newton newton_verdict(int it, bool finite, double norm, RosenbrockResult& r) {
    using namespace ndf;
    iterations_ = it + 1;
    ++r.stats.rhs_evals;
    if (!finite) return Newton::kFailed;
    // From the second iteration on, the contraction rate says whether the iteration will
    // converge in the iterations left (rate^left as products: pow was 14 % of a run).
    const double rate = it > 0 ? norm / previous_ : 0.0;
    if (it > 0) {
      double rate_power = rate;
      for (int left = kNewtonIterations - it; left > 1; --left) rate_power *= rate;
      if (!(rate < 1.0) || rate_power / (1.0 - rate) * norm > newton_tol_) return Newton::kFailed;
    }
    if (norm == 0.0 || (it > 0 && rate / (1.0 - rate) * norm < newton_tol_)) return Newton::kConverged;
    previous_ = norm;
    return it + 1 < kNewtonIterations ? Newton::kIterate : Newton::kFailed;
  }

  // After the attempt's Newton iteration: a fresh Jacobian or a smaller step if it failed; else
  // the error test, and for an accepted step its events, outputs and the next order and step.
  // False when the solve is over (a failure or a terminal event: r says which).
  template <class System>
  bool finish_attempt(const System& sys, bool converged, RosenbrockResult& r) {
    using namespace ndf;
    if (!converged) return not_converged(sys, r);
    const int k = order_;
    const double safety = 0.9 * (2 * kNewtonIterations + 1) / (2 * kNewtonIterations + iterations_);
    for (int i = 0; i < size(); ++i) w_[i] = 1.0 / (atol(i) + o_.rtol * std::abs(u_[i]));
    const double error = error_constant(k) * rms(d_);
    if (!(error <= 1.0)) {
      ++r.stats.rejected;
      const double factor = std::isfinite(error) ? std::max(0.2, safety * std::pow(error, -1.0 / (k + 1))) : 0.2;
      rescale(factor);
      h_ *= factor;
      equal_steps_ = 0;
      lu_valid_ = false;
      if (h_ <= resolution_) return fail(r, RosenbrockStatus::kStepTooSmall);
      return true;
    }
    // Accepted: the differences take in y(t + h) (D_0 becomes it).
    ++r.stats.steps;
    D_[static_cast<std::size_t>(k + 2)] = d_ - D_[static_cast<std::size_t>(k + 1)];
    D_[static_cast<std::size_t>(k + 1)] = d_;
    for (int i = k; i >= 0; --i) D_[static_cast<std::size_t>(i)] += D_[static_cast<std::size_t>(i + 1)];
    const std::vector<double>& times = *times_;
    const std::size_t T = times.size();
    const double t = t_, h = h_;
    // The events inside (t, t + h], then the outputs there, from the interpolating polynomial.
    if (!event_list_->empty()) {
      const double theta_stop = events_.locate(
          *event_list_, p_, t, h, D_[0].data(), [&](double theta) { return dense(theta, k).data(); }, r.events);
      if (theta_stop >= 0.0) {
        const double te = t + theta_stop * h;
        for (; next_ < T && times[next_] < te; ++next_) write(next_, dense((times[next_] - t) / h, k));
        dense(theta_stop, k);  // u_ = y(te), the final state
        r.status = RosenbrockStatus::kStoppedByEvent;
        r.t_reached = te;
        r.rows_written = next_;
        return false;
      }
      events_.advance();
    }
    for (; next_ < T && times[next_] <= t_new_; ++next_) {
      const double theta = (times[next_] - t) / h;
      write(next_, theta >= 1.0 ? D_[0] : dense(theta, k));
    }
    t_ = t_new_;
    r.t_reached = t_;
    at_step_ = true;
    // After k + 1 steps of one size: the order whose next step is largest, and that step.
    if (++equal_steps_ >= k + 1) {
      const double inf = std::numeric_limits<double>::infinity();
      const double lower = k > 1 ? error_constant(k - 1) * rms(D_[static_cast<std::size_t>(k)]) : inf;
      const double higher = k < kMaxOrder ? error_constant(k + 1) * rms(D_[static_cast<std::size_t>(k + 2)]) : inf;
      const double f_lower = std::pow(lower, -1.0 / k), f_same = std::pow(error, -1.0 / (k + 1)),
                   f_higher = std::pow(higher, -1.0 / (k + 2));
      double best = f_same;
      int change = 0;
      if (f_lower > best) best = f_lower, change = -1;
      if (f_higher > best) best = f_higher, change = 1;
      order_ = k + change;
      const double factor = std::min(10.0, safety * best);
      rescale(factor);
      h_ *= factor;
      equal_steps_ = 0;
      lu_valid_ = false;
    }
    return true;
  }

  // The solve's final state into r: y where it stopped (at a terminal event: there).
  void end(RosenbrockResult& r) const {
    const Vec& last = r.status == RosenbrockStatus::kStoppedByEvent ? u_ : D_[0];
    r.final_state.assign(last.data(), last.data() + n_);
  }

 private:
  template <int>
  friend class NdfLanes;  // runs the Newton iterations' arithmetic across lanes (ndf_lanes.h)

  // A Newton iteration that did not converge: first a fresh Jacobian at the predicted point,
  // then half the step. False on a failure.
  template <class System>
  bool not_converged(const System& sys, RosenbrockResult& r) {
    if (!jacobian_current_) {
      sys.jacobian(t_new_, yp_, J_);
      ++r.stats.jacobian_evals;
      if (!J_.allFinite()) return fail(r, RosenbrockStatus::kNonFinite);
      jacobian_current_ = true;
      lu_valid_ = false;
      return true;
    }
    ++r.stats.rejected;
    rescale(0.5);
    h_ *= 0.5;
    equal_steps_ = 0;
    lu_valid_ = false;
    if (h_ <= resolution_) return fail(r, RosenbrockStatus::kStepTooSmall);
    return true;
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
        // / i, as a product where i is a power of 2 (1, 2, 4: the same number, without a division).
        const bool power_of_2 = (i & (i - 1)) == 0;
        const double inverse = 1.0 / i;
        for (int j = 1; j <= order; ++j) {
          const double x = M[static_cast<std::size_t>(i - 1)][static_cast<std::size_t>(j)] * (i - 1 - rr * j);
          M[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] = power_of_2 ? x * inverse : x / i;
        }
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
  void write(std::size_t row, const Vec& y) const { write_row(out_, row, n_, y); }
  bool fail(RosenbrockResult& r, RosenbrockStatus s) const {
    r.stop(s, t_, next_);
    return false;
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
  // The solve in progress: its outputs, the point reached and the attempt under way.
  const std::vector<double>* times_ = nullptr;
  double* out_ = nullptr;
  const std::vector<Event>* event_list_ = nullptr;
  const double* p_ = nullptr;
  std::size_t next_ = 0;
  double t_ = 0.0, h_ = 0.0, t_new_ = 0.0, c_ = 0.0, resolution_ = 0.0, newton_tol_ = 0.0, previous_ = 0.0;
  int equal_steps_ = 0, singular_ = 0, iterations_ = 0;
  bool lu_valid_ = false, jacobian_current_ = false, at_step_ = true;
};

}  // namespace physynth::solvers
