// Problems and checks shared by the small stiff integrators' tests (Rodas5P, the NDF): systems
// in the integrators' System form, and the closed-form checks every integrator must pass.
#pragma once

#include <catch2/catch.hpp>

#include <Eigen/Dense>
#include <vector>

#include "physynth/solvers/rosenbrock.h"
#include "support/test_problems.h"

namespace physynth::testing {

// y' = y^2, y(0) = 1: blows up at t = 1.
struct BlowUp {
  using Vec = Eigen::Matrix<double, 1, 1>;
  using Mat = Eigen::Matrix<double, 1, 1>;
  void rhs(double, const Vec& y, Vec& f) const { f[0] = y[0] * y[0]; }
  void jacobian(double, const Vec& y, Mat& J) const { J(0, 0) = 2.0 * y[0]; }
  void time_derivative(double, const Vec&, const Vec&, Vec& ft) const { ft[0] = 0.0; }
};

// y'' = -y as (y, v): y = sin t from (0, 1).
struct Oscillator {
  using Vec = Eigen::Matrix<double, 2, 1>;
  using Mat = Eigen::Matrix<double, 2, 2>;
  void rhs(double, const Vec& y, Vec& f) const { f << y[1], -y[0]; }
  void jacobian(double, const Vec&, Mat& J) const { J << 0, 1, -1, 0; }
  void time_derivative(double, const Vec&, const Vec&, Vec& ft) const { ft.setZero(); }
};

inline std::vector<double> evenly(double t0, double t1, int n) {
  std::vector<double> t(n);
  for (int i = 0; i < n; ++i) t[i] = t0 + (t1 - t0) * i / (n - 1);
  return t;
}

inline std::vector<double> start_of(const core::BuiltModel& m, const std::vector<double>& p) {
  std::vector<double> y0(m.model->num_states());
  m.model->initial_state(p.data(), y0.data());
  return y0;
}

// Decay, reversible A <-> B and binding A + B <-> AB against their closed forms at every one of
// 41 outputs over [0, 10] (most inside steps: the dense output is checked too), rtol 1e-9 and
// atol 1e-13, to 1e-7 relative. Returns the decay solve's step count.
template <template <int> class Integrator>
long check_closed_forms() {
  solvers::RosenbrockOptions o;
  o.rtol = 1e-9;
  o.atol = 1e-13;
  const auto t = evenly(0.0, 10.0, 41);
  long decay_steps = 0;
  {
    const auto m = network(kDecay);
    const auto p = parameters(m, {{"A0", 2.0}, {"k", 0.7}});
    Integrator<1> solver(1, o);
    std::vector<double> out(t.size());
    const auto r = solver.solve(solvers::ModelSystem<1>(*m.model, p.data()), 0.0, start_of(m, p).data(), t, out.data());
    REQUIRE(r.status == solvers::RosenbrockStatus::kSuccess);
    decay_steps = r.stats.steps;
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(out[i] == Approx(decay(t[i], 2.0, 0.7)).epsilon(1e-7));
  }
  {
    const auto m = network(kReversible);
    const auto p = parameters(m, {{"A0", 1.0}, {"B0", 0.2}, {"kf", 2.0}, {"kr", 0.5}});
    Integrator<2> solver(2, o);
    std::vector<double> out(t.size() * 2);
    const auto r = solver.solve(solvers::ModelSystem<2>(*m.model, p.data()), 0.0, start_of(m, p).data(), t, out.data());
    REQUIRE(r.status == solvers::RosenbrockStatus::kSuccess);
    for (std::size_t i = 0; i < t.size(); ++i)
      CHECK(out[2 * i] == Approx(reversible_a(t[i], 1.0, 0.2, 2.0, 0.5)).epsilon(1e-7));
  }
  {
    const auto m = network(kBinding);
    const auto p = parameters(m, {{"A0", 1.0}, {"B0", 0.6}, {"kon", 3.0}, {"koff", 0.2}});
    Integrator<3> solver(3, o);
    std::vector<double> out(t.size() * 3);
    const auto r = solver.solve(solvers::ModelSystem<3>(*m.model, p.data()), 0.0, start_of(m, p).data(), t, out.data());
    REQUIRE(r.status == solvers::RosenbrockStatus::kSuccess);
    for (std::size_t i = 1; i < t.size(); ++i)
      CHECK(out[3 * i + 2] == Approx(binding_ab(t[i], 1.0, 0.6, 3.0, 0.2)).epsilon(1e-7));
  }
  return decay_steps;
}

}  // namespace physynth::testing
