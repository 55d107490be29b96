#include "manifold_rows.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

// More than 4 states: Eigen's dynamic sizes, at most Max of each on the stack (Max Dynamic: on
// the heap).
template <int Rows, int Cols, int Max>
using Fixed = Eigen::Matrix<double, Rows, Cols, (Rows == 1 && Cols != 1) ? Eigen::RowMajor : Eigen::ColMajor,
                            Rows == Eigen::Dynamic ? Max : Rows, Cols == Eigen::Dynamic ? Max : Cols>;

template <int Max>
void solve_rows(const core::Model& model, const ManifoldRows& R, std::size_t first, std::size_t last) {
  constexpr int Nc = Eigen::Dynamic, Kc = Eigen::Dynamic;
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
  // A singular A gives values that are not finite: Newton then stops there, and the row keeps
  // the network's point.
  Eigen::PartialPivLU<Fixed<Kc, Kc, Max>> lu(K);
  std::vector<double> p(R.m);
  const auto solve = [&](const auto& A, const auto& b, auto& x) {
    lu.compute(A);
    x = lu.solve(b);
  };
  const auto times_inverse = [&](const auto& X, const auto& A, auto& out) {
    lu.compute(A.transpose());
    out = lu.solve(X.transpose()).transpose();
  };
  for (std::size_t r = first; r < last; ++r) {
    const Eigen::Map<const Eigen::VectorXd> v_net(R.v_net + r * N, n);
    const std::size_t sr = r / R.per;  // (the row's sample)
    const double* s = R.s + sr * N;
    for (std::size_t j = 0; j < R.m; ++j) p[j] = R.p[j][sr * R.p_stride];
    const double t = R.t[r];
    const Eigen::Map<const RowMajor> D(R.D + sr * N * R.q, n, q);
    if (k > 0) {
      J.topRows(k) = Eigen::Map<const RowMajor>(R.C + sr * R.k * N, k, n);
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < k; ++j) M(i, j) = J(j, i) * R.law_weight[static_cast<std::size_t>(i)];
    }
    M.rightCols(q) = D;
    a.setZero();
    for (Eigen::Index j = 0; j < q; ++j) a[k + j] = 1e-3 - v_net[R.qss[static_cast<std::size_t>(j)]];
    for (Eigen::Index j = 0; j < q; ++j) {
      const double rate = R.rate[sr * R.q + static_cast<std::size_t>(j)];
      g[j] = R.g0[sr * R.q + static_cast<std::size_t>(j)] * std::exp(-rate * (t - R.t0));
    }
    double err = 0.0;
    for (int it = 0;; ++it) {
      v = v_net + M * a;
      for (Eigen::Index i = 0; i < n; ++i) {
        u[i] = v[i] * s[i];
        y[i] = R.clamp[static_cast<std::size_t>(i)] ? std::max(u[i], 0.0) : u[i];  // (NaN stays NaN)
      }
      model.rhs_and_jacobian(t, y.data(), p.data(), f.data(), Jf.data());  // column-major, as Eigen's
      for (Eigen::Index i = 0; i < k; ++i) G[i] = J.row(i).dot(v) - R.c[sr * R.k + static_cast<std::size_t>(i)];
      for (Eigen::Index j = 0; j < q; ++j) {
        const auto Q = static_cast<Eigen::Index>(R.qss[static_cast<std::size_t>(j)]);
        const double rate = R.rate[sr * R.q + static_cast<std::size_t>(j)];
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

// Up to 4 states: kLanes rows at once on core::Lanes (SIMD over rows), with the model's
// rhs_and_jacobian_lanes, and A^-1 in closed form. Each lane computes exactly what it would
// alone (lane by lane IEEE arithmetic, lanes.h), so a row's numbers do not depend on the rows
// beside it or on where a range of rows starts: the last group of a range repeats its last row
// in the lanes it has no row for. A row that has converged keeps its point while the others go
// on (its Newton step is not applied), which recomputes the same numbers there.
using core::kLanes;
using core::Lanes;

inline Lanes lane_max0(const Lanes& u) {  // std::max(u, 0.0) lane by lane: NaN stays NaN
  Lanes r = u;
  for (int l = 0; l < kLanes; ++l)
    if (u[l] < 0.0) r.v[l] = 0.0;
  return r;
}

// out = A^-1 (K x K, row-major arrays of lanes) by cofactors; not finite where A is singular.
template <int K>
void invert(const Lanes (&A)[K][K], Lanes (&out)[K][K]) {
  if constexpr (K == 1) {
    out[0][0] = 1.0 / A[0][0];
  } else if constexpr (K == 2) {
    const Lanes inv_det = 1.0 / (A[0][0] * A[1][1] - A[0][1] * A[1][0]);
    out[0][0] = A[1][1] * inv_det, out[0][1] = -A[0][1] * inv_det;
    out[1][0] = -A[1][0] * inv_det, out[1][1] = A[0][0] * inv_det;
  } else {
    static_assert(K == 3);
    const Lanes c00 = A[1][1] * A[2][2] - A[1][2] * A[2][1], c01 = A[1][2] * A[2][0] - A[1][0] * A[2][2],
                c02 = A[1][0] * A[2][1] - A[1][1] * A[2][0];
    const Lanes inv_det = 1.0 / (A[0][0] * c00 + A[0][1] * c01 + A[0][2] * c02);
    out[0][0] = c00 * inv_det;
    out[1][0] = c01 * inv_det;
    out[2][0] = c02 * inv_det;
    out[0][1] = (A[0][2] * A[2][1] - A[0][1] * A[2][2]) * inv_det;
    out[1][1] = (A[0][0] * A[2][2] - A[0][2] * A[2][0]) * inv_det;
    out[2][1] = (A[0][1] * A[2][0] - A[0][0] * A[2][1]) * inv_det;
    out[0][2] = (A[0][1] * A[1][2] - A[0][2] * A[1][1]) * inv_det;
    out[1][2] = (A[0][2] * A[1][0] - A[0][0] * A[1][2]) * inv_det;
    out[2][2] = (A[0][0] * A[1][1] - A[0][1] * A[1][0]) * inv_det;
  }
}

template <int K, int n>
void times(const Lanes (&J)[K][n], const Lanes (&M)[n][K], Lanes (&out)[K][K]) {  // out = J M
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      Lanes sum = J[i][0] * M[0][j];
      for (int c = 1; c < n; ++c) sum += J[i][c] * M[c][j];
      out[i][j] = sum;
    }
}

template <int n, int K>
PHYSYNTH_LANE_CLONES void solve_lanes(const core::Model& model, const ManifoldRows& R, std::size_t first,
                                      std::size_t last) {
  const int k = static_cast<int>(R.k), q = K - k;
  const std::size_t N = R.n, m = R.m;
  const bool matrices = R.P != nullptr;
  std::vector<Lanes> p(m);
  std::size_t row[kLanes], sample[kLanes];
  const auto gather = [&](const double* base, std::size_t stride, std::size_t offset) {
    Lanes x;
    for (int l = 0; l < kLanes; ++l) x.v[l] = base[row[l] * stride + offset];
    return x;
  };
  const auto gather_sample = [&](const double* base, std::size_t stride, std::size_t offset) {
    Lanes x;
    for (int l = 0; l < kLanes; ++l) x.v[l] = base[sample[l] * stride + offset];
    return x;
  };
  const auto all_finite = [](const Lanes* x, int count, bool(&ok)[kLanes]) {
    for (int i = 0; i < count; ++i)
      for (int l = 0; l < kLanes; ++l) ok[l] = ok[l] && std::isfinite(x[i][l]);
  };
  for (std::size_t r0 = first; r0 < last; r0 += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      row[l] = std::min(r0 + static_cast<std::size_t>(l), last - 1);
      sample[l] = row[l] / R.per;
    }
    Lanes v_net[n], s[n], M[n][K], J[K][n], c[K], g[K], rate[K], den[K], D[n][K];
    const Lanes t = gather(R.t, 1, 0), dt_dth = gather(R.dt_dth, 1, 0);
    for (int i = 0; i < n; ++i) {
      v_net[i] = gather(R.v_net, N, static_cast<std::size_t>(i));
      s[i] = gather_sample(R.s, N, static_cast<std::size_t>(i));
      for (int j = 0; j < q; ++j) {
        D[i][j] = gather_sample(R.D, N * R.q, static_cast<std::size_t>(i) * R.q + static_cast<std::size_t>(j));
        M[i][k + j] = D[i][j];
      }
    }
    for (std::size_t j = 0; j < m; ++j) p[j] = gather_sample(R.p[j], R.p_stride, 0);
    for (int i = 0; i < k; ++i) {
      for (int j = 0; j < n; ++j) {
        J[i][j] = gather_sample(R.C, R.k * N, static_cast<std::size_t>(i) * N + static_cast<std::size_t>(j));
        M[j][i] = J[i][j] * R.law_weight[static_cast<std::size_t>(j)];
      }
      c[i] = gather_sample(R.c, R.k, static_cast<std::size_t>(i));
    }
    Lanes a[K];
    for (int j = 0; j < q; ++j) {
      const auto Q = static_cast<int>(R.qss[static_cast<std::size_t>(j)]);
      a[k + j] = 1e-3 - v_net[Q];
      rate[j] = gather_sample(R.rate, R.q, static_cast<std::size_t>(j));
      g[j] = gather_sample(R.g0, R.q, static_cast<std::size_t>(j)) * exp(-rate[j] * (t - R.t0));
      den[j] = s[Q] * rate[j];
    }
    Lanes v[n], u[n], y[n], f[n], Jf[n * n], G[K], Gt[K], err;
    bool stopped[kLanes] = {};
    for (int it = 0;; ++it) {
      for (int i = 0; i < n; ++i) {
        Lanes sum = v_net[i];
        for (int j = 0; j < K; ++j) sum += M[i][j] * a[j];
        v[i] = sum;
        u[i] = v[i] * s[i];
        y[i] = R.clamp[static_cast<std::size_t>(i)] ? lane_max0(u[i]) : u[i];
      }
      model.rhs_and_jacobian_lanes(t, y, p.data(), f, Jf);
      for (int i = 0; i < k; ++i) {
        Lanes sum = J[i][0] * v[0];
        for (int j = 1; j < n; ++j) sum += J[i][j] * v[j];
        G[i] = sum - c[i];
      }
      for (int j = 0; j < q; ++j) {
        const auto Q = static_cast<int>(R.qss[static_cast<std::size_t>(j)]);
        G[k + j] = (f[Q] - g[j]) / den[j];
        // d/dt^ of (f_Q - g) / den at fixed u: f has no explicit t (autonomous), g' = -rate g.
        Gt[j] = rate[j] * g[j] * dt_dth / den[j];
        // A clamped state below zero does not move f (clamp_min's derivative there is 0).
        for (int i = 0; i < n; ++i) {
          J[k + j][i] = Jf[Q + n * i] / den[j] * s[i];
          if (R.clamp[static_cast<std::size_t>(i)])
            for (int l = 0; l < kLanes; ++l)
              if (u[i][l] < 0.0) J[k + j][i].v[l] = 0.0;
        }
      }
      bool all = true;
      for (int l = 0; l < kLanes; ++l) {
        double e = 0.0;
        for (int i = 0; i < K; ++i) e = std::isnan(G[i][l]) || std::isnan(e) ? NAN : std::max(e, std::abs(G[i][l]));
        err.v[l] = e;
        // Converged, or not a number (no step changes it).
        stopped[l] = stopped[l] || it == R.max_iterations || !(e > R.tol);
        all = all && stopped[l];
      }
      if (all) break;
      Lanes JM[K][K], A_inv[K][K];
      times(J, M, JM);
      invert(JM, A_inv);
      for (int i = 0; i < K; ++i) {
        Lanes delta = A_inv[i][0] * G[0];
        for (int j = 1; j < K; ++j) delta += A_inv[i][j] * G[j];
        // A row whose A is singular (every state it touches clamped) stops where it is.
        for (int l = 0; l < kLanes; ++l)
          if (!stopped[l] && std::isfinite(delta[l])) a[i].v[l] -= delta[l];
      }
    }
    Lanes JM[K][K], A_inv[K][K], MA[n][K];
    times(J, M, JM);
    invert(JM, A_inv);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < K; ++j) {
        Lanes sum = M[i][0] * A_inv[0][j];
        for (int c2 = 1; c2 < K; ++c2) sum += M[i][c2] * A_inv[c2][j];
        MA[i][j] = sum;
      }
    bool ok[kLanes];
    for (bool& o : ok) o = true;
    all_finite(v, n, ok);
    Lanes P[n][n], drift[n];
    if (matrices) {
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          Lanes sum = MA[i][0] * J[0][j];
          for (int c2 = 1; c2 < K; ++c2) sum += MA[i][c2] * J[c2][j];
          P[i][j] = (i == j ? 1.0 : 0.0) - sum;
        }
        drift[i] = Lanes(0.0);
        for (int j = 0; j < q; ++j) drift[i] += MA[i][k + j] * Gt[j];
      }
      all_finite(&P[0][0], n * n, ok);
      all_finite(drift, n, ok);
    } else {
      // What P = I - M A^-1 J and the drift are made of: one of them not finite makes them so.
      all_finite(&MA[0][0], n * K, ok);
      all_finite(&J[0][0], K * n, ok);
      all_finite(Gt, q, ok);
    }
    for (int j = 0; j < q; ++j) {
      Lanes slope = J[k + j][0] * D[0][j];
      for (int i = 1; i < n; ++i) slope += J[k + j][i] * D[i][j];
      for (int l = 0; l < kLanes; ++l) ok[l] = ok[l] && slope[l] < 0.0;  // stable
    }
    for (int l = 0; l < kLanes && r0 + static_cast<std::size_t>(l) < last; ++l) {
      const std::size_t r = r0 + static_cast<std::size_t>(l);
      const bool good = ok[l] && err[l] <= 1e3 * R.tol;
      double* v_out = R.v + r * N;
      for (int i = 0; i < n; ++i) v_out[i] = good ? v[i][l] : v_net[i][l];
      if (!matrices) continue;
      double* P_out = R.P + r * N * N;
      double* drift_out = R.drift + r * N;
      double* MAq_out = R.MAq + r * N * R.q;
      for (int i = 0; i < n; ++i) {
        drift_out[i] = good ? drift[i][l] : 0.0;
        for (int j = 0; j < n; ++j) P_out[i * n + j] = good ? P[i][j][l] : (i == j ? 1.0 : 0.0);
        for (int j = 0; j < q; ++j)
          MAq_out[static_cast<std::size_t>(i) * R.q + static_cast<std::size_t>(j)] = good ? MA[i][k + j][l] : 0.0;
      }
    }
  }
}

}  // namespace

