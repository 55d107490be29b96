#include "physynth/solvers/steady_state.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "physynth/core/diagnostics.h"

namespace physynth::solvers {

NewtonSteadyState newton_steady_state(const core::Model& model, const double* p, const OdeOptions& options,
                                      std::vector<double>& y_io, int max_iterations) {
  NewtonSteadyState out;
  const std::size_t n = model.num_states();
  if (n == 0) {
    out.found = true;
    return out;
  }
  const auto atol = [&](std::size_t i) {
    return options.atol_per_state.empty() ? options.atol : options.atol_per_state[i];
  };
  const auto invariants = model.linear_invariants();
  const std::size_t r = invariants.size();
  Eigen::MatrixXd C(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(n));
  for (std::size_t k = 0; k < r; ++k)
    for (std::size_t i = 0; i < n; ++i)
      C(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(i)) = invariants[k].weight(i, p);
  Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(y_io.data(), static_cast<Eigen::Index>(n));
  const Eigen::VectorXd totals = C * y;
  Eigen::VectorXd f(n), f_try(n), y_try(n), b(n + r);
  Eigen::MatrixXd J(n, n), A(n + r, n);
  const auto residual = [&](const Eigen::VectorXd& x, const Eigen::VectorXd& fx) {
    double worst = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto k = static_cast<Eigen::Index>(i);
      const double w = std::abs(fx[k]) / (atol(i) + options.rtol * std::abs(x[k]));
      worst = std::isfinite(w) ? std::max(worst, w) : std::numeric_limits<double>::infinity();
    }
    return worst;
  };
  model.rhs(0.0, y.data(), p, f.data());
  double res = residual(y, f);
  // Until the residual is well inside the tolerance (Newton converges fast there), or a step no
  // longer changes the state.
  for (; out.iterations < max_iterations && !(res <= 1e-3); ++out.iterations) {
    model.jacobian(0.0, y.data(), p, J.data());
    A.topRows(n) = J;
    A.bottomRows(r) = C;
    b.head(n) = -f;
    b.tail(r) = totals - C * y;
    const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(A);
    if (qr.rank() < static_cast<Eigen::Index>(n)) {
      out.why = "the Jacobian with the conservation laws is singular (rank " + std::to_string(qr.rank()) + " of " +
                std::to_string(n) + "): no isolated steady state for Newton's method";
      return out;
    }
    const Eigen::VectorXd step = qr.solve(b);
    double lambda = 1.0, res_try = std::numeric_limits<double>::infinity();
    for (; lambda >= 1e-6; lambda *= 0.5) {
      y_try = y + lambda * step;
      bool admissible = true;
      for (std::size_t i = 0; i < n && admissible; ++i)
        admissible = !model.state_is_nonnegative(i) || y_try[static_cast<Eigen::Index>(i)] >= -atol(i);
      if (!admissible) continue;
      model.rhs(0.0, y_try.data(), p, f_try.data());
      res_try = residual(y_try, f_try);
      if (res_try < res) break;
    }
    if (!(res_try < res)) {
      if (res <= 1.0) break;  // converged as far as rounding allows
      out.why = "Newton's method stalled at a weighted residual of " + core::format_number(res) +
                " (no damped step reduced it)";
      out.residual = res;
      return out;
    }
    const bool small = ((lambda * step).array().abs() <=
                        1e-12 * (y.array().abs() + Eigen::ArrayXd::Constant(static_cast<Eigen::Index>(n), 1e-300)))
                           .all();
    y = y_try;
    f = f_try;
    res = res_try;
    if (small) break;
  }
  out.residual = res;
  if (!(res <= 1.0)) {
    out.why = "Newton's method did not converge in " + std::to_string(max_iterations) +
              " iterations (weighted residual " + core::format_number(res) + ")";
    return out;
  }
  // Stable: every eigenvalue of J off the invariants' zero ones has Re <= 0, up to rounding.
  model.jacobian(0.0, y.data(), p, J.data());
  const Eigen::EigenSolver<Eigen::MatrixXd> eig(J, false);
  if (eig.info() != Eigen::Success) {
    out.why = "the Jacobian's eigenvalues at Newton's steady state could not be computed";
    return out;
  }
  const double scale = std::max(1.0, eig.eigenvalues().cwiseAbs().maxCoeff());
  for (Eigen::Index k = 0; k < eig.eigenvalues().size(); ++k)
    if (eig.eigenvalues()[k].real() > 1e-9 * scale) {
      out.why = "Newton's steady state is unstable (an eigenvalue of the Jacobian has real part " +
                core::format_number(eig.eigenvalues()[k].real()) + "): a simulation would leave it";
      return out;
    }
  std::copy(y.data(), y.data() + n, y_io.begin());
  out.found = true;
  return out;
}

}  // namespace physynth::solvers
