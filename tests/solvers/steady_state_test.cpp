// Newton steady states (solvers/steady_state.h): a conserved reversible reaction against its
// closed form, an unstable steady state of a bistable model refused, a time-dependent model's
// autonomy reported, and a stalled search explained.
#include <catch2/catch.hpp>

#include <cmath>

#include "physynth/solvers/steady_state.h"
#include "support/test_problems.h"

using namespace physynth;

TEST_CASE("steady state: Newton reaches A <-> B's closed form with A + B conserved, from far away") {
  const auto m = testing::network(testing::kReversible);  // A <-> B, kf, kr
  const auto p = testing::parameters(m, {{"A0", 1.0}, {"B0", 0.2}, {"kf", 2.0}, {"kr", 0.5}});
  std::vector<double> y(2);
  m.model->initial_state(p.data(), y.data());
  REQUIRE(m.model->linear_invariants().size() == 1);
  solvers::OdeOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-14;
  const auto r = solvers::newton_steady_state(*m.model, p.data(), o, y);
  INFO(r.why);
  REQUIRE(r.found);
  // kf A = kr B, A + B = 1.2: A = 1.2 kr / (kf + kr) = 0.24, B = 0.96.
  CHECK(y[0] == Approx(0.24).epsilon(1e-10));
  CHECK(y[1] == Approx(0.96).epsilon(1e-10));
  CHECK(r.iterations <= 5);  // linear in y: one step, then rounding
}

TEST_CASE("steady state: an unstable steady state is refused, the stable ones are found") {
  // dx/dt = x (1 - x) (x - a): stable at 0 and 1, unstable at a.
  const auto m = testing::equations(R"Y(
states: [{name: x, initial: x0}]
equations: {dx/dt: "x * (1 - x) * (x - a)"}
)Y");
  solvers::OdeOptions o;
  o.rtol = 1e-10;
  o.atol = 1e-14;
  const auto at = [&](double x0) {
    const auto p = testing::parameters(m, {{"x0", x0}, {"a", 0.5}});
    std::vector<double> y = {x0};
    const auto r = solvers::newton_steady_state(*m.model, p.data(), o, y);
    return std::make_pair(r, y[0]);
  };
  const auto [middle, x_middle] = at(0.45);  // Newton from 0.45 goes to 0.5, which is unstable
  CHECK_FALSE(middle.found);
  CHECK_THAT(middle.why, Catch::Contains("unstable"));
  CHECK(x_middle == 0.45);  // y is left as it was
  const auto [high, x_high] = at(0.9);
  INFO(high.why);
  REQUIRE(high.found);
  CHECK(x_high == Approx(1.0).epsilon(1e-12));
  CHECK(m.model->is_autonomous());
}

TEST_CASE("steady state: models say whether they read time (Newton is for those that do not)") {
  CHECK(testing::network(testing::kReversible).model->is_autonomous());
  const auto forced = testing::equations(R"Y(
states: [{name: x, initial: 0}]
equations: {dx/dt: "sin(t) - x"}
)Y");
  CHECK_FALSE(forced.model->is_autonomous());
}

TEST_CASE("steady state: a model without one is reported, not returned") {
  // dx/dt = 1: no steady state; Newton's linear system is singular.
  const auto m = testing::equations(R"Y(
states: [{name: x, initial: 0}]
equations: {dx/dt: "1 + 0 * x"}
)Y");
  const auto p = testing::parameters(m, {});
  std::vector<double> y = {0.0};
  solvers::OdeOptions o;
  const auto r = solvers::newton_steady_state(*m.model, p.data(), o, y);
  CHECK_FALSE(r.found);
  CHECK_THAT(r.why, Catch::Contains("singular"));
}
