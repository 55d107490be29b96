// The NDF (solvers/ndf.h) against closed forms, the Robertson reference (Hairer & Wanner;
// Mazzia's test set), CVODES at tight tolerance over several tolerances, events on its
// interpolating polynomial, a blow-up, and its place behind OdeSolver (method kNdf: jumps,
// refused sensitivities).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "physynth/solvers/ndf.h"
#include "physynth/solvers/ode_solver.h"
#include "physynth/solvers/rosenbrock_solver.h"
#include "stiff_problems.h"
#include "support/test_problems.h"

using namespace physynth;
using solvers::Ndf;
using solvers::RosenbrockOptions;
using solvers::RosenbrockStatus;

using testing::start_of;
const auto even_grid = testing::evenly;

TEST_CASE("NDF: decay, reversible and binding match their closed forms at every output time, fixed and dynamic "
          "size alike") {
  CHECK(testing::check_closed_forms<Ndf>() < 2000);  // decay's steps
  const auto m = testing::network(testing::kBinding);
  const auto p = testing::parameters(m, {{"A0", 1.0}, {"B0", 0.6}, {"kon", 3.0}, {"koff", 0.2}});
  RosenbrockOptions o;
  o.rtol = 1e-9;
  o.atol = 1e-13;
  const auto t = even_grid(0.0, 10.0, 41);
  Ndf<3> fixed(3, o);
  Ndf<Eigen::Dynamic> dynamic(3, o);
  std::vector<double> out(t.size() * 3), other(t.size() * 3);
  const auto y0 = start_of(m, p);
  const auto r = fixed.solve(solvers::ModelSystem<3>(*m.model, p.data()), 0.0, y0.data(), t, out.data());
  const auto d = dynamic.solve(solvers::ModelSystem<Eigen::Dynamic>(*m.model, p.data()), 0.0, y0.data(), t, other.data());
  REQUIRE(r.status == RosenbrockStatus::kSuccess);
  REQUIRE(d.status == RosenbrockStatus::kSuccess);
  CHECK(r.stats.steps == d.stats.steps);
  for (std::size_t i = 1; i < t.size(); ++i) CHECK(other[3 * i + 2] == Approx(out[3 * i + 2]).epsilon(1e-12));
}

TEST_CASE("NDF: Robertson matches the reference at t = 40 and t = 1e11 and keeps A + B + C = 1") {
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  const std::vector<double> t = {40.0, 1e11};
  RosenbrockOptions o;
  o.rtol = 1e-10;
  o.atol_per_state = {1e-14, 1e-20, 1e-14};
  o.max_steps = 1000000;
  Ndf<3> ndf(3, o);
  std::vector<double> out(6);
  const auto r = ndf.solve(solvers::ModelSystem<3>(*m.model, p.data(), true), 0.0, start_of(m, p).data(), t, out.data());
  REQUIRE(r.status == RosenbrockStatus::kSuccess);
  for (int i = 0; i < 3; ++i) {
    INFO("state " << i << ": " << out[i] << " at 40, " << out[3 + i] << " at 1e11; steps " << r.stats.steps);
    CHECK(out[i] == Approx(testing::kRobertsonAt40[i]).epsilon(1e-7));
    CHECK(out[3 + i] == Approx(testing::kRobertsonAt1e11[i]).epsilon(1e-6));
  }
  // The formulas are linear in y: the conservation law holds to rounding and the Newton tolerance.
  CHECK(out[3] + out[4] + out[5] == Approx(1.0).epsilon(1e-10));
}

TEST_CASE("NDF: the global error follows the tolerance asked for, as CVODES' does") {
  // Robertson over 12 decades against CVODES at rtol 1e-12: at each tolerance the NDF's worst
  // error, in units of the tolerance, is within twice CVODES' BDF's at the same tolerance (both
  // are variable-order multistep methods with local error control; measured 2026-12-05 in
  // tolerances, NDF against CVODES: 4.5 against 15.1 at rtol 1e-6, 11.8 against 11.4 at 1e-8),
  // and the error falls as the tolerance does.
  const auto m = testing::network(testing::kRobertson);
  const auto p = testing::parameters(m, testing::kRobertsonRates);
  const auto y0 = start_of(m, p);
  std::vector<double> t;
  for (int k = -4; k <= 8; ++k) t.push_back(std::pow(10.0, k));
  solvers::OdeOptions tight;
  tight.rtol = 1e-12;
  tight.atol_per_state = {1e-16, 1e-22, 1e-16};
  tight.max_steps = 10000000;
  std::vector<double> ref(t.size() * 3), out(t.size() * 3), bdf(t.size() * 3);
  REQUIRE(solvers::OdeSolver(m.model, tight).solve(p.data(), y0.data(), 0.0, t, ref.data()).status ==
          solvers::SolveStatus::kSuccess);
  double previous = std::numeric_limits<double>::infinity();
  for (double rtol : {1e-4, 1e-6, 1e-8}) {
    solvers::OdeOptions o;
    o.rtol = rtol;
    o.atol_per_state = {rtol * 1e-4, rtol * 1e-10, rtol * 1e-4};
    o.max_steps = 1000000;
    o.method = solvers::Method::kNdf;
    REQUIRE(solvers::OdeSolver(m.model, o).solve(p.data(), y0.data(), 0.0, t, out.data()).status ==
            solvers::SolveStatus::kSuccess);
    o.method = solvers::Method::kBdf;
    REQUIRE(solvers::OdeSolver(m.model, o).solve(p.data(), y0.data(), 0.0, t, bdf.data()).status ==
            solvers::SolveStatus::kSuccess);
    double worst = 0.0, worst_bdf = 0.0, largest = 0.0;
    for (std::size_t k = 0; k < out.size(); ++k) {
      const double w = o.atol_per_state[k % 3] + rtol * std::abs(ref[k]);
      worst = std::max(worst, std::abs(out[k] - ref[k]) / w);
      worst_bdf = std::max(worst_bdf, std::abs(bdf[k] - ref[k]) / w);
      largest = std::max(largest, std::abs(out[k] - ref[k]));
    }
    INFO("rtol " << rtol << ": NDF " << worst << " tolerances, CVODES " << worst_bdf);
    CHECK(worst <= 2.0 * std::max(worst_bdf, 10.0));
    CHECK(largest < previous);
    previous = largest;
  }
}

