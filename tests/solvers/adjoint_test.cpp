#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/solvers/adjoint.h"
#include "physynth/solvers/ode_solver.h"
#include "support/test_problems.h"

using namespace physynth;
using solvers::OdeOptions;

namespace {
OdeOptions tight() {
  OdeOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-14;
  return o;
}
}  // namespace

TEST_CASE("Adjoint: the gradient of a weighted sum of decay's states equals the closed form") {
  const auto m = testing::network(testing::kDecay);
  const double A0 = 2.0, k = 0.7;
  const auto p = testing::parameters(m, {{"A0", A0}, {"k", k}});
  // Rows at t0, twice at 1.5 (two measurements at one time) and at 4.
  const std::vector<double> t = {0.0, 1.5, 1.5, 4.0}, w = {0.5, 1.0, -2.0, 3.0};
  std::vector<double> y0(1);
  m.model->initial_state(p.data(), y0.data());
  const int ik = m.model->parameter_index("k");
  const auto r = solvers::solve_adjoint(*m.model, tight(), p.data(), y0.data(), 0.0, t, {ik},
                                        [&](std::size_t j, const double*, double* g) { g[0] = w[j]; });
  REQUIRE(r.status == solvers::SolveStatus::kSuccess);
  double dG_dk = 0.0, dG_dA0 = 0.0;
  for (std::size_t j = 0; j < t.size(); ++j) {
    CHECK(r.states[j] == Approx(A0 * std::exp(-k * t[j])).epsilon(1e-8));
    dG_dk += w[j] * (-t[j] * A0 * std::exp(-k * t[j]));
    dG_dA0 += w[j] * std::exp(-k * t[j]);
  }
  CHECK(r.parameter_gradient[0] == Approx(dG_dk).epsilon(1e-7));
  CHECK(r.lambda0[0] == Approx(dG_dA0).epsilon(1e-7));  // y0 = A0: dy0/dA0 = 1
  CHECK(r.steps_forward > 0);
  CHECK(r.steps_backward > 0);
}

TEST_CASE("Adjoint: the gradient of a least-squares misfit of binding equals forward sensitivities'") {
  const auto m = testing::network(testing::kBinding);
  const auto p = testing::parameters(m, {{"A0", 10.0}, {"B0", 4.0}, {"kon", 0.05}, {"koff", 0.02}});
  const std::vector<double> t = {2.0, 5.0, 10.0, 20.0, 40.0, 60.0};
  const std::vector<double> data = {1.0, 2.0, 3.0, 3.3, 3.5, 3.6};
  const std::vector<std::string> names = {"A0", "B0", "kon", "koff"};
  std::vector<int> params;
  for (const auto& nm : names) params.push_back(m.model->parameter_index(nm));
  const std::size_t n = m.model->num_states(), K = params.size();
  std::vector<double> y0(n);
  m.model->initial_state(p.data(), y0.data());
  const int ab = m.model->state_index("AB");
  // G = sum_j (AB(t_j) - d_j)^2 + A(t_j) AB(t_j): a nonlinear function of two states.
  const auto r = solvers::solve_adjoint(*m.model, tight(), p.data(), y0.data(), 0.0, t, params,
                                        [&](std::size_t j, const double* y, double* g) {
                                          g[ab] = 2.0 * (y[ab] - data[j]) + y[0];
                                          g[0] += y[ab];
                                        });
  REQUIRE(r.status == solvers::SolveStatus::kSuccess);

  OdeOptions o = tight();
  o.sensitivity_parameters = params;
  solvers::OdeSolver forward(m.model, o);
  std::vector<double> out(t.size() * n), sens(t.size() * K * n);
  REQUIRE(forward.solve(p.data(), y0.data(), 0.0, t, out.data(), sens.data()).status == solvers::SolveStatus::kSuccess);
  std::vector<double> dy0(n * m.model->num_parameters());
  m.model->initial_state_jacobian(p.data(), dy0.data());
  for (std::size_t k = 0; k < K; ++k) {
    double expected = 0.0;
    for (std::size_t j = 0; j < t.size(); ++j) {
      const double* y = &out[j * n];
      const double* s = &sens[(j * K + k) * n];
      expected += (2.0 * (y[ab] - data[j]) + y[0]) * s[ab] + y[ab] * s[0];
    }
    double adjoint = r.parameter_gradient[k];
    for (std::size_t i = 0; i < n; ++i) adjoint += r.lambda0[i] * dy0[i + n * static_cast<std::size_t>(params[k])];
    INFO(names[k]);
    CHECK(adjoint == Approx(expected).epsilon(1e-6));
  }
}

TEST_CASE("Adjoint: what it does not take is refused by name") {
  const auto m = testing::network(testing::kDecay);
  const auto p = testing::parameters(m, {{"A0", 2.0}, {"k", 0.7}});
  OdeOptions o = tight();
  CHECK(solvers::adjoint_refusal(*m.model, p.data(), o).empty());
  o.method = solvers::Method::kRosenbrock;
  CHECK(solvers::adjoint_refusal(*m.model, p.data(), o) == "adjoint sensitivities run CVODES' BDF only");
  std::vector<double> y0 = {2.0};
  CHECK_THROWS_AS(solvers::solve_adjoint(*m.model, o, p.data(), y0.data(), 0.0, {1.0}, {},
                                         [](std::size_t, const double*, double*) {}),
                  std::invalid_argument);
}
