// Rodas5P: a Rosenbrock-Wanner method for small stiff systems (issue 27, first part).
//
// Steinebach, G. (2023), "Construction of Rosenbrock-Wanner method Rodas5P and numerical
// benchmarks within the Julia Differential Equations package", BIT Numer. Math. 63:27. Eight
// stages, order 5, L-stable and stiffly accurate; the embedded solution (order 4) is the
// eighth stage's input, so the error estimate is the last stage itself; a dense output of
// order 4 from three extra combinations of the stages (the H matrix). The coefficients below
// are the paper's, as OrdinaryDiffEq.jl tabulates them (rosenbrock_tableaus.jl, RODAS5P*), in
// the W-transformed form of Hairer & Wanner (Solving ODEs II, IV.7): with W = I/(h γ) - J,
//
//   W k_s = f(t + c_s h, y + sum_j A_sj k_j) + sum_j (C_sj / h) k_j + h d_s df/dt,
//   y_1 = y + sum_j A_8j k_j + k_8,   err = k_8,
//   y(t + θ h) = (1 - θ) y + θ (y_1 + (1 - θ) (q_1 + θ (q_2 + θ q_3))),  q_i = sum_j H_ij k_j.
//
// Templated on the state count (Eigen fixed-size vectors and matrices, LU on the stack, no heap
// in the step loop) or Eigen::Dynamic (storage allocated once, at construction). One LU of W
// per step, with the exact Jacobian at the step's start. Step size control: the error in the
// weighted RMS norm with w_i = atol_i + rtol max(|y_i|, |y_1,i|), h_new = h min(5, max(0.2,
// 0.9 err^(-1/5))); a rejected step retries with the smaller h and never grows h next.
//
// The system is anything with
//   void rhs(double t, const Vec& y, Vec& dydt) const;
//   void jacobian(double t, const Vec& y, Mat& dfdy) const;
//   void time_derivative(double t, const Vec& y, const Vec& f, Vec& dfdt) const;  // df/dt at fixed y
// ModelSystem adapts a core::Model (its exact Jacobian; df/dt by a central difference unless
// the caller knows the model is autonomous).
//
// Events (ode_solver.h's Event) are located on the dense output (step_events.h); a terminal one
// stops the solve there (outputs before it written, the rest NaN, the state at the event in
// final_state).
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "physynth/core/model.h"
#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/small_lu.h"
#include "physynth/solvers/step_events.h"

namespace physynth::solvers {

struct RosenbrockOptions {
  double rtol = 1e-6;                  // relative tolerance, > 0
  double atol = 1e-10;                 // absolute tolerance for every state, > 0
  std::vector<double> atol_per_state;  // if not empty: one per state
  long max_steps = 100000;             // steps per solve, all output intervals together
  double initial_step_size = 0.0;      // 0: estimated from f and the tolerances
  double max_step_size = 0.0;          // 0: unlimited
};

enum class RosenbrockStatus {
  kSuccess,         // every output time reached
  kStoppedByEvent,  // a terminal event fired; later rows are NaN
  kTooMuchWork,     // max_steps taken
  kStepTooSmall,    // the step fell below the time's resolution
  kSingularMatrix,  // W = I/(h γ) - J could not be factorised, even at smaller steps
  kNonFinite,       // f or J gave NaN or infinity
};
const char* rosenbrock_status_name(RosenbrockStatus s);

struct RosenbrockStats {
  long steps = 0, rejected = 0, rhs_evals = 0, jacobian_evals = 0, factorizations = 0;
};

// Forward sensitivities of the solution to K parameters, computed with it: Rodas5P applied to
// the system extended by S' = df/dy S + df/dp (the System's sensitivity_rhs), the same steps
// for both. The extended system's Jacobian has df/dy on its diagonal blocks and, below,
// X = d(df/dy S + df/dp)/dy; X times a stage's k is a directional derivative, taken by a central
// difference of sensitivity_rhs (a perturbation of at most cbrt(eps) of each state's scale,
// |y_i| + atol_i/rtol), so the extended W needs no second derivatives and keeps the method's
// order. The sensitivities count in the error estimate with the states' tolerances, as
// CVODES' (errconS with its default tolerances) do.
struct RosenbrockSensitivities {
  int count = 0;                    // K
  const double* initial = nullptr;  // dy0/dp, n x K column-major (null: zero)
  double* out = nullptr;            // times.size() x K x n: dy_i/dp_k at row r is out[(r K + k) n + i]
};

struct RosenbrockResult {
  RosenbrockStatus status = RosenbrockStatus::kSuccess;
  double t_reached = 0.0;
  std::size_t rows_written = 0;  // output times filled (the rest are NaN)
  RosenbrockStats stats;
  std::vector<EventOccurrence> events;  // in time order
  std::vector<double> final_state;      // y(t_reached)