TEST_CASE("NDF: a blow-up is reported, not returned as numbers") {
  RosenbrockOptions o;
  o.max_steps = 5000;
  Ndf<1> ndf(1, o);
  const double y0 = 1.0;
  std::vector<double> out(2);
  const auto r = ndf.solve(testing::BlowUp{}, 0.0, &y0, {0.5, 2.0}, out.data());
  CHECK(r.status != RosenbrockStatus::kSuccess);
  CHECK(r.rows_written == 1);
  CHECK(out[0] == Approx(2.0).epsilon(1e-4));  // y(0.5) = 1 / (1 - 0.5)
  CHECK(std::isnan(out[1]));
  CHECK(r.t_reached < 1.01);
}

TEST_CASE("NDF: events are located on the interpolating polynomial, recorded or terminal, by direction") {
  using testing::Oscillator;  // y = sin t from (0, 1)
  RosenbrockOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  const double y0[] = {0.0, 1.0};
  const auto t = even_grid(0.0, 10.0, 21);
  std::vector<double> out(t.size() * 2);
  std::vector<solvers::Event> events(2);
  events[0] = {"zero", [](double, const double* y, const double*) { return y[0]; }, 0, false};
  events[1] = {"half", [](double, const double* y, const double*) { return y[0] - 0.5; }, +1, false};
  Ndf<2> ndf(2, o);
  auto r = ndf.solve(Oscillator{}, 0.0, y0, t, out.data(), events);
  REQUIRE(r.status == RosenbrockStatus::kSuccess);
  std::vector<double> zero, half;
  for (const auto& e : r.events) (e.event == 0 ? zero : half).push_back(e.t);
  REQUIRE(zero.size() == 3);  // pi, 2 pi, 3 pi (not t = 0 itself)
  for (int k = 0; k < 3; ++k) CHECK(zero[k] == Approx((k + 1) * M_PI).epsilon(1e-8));
  REQUIRE(half.size() == 2);  // pi/6 and 2 pi + pi/6, rising only
  CHECK(half[0] == Approx(M_PI / 6).epsilon(1e-8));
  CHECK(half[1] == Approx(2 * M_PI + M_PI / 6).epsilon(1e-8));
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(out[2 * i] == Approx(std::sin(t[i])).margin(1e-8));

  std::vector<solvers::Event> stop(1);
  stop[0] = {"down", [](double, const double* y, const double*) { return y[0] - 0.5; }, -1, true};
  r = ndf.solve(Oscillator{}, 0.0, y0, t, out.data(), stop);
  REQUIRE(r.status == RosenbrockStatus::kStoppedByEvent);
  CHECK(r.t_reached == Approx(5 * M_PI / 6).epsilon(1e-8));
  CHECK(r.rows_written == 6);  // t = 0, 0.5, ..., 2.5 < 5 pi / 6
  CHECK(std::isnan(out[2 * 6]));
  REQUIRE(r.final_state.size() == 2);
  CHECK(r.final_state[0] == Approx(0.5).epsilon(1e-8));
}

TEST_CASE("NDF behind OdeSolver: method kNdf solves and counts its work, sensitivities are refused by name") {
  // (Scheduled jumps and regimes through the engine: tests/engine/solver_choice_test.cpp.)
  const auto m = testing::network(testing::kDecay);
  const auto p = testing::parameters(m, {{"A0", 2.0}, {"k", 0.7}});
  solvers::OdeOptions o;
  o.method = solvers::Method::kNdf;
  o.rtol = 1e-9;
  o.atol = 1e-13;
  CHECK(o.validate(1).empty());
  solvers::OdeSolver solver(m.model, o);
  const auto t = even_grid(0.0, 4.0, 9);
  std::vector<double> out(t.size());
  const auto r = solver.solve(p.data(), start_of(m, p).data(), 0.0, t, out.data());
  REQUIRE(r.status == solvers::SolveStatus::kSuccess);
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(out[i] == Approx(testing::decay(t[i], 2.0, 0.7)).epsilon(1e-7));
  CHECK(r.stats.steps > 0);
  CHECK(r.stats.rhs_evals > r.stats.steps);

  o.sensitivity_parameters = {0};
  const auto errors = o.validate(1);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("the NDF (method ndf) computes no sensitivities"));
  CHECK(solvers::with_sensitivities(solvers::Method::kNdf) == solvers::Method::kRosenbrock);
  solvers::RosenbrockSolver direct(1, RosenbrockOptions{}, solvers::StiffFormula::kNdf);
  std::vector<double> sens(t.size());
  CHECK_THROWS_WITH(direct.solve(*m.model, p.data(), 0.0, start_of(m, p).data(), t, out.data(), {}, {1},
                                 nullptr, sens.data()),
                    Catch::Contains("the NDF computes no sensitivities"));
}
