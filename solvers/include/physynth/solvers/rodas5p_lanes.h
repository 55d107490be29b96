// Rodas5P on several samples of one model stepped together (issue 27, item 5): core::kLanes
// samples side by side, each with its own step size, accept or reject, output rows, statistics
// and status; a lane whose sample ends takes the next one. The stages' arithmetic, the
// right-hand side (Model::rhs_lanes: the model's templated evaluate() on core::Lanes) and the
// substitutions run across the lanes at once (SIMD over samples); the Jacobian, the LU
// factorisation, the error norm, the step-size control and the dense output run lane by lane.
// Every lane does exactly Rodas5P<N>'s operations (rosenbrock.h) in the same order, so each
// sample's numbers and statistics are the one-sample solver's bit for bit (tests/solvers
// checks it); only the time differs (docs/PERFORMANCE.md, "Several samples stepped together").
//
// Events (ode_solver.h) are located lane by lane on each lane's dense output, as Rodas5P does
// (step_events.h, one StepEvents per lane). No sensitivities; the caller (OdeSolver::solve_many)
// sends samples with jumps or switches to the one-sample path.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "physynth/core/lanes.h"
#include "physynth/core/model.h"
#include "physynth/solvers/lane_batch.h"
#include "physynth/solvers/rosenbrock.h"
#include "physynth/solvers/small_lu.h"
#include "physynth/solvers/step_events.h"

namespace physynth::solvers {

template <int N>
class Rodas5PLanes : LaneBatch {
 public:
  using Vec = Eigen::Matrix<double, N, 1>;
  using Mat = Eigen::Matrix<double, N, N>;

  explicit Rodas5PLanes(RosenbrockOptions options) : o_(std::move(options)), lu_(N) {}

  // Each sample from (t0, its y0) through `times`, as Rodas5P<N>::solve(ModelSystem<N>(model, p),
  // ..., events, p) would without sensitivities.
  void solve(const core::Model& model, double t0, const std::vector<double>& times, const LaneSample* samples,
             std::size_t count, const std::vector<Event>& events = {}) {
    begin(model, t0, times, samples, count, events);
    autonomous_ = model.is_autonomous();
    for (int l = 0; l < L; ++l) active_[l] = refill(l);
    for (;;) {
      bool any = false;
      for (int l = 0; l < L; ++l) {
        while (active_[l] && !prepare(l)) active_[l] = refill(l);
        any = any || active_[l];
        h_.v[l] = lane_[l].h;
        t_.v[l] = lane_[l].t;
      }
      if (!any) return;
      stages();
      for (int l = 0; l < L; ++l)
        if (active_[l]) finish_step(l);
    }
  }

 private:
  struct Lane {
    const LaneSample* sample = nullptr;
    double t = 0.0, h = 0.0;
    std::size_t next = 0;
    bool last_rejected = false, at_point = false, done = false;
    int singular = 0;
    Mat J = Mat::Zero();  // the Jacobian at the lane's point: a rejected step keeps it
    StepEvents events;
  };

  double atol(int i) const { return state_atol(o_, i); }
  RosenbrockResult& result(int l) { return *lane_[l].sample->result; }
  double* row(int l, std::size_t r) { return lane_[l].sample->out + r * static_cast<std::size_t>(N); }
  Vec lane_vector(const Ln* x, int l) const {
    Vec v;
    for (int i = 0; i < N; ++i) v[i] = x[i].v[l];
    return v;
  }
  void write(int l, std::size_t r, const Ln* x) {
    double* o = row(l, r);
    for (int i = 0; i < N; ++i) o[i] = x[i].v[l];
  }
  void stop(int l, RosenbrockStatus s) {
    Lane& a = lane_[l];
    result(l).stop(s, a.t, a.next);
    a.done = true;
  }
  void end(int l) {  // the lane's sample is finished: its final state
    RosenbrockResult& r = result(l);
    r.final_state.resize(N);
    for (int i = 0; i < N; ++i) r.final_state[static_cast<std::size_t>(i)] = y_[i].v[l];
  }