  // A solve that stopped at t with `next` rows written.
  RosenbrockResult& stop(RosenbrockStatus s, double t, std::size_t next) {
    status = s;
    t_reached = t;
    rows_written = next;
    return *this;
  }
};

// What Rodas5P and the NDF share: state i's absolute tolerance, and row `row` of an output
// (row-major, n states a row).
inline double state_atol(const RosenbrockOptions& o, int i) {
  return o.atol_per_state.empty() ? o.atol : o.atol_per_state[static_cast<std::size_t>(i)];
}
template <class Vec>
void write_row(double* out, std::size_t row, int n, const Vec& y) {
  for (int i = 0; i < n; ++i) out[row * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)] = y[i];
}

// Whether a System can give sensitivities (has sensitivity_rhs and autonomous()).
template <class System, class = void>
struct HasSensitivities : std::false_type {};
template <class System>
struct HasSensitivities<System, std::void_t<decltype(&System::sensitivity_rhs), decltype(&System::autonomous)>>
    : std::true_type {};

namespace rodas5p {
inline constexpr int kStages = 8;
inline constexpr double kGamma = 0.21193756319429014;
// A (stage inputs) and C (stage couplings), lower triangular, rows 2..8.
inline constexpr double kA[kStages][kStages] = {
    {0, 0, 0, 0, 0, 0, 0, 0},
    {3.0, 0, 0, 0, 0, 0, 0, 0},
    {2.849394379747939, 0.45842242204463923, 0, 0, 0, 0, 0, 0},
    {-6.954028509809101, 2.489845061869568, -10.358996098473584, 0, 0, 0, 0, 0},
    {2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641, 0, 0, 0, 0},
    {-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256, 0.030198172008377946, 0, 0, 0},
    {-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256, 0.030198172008377946, 1, 0, 0},
    {-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256, 0.030198172008377946, 1, 1, 0}};
inline constexpr double kC[kStages][kStages] = {
    {0, 0, 0, 0, 0, 0, 0, 0},
    {-14.155112264123755, 0, 0, 0, 0, 0, 0, 0},
    {-17.97296035885952, -2.859693295451294, 0, 0, 0, 0, 0, 0},
    {147.12150275711716, -1.41221402718213, 71.68940251302358, 0, 0, 0, 0, 0},
    {165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306, 0, 0, 0, 0},
    {24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125, -0.6610691825249471, 0, 0, 0},
    {30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783, -19.097331116725623,
     -28.087943162872662, 0, 0},
    {37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047, -40.06618937091002,
     -54.66780262877968, -9.48861652309627, 0}};
inline constexpr double kc[kStages] = {
    0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664, 1, 1, 1};
inline constexpr double kd[kStages] = {
    0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734, 2.325825639765069, 0, 0, 0};
inline constexpr double kH[3][kStages] = {
    {25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204, 0.524948541321073,
     1.1241088310450404, 0.4272876194431874, -0.17202221070155493},
    {-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796, 20.176138334709044,
     15.98066361424651, -6.789040303419874, -6.710236069923372},
    {11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643, -52.072871366152654,
     -59.78993625266729, -0.15582684282751913, 4.883087185713722}};

// What the one-sample solver (Rodas5P) and the lanes (rodas5p_lanes.h) share, one definition each
// so that their numbers stay the same bit for bit.

// The step-size factor after a step with weighted error e: h_new = h factor.
inline double step_factor(double e) { return std::min(5.0, std::max(0.2, 0.9 * std::pow(std::max(e, 1e-10), -0.2))); }

// One state's dense-output combinations of its stage values k(j), j < kStages.
template <class K>
void dense_combinations(const K& k, double& q1, double& q2, double& q3) {
  double a = 0.0, b = 0.0, c = 0.0;
  for (int j = 0; j < kStages; ++j) {
    const double kj = k(j);
    a += kH[0][j] * kj;
    b += kH[1][j] * kj;
    c += kH[2][j] * kj;
  }
  q1 = a, q2 = b, q3 = c;
}

// One state at t + θ h from the step's start y, its end y1 and its combinations.
inline double dense_value(double theta, double y, double y1, double q1, double q2, double q3) {
  return (1.0 - theta) * y + theta * (y1 + (1.0 - theta) * (q1 + theta * (q2 + theta * q3)));
}

// Hairer & Wanner's starting step (Solving ODEs I, II.4): h0 from |y|, |f| in the weighted norm,
// at most a hundredth of the span; y(i), f(i), atol(i) for the n states.
template <class Y, class F, class Atol>
double starting_step(int n, const Y& y, const F& f, const Atol& atol, double rtol, double t, double t_end) {
  double d0 = 0.0, d1 = 0.0;
  for (int i = 0; i < n; ++i) {
    const double w = atol(i) + rtol * std::abs(y(i));
    d0 += (y(i) / w) * (y(i) / w);
    d1 += (f(i) / w) * (f(i) / w);
  }
  d0 = std::sqrt(d0 / n);
  d1 = std::sqrt(d1 / n);
  double h = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h = std::min(h, 0.01 * (t_end - t));
  return std::max(h, 1e-12 * std::max(1.0, std::abs(t)));
}
}  // namespace rodas5p

