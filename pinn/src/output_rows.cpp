#include "output_rows.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "small_solve.h"

namespace physynth::pinn {

void raw_rows(const RawRows& R, std::size_t first, std::size_t last) {
  const std::size_t n = R.n;
  const double beta = R.sharpness;
  std::vector<char> quasi_steady(n, 0);
  for (auto i : R.qss) quasi_steady[static_cast<std::size_t>(i)] = 1;
  for (std::size_t r = first; r < last; ++r) {
    const double th = R.th[r];
    const std::size_t sr = r / R.per;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = r * n + i, as = sr * n + i;
      if (quasi_steady[i]) {  // (fibre_base: the manifold sets them)
        R.v[at] = 0.0;
        if (R.dv) R.dv[at] = 0.0;
        continue;
      }
      const double s = R.s[as], N = R.N[at];
      // u = y0 + s t^ N, or for a positive state s softplus_beta(z0 + t^ N), as torch::softplus
      // computes it (linear above beta x = 20).
      double u = R.y0[as] + s * th * N, x = 0.0;
      const bool positive = R.z0 && R.positive[i];
      if (positive) {
        x = R.z0[as] + th * N;
        u = s * (x * beta > 20.0 ? x : std::log1p(std::exp(x * beta)) / beta);
      }
      R.v[at] = u / s;
      if (!R.dv) continue;
      double du = s * (N + th * R.dN[at]);
      if (positive) du = 1.0 / (1.0 + std::exp(-(beta * x))) * du;
      R.dv[at] = du / s;
    }
  }
}

void residual_rows(const core::Model& model, const ResidualRows& R, std::size_t first, std::size_t last) {
  const std::size_t n = R.n, q = R.q;
  std::vector<double> u(n), y(n), dv(n), f(n), r(n), p(R.m), A(q * q), c(q);
  for (std::size_t row = first; row < last; ++row) {
    const std::size_t sample = row / R.per;
    const double* v = R.v + row * n;
    const double* s = R.s + sample * n;
    const double* P = R.P + row * n * n;
    const double* D = R.D + sample * n * q;
    const double h = R.dt_dth[row];
    // u = v s and du = (P dv_raw - drift) s: the output on the manifold and its derivative.
    for (std::size_t i = 0; i < n; ++i) {
      double sum = 0.0;
      for (std::size_t j = 0; j < n; ++j) sum += P[i * n + j] * R.dv[row * n + j];
      dv[i] = (sum - R.drift[row * n + i]) * s[i];
      u[i] = v[i] * s[i];
      y[i] = R.nonneg[i] ? std::max(u[i], 0.0) : u[i];  // (NaN stays NaN)
    }
    for (std::size_t j = 0; j < R.m; ++j) p[j] = R.p[j][sample * R.p_stride];
    model.rhs(R.t[row], y.data(), p.data(), f.data());
    // R = (du - f h) / s, less its part along the fast directions that cancels the quasi-steady
    // rows: c from D's quasi-steady block.
    for (std::size_t i = 0; i < n; ++i) r[i] = (dv[i] - f[i] * h) / s[i];
    for (std::size_t a = 0; a < q; ++a) {
      const auto Q = static_cast<std::size_t>(R.qss[a]);
      for (std::size_t b = 0; b < q; ++b) A[a * q + b] = D[Q * q + b];
      c[a] = r[Q];
    }
    if (!solve_small(A.data(), c.data(), q, 1))
      throw std::runtime_error("linalg.solve: a system of the batch is singular (a zero pivot in the elimination)");
    for (std::size_t i = 0; i < n; ++i) {
      double along = 0.0;
      for (std::size_t b = 0; b < q; ++b) along += D[i * q + b] * c[b];
      r[i] -= along;
    }
    double squares = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double ri = R.relative ? r[i] / (1.0 + std::abs(f[i] * h) / s[i]) : r[i];
      squares += ri * ri;
    }
    // The sign penalty: max(-u, 0) / s per non-negative state, per tau where there is one.
    for (std::size_t i = 0; i < n; ++i) {
      if (!R.nonneg[i]) continue;
      double deficit = -u[i] < 0.0 ? 0.0 : -u[i];  // (clamp_min: NaN stays NaN)
      deficit /= s[i];
      if (R.tau) deficit *= h / R.tau[sample];
      squares += deficit * deficit;
    }
    R.squares[row] = squares;
  }
}

}  // namespace physynth::pinn