  // f at lane l's point into f0_ (one rhs evaluation); false if not finite.
  bool rhs_at_point(int l) {
    const Lane& a = lane_[l];
    Vec y = lane_vector(y_, l), f;
    model_->rhs(a.t, y.data(), a.sample->p, f.data());
    ++result(l).stats.rhs_evals;
    for (int i = 0; i < N; ++i) f0_[i].v[l] = f[i];
    return f.allFinite();
  }

  // Lane l takes the next sample that needs a step; false when none is left.
  bool refill(int l) {
    const std::vector<double>& times = *times_;
    const std::size_t T = times.size();
    while (const LaneSample* sample = next_sample(l)) {
      Lane& a = lane_[l];
      a = Lane{};
      a.sample = sample;
      RosenbrockResult& r = result(l);
      r = RosenbrockResult{};
      r.t_reached = t0_;
      std::fill(a.sample->out, a.sample->out + T * static_cast<std::size_t>(N),
                std::numeric_limits<double>::quiet_NaN());
      for (int i = 0; i < N; ++i) y_[i].v[l] = a.sample->y0[i], ft_[i].v[l] = 0.0;
      a.t = t0_;
      while (a.next < T && times[a.next] <= t0_) write(l, a.next++, y_);
      if (a.next == T) {
        r.rows_written = T;
        end(l);
        continue;
      }
      a.events.start(*events_, t0_, a.sample->y0, a.sample->p);
      if (!rhs_at_point(l)) {
        stop(l, RosenbrockStatus::kNonFinite);
        end(l);
        continue;
      }
      a.h = o_.initial_step_size > 0.0 ? o_.initial_step_size : initial_step(l, times.back());
      return true;
    }
    return false;
  }

  // Rodas5P's starting step (rodas5p::starting_step) for lane l.
  double initial_step(int l, double t_end) const {
    return rodas5p::starting_step(
        N, [&](int i) { return y_[i].v[l]; }, [&](int i) { return f0_[i].v[l]; }, [&](int i) { return atol(i); },
        o_.rtol, lane_[l].t, t_end);
  }

  // Lane l up to a factorised W for its next step: the head of Rodas5P's step loop with its
  // retries. False when the lane's sample is finished (done, or failed).
  bool prepare(int l) {
    using namespace rodas5p;
    Lane& a = lane_[l];
    const std::vector<double>& times = *times_;
    const std::size_t T = times.size();
    const double t_end = times.back();
    RosenbrockResult& r = result(l);
    for (;;) {
      if (a.done) return false;
      if (a.next == T) {  // every output written (Rodas5P's loop ends before its step budget is checked)
        r.rows_written = T;
        a.done = true;
        end(l);
        return false;
      }
      if (r.stats.steps >= o_.max_steps) {
        stop(l, RosenbrockStatus::kTooMuchWork);
        end(l);
        return false;
      }
      const double resolution = 16.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(a.t));
      if (t_end - a.t <= resolution) {
        while (a.next < T) write(l, a.next++, y_);
        r.rows_written = T;
        a.done = true;
        end(l);
        return false;
      }
      if (o_.max_step_size > 0.0) a.h = std::min(a.h, o_.max_step_size);
      a.h = std::min(a.h, t_end - a.t);
      if (t_end - (a.t + a.h) <= resolution && !a.last_rejected) a.h = t_end - a.t;
      if (a.h <= resolution) {
        stop(l, RosenbrockStatus::kStepTooSmall);
        end(l);
        return false;
      }
      if (!a.at_point) {
        const Vec y = lane_vector(y_, l);
        model_->jacobian(a.t, y.data(), a.sample->p, a.J.data());
        time_derivative(l, y);
        ++r.stats.jacobian_evals;
        a.at_point = true;
      }
      lu_.matrix() = -a.J;
      lu_.matrix().diagonal().array() += 1.0 / (a.h * kGamma);
      ++r.stats.factorizations;
      if (!lu_.factorize()) {
        if (++a.singular > 10) {
          stop(l, RosenbrockStatus::kSingularMatrix);
          end(l);
          return false;
        }
        a.h *= 0.25;
        a.last_rejected = true;
        continue;
      }
      a.singular = 0;
      for (int i = 0; i < N; ++i) {
        for (int j = 0; j < N; ++j) lu_factors_[i][j].v[l] = lu_.factors()(i, j);
        inverse_pivot_[i].v[l] = lu_.inverse_pivot(i);
        order_[l][i] = lu_.order(i);
      }
      return true;
    }
  }