// A core::Model with its parameters as a Rodas5P system.
template <int N>
class ModelSystem {
 public:
  using Vec = Eigen::Matrix<double, N, 1>;
  using Mat = Eigen::Matrix<double, N, N>;
  // autonomous (or the model's is_autonomous()): f does not depend on t (df/dt = 0 without
  // evaluating it). Otherwise df/dt by a central difference, which is also exactly 0 for a
  // model that ignores t.
  using SMat = Eigen::Matrix<double, N, Eigen::Dynamic>;
  ModelSystem(const core::Model& model, const double* p, bool autonomous = false,
              const std::vector<int>* sensitivity_parameters = nullptr)
      : model_(model), p_(p), autonomous_(autonomous || model.is_autonomous()), columns_(sensitivity_parameters) {}
  bool autonomous() const { return autonomous_; }
  // df/dy S + df/dp for the sensitivity parameters given at construction.
  void sensitivity_rhs(double t, const Vec& y, const SMat& S, SMat& out) const {
    model_.sensitivity_rhs(t, y.data(), p_, S.data(), *columns_, out.data());
  }
  void rhs(double t, const Vec& y, Vec& f) const { model_.rhs(t, y.data(), p_, f.data()); }
  void jacobian(double t, const Vec& y, Mat& J) const { model_.jacobian(t, y.data(), p_, J.data()); }
  void time_derivative(double t, const Vec& y, const Vec& f, Vec& ft) const {
    if (autonomous_) {
      ft.setZero(f.size());
      return;
    }
    const double dt = std::sqrt(std::numeric_limits<double>::epsilon()) * std::max(1.0, std::abs(t));
    Vec a(f.size()), b(f.size());
    model_.rhs(t + dt, y.data(), p_, a.data());
    model_.rhs(t - dt, y.data(), p_, b.data());
    ft = (a - b) / (2.0 * dt);
  }

 private:
  const core::Model& model_;
  const double* p_;
  bool autonomous_;
  const std::vector<int>* columns_;
};

template <int N>
class Rodas5P {
 public:
  using Vec = Eigen::Matrix<double, N, 1>;
  using Mat = Eigen::Matrix<double, N, N>;
  using SMat = Eigen::Matrix<double, N, Eigen::Dynamic>;  // n x K: sensitivities

  // n: the state count (must equal N unless N is Eigen::Dynamic).
  Rodas5P(int n, RosenbrockOptions options) : n_(n), o_(std::move(options)), lu_(n) {
    for (auto* v : {&y_, &y1_, &f0_, &ft_, &u_, &rhs_, &q1_, &q2_, &q3_}) v->resize(n_);
    for (auto& k : k_) k.resize(n_);
    J_.resize(n_, n_);
  }