void solve_manifold_rows(const core::Model& model, const ManifoldRows& R, std::size_t first, std::size_t last) {
  // k + q is at most n - 1 (Impl::resolve_states leaves the network a state).
  const std::size_t K = R.k + R.q;
  if (K >= 1 && K < R.n && R.n <= 4) {
    if (R.n == 2) return solve_lanes<2, 1>(model, R, first, last);
    if (R.n == 3) return K == 1 ? solve_lanes<3, 1>(model, R, first, last) : solve_lanes<3, 2>(model, R, first, last);
    if (K == 1) return solve_lanes<4, 1>(model, R, first, last);
    return K == 2 ? solve_lanes<4, 2>(model, R, first, last) : solve_lanes<4, 3>(model, R, first, last);
  }
  if (R.n <= 8)
    solve_rows<8>(model, R, first, last);
  else
    solve_rows<Eigen::Dynamic>(model, R, first, last);
}

namespace {
// Row r's scaled Jacobian J~ = S^-1 J S at its point u and t0 (f sees the clamped states; a
// clamped state below zero has a zero column, clamp_min's derivative there), with the scratch y,
// p and Jf: what Impl::scaled_jacobian computes by autograd.
void scaled_jacobian_row(const core::Model& model, const SubspaceRows& R, std::size_t r, Eigen::VectorXd& y,
                         std::vector<double>& p, Eigen::MatrixXd& Jf, Eigen::MatrixXd& J) {
  const auto n = static_cast<Eigen::Index>(R.n);
  const double* u = R.u + r * R.n;
  const double* s = R.s + r * R.n;
  for (Eigen::Index i = 0; i < n; ++i)
    y[i] = R.clamp[static_cast<std::size_t>(i)] ? std::max(u[i], 0.0) : u[i];  // (NaN stays NaN)
  for (std::size_t j = 0; j < R.m; ++j) p[j] = R.p[j][r];
  model.jacobian(R.t0, y.data(), p.data(), Jf.data());  // column-major, as Eigen's
  for (Eigen::Index j = 0; j < n; ++j) {
    const bool flat = R.clamp[static_cast<std::size_t>(j)] && u[j] < 0.0;
    for (Eigen::Index i = 0; i < n; ++i) J(i, j) = flat ? 0.0 : Jf(i, j) * s[j] / s[i];
  }
}
}  // namespace