  // df/dt at lane l's point, as ModelSystem::time_derivative: 0 for an autonomous model, else a
  // central difference.
  void time_derivative(int l, const Vec& y) {
    if (autonomous_) return;  // ft_ stays 0 from refill()
    const double t = lane_[l].t;
    const double dt = std::sqrt(std::numeric_limits<double>::epsilon()) * std::max(1.0, std::abs(t));
    Vec a, b;
    model_->rhs(t + dt, y.data(), lane_[l].sample->p, a.data());
    model_->rhs(t - dt, y.data(), lane_[l].sample->p, b.data());
    const Vec ft = (a - b) / (2.0 * dt);
    for (int i = 0; i < N; ++i) ft_[i].v[l] = ft[i];
  }

  // x <- W^-1 x in every lane: each lane's row swaps as one gather, then the substitutions
  // across the lanes (SmallLu::solve's operations).
  void solve_w(Ln* x) const {
    Ln g[N];
    for (int l = 0; l < L; ++l)
      for (int i = 0; i < N; ++i) g[i].v[l] = x[order_[l][i]].v[l];
    for (int i = 1; i < N; ++i)
      for (int j = 0; j < i; ++j) g[i].v -= lu_factors_[i][j].v * g[j].v;
    for (int i = N - 1; i >= 0; --i) {
      for (int j = i + 1; j < N; ++j) g[i].v -= lu_factors_[i][j].v * g[j].v;
      g[i].v *= inverse_pivot_[i].v;
    }
    for (int i = 0; i < N; ++i) x[i] = g[i];
  }

  // The eight stages in every lane (lanes without a sample compute on stale values, unused),
  // each unrolled with its own row of the tableau: the coefficients are constants, broadcast
  // from memory, not built on the stack in every iteration. Compiled for AVX2 and for the
  // baseline (core/lanes.h: the same bits).
  PHYSYNTH_LANE_CLONES void stages() {
    stage_list(std::make_integer_sequence<int, rodas5p::kStages>{});
    for (int i = 0; i < N; ++i) y1_[i].v = u_[i].v + k_[rodas5p::kStages - 1][i].v;
  }
  template <int... S>
  void stage_list(std::integer_sequence<int, S...>) {
    const Ln::V inv_h = 1.0 / h_.v;
    (stage<S>(inv_h), ...);
  }
  template <int S>
  void stage(const Ln::V& inv_h) {
    using namespace rodas5p;
    if constexpr (S == 0) {
      for (int i = 0; i < N; ++i) k_[0][i].v = f0_[i].v + (h_.v * kd[0]) * ft_[i].v;
    } else {
      for (int i = 0; i < N; ++i) {
        Ln::V v = y_[i].v;
        for (int j = 0; j < S; ++j) v += kA[S][j] * k_[j][i].v;
        u_[i].v = v;
      }
      model_->rhs_lanes(Ln::of(t_.v + kc[S] * h_.v), u_, P_.data(), k_[S]);
      for (int i = 0; i < N; ++i) {
        Ln::V v = k_[S][i].v;
        for (int j = 0; j < S; ++j) v += (kC[S][j] * inv_h) * k_[j][i].v;
        if constexpr (kd[S] != 0.0) v += (h_.v * kd[S]) * ft_[i].v;
        k_[S][i].v = v;
      }
    }
    solve_w(k_[S]);
  }

