// The NDF (ndf.h) on several samples of one model stepped together (issue 27, item 5), as
// Rodas5P's lanes are (rodas5p_lanes.h): core::kLanes samples side by side, each with its own
// step size, order, Jacobian, factorisation, attempts, outputs, statistics and status; a lane
// whose sample ends takes the next one. What runs across the lanes at once is each Newton
// iteration's arithmetic: the right-hand side (Model::rhs_lanes, SIMD over samples), the
// correction, the substitutions with each lane's factors and the correction's norm; everything
// else is each lane's own Ndf<N>, run in its phases (Ndf::start, attempt, newton_verdict,
// finish_attempt), so that each lane does exactly Ndf<N>::solve's operations in the same order
// and each sample's numbers and statistics are the one-sample solver's bit for bit
// (tests/solvers checks it).
// Each pass runs one Newton iteration in every lane; a lane whose iteration has converged or
// failed finishes its attempt and sets up its next before the next pass, while the others
// iterate on.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <optional>
#include <vector>

#include <Eigen/Dense>

#include "physynth/core/lanes.h"
#include "physynth/core/model.h"
#include "physynth/solvers/lane_batch.h"
#include "physynth/solvers/ndf.h"
#include "physynth/solvers/rosenbrock.h"

namespace physynth::solvers {

template <int N>
class NdfLanes : LaneBatch {
 public:
  using Vec = Eigen::Matrix<double, N, 1>;
  using Newton = typename Ndf<N>::Newton;

  explicit NdfLanes(const RosenbrockOptions& options) {
    solvers_.reserve(L);
    for (int l = 0; l < L; ++l) solvers_.emplace_back(N, options);
  }

  // Each sample from (t0, its y0) through `times`, as Ndf<N>::solve(ModelSystem<N>(model, p),
  // ..., events, p) would.
  void solve(const core::Model& model, double t0, const std::vector<double>& times, const LaneSample* samples,
             std::size_t count, const std::vector<Event>& events = {}) {
    begin(model, t0, times, samples, count, events);
    for (int l = 0; l < L; ++l) active_[l] = refill(l);
    for (;;) {
      bool any = false;
      for (int l = 0; l < L; ++l) any = any || active_[l];
      if (!any) return;
      model.rhs_lanes(t_, u_, P_.data(), f_);
      newton();
      for (int l = 0; l < L; ++l)
        if (active_[l]) iterate(l);
    }
  }

 private:
  // Every lane's Newton iteration with f_ at its point: Ndf::newton_iteration's arithmetic (the
  // correction c f - psi - d, its substitutions, its weighted RMS norm, u and d moved by it) in
  // the same order, across the lanes (lanes without a sample compute on stale values, unused).
  // Compiled for AVX2 and for the baseline (core/lanes.h: the same bits).
  PHYSYNTH_LANE_CLONES void newton() {
    Ln g[N];
    for (int l = 0; l < L; ++l)
      for (int i = 0; i < N; ++i) {
        const int from = order_[l][i];
        g[i].v[l] = c_.v[l] * f_[from].v[l] - psi_[from].v[l] - d_[from].v[l];
      }
    for (int i = 1; i < N; ++i)
      for (int j = 0; j < i; ++j) g[i].v -= factors_[i][j].v * g[j].v;
    for (int i = N - 1; i >= 0; --i) {
      for (int j = i + 1; j < N; ++j) g[i].v -= factors_[i][j].v * g[j].v;
      g[i].v *= inverse_pivot_[i].v;
    }
    Ln::V sum{};
    for (int i = 0; i < N; ++i) {
      const Ln::V x = g[i].v * w_[i].v;
      sum += x * x;
      u_[i].v += g[i].v;
      d_[i].v += g[i].v;
    }
    const Ln::V mean = sum / static_cast<double>(N);
    for (int l = 0; l < L; ++l) norm_[l] = std::sqrt(mean[l]);
  }

  // Lane l's verdict on the Newton iteration just done; at the iteration's end the attempt's,
  // and the next attempt's start (or the next sample's).
  void iterate(int l) {
    Ndf<N>& s = solvers_[static_cast<std::size_t>(l)];
    RosenbrockResult& r = *sample_[l]->result;
    bool finite = true;
    for (int i = 0; i < N; ++i) finite = finite && std::isfinite(f_[i].v[l]);
    const Newton verdict = s.newton_verdict(iteration_[l], finite, norm_[l], r);
    if (verdict == Newton::kIterate) {
      ++iteration_[l];
      return;
    }
    iteration_[l] = 0;
    column(u_, l, s.u_.data());
    column(d_, l, s.d_.data());
    if (s.finish_attempt(*system_[l], verdict == Newton::kConverged, r) && s.attempt(*system_[l], r)) {
      load(l);
      return;
    }
    s.end(r);
    active_[l] = refill(l);
  }

  // Lane l of x[0..N) into to[0..N), two numbers at a time: 16-byte stores, which the 16-byte
  // loads of the NDF's vector arithmetic right after can take from the store buffer (from two
  // 8-byte stores they cannot, and waited for them: 2 % of a Michaelis-Menten run).
  static void column(const Ln* x, int l, double* to) {
    typedef double Pair __attribute__((vector_size(2 * sizeof(double))));
    int i = 0;
    for (; i + 1 < N; i += 2) {
      const Pair pair = {x[i].v[l], x[i + 1].v[l]};
      std::memcpy(to + i, &pair, sizeof pair);
    }
    if (i < N) to[i] = x[i].v[l];
  }

  // Lane l's attempt, as Ndf::attempt has set it up, into the lanes: the point, the prediction's
  // terms, the weights and the factors of I - c J.
  void load(int l) {
    const Ndf<N>& s = solvers_[static_cast<std::size_t>(l)];
    t_.v[l] = s.t_new_;
    c_.v[l] = s.c_;
    for (int i = 0; i < N; ++i) {
      u_[i].v[l] = s.u_[i];
      d_[i].v[l] = s.d_[i];
      psi_[i].v[l] = s.psi_[i];
      w_[i].v[l] = s.w_[i];
      inverse_pivot_[i].v[l] = s.lu_.inverse_pivot(i);
      order_[l][i] = s.lu_.order(i);
      for (int j = 0; j < N; ++j) factors_[i][j].v[l] = s.lu_.factors()(i, j);
    }
  }

  // Lane l takes the next sample that needs a Newton iteration; false when none is left.
  bool refill(int l) {
    Ndf<N>& s = solvers_[static_cast<std::size_t>(l)];
    while (const LaneSample* next = next_sample(l)) {
      const LaneSample& sample = *next;
      sample_[l] = next;
      system_[l].emplace(*model_, sample.p, model_->is_autonomous());
      iteration_[l] = 0;
      RosenbrockResult& r = *sample.result;
      if (s.start(*system_[l], t0_, sample.y0, *times_, sample.out, *events_, sample.p, r) &&
          s.attempt(*system_[l], r)) {
        load(l);
        return true;
      }
      s.end(r);
    }
    return false;
  }

  std::vector<Ndf<N>> solvers_;  // one per lane
  std::optional<ModelSystem<N>> system_[L];
  const LaneSample* sample_[L] = {};
  int iteration_[L] = {};
  bool active_[L] = {};
  // Lane-major: u_[i].v[l] is state i of lane l's Newton point.
  Ln t_, c_, u_[N], d_[N], psi_[N], w_[N], f_[N], factors_[N][N], inverse_pivot_[N];
  int order_[L][N] = {};
  double norm_[L] = {};
};

}  // namespace physynth::solvers
