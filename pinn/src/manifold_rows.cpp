#include "manifold_rows.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Core>
#include <Eigen/LU>

namespace physynth::pinn {

namespace {
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

bool all_finite(const double* x, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}


// Max is the largest n (and k + q, never above n) the matrices hold on the stack, or Dynamic.
template <int Max>
void solve_rows(const core::Model& model, const ManifoldRows& R, std::size_t first, std::size_t last) {
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor, Max, Max>;
  using Vec = Eigen::Matrix<double, Eigen::Dynamic, 1, Eigen::ColMajor, Max, 1>;
  const auto n = static_cast<Eigen::Index>(R.n), k = static_cast<Eigen::Index>(R.k),
             q = static_cast<Eigen::Index>(R.q), K = k + q;
  const std::size_t N = R.n;
  Vec a(K), v(n), u(n), y(n), f(n), G(K), Gt(q), delta(K);
  Mat Jf(n, n), J(K, n), M(n, K), JM(K, K), MA(n, K), MAt(K, n), P(n, n), drift(n, 1);
  Eigen::PartialPivLU<Mat> lu(K);
  for (std::size_t r = first; r < last; ++r) {
    const Eigen::Map<const Eigen::VectorXd> v_net(R.v_net + r * N, n);
    const double* s = R.s + r * N;
    const double* p = R.p + r * R.m;
    const double t = R.t[r];
    M = Eigen::Map<const RowMajor>(R.M + r * N * (R.k + R.q), n, K);
    if (k > 0) J.topRows(k) = Eigen::Map<const RowMajor>(R.C + r * R.k * N, k, n);
    a.setZero();
    for (Eigen::Index j = 0; j < q; ++j) a[k + j] = 1e-3 - v_net[R.qss[static_cast<std::size_t>(j)]];
    double err = 0.0;
    for (int it = 0;; ++it) {
      v = v_net + M * a;
      for (Eigen::Index i = 0; i < n; ++i) {
        u[i] = v[i] * s[i];
        y[i] = R.clamp[static_cast<std::size_t>(i)] ? std::max(u[i], 0.0) : u[i];  // (NaN stays NaN)
      }
      model.rhs(t, y.data(), p, f.data());
      model.jacobian(t, y.data(), p, Jf.data());  // column-major, as Eigen's
      for (Eigen::Index i = 0; i < k; ++i) G[i] = J.row(i).dot(v) - R.c[r * R.k + static_cast<std::size_t>(i)];
      for (Eigen::Index j = 0; j < q; ++j) {
        const auto Q = static_cast<Eigen::Index>(R.qss[static_cast<std::size_t>(j)]);
        const double rate = R.rate[r * R.q + static_cast<std::size_t>(j)];
        const double den = s[Q] * rate;
        const double g = R.g0[r * R.q + static_cast<std::size_t>(j)] * std::exp(-rate * (t - R.t0));
        G[k + j] = (f[Q] - g) / den;
        // d/dt^ of (f_Q - g) / den at fixed u: f has no explicit t (autonomous), g' = -rate g.
        Gt[j] = rate * g * R.dt_dth[r] / den;
        // A clamped state below zero does not move f (clamp_min's derivative there is 0).
        for (Eigen::Index i = 0; i < n; ++i)
          J(k + j, i) = R.clamp[static_cast<std::size_t>(i)] && u[i] < 0.0 ? 0.0 : Jf(Q, i) / den * s[i];
      }
      err = 0.0;
      for (Eigen::Index i = 0; i < K; ++i) err = std::isnan(G[i]) || std::isnan(err) ? NAN : std::max(err, std::abs(G[i]));
      if (it == R.max_iterations || !(err > R.tol)) break;  // converged, or not a number (no step changes it)
      JM.noalias() = J * M;
      lu.compute(JM);
      delta = lu.solve(G);
      // A row whose A is singular (every state it touches clamped) stops where it is.
      for (Eigen::Index i = 0; i < K; ++i)
        if (std::isfinite(delta[i])) a[i] -= delta[i];
    }
    JM.noalias() = J * M;
    lu.compute(JM.transpose());
    MAt = lu.solve(M.transpose());
    MA = MAt.transpose();
    P.setIdentity(n, n);
    P.noalias() -= MA * J;
    drift.noalias() = MA.rightCols(q) * Gt;
    bool stable = true;
    const Eigen::Map<const RowMajor> D(R.D + r * N * R.q, n, q);
    for (Eigen::Index j = 0; j < q; ++j) stable = stable && J.row(k + j).dot(D.col(j)) < 0.0;
    const bool ok = stable && err <= 1e3 * R.tol && all_finite(v.data(), N) && all_finite(P.data(), N * N) &&
                    all_finite(drift.data(), N);
    double* v_out = R.v + r * N;
    double* P_out = R.P + r * N * N;
    double* drift_out = R.drift + r * N;
    double* MAq_out = R.MAq + r * N * R.q;
    for (Eigen::Index i = 0; i < n; ++i) {
      v_out[i] = ok ? v[i] : v_net[i];
      drift_out[i] = ok ? drift(i, 0) : 0.0;
      for (Eigen::Index j = 0; j < n; ++j) P_out[i * n + j] = ok ? P(i, j) : (i == j ? 1.0 : 0.0);
      for (Eigen::Index j = 0; j < q; ++j) MAq_out[i * q + j] = ok ? MA(i, k + j) : 0.0;
    }
  }
}

}  // namespace

void solve_manifold_rows(const core::Model& model, const ManifoldRows& R, std::size_t first, std::size_t last) {
  if (R.n <= 8)
    solve_rows<8>(model, R, first, last);
  else
    solve_rows<Eigen::Dynamic>(model, R, first, last);
}

}  // namespace physynth::pinn
