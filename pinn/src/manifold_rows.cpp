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

// Nc states and Kc = k + q directions known at compile time (Eigen's fixed-size products and
// LU), or Dynamic with at most Max of each on the stack (Max Dynamic: on the heap).
template <int Rows, int Cols, int Max>
using Fixed = Eigen::Matrix<double, Rows, Cols, (Rows == 1 && Cols != 1) ? Eigen::RowMajor : Eigen::ColMajor,
                            Rows == Eigen::Dynamic ? Max : Rows, Cols == Eigen::Dynamic ? Max : Cols>;

template <int Nc, int Kc, int Max>
void solve_rows(const core::Model& model, const ManifoldRows& R, std::size_t first, std::size_t last) {
  const auto n = static_cast<Eigen::Index>(R.n), k = static_cast<Eigen::Index>(R.k),
             q = static_cast<Eigen::Index>(R.q), K = k + q;
  const std::size_t N = R.n;
  const bool matrices = R.P != nullptr;
  Fixed<Kc, 1, Max> a(K, 1), G(K, 1), delta(K, 1);
  Fixed<Nc, 1, Max> v(n, 1), u(n, 1), y(n, 1), f(n, 1), drift(n, 1);
  Fixed<Eigen::Dynamic, 1, Max> Gt(q, 1), g(q, 1);
  Fixed<Nc, Nc, Max> Jf(n, n), P(n, n);
  Fixed<Kc, Nc, Max> J(K, n);
  Fixed<Nc, Kc, Max> M(n, K), MA(n, K);
  Fixed<Kc, Kc, Max> JM(K, K);
  // A x = b and M A^-1: at compile-time sizes up to 4 by Eigen's closed-form inverse, else by LU
  // with partial pivoting. On Michaelis-Menten (A 3 x 3) the LU and its solve with several
  // right-hand sides (Eigen's blocked path, even at that size) took about a third of the rows'
  // time, the closed form under a tenth (perf, 2026-12-06). A singular A gives values that are
  // not finite either way: Newton then stops there, and the row keeps the network's point.
  Eigen::PartialPivLU<Fixed<Kc, Kc, Max>> lu(K);
  const auto solve = [&](const auto& A, const auto& b, auto& x) {
    if constexpr (Kc != Eigen::Dynamic && Kc <= 4) {
      x.noalias() = A.inverse() * b;
    } else {
      lu.compute(A);
      x = lu.solve(b);
    }
  };
  const auto times_inverse = [&](const auto& X, const auto& A, auto& out) {
    if constexpr (Kc != Eigen::Dynamic && Kc <= 4) {
      out.noalias() = X * A.inverse();
    } else {
      lu.compute(A.transpose());
      out = lu.solve(X.transpose()).transpose();
    }
  };
  for (std::size_t r = first; r < last; ++r) {
    const Eigen::Map<const Eigen::VectorXd> v_net(R.v_net + r * N, n);
    const double* s = R.s + r * N;
    const double* p = R.p + r * R.m;
    const double t = R.t[r];
    M = Eigen::Map<const RowMajor>(R.M + r * N * (R.k + R.q), n, K);
    if (k > 0) J.topRows(k) = Eigen::Map<const RowMajor>(R.C + r * R.k * N, k, n);
    a.setZero();
    for (Eigen::Index j = 0; j < q; ++j) a[k + j] = 1e-3 - v_net[R.qss[static_cast<std::size_t>(j)]];
    for (Eigen::Index j = 0; j < q; ++j) {
      const double rate = R.rate[r * R.q + static_cast<std::size_t>(j)];
      g[j] = R.g0[r * R.q + static_cast<std::size_t>(j)] * std::exp(-rate * (t - R.t0));
    }
    double err = 0.0;
    for (int it = 0;; ++it) {
      v = v_net + M * a;
      for (Eigen::Index i = 0; i < n; ++i) {
        u[i] = v[i] * s[i];
        y[i] = R.clamp[static_cast<std::size_t>(i)] ? std::max(u[i], 0.0) : u[i];  // (NaN stays NaN)
      }
      model.rhs_and_jacobian(t, y.data(), p, f.data(), Jf.data());  // column-major, as Eigen's
      for (Eigen::Index i = 0; i < k; ++i) G[i] = J.row(i).dot(v) - R.c[r * R.k + static_cast<std::size_t>(i)];
      for (Eigen::Index j = 0; j < q; ++j) {
        const auto Q = static_cast<Eigen::Index>(R.qss[static_cast<std::size_t>(j)]);
        const double rate = R.rate[r * R.q + static_cast<std::size_t>(j)];
        const double den = s[Q] * rate;
        G[k + j] = (f[Q] - g[j]) / den;
        // d/dt^ of (f_Q - g) / den at fixed u: f has no explicit t (autonomous), g' = -rate g.
        Gt[j] = rate * g[j] * R.dt_dth[r] / den;
        // A clamped state below zero does not move f (clamp_min's derivative there is 0).
        for (Eigen::Index i = 0; i < n; ++i)
          J(k + j, i) = R.clamp[static_cast<std::size_t>(i)] && u[i] < 0.0 ? 0.0 : Jf(Q, i) / den * s[i];
      }
      err = 0.0;
      for (Eigen::Index i = 0; i < K; ++i) err = std::isnan(G[i]) || std::isnan(err) ? NAN : std::max(err, std::abs(G[i]));
      if (it == R.max_iterations || !(err > R.tol)) break;  // converged, or not a number (no step changes it)
      JM.noalias() = J * M;
      solve(JM, G, delta);
      // A row whose A is singular (every state it touches clamped) stops where it is.
      for (Eigen::Index i = 0; i < K; ++i)
        if (std::isfinite(delta[i])) a[i] -= delta[i];
    }
    JM.noalias() = J * M;
    times_inverse(M, JM, MA);
    bool finite = all_finite(v.data(), N);
    if (matrices) {
      P.setIdentity(n, n);
      P.noalias() -= MA * J;
      drift.setZero();
      for (Eigen::Index j = 0; j < q; ++j) drift += MA.col(k + j) * Gt[j];
      finite = finite && all_finite(P.data(), N * N) && all_finite(drift.data(), N);
    } else {
      // What P = I - M A^-1 J and the drift are made of: one of them not finite makes them so.
      finite = finite && all_finite(MA.data(), N * K) && all_finite(J.data(), K * N) && all_finite(Gt.data(), R.q);
    }
    bool stable = true;
    const Eigen::Map<const RowMajor> D(R.D + r * N * R.q, n, q);
    for (Eigen::Index j = 0; j < q; ++j) stable = stable && J.row(k + j).dot(D.col(j)) < 0.0;
    const bool ok = stable && err <= 1e3 * R.tol && finite;
    double* v_out = R.v + r * N;
    for (Eigen::Index i = 0; i < n; ++i) v_out[i] = ok ? v[i] : v_net[i];
    if (!matrices) continue;
    double* P_out = R.P + r * N * N;
    double* drift_out = R.drift + r * N;
    double* MAq_out = R.MAq + r * N * R.q;
    for (Eigen::Index i = 0; i < n; ++i) {
      drift_out[i] = ok ? drift(i, 0) : 0.0;
      for (Eigen::Index j = 0; j < n; ++j) P_out[i * n + j] = ok ? P(i, j) : (i == j ? 1.0 : 0.0);
      for (Eigen::Index j = 0; j < q; ++j) MAq_out[i * q + j] = ok ? MA(i, k + j) : 0.0;
    }
  }
}

template <int Nc>
void with_directions(const core::Model& model, const ManifoldRows& R, std::size_t first, std::size_t last) {
  switch (R.k + R.q) {  // at most n - 1 (Impl::resolve_states leaves the network a state)
    case 1: return solve_rows<Nc, 1, Nc>(model, R, first, last);
    case 2: if constexpr (Nc >= 3) return solve_rows<Nc, 2, Nc>(model, R, first, last); break;
    case 3: if constexpr (Nc >= 4) return solve_rows<Nc, 3, Nc>(model, R, first, last); break;
    default: break;
  }
  solve_rows<Eigen::Dynamic, Eigen::Dynamic, 8>(model, R, first, last);
}

}  // namespace

void solve_manifold_rows(const core::Model& model, const ManifoldRows& R, std::size_t first, std::size_t last) {
  switch (R.n) {
    case 2: return with_directions<2>(model, R, first, last);
    case 3: return with_directions<3>(model, R, first, last);
    case 4: return with_directions<4>(model, R, first, last);
    default: break;
  }
  if (R.n <= 8)
    solve_rows<Eigen::Dynamic, Eigen::Dynamic, 8>(model, R, first, last);
  else
    solve_rows<Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic>(model, R, first, last);
}

}  // namespace physynth::pinn