  // Lane l after its stages: the error, accept or reject, the outputs, the next step size
  // (Rodas5P::solve_steps after stages()).
  void finish_step(int l) {
    using namespace rodas5p;
    Lane& a = lane_[l];
    RosenbrockResult& r = result(l);
    r.stats.rhs_evals += kStages - 1;
    double e = 0.0;
    bool finite = true;
    for (int i = 0; i < N; ++i) {
      const double err = k_[kStages - 1][i].v[l];
      const double w = atol(i) + o_.rtol * std::max(std::abs(y_[i].v[l]), std::abs(y1_[i].v[l]));
      e += (err / w) * (err / w);
      finite = finite && std::isfinite(y1_[i].v[l]);
    }
    e = std::sqrt(e / N);
    if (!std::isfinite(e) || !finite) {
      ++r.stats.rejected;
      a.h *= 0.2;
      a.last_rejected = true;
      return;
    }
    const double factor = step_factor(e);
    if (e > 1.0) {
      ++r.stats.rejected;
      a.h *= std::min(factor, 0.9);
      a.last_rejected = true;
      return;
    }
    ++r.stats.steps;
    const std::vector<double>& times = *times_;
    const std::size_t T = times.size();
    const double t1 = a.t + a.h;
    dense_ready_ = false;
    if (!events_->empty()) {
      double y_end[N], at[N];
      for (int i = 0; i < N; ++i) y_end[i] = y1_[i].v[l];
      const double theta_stop = a.events.locate(
          *events_, a.sample->p, a.t, a.h, y_end,
          [&](double theta) {
            dense(l, theta, at);
            return static_cast<const double*>(at);
          },
          r.events);
      if (theta_stop >= 0.0) {  // a terminal event: the outputs before it, the state at it
        const double te = a.t + theta_stop * a.h;
        for (; a.next < T && times[a.next] < te; ++a.next) dense(l, (times[a.next] - a.t) / a.h, row(l, a.next));
        dense(l, theta_stop, at);
        r.status = RosenbrockStatus::kStoppedByEvent;
        r.t_reached = te;
        r.rows_written = a.next;
        r.final_state.assign(at, at + N);
        a.done = true;
        return;
      }
    }
    while (a.next < T && times[a.next] <= t1) {
      const double theta = (times[a.next] - a.t) / a.h;
      if (theta >= 1.0) {
        write(l, a.next++, y1_);
        continue;
      }
      dense(l, theta, row(l, a.next++));
    }
    a.t = t1;
    for (int i = 0; i < N; ++i) y_[i].v[l] = y1_[i].v[l];
    a.at_point = false;
    a.events.advance();
    r.t_reached = a.t;
    if (!rhs_at_point(l)) {
      stop(l, RosenbrockStatus::kNonFinite);
      end(l);
      return;
    }
    a.h *= a.last_rejected ? std::min(1.0, factor) : factor;
    a.last_rejected = false;
  }

  // y(t + θ h) of lane l's step just taken into `into` (Rodas5P::dense); the combinations of
  // the stages once per step.
  void dense(int l, double theta, double* into) {
    using namespace rodas5p;
    if (!dense_ready_) {
      for (int i = 0; i < N; ++i) dense_combinations([&](int j) { return k_[j][i].v[l]; }, q1_[i], q2_[i], q3_[i]);
      dense_ready_ = true;
    }
    for (int i = 0; i < N; ++i) into[i] = dense_value(theta, y_[i].v[l], y1_[i].v[l], q1_[i], q2_[i], q3_[i]);
  }

  RosenbrockOptions o_;
  SmallLu<N> lu_;                                // one lane's W at a time, its factors then spread into the lanes
  double q1_[N] = {}, q2_[N] = {}, q3_[N] = {};  // the dense output's combinations, for one lane's step
  bool dense_ready_ = false;
  bool autonomous_ = false;
  Lane lane_[L];
  bool active_[L] = {};
  // Lane-major: y_[i].v[l] is state i of lane l.
  Ln y_[N], y1_[N], f0_[N], ft_[N], u_[N], k_[rodas5p::kStages][N], lu_factors_[N][N], inverse_pivot_[N];
  Ln h_, t_;
  int order_[L][N] = {};
};

}  // namespace physynth::solvers
