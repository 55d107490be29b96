#include "physynth/domains/equations/equation_model.h"

#include <stdexcept>

#include "physynth/core/autodiff.h"

namespace physynth::domains::equations {

EquationModel::EquationModel(EquationSystem system) : system_(std::move(system)), switches_(system_.rhs) {
  const std::size_t n = system_.states.size();
  if (system_.rhs.outputs().size() != n || system_.initial.outputs().size() != n || system_.nonnegative.size() != n ||
      system_.definition_values.outputs().size() != system_.definitions.size())
    throw std::invalid_argument("EquationModel '" + system_.name + "': " + std::to_string(n) +
                                " states need as many derivatives, initial values and non-negativity flags");
}

void EquationModel::initial_state(const double* p, double* y0) const {
  system_.initial.evaluate(0.0, static_cast<const double*>(nullptr), p, y0);
}

void EquationModel::initial_state_jacobian(const double* p, double* jac) const {
  core::forward_jacobian(
      [&](const core::Dual* pd, core::Dual* out) {
        system_.initial.evaluate(core::Dual(0.0), static_cast<const core::Dual*>(nullptr), pd, out);
      },
      num_states(), num_parameters(), p, jac);
}

void EquationModel::evaluate_derived(double t, const double* y, const double* p, core::CounterRng&, double* out) const {
  system_.definition_values.evaluate(t, y, p, out);
}

double EquationModel::derived_partials(std::size_t k, double t, const double* y, const double* p, double* dh_dy,
                                       double* dh_dp) const {
  const std::size_t n = num_states(), m = num_parameters(), d = system_.definitions.size();
  std::vector<double> values(d);
  system_.definition_values.evaluate(t, y, p, values.data());
  if (!dh_dy) return values[k];
  // Every definition's partials in (y, p) by forward mode; row k is the one asked for.
  std::vector<double> x(y, y + n), jac(d * (n + m));
  x.insert(x.end(), p, p + m);
  core::forward_jacobian(
      [&](const core::Dual* xd, core::Dual* out) {
        system_.definition_values.evaluate(core::Dual(t), xd, xd + n, out);
      },
      d, n + m, x.data(), jac.data());
  for (std::size_t j = 0; j < n; ++j) dh_dy[j] = jac[k + d * j];
  for (std::size_t j = 0; j < m; ++j) dh_dp[j] = jac[k + d * (n + j)];
  return values[k];
}

}  // namespace physynth::domains::equations