void fast_subspace_rows(const core::Model& model, const SubspaceRows& R, std::size_t first, std::size_t last) {
  const auto n = static_cast<Eigen::Index>(R.n), k = static_cast<Eigen::Index>(R.k), q = static_cast<Eigen::Index>(R.q);
  const std::size_t N = R.n;
  Eigen::MatrixXd Jf(n, n), J(n, n), D(n, q), next(n, q), dq(q, q), lawsD(k, q);
  Eigen::VectorXd y(n);
  std::vector<double> p(R.m);
  for (std::size_t r = first; r < last; ++r) {
    scaled_jacobian_row(model, R, r, y, p, Jf, J);
    D = Eigen::Map<const RowMajor>(R.D + r * N * R.q, n, q);
    const Eigen::Map<const RowMajor> C(k > 0 ? R.C + r * R.k * N : nullptr, k, n);
    const Eigen::Map<const RowMajor> Q(k > 0 ? R.Q + r * N * R.k : nullptr, n, k);
    for (int it = 0; it < 4; ++it) {
      next.noalias() = J * D;
      if (k > 0) {
        lawsD.noalias() = C * next;
        next.noalias() -= Q * lawsD;
      }
      for (Eigen::Index a = 0; a < q; ++a)
        for (Eigen::Index b = 0; b < q; ++b) dq(a, b) = next(R.qss[static_cast<std::size_t>(a)], b);
      // next dq^-1: each column with a unit component in its own state.
      next = dq.transpose().partialPivLu().solve(next.transpose()).transpose();
      bool ok = true;
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < q; ++j) ok = ok && std::isfinite(next(i, j)) && std::abs(next(i, j)) <= 1e6;
      if (ok) D = next;
    }
    double* out = R.D + r * N * R.q;
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = 0; j < q; ++j)
        out[static_cast<std::size_t>(i) * R.q + static_cast<std::size_t>(j)] = D(i, j);
  }
}

void relaxation_rates_rows(const core::Model& model, const SubspaceRows& R, std::size_t first, std::size_t last) {
  const auto n = static_cast<Eigen::Index>(R.n);
  Eigen::MatrixXd Jf(n, n), J(n, n);
  Eigen::VectorXd y(n);
  std::vector<double> p(R.m);
  for (std::size_t r = first; r < last; ++r) {
    scaled_jacobian_row(model, R, r, y, p, Jf, J);
    const double* D = R.D + r * R.n * R.q;
    for (std::size_t j = 0; j < R.q; ++j) {
      const auto Q = static_cast<Eigen::Index>(R.qss[j]);
      double slope = 0.0;  // f_Q / s_Q along D's column j, in scaled states
      for (Eigen::Index i = 0; i < n; ++i) slope += J(Q, i) * D[static_cast<std::size_t>(i) * R.q + j];
      double rate = std::abs(slope / D[static_cast<std::size_t>(Q) * R.q + j]);
      if (std::isnan(rate)) rate = 0.0;
      if (std::isinf(rate)) rate = std::numeric_limits<double>::max();  // (as nan_to_num)
      R.rate[r * R.q + j] = std::max(rate, R.rate_floor);
    }
  }
}

}  // namespace physynth::pinn