  // Integrates from (t0, y0) through `times` (non-decreasing, >= t0), writing each state at
  // each time into out (row-major, times.size() x n). Rows not reached are NaN. `events` (with
  // the parameters p their functions take) are located as described above.
  // With sens (its count > 0) the System also has
  //   void sensitivity_rhs(double t, const Vec& y, const SMat& S, SMat& out) const;
  //   bool autonomous() const;
  template <class System>
  RosenbrockResult solve(const System& sys, double t0, const double* y0, const std::vector<double>& times, double* out,
                         const std::vector<Event>& events = {}, const double* p = nullptr,
                         const RosenbrockSensitivities& sens = {}) {
    using namespace rodas5p;
    if (sens.count > 0 && !HasSensitivities<System>::value)
      throw std::invalid_argument("Rodas5P: sensitivities asked of a system without sensitivity_rhs");
    sens_ = sens;
    RosenbrockResult r = solve_steps(sys, t0, y0, times, out, events, p);
    r.final_state.assign(y_.data(), y_.data() + n_);
    if (r.status == RosenbrockStatus::kStoppedByEvent) r.final_state.assign(u_.data(), u_.data() + n_);
    return r;
  }

 private:
  template <class System>
  RosenbrockResult solve_steps(const System& sys, double t0, const double* y0, const std::vector<double>& times,
                               double* out, const std::vector<Event>& events, const double* p) {
    using namespace rodas5p;
    RosenbrockResult r;
    r.t_reached = t0;
    const std::size_t T = times.size();
    std::fill(out, out + T * static_cast<std::size_t>(n_), std::numeric_limits<double>::quiet_NaN());
    for (int i = 0; i < n_; ++i) y_[i] = y0[i];
    const int K = sens_.count;
    by_columns_ = K > 0 && n_ <= rodas5p::kStages;
    if (K > 0) {
      std::fill(sens_.out, sens_.out + T * static_cast<std::size_t>(K * n_), std::numeric_limits<double>::quiet_NaN());
      for (auto* m : {&S_, &S1_, &US_, &bS_, &G0_, &ftS_, &Gp_, &Gm_, &qS1_, &qS2_, &qS3_}) m->resize(n_, K);
      for (auto& k : kS_) k.resize(n_, K);
      yp_.resize(n_);
      ym_.resize(n_);
      if (sens_.initial)
        S_ = Eigen::Map<const SMat>(sens_.initial, n_, K);
      else
        S_.setZero();
    }
    double t = t0;
    std::size_t next = 0;
    // Outputs at t0 itself.
    while (next < T && times[next] <= t0) write_start(out, next++);
    if (next == T) {
      r.rows_written = T;
      return r;
    }
    const double t_end = times.back();
    events_.start(events, t, y_.data(), p);
    sys.rhs(t, y_, f0_);
    ++r.stats.rhs_evals;
    if (!f0_.allFinite()) return fail(r, RosenbrockStatus::kNonFinite, t, next);
    if (K > 0) {
      sensitivity_rhs(sys, t, y_, S_, G0_);
      if (!all_finite(G0_)) return fail(r, RosenbrockStatus::kNonFinite, t, next);
    }
    double h = o_.initial_step_size > 0.0 ? o_.initial_step_size : initial_step(t, t_end);
    bool last_rejected = false;
    // J, df/dt and the sensitivities' coupling belong to the point (t, y), not to the step size:
    // a rejected step retried smaller keeps them.
    bool at_point = false;
    int singular = 0;
    while (next < T) {
      if (r.stats.steps >= o_.max_steps) return fail(r, RosenbrockStatus::kTooMuchWork, t, next);
      const double resolution = 16.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(t));
      if (t_end - t <= resolution) {
        // At the end up to rounding of the summed steps: the remaining outputs are y.
        while (next < T) write_start(out, next++);
        break;
      }
      if (o_.max_step_size > 0.0) h = std::min(h, o_.max_step_size);
      h = std::min(h, t_end - t);
      // A last step that would leave a sliver goes to the end at once, unless the step was
      // just shortened by a rejection: snapping it back repeated the same rejected step forever
      // (Crauste 2017 at t = 28: 3.8 million rejections of one 2.3e-13 step). The sliver it
      // leaves is within the time's resolution, where the check above ends the solve.
      if (t_end - (t + h) <= resolution && !last_rejected) h = t_end - t;
      if (h <= resolution) return fail(r, RosenbrockStatus::kStepTooSmall, t, next);
      // One step from (t, y_) with h: W, its LU, the stages.
      if (!at_point) {
        sys.jacobian(t, y_, J_);
        sys.time_derivative(t, y_, f0_, ft_);
        if (K > 0) sensitivity_time_derivative(sys, t);
        if (by_columns_) coupling(sys, t);
        ++r.stats.jacobian_evals;
        at_point = true;
      }
      lu_.matrix() = -J_;
      lu_.matrix().diagonal().array() += 1.0 / (h * kGamma);
      ++r.stats.factorizations;
      if (!lu_.factorize()) {
        if (++singular > 10) return fail(r, RosenbrockStatus::kSingularMatrix, t, next);
        h *= 0.25;
        last_rejected = true;
        continue;
      }
      singular = 0;
      stages(sys, t, h, r, std::make_integer_sequence<int, kStages>{});
      dense_ready_ = dense_sens_ready_ = false;
      // Stiffly accurate: y1 is the last stage's input plus its k, and that k is the error estimate.
      const Vec& err = k_[kStages - 1];
      y1_ = u_ + err;
      double e = 0.0;
      for (int i = 0; i < n_; ++i) {
        const double w = atol(i) + o_.rtol * std::max(std::abs(y_[i]), std::abs(y1_[i]));
        e += (err[i] / w) * (err[i] / w);
      }
      if (K > 0) {
        const SMat& errS = kS_[kStages - 1];
        S1_ = US_ + errS;
        for (int k = 0; k < K; ++k)
          for (int i = 0; i < n_; ++i) {
            const double w = atol(i) + o_.rtol * std::max(std::abs(S_(i, k)), std::abs(S1_(i, k)));
            e += (errS(i, k) / w) * (errS(i, k) / w);
          }
        if (!all_finite(S1_)) e = std::numeric_limits<double>::infinity();
      }
      e = std::sqrt(e / (n_ * (1 + K)));
      if (!std::isfinite(e) || !y1_.allFinite()) {
        // A step that overflowed: retry smaller, as a rejected one.
        ++r.stats.rejected;
        h *= 0.2;
        last_rejected = true;
        continue;
      }
      const double factor = step_factor(e);
      if (e > 1.0) {
        ++r.stats.rejected;
        h *= std::min(factor, 0.9);
        last_rejected = true;
        continue;
      }
      // Accepted: the events inside (t, t + h], then the outputs there from the dense output.
      ++r.stats.steps;
      const double t1 = t + h;
      if (!events.empty()) {
        const double theta_stop = events_.locate(events, p, t, h, y1_.data(), [&](double theta) {
          dense(theta, u_);
          return u_.data();
        }, r.events);
        if (theta_stop >= 0.0) {
          const double te = t + theta_stop * h;
          for (; next < T && times[next] < te; ++next) write_dense(out, next, (times[next] - t) / h);
          dense(theta_stop, u_);
          r.status = RosenbrockStatus::kStoppedByEvent;
          r.t_reached = te;
          r.rows_written = next;
          return r;
        }
      }
      while (next < T && times[next] <= t1) {
        const double theta = (times[next] - t) / h;
        if (theta >= 1.0) {
          write(out, next, y1_);
          if (K > 0) write_sensitivities(next, S1_);
          ++next;
          continue;
        }
        write_dense(out, next++, theta);
      }
      t = t1;
      y_ = y1_;
      at_point = false;
      events_.advance();
      r.t_reached = t;
      sys.rhs(t, y_, f0_);
      ++r.stats.rhs_evals;
      if (!f0_.allFinite()) return fail(r, RosenbrockStatus::kNonFinite, t, next);
      if (K > 0) {
        S_ = S1_;
        sensitivity_rhs(sys, t, y_, S_, G0_);
        if (!all_finite(G0_)) return fail(r, RosenbrockStatus::kNonFinite, t, next);
      }
      h *= last_rejected ? std::min(1.0, factor) : factor;
      last_rejected = false;
    }
    r.rows_written = T;
    return r;
  }

  // The state count as a compile-time constant where there is one (fixed-size loops unroll).
  int size() const { return N == Eigen::Dynamic ? n_ : N; }

  // The eight stages of one step, each unrolled with its own row of the tableau (the zeros of A
  // and C vanish at compile time). Leaves u_ at the last stage's input.
  template <class System, int... S>
  void stages(const System& sys, double t, double h, RosenbrockResult& r, std::integer_sequence<int, S...>) {
    (stage<S>(sys, t, h, r), ...);
  }

  template <int S, class System>
  void stage(const System& sys, double t, double h, RosenbrockResult& r) {
    using namespace rodas5p;
    const int n = size();
    if constexpr (S == 0) {
      for (int i = 0; i < n; ++i) rhs_[i] = f0_[i] + (h * kd[0]) * ft_[i];
    } else {
      for (int i = 0; i < n; ++i) {
        double v = y_[i];
        for (int j = 0; j < S; ++j) v += kA[S][j] * k_[static_cast<std::size_t>(j)][i];
        u_[i] = v;
      }
      sys.rhs(t + kc[S] * h, u_, rhs_);
      ++r.stats.rhs_evals;
      const double inv_h = 1.0 / h;
      for (int i = 0; i < n; ++i) {
        double v = rhs_[i];
        for (int j = 0; j < S; ++j) v += (kC[S][j] * inv_h) * k_[static_cast<std::size_t>(j)][i];
        if constexpr (kd[S] != 0.0) v += (h * kd[S]) * ft_[i];
        rhs_[i] = v;
      }
    }
    Vec& k = k_[static_cast<std::size_t>(S)];
    k = rhs_;
    lu_solve(k);
    if (sens_.count > 0) sensitivity_stage<S>(sys, t, h);
  }

  // Stage S of the sensitivities, after the states' (u_ is that stage's input, k_[S] its k):
  // W kS = G(t + c h, u, US) + sum_j (C_Sj / h) kS_j + h d_S dG/dt + X k_S.
  template <int S, class System>
  void sensitivity_stage(const System& sys, double t, double h) {
    using namespace rodas5p;
    if constexpr (S == 0) {
      bS_ = G0_;
    } else {
      US_ = S_;
      for (int j = 0; j < S; ++j)
        if (kA[S][j] != 0.0) US_ += kA[S][j] * kS_[static_cast<std::size_t>(j)];
      sensitivity_rhs(sys, t + kc[S] * h, u_, US_, bS_);
      const double inv_h = 1.0 / h;
      for (int j = 0; j < S; ++j)
        if (kC[S][j] != 0.0) bS_ += (kC[S][j] * inv_h) * kS_[static_cast<std::size_t>(j)];
    }
    if constexpr (kd[S] != 0.0) bS_ += (h * kd[S]) * ftS_;
    // X k: the derivative of G(t, y, S_) at the step's start along the states' k; from the
    // columns of X when the system is small enough to have them (coupling()), else directly.
    // Central; where one side leaves G's domain (a state pushed below 0 into a fractional
    // power), the other side alone, with a step suited to a one-sided difference.
    const Vec& v = k_[static_cast<std::size_t>(S)];
    if (by_columns_) {
      for (int i = 0; i < n_; ++i)
        if (v[i] != 0.0) bS_ += v[i] * X_[static_cast<std::size_t>(i)];
    }
    double c = 0.0;  // stays 0 where X_ gave X k
    if (!by_columns_)
      for (int i = 0; i < n_; ++i) c = std::max(c, std::abs(v[i]) / (std::abs(y_[i]) + atol(i) / o_.rtol));
    if (c > 0.0 && std::isfinite(c)) {
      constexpr double eps = std::numeric_limits<double>::epsilon();
      const double d = std::cbrt(eps);
      yp_ = y_ + (d / c) * v;
      ym_ = y_ - (d / c) * v;
      sensitivity_rhs(sys, t, yp_, S_, Gp_);
      sensitivity_rhs(sys, t, ym_, S_, Gm_);
      const bool plus = all_finite(Gp_), minus = all_finite(Gm_);
      if (plus && minus) {
        bS_ += (c / (2.0 * d)) * (Gp_ - Gm_);
      } else {
        const double d1 = std::sqrt(eps), sign = plus ? 1.0 : -1.0;
        yp_ = y_ + (sign * d1 / c) * v;
        sensitivity_rhs(sys, t, yp_, S_, Gp_);
        bS_ += (sign * c / d1) * (Gp_ - G0_);  // non-finite if neither side is: the step is retried smaller
      }
    }
    SMat& kS = kS_[static_cast<std::size_t>(S)];
    kS = bS_;
    lu_solve_columns(kS);
  }

  template <class System>
  static void sensitivity_rhs(const System& sys, double t, const Vec& y, const SMat& S, SMat& out) {
    if constexpr (HasSensitivities<System>::value) sys.sensitivity_rhs(t, y, S, out);
  }

  // X = dG/dy at the step's start, column by column (X_[i] = dG/dy_i, n x K), by central
  // differences with the same steps and fallback as the directional ones: 2n evaluations of G per
  // step instead of 2 per stage, so used while n <= kStages.
  template <class System>
  void coupling(const System& sys, double t) {
    constexpr double eps = std::numeric_limits<double>::epsilon();
    X_.resize(static_cast<std::size_t>(n_));
    for (int i = 0; i < n_; ++i) {
      SMat& x = X_[static_cast<std::size_t>(i)];
      const double scale = std::abs(y_[i]) + atol(i) / o_.rtol;
      const double d = std::cbrt(eps) * scale;
      yp_ = y_;
      yp_[i] += d;
      sensitivity_rhs(sys, t, yp_, S_, Gp_);
      yp_[i] = y_[i] - d;
      sensitivity_rhs(sys, t, yp_, S_, Gm_);
      const bool plus = all_finite(Gp_), minus = all_finite(Gm_);
      if (plus && minus) {
        x = (Gp_ - Gm_) / (2.0 * d);
      } else {
        const double d1 = (plus ? 1.0 : -1.0) * std::sqrt(eps) * scale;
        yp_[i] = y_[i] + d1;
        sensitivity_rhs(sys, t, yp_, S_, Gp_);
        x = (Gp_ - G0_) / d1;
      }
    }
  }

  template <class M>
  static bool all_finite(const M& m) {
    const double* d = m.data();
    for (Eigen::Index i = 0, e = m.size(); i < e; ++i)
      if (!std::isfinite(d[i])) return false;
    return true;
  }

  // dG/dt at fixed (y, S) for a system that depends on t: a central difference, as for f.
  template <class System>
  void sensitivity_time_derivative(const System& sys, double t) {
    bool autonomous = true;
    if constexpr (HasSensitivities<System>::value) autonomous = sys.autonomous();
    if (autonomous) {
      ftS_.setZero();
      return;
    }
    const double dt = std::sqrt(std::numeric_limits<double>::epsilon()) * std::max(1.0, std::abs(t));
    sensitivity_rhs(sys, t + dt, y_, S_, Gp_);
    sensitivity_rhs(sys, t - dt, y_, S_, Gm_);
    ftS_ = (Gp_ - Gm_) / (2.0 * dt);
  }

  // X <- W^-1 X for every column of X (the sensitivities' stages).
  void lu_solve_columns(SMat& x) const {
    for (Eigen::Index k = 0; k < x.cols(); ++k) lu_.solve(x.col(k).data());
  }

  // x <- W^-1 x with the factors of the step's W.
  void lu_solve(Vec& x) const { lu_.solve(x.data()); }

  // The outputs: at the current point (y_, S_), or the dense output of the step just taken.
  void write_start(double* out, std::size_t row) {
    write(out, row, y_);
    if (sens_.count > 0) write_sensitivities(row, S_);
  }
  void write_dense(double* out, std::size_t row, double theta) {
    dense(theta, u_);
    write(out, row, u_);
    if (sens_.count > 0) {
      dense_sensitivities(theta);
      write_sensitivities(row, US_);
    }
  }
  void write_sensitivities(std::size_t row, const SMat& S) const {
    const std::size_t K = static_cast<std::size_t>(sens_.count), n = static_cast<std::size_t>(n_);
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t i = 0; i < n; ++i)
        sens_.out[(row * K + k) * n + i] = S(static_cast<int>(i), static_cast<int>(k));
  }
  // The sensitivities' dense output at θ into US_ (free after the step), as dense() for y.
  void dense_sensitivities(double theta) {
    using namespace rodas5p;
    if (!dense_sens_ready_) {
      qS1_.setZero();
      qS2_.setZero();
      qS3_.setZero();
      for (int j = 0; j < kStages; ++j) {
        qS1_ += kH[0][j] * kS_[static_cast<std::size_t>(j)];
        qS2_ += kH[1][j] * kS_[static_cast<std::size_t>(j)];
        qS3_ += kH[2][j] * kS_[static_cast<std::size_t>(j)];
      }
      dense_sens_ready_ = true;
    }
    US_ = (1.0 - theta) * S_ + theta * (S1_ + (1.0 - theta) * (qS1_ + theta * (qS2_ + theta * qS3_)));
  }

  double atol(int i) const { return state_atol(o_, i); }

  void write(double* out, std::size_t row, const Vec& y) const { write_row(out, row, n_, y); }

  // y(t + θ h) into `into` from the step just taken (y_ its start, y1_ its end); q1_..q3_ are
  // members so the dynamic-size variant allocates nothing here either.
  void dense(double theta, Vec& into) {
    using namespace rodas5p;
    const int n = size();
    if (!dense_ready_) {
      for (int i = 0; i < n; ++i)
        dense_combinations([&](int j) { return k_[static_cast<std::size_t>(j)][i]; }, q1_[i], q2_[i], q3_[i]);
      dense_ready_ = true;
    }
    for (int i = 0; i < n; ++i) into[i] = dense_value(theta, y_[i], y1_[i], q1_[i], q2_[i], q3_[i]);
  }

  // The starting step (rodas5p::starting_step) at the solve's start.
  double initial_step(double t, double t_end) const {
    return rodas5p::starting_step(
        n_, [&](int i) { return y_[i]; }, [&](int i) { return f0_[i]; }, [&](int i) { return atol(i); }, o_.rtol, t,
        t_end);
  }

  static RosenbrockResult& fail(RosenbrockResult& r, RosenbrockStatus s, double t, std::size_t next) {
    return r.stop(s, t, next);
  }

  int n_;
  RosenbrockOptions o_;
  StepEvents events_;
  Vec y_, y1_, f0_, ft_, u_, rhs_, q1_, q2_, q3_;
  std::array<Vec, rodas5p::kStages> k_;
  Mat J_;
  SmallLu<N> lu_;                  // W = I/(h γ) - J and, after factorize(), its LU factors
  bool dense_ready_ = false;       // q1_..q3_ belong to the step just taken
  // Sensitivities (sens_.count > 0): S_ at the step's start, S1_ at its end, the stages' kS_,
  // US_ a stage's input, G0_ = G(t, y_, S_), and scratch.
  RosenbrockSensitivities sens_;
  SMat S_, S1_, US_, bS_, G0_, ftS_, Gp_, Gm_, qS1_, qS2_, qS3_;
  std::array<SMat, rodas5p::kStages> kS_;
  std::vector<SMat> X_;      // dG/dy by columns, per step (kept across solves: no heap once sized)
  bool by_columns_ = false;  // X k from X_ (n <= kStages) rather than one difference per stage
  Vec yp_, ym_;
  bool dense_sens_ready_ = false;
};

inline const char* rosenbrock_status_name(RosenbrockStatus s) {
  switch (s) {
    case RosenbrockStatus::kSuccess:
      return "ROS_SUCCESS";
    case RosenbrockStatus::kStoppedByEvent:
      return "ROS_STOPPED_BY_EVENT";
    case RosenbrockStatus::kTooMuchWork:
      return "ROS_TOO_MUCH_WORK";
    case RosenbrockStatus::kStepTooSmall:
      return "ROS_STEP_TOO_SMALL";
    case RosenbrockStatus::kSingularMatrix:
      return "ROS_SINGULAR_MATRIX";
    case RosenbrockStatus::kNonFinite:
      return "ROS_NONFINITE";
  }
  return "?";
}

}  // namespace physynth::solvers
